"""The label audit passes clean datasets and names every deliberately corrupted label or file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import make_config
from labelkit import write_dataset

from simgen.audit import audit_dataset
from simgen.cli import main
from simgen.fileio import write_image_atomic


def corrupt(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def ann(data: dict, image_id: int, category_id: int) -> dict:
    return next(
        a for a in data["annotations"] if a["image_id"] == image_id and a["category_id"] == category_id
    )


def shift_bbox(data: dict) -> None:
    ann(data, 1, 2)["bbox"][2] += 1


def wrong_area(data: dict) -> None:
    ann(data, 0, 3)["area"] -= 5


def overlapping_masks(data: dict) -> None:
    ring = ann(data, 2, 2)
    data["annotations"].append({**ring, "id": 999})  # a second annotation claiming the same pixels


def duplicate_id(data: dict) -> None:
    data["annotations"][1]["id"] = data["annotations"][0]["id"]


def unknown_category(data: dict) -> None:
    data["annotations"][0]["category_id"] = 42


def broken_rle(data: dict) -> None:
    ann(data, 0, 2)["segmentation"]["counts"] = "%%%not-rle"


def keypoint_outside(data: dict) -> None:
    ann(data, 1, 1)["keypoints"][0:3] = [70.0, 5.0, 2]


def amodal_smaller_than_visible(data: dict) -> None:
    box = ann(data, 0, 1)
    box["amodal_segmentation"] = ann(data, 0, 3)["segmentation"]


def drop_annotation(data: dict) -> None:
    data["annotations"].remove(ann(data, 0, 2))


CASES = [
    (shift_bbox, {"bbox"}, "!= tight bounds of its mask"),
    (wrong_area, {"area"}, "!= mask pixel count"),
    (overlapping_masks, {"overlap", "unique_ids"}, "visible mask overlaps annotation(s)"),
    (duplicate_id, {"unique_ids"}, "annotations: duplicate ids"),
    (unknown_category, {"category", "keypoints"}, "category_id 42 is not in categories"),
    (broken_rle, {"rle"}, "segmentation does not decode"),
    (keypoint_outside, {"keypoints"}, "marked v=2 but (70.0, 5.0) is outside the image"),
    (amodal_smaller_than_visible, {"amodal", "visibility"}, "visible px are outside the amodal mask"),
    (drop_annotation, {"unlabelled"}, "instance 2 has 328 visible px in the instance map but no annotation"),
]


def test_clean_dataset_passes(tmp_path: Path, capsys) -> None:
    write_dataset(tmp_path)
    report = audit_dataset(tmp_path)
    assert report.ok, report.describe()
    assert report.images == 3 and report.annotations == 12
    assert main(["audit", str(tmp_path)]) == 0
    assert "all checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(("change", "checks", "message"), CASES, ids=[c[0].__name__ for c in CASES])
def test_corrupted_annotations_are_reported(tmp_path: Path, capsys, change, checks, message) -> None:
    path = write_dataset(tmp_path)
    corrupt(path, change)
    report = audit_dataset(tmp_path)
    assert {v.check for v in report.violations} == checks, report.describe()
    assert message in report.describe()
    assert main(["audit", str(tmp_path)]) == 1
    assert message in capsys.readouterr().err  # a failed audit reports on stderr


def test_missing_and_resized_image_files_are_reported(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    (tmp_path / "images" / "000001.png").unlink()
    write_image_atomic(tmp_path / "images" / "000002.png", __import__("numpy").zeros((10, 10, 3), "uint8"))
    report = audit_dataset(tmp_path)
    text = report.describe()
    assert {v.check for v in report.violations} == {"image_file", "image_size"}, text
    assert "image 1 (images/000001.png): image file missing" in text
    assert "image 2 (images/000002.png): declared 64x48, file 000002.png is 10x10" in text


def test_instance_map_disagreeing_with_a_mask_is_reported(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    ids = __import__("cv2").imread(str(tmp_path / "instances" / "000000.png"), -1)
    ids[0, 0] = 2
    write_image_atomic(tmp_path / "instances" / "000000.png", ids)
    report = audit_dataset(tmp_path)
    assert [v.check for v in report.violations] == ["instance_map"]
    assert "mask differs from the instance map on 1 px" in report.describe()


@pytest.mark.blender
def test_rendered_dataset_passes_and_gets_stats_and_preview(tmp_path: Path) -> None:
    pytest.importorskip("bpy")
    from simgen.build import build_dataset
    from simgen.preview import contact_sheet
    from simgen.stats import write_stats

    config = make_config(
        scene={"num_images": 2, "seed": 5},
        camera={"location": [0, -4, 2.5], "look_at": [0, 0, 0]},
        objects=[
            {"shape": "plane", "size": 6},
            {
                "shape": {"choice": ["cube", "cone"]},
                "category": "thing",
                "count": 4,
                "size": 0.7,
                "location": {"uniform": [[-1.2, -1.2, 0.35], [1.2, 1.2, 0.35]]},
            },
        ],
        keypoints={"thing": "bbox_corners"},
        labels={"below_threshold": "ignore", "min_visibility": 0.2},
    )
    summary = build_dataset(config, tmp_path, progress=False)
    report = audit_dataset(summary.coco_path)
    assert report.ok, report.describe()
    coco = json.loads(summary.coco_path.read_text())
    assert all("visibility" in a and "pose" in a and len(a["keypoints"]) == 24 for a in coco["annotations"])
    assert (tmp_path / "bop" / "scene_gt.json").is_file() and (tmp_path / "normals").is_dir()
    stats_json, stats_png = write_stats(tmp_path)
    stats = json.loads(stats_json.read_text())
    assert stats["images"] == 2 and "visibility" in stats and stats_png.stat().st_size > 10_000
    assert contact_sheet(tmp_path).stat().st_size > 1000
