"""``simgen compare``: how renders differ from photos in look, before any detector is trained.

Sim-to-real gaps are often visible in plain image statistics: exposure (median gray level, clipped
pixels), white balance, sharpness (a phone denoises, a path tracer does not), object colors (plastic
photographed by a phone is vivid, a glossy render under colored lights is not) and object sizes and
counts. This module measures them on any two COCO sets (no Blender, no torch) and flags every figure
whose distributions differ clearly: a two-sample Kolmogorov-Smirnov distance of at least
``GAP_DISTANCE`` and medians further apart than the figure's ``TOLERANCE`` (so that, say, 0.02 % of
clipped pixels against none is not called a gap).

Images are resized so their longer side is ``size`` pixels first, so that sharpness and box sizes
compare at the resolution the detector sees. Object colors are read from the central 40 % of each box
(the die face or the fruit's skin, not the background around it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from simgen.errors import SimgenError
from simgen.evaluate.datasets import CocoSet, load_photos, split_set
from simgen.fileio import read_image

CENTER_FRACTION = 0.4  # side of the box center read for object colors, as a fraction of the box side

IMAGE_METRICS: dict[str, str] = {
    "gray_median": "median gray level (0-255)",
    "clipped_fraction": "share of pixels with a channel at 255",
    "red_over_green": "mean R / mean G (white balance)",
    "blue_over_green": "mean B / mean G (white balance)",
    "sharpness": "variance of the Laplacian of the gray image",
    "objects_per_image": "labelled objects per image",
}
OBJECT_METRICS: dict[str, str] = {
    "object_saturation": "HSV saturation at the box center (0-255)",
    "object_value": "HSV value at the box center (0-255)",
    "object_size": "box side sqrt(w*h) in pixels at the working size",
}
METRICS = {**IMAGE_METRICS, **OBJECT_METRICS}
TOLERANCE: dict[str, float] = {  # median differences smaller than these do not matter in practice
    "gray_median": 8.0,
    "clipped_fraction": 0.005,
    "red_over_green": 0.03,
    "blue_over_green": 0.03,
    "sharpness": 15.0,
    "objects_per_image": 2.0,
    "object_saturation": 15.0,
    "object_value": 15.0,
    "object_size": 3.0,
}
GAP_DISTANCE = 0.3  # KS distance: 0 = same distribution, 1 = no overlap at all

CATEGORY_METRICS: dict[str, str] = {
    "object_hue": "hue at the box center (degrees)",
    "object_saturation": "saturation at the box center (0-255)",
    "object_value": "value at the box center (0-255)",
    "object_size": "box side sqrt(w*h), px",
    "object_aspect": "box width / height",
    "touches_border": "share of boxes touching the image border",
    "per_image": "objects of the category per image",
}
CATEGORY_TOLERANCE: dict[str, float] = {
    "object_hue": 12.0,
    "object_saturation": 15.0,
    "object_value": 15.0,
    "object_size": 3.0,
    "object_aspect": 0.15,
    "touches_border": 0.15,  # a share: compared by its mean
    "per_image": 0.75,
}


@dataclass
class Finding:
    """One figure whose distribution differs clearly between the two sets."""

    metric: str
    median: float
    reference_median: float
    distance: float  # two-sample Kolmogorov-Smirnov statistic

    def describe(self, name: str, reference: str) -> str:
        direction = "higher" if self.median > self.reference_median else "lower"
        return (
            f"{METRICS[self.metric]}: {name} median {self.median:.3g} is {direction} than "
            f"{reference}'s {self.reference_median:.3g} (KS distance {self.distance:.2f})"
        )


def ks_distance(a: list[float], b: list[float]) -> float:
    """Largest gap between the two empirical CDFs (0 = same distribution, 1 = disjoint)."""
    xa, xb = np.sort(np.asarray(a, dtype=float)), np.sort(np.asarray(b, dtype=float))
    grid = np.concatenate([xa, xb])
    cdf_a = np.searchsorted(xa, grid, side="right") / len(xa)
    cdf_b = np.searchsorted(xb, grid, side="right") / len(xb)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def image_metrics(rgb: np.ndarray) -> dict[str, float]:
    """Exposure, white balance and sharpness of one 8-bit RGB image."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    means = rgb.reshape(-1, 3).astype(np.float64).mean(axis=0)  # R, G, B
    green = max(float(means[1]), 1e-6)
    return {
        "gray_median": float(np.median(gray)),
        "clipped_fraction": float((rgb == 255).any(axis=2).mean()),
        "red_over_green": float(means[0]) / green,
        "blue_over_green": float(means[2]) / green,
        "sharpness": float(cv2.Laplacian(gray, cv2.CV_64F).var()),
    }


