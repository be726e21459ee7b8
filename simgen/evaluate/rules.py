"""Annotation-rule differences between synthetic and real sets, reported rather than hidden.

A renderer labels every visible pixel of every object with a mask-tight box; people label with their own
rules (looser boxes, skipped tiny or truncated objects, whole images left half-labelled). Such differences
cap the AP a synthetic-trained model can reach on real photos, whatever the rendering quality. Two kinds of
evidence are used:

* label statistics alone (no model): box sizes relative to the model input, aspect ratios, objects per
  image, boxes touching the border, box padding around masks where masks exist;
* a synthetic-trained model's confident predictions on the real test images: are matched real boxes
  systematically larger than predicted (mask-tight) boxes, and are confident detections left unmatched
  (candidate unlabeled objects)?
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from simgen.evaluate.datasets import CocoSet, annotation_mask

SMALL_PX = 16  # boxes below this side length (at the model input size) are hard for any detector


@dataclass
class Finding:
    rule: str
    severity: str  # "warning" (likely costs AP) or "info"
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def box_table(coco_set: CocoSet, image_size: int) -> dict[str, np.ndarray]:
    """Per-box arrays: side (sqrt area) in model-input px, aspect ratio, border contact."""
    sides, aspects, border = [], [], []
    for image in coco_set.images:
        scale = image_size / max(image["width"], image["height"])
        for ann in coco_set.annotations.get(image["id"], []):
            x, y, w, h = ann["bbox"]
            if w <= 0 or h <= 0:
                continue
            sides.append(np.sqrt(w * h) * scale)
            aspects.append(w / h)
            border.append(x <= 1 or y <= 1 or x + w >= image["width"] - 1 or y + h >= image["height"] - 1)
    return {"side": np.array(sides), "aspect": np.array(aspects), "border": np.array(border, bool)}


def _percentile(values: np.ndarray, p: float) -> float | None:
    return float(np.percentile(values, p)) if values.size else None


def set_stats(coco_set: CocoSet, image_size: int) -> dict[str, Any]:
    """Summary numbers for one set, at the resolution the model sees it."""
    table = box_table(coco_set, image_size)
    counts = np.array([len(coco_set.annotations.get(im["id"], [])) for im in coco_set.images])
    side = table["side"]
    per_class: dict[str, int] = defaultdict(int)
    for group in coco_set.annotations.values():
        for ann in group:
            per_class[coco_set.categories[ann["category_id"]]] += 1
    return {
        "images": len(coco_set.images),
        "boxes": int(side.size),
        "has_masks": coco_set.has_masks,
        "boxes_per_image": {
            "median": _percentile(counts, 50),
            "min": int(counts.min()) if counts.size else 0,
            "max": int(counts.max()) if counts.size else 0,
            "empty_images": int((counts == 0).sum()),
        },
        "box_side_px": {
            "p5": _percentile(side, 5),
            "median": _percentile(side, 50),
            "p95": _percentile(side, 95),
        },
        "small_fraction": float((side < SMALL_PX).mean()) if side.size else 0.0,
        "aspect_median": _percentile(table["aspect"], 50),
        "border_fraction": float(table["border"].mean()) if side.size else 0.0,
        "mask_padding_px": mask_padding(coco_set),
        "per_class": dict(sorted(per_class.items())),
    }


def mask_padding(coco_set: CocoSet, limit: int = 500) -> float | None:
    """Median gap (px, original resolution) between a box and its mask's tight box; None without masks."""
    gaps = []
    for image in coco_set.images:
        for ann in coco_set.annotations.get(image["id"], []):
            mask = annotation_mask(ann, image["height"], image["width"])
            if mask is None or not mask.any():
                continue
            ys, xs = np.nonzero(mask)
            x, y, w, h = ann["bbox"]
            gaps.append(np.mean([xs.min() - x, ys.min() - y, x + w - xs.max() - 1, y + h - ys.max() - 1]))
            if len(gaps) >= limit:
                return float(np.median(gaps))
    return float(np.median(gaps)) if gaps else None


