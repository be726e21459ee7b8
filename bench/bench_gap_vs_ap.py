"""Does the gap measure predict detector AP? Rank correlation over deliberately different configs.

For every config of a study file this renders the same probe set (counter-based image indices), measures
the gap against the real photos' training part (``simgen.tuning.gap``: the total and each part), trains a
short detector on the renders and scores AP50 on the same training-part photos (``simgen.tuning.probe``;
the held-back test photos are never read). It prints and writes the Spearman rank correlation between
AP50 and minus each gap part and each statistics figure: a part that does not rank the configs by AP is
not worth tuning on (issue 19, docs/tune.md).

    .venv/bin/python bench/bench_gap_vs_ap.py bench/gap_vs_ap_dice.yaml --out runs/gap_vs_ap_dice

Study file (paths relative to the repository root)::

    real: ../shared/data/real/dice
    real_split: 0.3          # keep only the training part, split as simgen eval --real-split
    box_scale: 1.19          # the photos' labelling rule (simgen eval measures it)
    configs:
      - {name: untuned, config: scenes/dice_untuned.yaml}
      - {name: dark, config: scenes/dice_untuned.yaml, set: ["postfx.auto_exposure={uniform: [50, 80]}"]}

Writes OUT/gap_vs_ap.json (per config: gap parts, figures, AP, AP50, seconds; the correlations),
OUT/gap_vs_ap.md (the table) and OUT/gap_vs_ap.png; a rerun reuses the configs already in the JSON
(same settings), so it resumes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def ranks(values: list[float]) -> np.ndarray:
    """Ranks 0..n-1, tied values sharing their mean rank (as Spearman's rho wants)."""
    values_ = np.asarray(values, dtype=float)
    order = values_.argsort(kind="stable")
    out = np.empty(len(values_))
    out[order] = np.arange(len(values_))
    for value in np.unique(values_):
        tied = values_ == value
        out[tied] = out[tied].mean()
    return out


def spearman(a: list[float], b: list[float]) -> float | None:
    """Spearman's rank correlation (Pearson on tie-averaged ranks); None below 3 points or without spread."""
    if len(a) < 3 or len(set(a)) < 2 or len(set(b)) < 2:
        return None
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def correlations(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """Spearman(AP50, -part) for the gap total, its parts and every figure all configs have."""
    ap = [r["AP50"] for r in rows]
    parts = ["total", "stats", "kid_images", "kid_objects"]
    figures = sorted(set.intersection(*(set(r["per_metric"]) for r in rows))) if rows else []
    out = {}
    for name in parts:
        if all(r["gap"].get(name) is not None for r in rows):
            out[name] = spearman(ap, [-r["gap"][name] for r in rows])
    for name in figures:
        out[f"figure:{name}"] = spearman(ap, [-r["per_metric"][name] for r in rows])
    return out


class Photos:
    """The photos every config is measured against: the set, the feature network, the gap reference."""

    def __init__(self, coco_set: Any, size: int) -> None:
        from simgen.tuning.gap import FeatureNet, reference

        self.set = coco_set
        self.net = FeatureNet()
        self.reference = reference(coco_set, self.net, size=size)


def measure(entry: dict[str, Any], study: dict[str, Any], args: argparse.Namespace, photos: Photos) -> dict:
    """Render the probe set of one config, score its gap and its probe AP."""
    from simgen.config.loader import read_raw_config
    from simgen.tuning.gap import boxes_scaled, measure_gap
    from simgen.tuning.probe import ProbeSettings, detector_ap, render_set, shrunk

    settings = ProbeSettings(
        args.images, args.size, args.samples, args.iters, study.get("box_scale", 1.0), args.workers
    )
    path = ROOT / entry["config"]
    raw, _ = read_raw_config(path, entry.get("set"))
    config = shrunk(raw, settings.size, settings.samples, settings.images, path)
    folder = args.out / "probes" / entry["name"]
    started = time.perf_counter()
    renders = render_set(config, folder / "renders", list(range(settings.images)), settings.workers)
    rendered = time.perf_counter()
    gap = measure_gap(boxes_scaled(renders, settings.box_scale), photos.reference, photos.net, settings.size)
    scores = detector_ap(renders, photos.set, folder / "eval", settings)
    if not args.keep:
        shutil.rmtree(folder)  # renders and checkpoints: about 200 MB per config
    return {
        "name": entry["name"],
        "config": entry["config"],
        "set": entry.get("set", []),
        "gap": {k: v for k, v in gap.to_dict().items() if k != "per_metric"},
        "per_metric": gap.per_metric,
        **scores,
        "render_seconds": round(rendered - started, 1),
        "seconds": round(time.perf_counter() - started, 1),
    }


def markdown(rows: list[dict[str, Any]], corr: dict[str, Any]) -> str:
    """The study as a Markdown table (for docs/tune.md) and the Spearman line of each gap part."""
    lines = [
        "| config | gap | stats | KID images | KID objects | probe AP50 | probe AP |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        g = r["gap"]
        kid_objects = "–" if g["kid_objects"] is None else f"{g['kid_objects']:.3f}"
        lines.append(
            f"| {r['name']} | {g['total']:.3f} | {g['stats']:.3f} | {g['kid_images']:.3f} | {kid_objects} "
            f"| {r['AP50']:.3f} | {r['AP']:.3f} |"
        )
    parts = [f"{k} {v:+.2f}" for k, v in corr.items() if not k.startswith("figure:") and v is not None]
    return (
        "\n".join(lines)
        + f"\n\nSpearman(probe AP50, -part) over {len(rows)} configs: "
        + ", ".join(parts)
        + "\n"
    )


def plot(rows: list[dict[str, Any]], corr: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = ["total", "stats", "kid_images", "kid_objects"]
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.4), dpi=110)
    for ax, part in zip(axes, parts, strict=True):
        xs = [r["gap"].get(part) for r in rows]
        if any(x is None for x in xs):
            continue
        ax.scatter(xs, [r["AP50"] for r in rows])
        for r, x in zip(rows, xs, strict=True):
            ax.annotate(r["name"], (x, r["AP50"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
        rho = corr.get(part)
        ax.set_title(f"{part}: Spearman(AP50, -gap) {'n/a' if rho is None else f'{rho:+.2f}'}", fontsize=9)
        ax.set_xlabel(part)
    axes[0].set_ylabel("probe AP50 (training-part photos)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("study", type=Path, help="study YAML (see this file's docstring)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--images", type=int, default=64, help="probe images per config (64)")
    parser.add_argument("--size", type=int, default=320, help="render width and detector size (320)")
    parser.add_argument("--samples", type=int, default=4, help="Cycles samples (4)")
    parser.add_argument("--iters", type=int, default=150, help="detector training iterations (150)")
    parser.add_argument("--workers", type=int, default=2, help="render processes (2)")
    parser.add_argument("--keep", action="store_true", help="keep each config's renders and detector")
    args = parser.parse_args()

    from simgen.evaluate.datasets import load_coco, split_set

    study = yaml.safe_load(args.study.read_text())
    real = load_coco(ROOT / study["real"])
    if study.get("real_split") is not None:
        real = split_set(real, study["real_split"])[0]
    args.out.mkdir(parents=True, exist_ok=True)
    result_path = args.out / "gap_vs_ap.json"
    key = {"images": args.images, "size": args.size, "samples": args.samples, "iters": args.iters}
    stored = json.loads(result_path.read_text()) if result_path.is_file() else {}
    done = {r["name"]: r for r in stored.get("configs", [])} if stored.get("settings") == key else {}
    rows, photos = [], None
    for entry in study["configs"]:
        row = done.get(entry["name"])
        if row is None:
            photos = photos or Photos(real, args.size)
            row = measure(entry, study, args, photos)
        rows.append(row)
        print(
            f"{row['name']:>14}: gap {row['gap']['total']:.3f} (stats {row['gap']['stats']:.3f}, "
            f"kid img {row['gap']['kid_images']:.3f}, obj {row['gap']['kid_objects'] or float('nan'):.3f})"
            f"  probe AP50 {row['AP50']:.3f}  {row['seconds']:.0f} s",
            flush=True,
        )
        corr = correlations(rows)
        payload = {"settings": key, "study": str(args.study), "photos": len(real.images)}
        result_path.write_text(json.dumps({**payload, "configs": rows, "spearman": corr}, indent=2))
    plot(rows, corr, args.out / "gap_vs_ap.png")
    (args.out / "gap_vs_ap.md").write_text(markdown(rows, corr))
    print("Spearman(AP50, -gap part) over", len(rows), "configs:")
    for name, rho in sorted(corr.items(), key=lambda kv: -abs(kv[1] or 0)):
        print(f"  {name:>40}: {'n/a' if rho is None else f'{rho:+.2f}'}")
    mean_ap = np.mean([r["AP50"] for r in rows])
    print(f"wrote {result_path} and {args.out / 'gap_vs_ap.png'}; mean probe AP50 {mean_ap:.3f}")
    return 0


if __name__ == "__main__":
    from simgen.errors import SimgenError

    try:
        raise SystemExit(main())
    except SimgenError as exc:  # a bad study entry or config: one message naming the file, no traceback
        raise SystemExit(f"error: {exc}") from None