def center_region(hsv: np.ndarray, box: list[float]) -> np.ndarray:
    """The pixels (N x 3) of the central ``CENTER_FRACTION`` of a box (x, y, w, h); at least one pixel
    inside the image, none when the box lies outside it."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    half_w, half_h = max(w * CENTER_FRACTION / 2, 0.5), max(h * CENTER_FRACTION / 2, 0.5)
    x0, x1 = round(cx - half_w), round(cx + half_w)
    y0, y1 = round(cy - half_h), round(cy + half_h)
    return hsv[max(y0, 0) : max(y1, y0 + 1), max(x0, 0) : max(x1, x0 + 1)].reshape(-1, 3)


def object_metrics(hsv: np.ndarray, box: list[float]) -> dict[str, float] | None:
    """Color and size of one object from its box (x, y, w, h) in the working image; None when empty."""
    w, h = box[2], box[3]
    region = center_region(hsv, box)
    if region.size == 0:
        return None
    return {
        "object_saturation": float(np.median(region[:, 1])),
        "object_value": float(np.median(region[:, 2])),
        "object_size": float(np.sqrt(max(w * h, 0.0))),
    }


def _read_resized(coco_set: CocoSet, image: dict[str, Any], size: int) -> tuple[np.ndarray, float]:
    rgb = read_image(coco_set.image_path(image))
    scale = size / max(rgb.shape[:2])
    if scale != 1.0:
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=interpolation)
    return rgb, scale


def collect_values(
    coco_set: CocoSet, size: int = 448, max_images: int | None = None
) -> tuple[dict[str, list[float]], dict[str, dict[str, list[float]]]]:
    """Every metric's per-image or per-object values, and per category name every ``CATEGORY_METRICS``
    value, over (the first ``max_images`` of) a set; each image is read and resized once."""
    values: dict[str, list[float]] = {m: [] for m in METRICS}
    per_category: dict[str, dict[str, list[float]]] = {
        n: {m: [] for m in CATEGORY_METRICS} for n in coco_set.categories.values()
    }
    images = coco_set.images if max_images is None else coco_set.images[:max_images]
    labelled = coco_set.num_annotations > 0  # photos without labels have no object count, not 0 objects
    for image in images:
        rgb, scale = _read_resized(coco_set, image, size)
        anns = [a for a in coco_set.annotations.get(image["id"], []) if not a.get("iscrowd", 0)]
        boxes = [[float(v) * scale for v in a["bbox"]] for a in anns]
        _add_image_values(values, rgb, boxes, labelled)
        names = [coco_set.categories.get(a["category_id"]) for a in anns]
        _add_category_values(per_category, rgb, [(n, b) for n, b in zip(names, boxes, strict=True) if n])
    return values, per_category


def _add_image_values(
    values: dict[str, list[float]], rgb: np.ndarray, boxes: list[list[float]], labelled: bool
) -> None:
    for key, value in image_metrics(rgb).items():
        values[key].append(value)
    if labelled:
        values["objects_per_image"].append(float(len(boxes)))
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    for box in boxes:
        for key, value in (object_metrics(hsv, box) or {}).items():
            values[key].append(value)


def _add_category_values(
    out: dict[str, dict[str, list[float]]], rgb: np.ndarray, named_boxes: list[tuple[str, list[float]]]
) -> None:
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL)  # hue 0-255 for the full circle
    height, width = rgb.shape[:2]
    counts = dict.fromkeys(out, 0)
    for name, box in named_boxes:
        counts[name] += 1
        values = out[name]
        color = _center_color(hsv, box)
        if color is not None:
            values["object_hue"].append(color[0])
            values["object_saturation"].append(color[1])
            values["object_value"].append(color[2])
        x, y, w, h = box
        values["object_size"].append(float(np.sqrt(max(w * h, 0.0))))
        values["object_aspect"].append(w / h if h > 0 else 0.0)
        touches = x <= 1 or y <= 1 or x + w >= width - 1 or y + h >= height - 1
        values["touches_border"].append(1.0 if touches else 0.0)
    for name, count in counts.items():
        out[name]["per_image"].append(float(count))


def _center_color(hsv: np.ndarray, box: list[float]) -> tuple[float, float, float] | None:
    """Circular-mean hue (degrees), median saturation and value of the box center."""
    region = center_region(hsv, box)
    if region.size == 0:
        return None
    angles = region[:, 0].astype(float) * (2 * np.pi / 256)
    hue = float(np.degrees(np.arctan2(np.sin(angles).mean(), np.cos(angles).mean())) % 360)
    return hue, float(np.median(region[:, 1])), float(np.median(region[:, 2]))


def category_gaps(ours: dict[str, list[float]], reference: dict[str, list[float]]) -> list[Finding]:
    """The per-category metrics that differ clearly: KS distance and a median (hue: circular, share:
    mean) difference above the metric's tolerance."""
    findings = []
    for key in CATEGORY_METRICS:
        a, b = ours.get(key) or [], reference.get(key) or []
        if not a or not b:
            continue
        if key == "touches_border":
            center, ref_center = float(np.mean(a)), float(np.mean(b))
            if abs(center - ref_center) >= CATEGORY_TOLERANCE[key]:
                findings.append(Finding(key, center, ref_center, abs(center - ref_center)))
            continue
        if key == "object_hue":  # unwrap around the reference's circular mean
            ref_center = _circular_mean(b)
            a = [ref_center + _wrap(v - ref_center) for v in a]
            b = [ref_center + _wrap(v - ref_center) for v in b]
        center, ref_center = float(np.median(a)), float(np.median(b))
        distance = ks_distance(a, b)
        if distance >= GAP_DISTANCE and abs(center - ref_center) > CATEGORY_TOLERANCE[key]:
            findings.append(
                Finding(key, center % 360 if key == "object_hue" else center, ref_center, distance)
            )
    return findings


