"""Render benchmark: simgen's full pipeline vs. a bare bpy render loop (same scene, same settings).

    .venv/bin/python bench/bench_render.py [--config scenes/tabletop.yaml] [-n 8] [--out FILE.json]

Both loops run in this process on the same frames (same FrameSpecs, same Cycles settings). The bare loop
only renders and saves the PNG (no passes, no labels); simgen renders with the Object Index/Depth/Normal
passes and writes images, labels, maps and records. The figure that matters is the ratio of medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bare_loop(config, frames: list[int], out_dir: Path) -> list[float]:
    """What a user's hand-written bpy script would do: set the scene, render, save the image."""
    import bpy

    from simgen.backend.blender import BlenderBackend, silence_stdout
    from simgen.sampling import sample_frame

    backend = BlenderBackend(config.render)  # same scene construction and Cycles settings as simgen
    layer = backend.scene.view_layers[0]
    layer.use_pass_object_index = layer.use_pass_z = layer.use_pass_normal = False
    settings = backend.scene.render.image_settings
    settings.media_type, settings.file_format, settings.color_mode = "IMAGE", "PNG", "RGB"
    times = []
    for index in frames:
        start = time.perf_counter()
        backend.apply(sample_frame(config, index, mesh_bounds=backend.mesh_bounds))
        backend.scene.render.filepath = str(out_dir / f"bare_{index:06d}.png")
        with silence_stdout():
            bpy.ops.render.render(write_still=True)
        times.append(time.perf_counter() - start)
    backend.close()
    return times


def simgen_loop(config, frames: list[int], out_dir: Path) -> list[dict[str, float]]:
    from simgen.build import build_dataset

    summary = build_dataset(config, out_dir, indices=frames, progress=False, merge=False)
    return summary.per_image


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default=str(ROOT / "scenes" / "tabletop.yaml"))
    parser.add_argument("-n", "--frames", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="alternating bare/simgen rounds")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "render.json"))
    args = parser.parse_args()

    from simgen.config import load_config

    config = load_config(args.config, [*args.overrides, f"scene.num_images={args.frames + 1}"])
    warmup, frames = [0], list(range(1, args.frames + 1))
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        bare: list[float] = []
        per_image: list[dict[str, float]] = []
        for round_ in range(args.rounds):  # alternate the two loops so drift hits both alike
            bare_loop(config, warmup, tmp_dir)
            bare += bare_loop(config, frames, tmp_dir)
            simgen_loop(config, warmup, tmp_dir / f"warm{round_}")
            per_image += simgen_loop(config, frames, tmp_dir / f"ds{round_}")

    simgen_total = [sum(t[k] for k in ("sync", "render", "read", "label_write")) for t in per_image]
    render_only = [t["render"] for t in per_image]
    outside = [total - r for total, r in zip(simgen_total, render_only, strict=True)]
    result = {
        "config": str(Path(args.config).resolve().relative_to(ROOT))
        if ROOT in Path(args.config).resolve().parents
        else args.config,
        "overrides": args.overrides,
        "frames": args.frames,
        "resolution": list(config.render.resolution),
        "samples": config.render.samples,
        "denoise": config.render.denoise,
        "bare_median_s": statistics.median(bare),
        "simgen_median_s": statistics.median(simgen_total),
        "ratio_simgen_over_bare": statistics.median(simgen_total) / statistics.median(bare),
        "simgen_render_call_median_s": statistics.median(render_only),
        "outside_render_fraction": statistics.median(outside) / statistics.median(render_only),
        "phase_medians_s": {
            k: statistics.median(t[k] for t in per_image) for k in per_image[0] if k != "index"
        },
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
        },
    }
    print(f"bare bpy loop : {result['bare_median_s']:.3f} s/frame (median of {len(bare)})")
    print(f"simgen        : {result['simgen_median_s']:.3f} s/frame (render, passes, labels, all files)")
    print(f"ratio         : {result['ratio_simgen_over_bare']:.3f}  (simgen / bare)")
    print(
        f"outside render: {100 * result['outside_render_fraction']:.1f}% of the render call "
        f"(phases: {', '.join(f'{k} {v * 1000:.0f} ms' for k, v in result['phase_medians_s'].items())})"
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
