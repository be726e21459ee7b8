"""``simgen stats``: dataset QA numbers and plots (class balance, instances per image, box sizes,
visibility, truncation, keypoint flags) as stats.json + stats.png, from any COCO file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from simgen.errors import SimgenError
from simgen.fileio import write_json_atomic
from simgen.writers import coco_data

BOX_BINS = [0, 8, 16, 32, 64, 96, 128, 256, 512, 1024, 1e9]  # sqrt(box area), px (COCO small < 32 < 96)
FRACTION_BINS = np.linspace(0.0, 1.0, 11)


def dataset_stats(data: dict[str, Any]) -> dict[str, Any]:
    """Counts and histograms over all annotations (ignore regions counted apart)."""
    names = {c["id"]: c["name"] for c in data["categories"]}
    anns = [a for a in data["annotations"] if not a.get("iscrowd")]
    per_image = Counter(a["image_id"] for a in anns)
    counts = [per_image.get(im["id"], 0) for im in data["images"]]
    sizes = [float(np.sqrt(a["bbox"][2] * a["bbox"][3])) for a in anns]
    out: dict[str, Any] = {
        "images": len(data["images"]),
        "annotations": len(anns),
        "ignored": len(data["annotations"]) - len(anns),
        "class_balance": {
            names.get(k, str(k)): n for k, n in sorted(Counter(a["category_id"] for a in anns).items())
        },
        "instances_per_image": _hist(counts, np.arange(0, max(counts, default=0) + 2)),
        "box_size": _hist(sizes, BOX_BINS),
        "box_size_coco": {
            "small": sum(s * s < 32**2 for s in sizes),
            "medium": sum(32**2 <= s * s < 96**2 for s in sizes),
            "large": sum(s * s >= 96**2 for s in sizes),
        },
    }
    for key in ("visibility", "truncation"):
        values = [a[key] for a in anns if a.get(key) is not None]
        if values:
            out[key] = {**_hist(values, FRACTION_BINS), "mean": float(np.mean(values))}
    occluded = [a["occluded"] for a in anns if "occluded" in a]
    if occluded:
        out["occluded_fraction"] = float(np.mean(occluded))
    flags = Counter(int(v) for a in anns for v in a.get("keypoints", [])[2::3])
    if flags:
        out["keypoint_flags"] = {
            "outside (v=0)": flags[0],
            "occluded (v=1)": flags[1],
            "visible (v=2)": flags[2],
        }
    return out


def _hist(values: list[float], bins: Any) -> dict[str, list[float]]:
    counts, edges = np.histogram(np.asarray(values, dtype=float), bins=np.asarray(bins, dtype=float))
    return {"bins": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def write_stats(dataset: str | Path, out_dir: str | Path | None = None) -> tuple[Path, Path]:
    """stats.json + stats.png next to the labels (or in ``out_dir``); any format ``open_dataset`` reads."""
    data, _, root = coco_data(dataset)
    stats = dataset_stats(data)
    out = Path(out_dir) if out_dir else root
    write_json_atomic(out / "stats.json", stats, indent=1)
    png = out / "stats.png"
    _plot(stats, png, root.name)
    return out / "stats.json", png


def _plot(stats: dict[str, Any], png: Path, title: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SimgenError("simgen stats needs matplotlib (pip install 'simgen[eval]')") from None
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    ax = axes.ravel()
    balance = stats["class_balance"]
    ax[0].bar(list(balance), list(balance.values()), color="tab:blue")
    ax[0].set_title("class balance (annotations)")
    ax[0].tick_params(axis="x", rotation=45)
    _bars(ax[1], stats["instances_per_image"], "instances per image", integer=True)
    _bars(ax[2], stats["box_size"], "box size sqrt(w·h) [px]", log=True)
    for k, key in enumerate(("visibility", "truncation")):
        if key in stats:
            _bars(ax[3 + k], stats[key], f"{key} (mean {stats[key]['mean']:.2f})")
        else:
            ax[3 + k].set_title(f"{key}: not in these labels")
            ax[3 + k].axis("off")
    flags = stats.get("keypoint_flags")
    if flags:
        ax[5].bar(list(flags), list(flags.values()), color=["0.6", "tab:orange", "tab:green"])
        ax[5].set_title("keypoint flags")
    else:
        ax[5].set_title("no keypoints")
        ax[5].axis("off")
    fig.suptitle(
        f"{title}: {stats['images']} images, {stats['annotations']} annotations, {stats['ignored']} ignored"
    )
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=90)
    plt.close(fig)


def _bars(
    ax: Any, hist: dict[str, list[float]], title: str, integer: bool = False, log: bool = False
) -> None:
    edges, counts = hist["bins"], hist["counts"]
    labels = [f"{int(e)}" if integer else f"{e:g}" for e in edges[:-1]]
    ax.bar(range(len(counts)), counts, color="tab:blue")
    ax.set_xticks(range(len(counts)), labels, rotation=45 if log else 0, fontsize=8)
    ax.set_title(title)