def _circular_mean(degrees: list[float]) -> float:
    r = np.radians(np.asarray(degrees, dtype=float))
    return float(np.degrees(np.arctan2(np.sin(r).mean(), np.cos(r).mean())) % 360)


def _wrap(delta: float) -> float:
    return (delta + 180.0) % 360.0 - 180.0


def summarize(values: dict[str, list[float]]) -> dict[str, dict[str, float] | None]:
    """10th / 50th / 90th percentile and count of every metric (None where a set has no values)."""
    out: dict[str, dict[str, float] | None] = {}
    for key, vals in values.items():
        if not vals:
            out[key] = None
            continue
        array = np.asarray(vals, dtype=float)
        p10, p50, p90 = np.percentile(array, [10, 50, 90])
        out[key] = {
            "p10": float(p10),
            "median": float(p50),
            "p90": float(p90),
            "mean": float(array.mean()),
            "count": len(vals),
        }
    return out


def find_gaps(values: dict[str, list[float]], reference: dict[str, list[float]]) -> list[Finding]:
    """The metrics whose distributions differ clearly (see the module docstring)."""
    findings = []
    for key in METRICS:
        ours, ref = values.get(key), reference.get(key)
        if not ours or not ref:
            continue
        median, ref_median = float(np.median(ours)), float(np.median(ref))
        distance = ks_distance(ours, ref)
        if distance >= GAP_DISTANCE and abs(median - ref_median) > TOLERANCE[key]:
            findings.append(Finding(key, median, ref_median, distance))
    return findings


def compare_sets(
    first: str | Path,
    second: str | Path,
    size: int = 448,
    second_split: float | None = None,
    max_images: int | None = None,
) -> dict[str, Any]:
    """Load two COCO sets and compare them (:func:`compare_coco_sets`).

    ``second_split`` keeps only the training part of the second set, split exactly as
    ``simgen eval --real-split`` splits it, so that a scene can be tuned without looking at test photos.
    """
    return compare_coco_sets(*load_compared_sets(first, second, second_split), size, max_images)


def load_compared_sets(
    first: str | Path, second: str | Path, second_split: float | None = None
) -> tuple[CocoSet, CocoSet]:
    """Both sets of ``simgen compare``, the second cut to its training part when ``second_split`` is
    given; loaded once, so the statistics and ``--gap`` read the same images."""
    second_set = load_photos(second)
    if second_split is not None:
        second_set = split_set(second_set, second_split)[0]
    return load_photos(first), second_set