def compare_label_stats(synthetic: dict[str, Any], real: dict[str, Any], real_name: str) -> list[Finding]:
    """Findings from label statistics alone (one synthetic summary vs one real summary)."""
    findings: list[Finding] = []
    s_med, r_med = synthetic["box_side_px"]["median"], real["box_side_px"]["median"]
    if s_med and r_med and not 0.87 <= s_med / r_med <= 1.15:  # beyond +-15%: worth a look, +-33%: a problem
        findings.append(
            Finding(
                "box-size",
                "info" if 0.75 <= s_med / r_med <= 1.33 else "warning",
                f"median box side differs: synthetic {s_med:.1f} px vs {real_name} {r_med:.1f} px "
                f"at the model input size (ratio {s_med / r_med:.2f}); match camera distance or "
                "object scale in the scene config",
            )
        )
    if synthetic["small_fraction"] > real["small_fraction"] + 0.1:
        findings.append(
            Finding(
                "small-objects",
                "info",
                f"{synthetic['small_fraction']:.0%} of synthetic boxes are under {SMALL_PX} px vs "
                f"{real['small_fraction']:.0%} in {real_name}: tiny objects may be unlabelled in "
                "the real set by its annotation rules",
            )
        )
    s_cnt, r_cnt = synthetic["boxes_per_image"]["median"], real["boxes_per_image"]["median"]
    if s_cnt and r_cnt and not 0.5 <= s_cnt / r_cnt <= 2:
        findings.append(
            Finding(
                "objects-per-image",
                "info",
                f"median objects per image: synthetic {s_cnt:g} vs {real_name} {r_cnt:g}",
            )
        )
    if real["boxes_per_image"]["empty_images"]:
        findings.append(
            Finding(
                "empty-images",
                "info",
                f"{real['boxes_per_image']['empty_images']} {real_name} images have no labels",
            )
        )
    if synthetic["border_fraction"] > real["border_fraction"] + 0.1:
        findings.append(
            Finding(
                "truncated-objects",
                "info",
                f"{synthetic['border_fraction']:.0%} of synthetic boxes touch the image border vs "
                f"{real['border_fraction']:.0%} in {real_name}: truncated objects may be "
                "left unlabelled in the real set",
            )
        )
    s_pad, r_pad = synthetic["mask_padding_px"], real["mask_padding_px"]
    if s_pad is not None and r_pad is not None and r_pad - s_pad > 1.0:
        findings.append(
            Finding(
                "box-tightness",
                "warning",
                f"{real_name} boxes sit {r_pad:.1f} px outside their masks (synthetic: "
                f"{s_pad:.1f} px): real boxes are looser than mask-tight synthetic boxes",
            )
        )
    return findings


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between XYWH boxes ``a`` (N) and ``b`` (M)."""
    from pycocotools import mask as mask_utils

    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    return np.asarray(mask_utils.iou(a.tolist(), b.tolist(), [0] * len(b)))


def _confident_by_image(results: list[dict[str, Any]], score: float) -> dict[int, list[dict[str, Any]]]:
    by_image: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        if r["score"] >= score:
            by_image[r["image_id"]].append(r)
    return by_image


def _gt_boxes(real: CocoSet, image_id: int) -> np.ndarray:
    return np.array([a["bbox"] for a in real.annotations.get(image_id, [])], float).reshape(-1, 4)


def find_unmatched(real: CocoSet, results: list[dict[str, Any]], score: float = 0.6) -> list[dict[str, Any]]:
    """Confident detections overlapping no label at all (IoU < 0.1), most confident first."""
    by_image = _confident_by_image(results, score)
    unmatched = []
    for image in real.images:
        detections = by_image.get(image["id"], [])
        dt = np.array([r["bbox"] for r in detections], float).reshape(-1, 4)
        ious = _iou_matrix(dt, _gt_boxes(real, image["id"]))
        for d, detection in enumerate(detections):
            if not ious.shape[1] or ious[d].max() < 0.1:
                unmatched.append({**detection, "file_name": image["file_name"]})
    return sorted(unmatched, key=lambda u: -u["score"])


def prediction_evidence(real: CocoSet, results: list[dict[str, Any]], score: float = 0.6) -> dict[str, Any]:
    """Compare confident predictions with real labels: size ratios of matches, unmatched detections.

    Matching is class-agnostic (the question is about the box rule, not the class) at IoU >= 0.5.
    """
    by_image = _confident_by_image(results, score)
    ratios = []
    for image in real.images:
        gt = _gt_boxes(real, image["id"])
        dt = np.array([r["bbox"] for r in by_image.get(image["id"], [])], float).reshape(-1, 4)
        ious = _iou_matrix(dt, gt)
        for d in range(len(dt)):
            best = int(ious[d].argmax()) if gt.size else -1
            if best >= 0 and ious[d, best] >= 0.5:
                ratios.append(np.sqrt(gt[best, 2] * gt[best, 3] / max(dt[d, 2] * dt[d, 3], 1e-6)))
    unmatched = find_unmatched(real, results, score)
    return {
        "score_threshold": score,
        "matched": len(ratios),
        "gt_to_pred_size_ratio": float(np.median(ratios)) if ratios else None,
        "unmatched_confident": len(unmatched),
        "unmatched_images": len({u["image_id"] for u in unmatched}),
        "unmatched_examples": unmatched[:20],
    }


def box_tightness_finding(
    evidence: dict[str, Any], real_name: str, model_run: str, box_scale: float = 1.0
) -> Finding | None:
    """Real boxes systematically larger/smaller than the synthetic model's: a labelling rule to adopt.

    ``box_scale`` is the ``--synthetic-box-scale`` the model was trained with, so the suggested value
    compounds (a model trained at 1.1 that still sees real boxes 5 % looser suggests ~1.15).
    """
    ratio = evidence["gt_to_pred_size_ratio"]
    if ratio is None or evidence["matched"] < 10 or abs(ratio - 1) <= 0.05:
        return None
    looser = "larger (looser)" if ratio > 1 else "smaller (tighter)"
    return Finding(
        "box-tightness",
        "warning",
        f"matched {real_name} boxes are {abs(ratio - 1):.0%} {looser} than the boxes of "
        f"the '{model_run}' model (median over {evidence['matched']} matches, size = "
        f"sqrt(w*h)), so AP at high IoU suffers; to train on the real labelling rule, "
        f"pass --synthetic-box-scale {box_scale * ratio:.2f}",
    )


def unlabelled_finding(evidence: dict[str, Any], real_name: str, model_run: str) -> Finding | None:
    """Confident detections far from every label: unlabelled real objects or false positives."""
    if not evidence["unmatched_confident"]:
        return None
    return Finding(
        "unlabelled-objects",
        "info",
        f"{evidence['unmatched_confident']} confident detections (score >= "
        f"{evidence['score_threshold']}) of the '{model_run}' model overlap no {real_name} "
        f"label (IoU < 0.1), in {evidence['unmatched_images']} image(s) (examples in report.json): "
        "unlabelled objects or false positives; look at the overlays",
    )
