"""Predictions as a COCO results file, scored by pycocotools' COCOeval (bbox, and segm when possible).

All AP numbers come from COCOeval; per-class AP and PR curves are read from its ``eval['precision']``
array (IoU x recall x class x area x maxDets), the same way detectron2 reports per-class AP.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from simgen.evaluate.datasets import CocoSet

STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def _quiet_coco(data: dict[str, Any]) -> COCO:
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def evaluate_results(gt: CocoSet, results: list[dict[str, Any]], iou_type: str = "bbox") -> dict[str, Any]:
    """COCO metrics of ``results`` (COCO results format, test-set category ids) against ``gt``.

    Returns the 12 standard numbers (fractions; ``None`` where COCOeval says -1, e.g. no small objects),
    per-class AP/AP50 and the mean + per-class precision-recall curves at IoU 0.5.
    """
    coco_gt = _quiet_coco(gt.to_coco())
    category_ids = sorted(gt.categories)
    names = {cid: gt.categories[cid] for cid in category_ids}
    if not results:
        return _empty_metrics(names, iou_type)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes([dict(r) for r in results])
        evaluator = COCOeval(coco_gt, coco_dt, iou_type)
        evaluator.params.imgIds = [im["id"] for im in gt.images]
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    stats = {
        name: (float(v) if v >= 0 else None) for name, v in zip(STAT_NAMES, evaluator.stats, strict=True)
    }
    precision = evaluator.eval["precision"]  # [T=10 IoUs, R=101 recalls, K classes, A=4 areas, M=3 maxDets]
    per_class, curves = {}, {}
    for k, cid in enumerate(evaluator.params.catIds):
        per_class[names[cid]] = {
            "AP": _mean_valid(precision[:, :, k, 0, -1]),
            "AP50": _mean_valid(precision[0, :, k, 0, -1]),
        }
        curves[names[cid]] = _curve(precision[0, :, k, 0, -1])
    mean_curve = [_mean_valid(row) for row in precision[0, :, :, 0, -1]]  # mean over classes
    return {
        "iou_type": iou_type,
        **stats,
        "per_class": per_class,
        "pr_curve": {
            "recall": [float(r) for r in evaluator.params.recThrs],
            "precision": mean_curve,
            "per_class": curves,
        },
    }


def _mean_valid(values: np.ndarray) -> float | None:
    valid = values[values > -1]
    return float(valid.mean()) if valid.size else None


def _curve(values: np.ndarray) -> list[float | None]:
    """Precision at each recall threshold; ``None`` where undefined (class without ground truth)."""
    return [float(v) if v > -1 else None for v in values]


def _empty_metrics(names: dict[int, str], iou_type: str) -> dict[str, Any]:
    """No detections at all: every AP/AR is 0 (COCOeval cannot load an empty results list)."""
    recall = list(np.linspace(0, 1, 101))
    return {
        "iou_type": iou_type,
        **dict.fromkeys(STAT_NAMES, 0.0),
        "per_class": {n: {"AP": 0.0, "AP50": 0.0} for n in names.values()},
        "pr_curve": {
            "recall": recall,
            "precision": [0.0] * 101,
            "per_class": {n: [0.0] * 101 for n in names.values()},
        },
    }


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """A binary HxW mask as JSON-safe compressed RLE."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def to_coco_results(
    image_id: int, output: dict[str, Any], label_to_category: list[int], mask_threshold: float = 0.5
) -> list[dict[str, Any]]:
    """One image's model output (numpy arrays: boxes XYXY, labels, scores, optional masks Nx1xHxW)."""
    results = []
    boxes, labels, scores = output["boxes"], output["labels"], output["scores"]
    masks = output.get("masks")
    for i in range(len(scores)):
        x0, y0, x1, y1 = (float(v) for v in boxes[i])
        result = {
            "image_id": int(image_id),
            "category_id": int(label_to_category[int(labels[i]) - 1]),
            "bbox": [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
            "score": round(float(scores[i]), 5),
        }
        if masks is not None:
            result["segmentation"] = encode_rle(masks[i, 0] >= mask_threshold)
        results.append(result)
    return results


def save_results(results: list[dict[str, Any]], path: Path) -> None:
    path.write_text(json.dumps(results))