def compare_coco_sets(
    first: CocoSet, second: CocoSet, size: int = 448, max_images: int | None = None
) -> dict[str, Any]:
    """Summaries of both sets and the gaps of the first against the second."""
    if size < 16:
        raise SimgenError(f"--size {size}: must be at least 16 pixels")
    sets = [first, second]
    collected = [collect_values(s, size, max_images) for s in sets]
    values = [v for v, _ in collected]
    summaries = [summarize(v) for v in values]
    gaps = find_gaps(values[0], values[1])
    return {
        "per_category": _per_category(first.name, second.name, collected[0][1], collected[1][1]),
        "size": size,
        "sets": [
            {"name": s.name, "json": str(s.json_path), "images": len(s.images), "summary": summary}
            for s, summary in zip(sets, summaries, strict=True)
        ],
        "gaps": [
            {
                "metric": g.metric,
                "median": g.median,
                "reference_median": g.reference_median,
                "ks_distance": g.distance,
            }
            for g in gaps
        ],
        "gap_text": [g.describe(sets[0].name, sets[1].name) for g in gaps],
    }


def _per_category(
    first: str,
    second: str,
    ours: dict[str, dict[str, list[float]]],
    theirs: dict[str, dict[str, list[float]]],
) -> dict[str, Any]:
    """Every category both sets have (matched by name): both summaries and the gaps."""
    out: dict[str, Any] = {}
    for name in [n for n in ours if n in theirs]:
        gaps = category_gaps(ours[name], theirs[name])
        out[name] = {
            "summary": [summarize(ours[name]), summarize(theirs[name])],
            "gaps": [
                {"metric": g.metric, "median": g.median, "reference_median": g.reference_median} for g in gaps
            ],
        }
    for name in [n for n in ours if n not in theirs] + [n for n in theirs if n not in ours]:
        out[name] = {"only_in": first if name in ours else second}
    return out


def format_category_table(result: dict[str, Any]) -> str:
    """Per category: each metric's median in both sets, gaps marked (touches_border: the share)."""
    first, second = (s["name"] for s in result["sets"])
    lines = ["", "Per category: median (share for border contact); gaps marked", ""]
    lines += [f"| category | metric | {first} | {second} | gap |", "|---|---|---|---|---|"]
    for name, entry in result.get("per_category", {}).items():
        if "only_in" in entry:
            lines.append(f"| {name} | (only in {entry['only_in']}) | | | |")
            continue
        flagged = {g["metric"] for g in entry["gaps"]}
        for key, label in CATEGORY_METRICS.items():
            cells = []
            for summary in entry["summary"]:
                stats = summary.get(key)
                cells.append(
                    "n/a"
                    if stats is None
                    else _number(stats["mean" if key == "touches_border" else "median"])
                )
            lines.append(
                f"| {name} | {label} | {cells[0]} | {cells[1]} | {'**yes**' if key in flagged else ''} |"
            )
    return "\n".join(lines)


def format_table(result: dict[str, Any], heading: bool = True) -> str:
    """A Markdown table: each metric's 10th / 50th / 90th percentile in both sets, gaps marked."""
    first, second = result["sets"]
    flagged = {g["metric"] for g in result["gaps"]}
    lines = [f"Appearance at {result['size']} px (longer side): p10 / median / p90", ""] if heading else []
    lines += [
        f"| metric | {first['name']} ({first['images']} images) "
        f"| {second['name']} ({second['images']} images) | gap |",
        "|---|---|---|---|",
    ]
    for key, label in METRICS.items():
        cells = [_cell(s["summary"].get(key)) for s in (first, second)]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {'**yes**' if key in flagged else ''} |")
    if result["gap_text"]:
        lines += ["", *[f"- {text}" for text in result["gap_text"]]]
    else:
        lines += ["", f"- no clear gap between {first['name']} and {second['name']}"]
    if result.get("per_category"):
        lines.append(format_category_table(result))
    return "\n".join(lines)


def _cell(stats: dict[str, float] | None) -> str:
    if stats is None:
        return "n/a"
    return " / ".join(_number(stats[k]) for k in ("p10", "median", "p90"))


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.0f}"
