"""Metrics: our COCO numbers equal pycocotools' on hand-made prediction files with known AP (no torch)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from simgen.evaluate.datasets import load_coco
from simgen.evaluate.metrics import encode_rle, evaluate_results


def _write_gt(tmp_path: Path, masks: bool = False) -> Path:
    """4 images of 200x200, one 100x100 box each; classes a (images 1-2) and b (images 3-4)."""
    (tmp_path / "images").mkdir()
    images, annotations = [], []
    for i in range(1, 5):
        cv2.imwrite(str(tmp_path / "images" / f"{i}.png"), np.zeros((200, 200, 3), np.uint8))
        images.append({"id": i, "file_name": f"images/{i}.png", "width": 200, "height": 200})
        ann = {
            "id": i,
            "image_id": i,
            "category_id": 1 if i <= 2 else 2,
            "bbox": [50, 50, 100, 100],
            "area": 10000,
            "iscrowd": 0,
        }
        if masks:
            mask = np.zeros((200, 200), np.uint8)
            mask[50:150, 50:150] = 1
            ann["segmentation"] = encode_rle(mask)
        annotations.append(ann)
    categories = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    path = tmp_path / "gt.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


def _pycocotools_stats(gt_path: Path, results: list[dict], iou_type: str = "bbox") -> np.ndarray:
    """Reference numbers straight from pycocotools, files on disk, nothing of ours involved."""
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        evaluator = COCOeval(gt, gt.loadRes(results), iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats


def _predictions(shift: float = 0.0, skip: tuple[int, ...] = ()) -> list[dict]:
    return [
        {"image_id": i, "category_id": 1 if i <= 2 else 2, "bbox": [50 + shift, 50, 100, 100], "score": 0.9}
        for i in range(1, 5)
        if i not in skip
    ]


def test_perfect_predictions_score_one(tmp_path: Path) -> None:
    gt = _write_gt(tmp_path)
    metrics = evaluate_results(load_coco(gt), _predictions())
    assert metrics["AP"] == pytest.approx(1.0)
    assert metrics["AP50"] == pytest.approx(1.0)
    assert metrics["per_class"] == {"a": {"AP": 1.0, "AP50": 1.0}, "b": {"AP": 1.0, "AP50": 1.0}}
    assert metrics["APs"] is None  # no small objects: COCOeval's -1 becomes None


def test_shifted_boxes_give_known_ap(tmp_path: Path) -> None:
    """A 10 px shift of a 100 px box: IoU 90/110 = 0.818, a hit at IoU .50-.80 (7 of 10 thresholds)."""
    gt = _write_gt(tmp_path)
    results = _predictions(shift=10)
    metrics = evaluate_results(load_coco(gt), results)
    assert metrics["AP"] == pytest.approx(0.7)
    assert metrics["AP50"] == pytest.approx(1.0)
    assert metrics["AP75"] == pytest.approx(1.0)
    reference = _pycocotools_stats(gt, results)
    assert [metrics[k] for k in ("AP", "AP50", "AP75", "AR1", "AR10", "AR100")] == pytest.approx(
        [reference[i] for i in (0, 1, 2, 6, 7, 8)]
    )


def test_per_class_ap_and_missed_objects_match_pycocotools(tmp_path: Path) -> None:
    """Class a perfect, class b shifted and one of its two objects missed."""
    gt = _write_gt(tmp_path)
    results = [
        r if r["category_id"] == 1 else {**r, "bbox": [60, 50, 100, 100]} for r in _predictions(skip=(4,))
    ]
    metrics = evaluate_results(load_coco(gt), results)
    assert metrics["per_class"]["a"]["AP"] == pytest.approx(1.0)
    # b: recall tops out at 0.5 -> 51 of 101 recall points have precision 1 at IoU <= 0.80.
    assert metrics["per_class"]["b"]["AP50"] == pytest.approx(51 / 101)
    assert metrics["per_class"]["b"]["AP"] == pytest.approx(0.7 * 51 / 101)
    assert metrics["AP"] == pytest.approx(_pycocotools_stats(gt, results)[0])
    curve = metrics["pr_curve"]["per_class"]["b"]  # precision at IoU 0.5 for recall 0.00, 0.01, ... 1.00
    assert curve[50] == pytest.approx(1.0) and curve[51] == 0.0


def test_no_predictions_score_zero(tmp_path: Path) -> None:
    metrics = evaluate_results(load_coco(_write_gt(tmp_path)), [])
    assert metrics["AP"] == 0.0 and metrics["per_class"]["a"]["AP"] == 0.0


def test_segm_metrics_on_mask_test_set(tmp_path: Path) -> None:
    gt = _write_gt(tmp_path, masks=True)
    mask = np.zeros((200, 200), np.uint8)
    mask[50:150, 50:150] = 1
    results = [{**r, "segmentation": encode_rle(mask)} for r in _predictions()]
    metrics = evaluate_results(load_coco(gt), results, "segm")
    assert metrics["AP"] == pytest.approx(1.0)
    assert metrics["AP"] == pytest.approx(_pycocotools_stats(gt, results, "segm")[0])
