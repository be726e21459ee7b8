"""Clip benchmark: what optical flow, disparity and motion blur add to a clip frame's render time.

    .venv/bin/python bench/bench_sequences.py [--config SCENE] [-n 8] [--rounds 2] [--out FILE.json]

The same clip frames of one stereo scene are built (simgen's whole pipeline: render, labels, files) in
one process, once per variant, alternating the variants round after round so drift hits all alike:
  base        the clip without flow, disparity or motion blur
  flow        outputs.flow (Cycles' vector pass, read from a 1-sample label render)
  disparity   outputs.disparity (from the depth and the rig's known poses, no extra render)
  blur        sequence.motion_blur (Cycles motion blur; labels from a 1-sample render without it)
  all         the three together
Each variant's median seconds per image and its extra cost as a share of the base variant's render time
are printed and written as JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "base": ["outputs.flow=false", "outputs.disparity=false"],
    "flow": ["outputs.flow=true", "outputs.disparity=false"],
    "disparity": ["outputs.flow=false", "outputs.disparity=true"],
    "blur": ["outputs.flow=false", "outputs.disparity=false", "sequence.motion_blur={shutter: 0.5}"],
    "all": ["outputs.flow=true", "outputs.disparity=true", "sequence.motion_blur={shutter: 0.5}"],
}
PHASES = ("sync", "render", "read", "label_pass", "label_write")


def image_seconds(timings: dict[str, float]) -> float:
    return sum(timings.get(k, 0.0) for k in PHASES)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default=str(ROOT / "scenes" / "demos" / "stereo_clip.yaml"))
    parser.add_argument("-n", "--frames", type=int, default=8, help="images per variant and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "sequences.json"))
    args = parser.parse_args()

    from simgen.build import build_dataset
    from simgen.config import load_config

    configs = {
        name: load_config(args.config, [*args.overrides, *overrides, "outputs.formats=[]"])
        for name, overrides in VARIANTS.items()
    }
    frames = list(range(args.frames))
    per_variant: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for name, config in configs.items():
                out = Path(tmp) / f"{name}{round_}"
                summary = build_dataset(config, out, indices=frames, progress=False, merge=False, workers=1)
                per_variant[name] += summary.per_image
    base_render = statistics.median(t["render"] for t in per_variant["base"])
    base_total = statistics.median(image_seconds(t) for t in per_variant["base"])
    result = {
        "config": args.config,
        "overrides": args.overrides,
        "frames_per_round": args.frames,
        "rounds": args.rounds,
        "base_render_median_s": base_render,
        "variants": {},
        "host": platform.node(),
        "python": platform.python_version(),
    }
    print(f"{'variant':<10} {'s/image':>8} {'extra':>8} {'extra / base render':>20}")
    for name, timings in per_variant.items():
        total = statistics.median(image_seconds(t) for t in timings)
        extra = total - base_total
        result["variants"][name] = {
            "median_s_per_image": total,
            "extra_s": extra,
            "extra_share_of_render": extra / base_render,
            "phase_medians_s": {k: statistics.median(t.get(k, 0.0) for t in timings) for k in PHASES},
        }
        print(f"{name:<10} {total:8.3f} {extra:+8.3f} {extra / base_render:+20.1%}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
