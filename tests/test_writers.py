"""Writers: COCO (RLE and polygons), YOLO (detect/segment/pose) and BOP, and lossless round trips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from labelkit import CATEGORIES, HEIGHT, WIDTH, make_records, write_dataset

from simgen.audit import audit_dataset
from simgen.cli import main
from simgen.labels import InstanceLabel, decode_mask
from simgen.polygons import join_polygons, mask_to_polygons, polygons_to_mask
from simgen.writers import export, open_dataset
from simgen.writers.bop import bop_files
from simgen.writers.coco import build_coco, records_from_coco
from simgen.writers.yolo import read_yolo, write_yolo

COCO_FIELDS = ("index", "seed", "width", "height", "file_name", "extra_files", "instances", "camera")


def as_coco_record(record) -> dict:
    """The part of a record that COCO carries (spec, timings and stats stay in records/*.json)."""
    data = record.to_dict()
    return {k: data[k] for k in COCO_FIELDS}


def key(inst: InstanceLabel) -> tuple:
    return (inst.iscrowd, inst.category_id, tuple(inst.bbox))


def test_mask_polygon_round_trip_is_exact_with_holes_and_parts() -> None:
    rng = np.random.default_rng(1)
    for trial in range(60):
        mask = rng.random((30, 40)) > (0.3 if trial % 2 else 0.7)
        polygons = mask_to_polygons(mask)
        assert np.array_equal(polygons_to_mask(polygons, 30, 40), mask)
        assert np.array_equal(polygons_to_mask([join_polygons(polygons)], 30, 40), mask)


def test_coco_round_trip_keeps_every_field() -> None:
    records = make_records()
    coco = build_coco(records, CATEGORIES, {"scene": "kit"})
    back = records_from_coco(json.loads(json.dumps(coco)))
    assert [as_coco_record(r) for r in back] == [as_coco_record(r) for r in records]
    assert build_coco(back, CATEGORIES, {"scene": "kit"}) == coco


def test_coco_polygons_decode_to_the_same_masks() -> None:
    records = make_records()
    coco = build_coco(records, CATEGORIES, {}, polygons=True)
    ring = next(a for a in coco["annotations"] if a["category_id"] == 2)
    assert isinstance(ring["segmentation"], list)
    crowd = next(a for a in coco["annotations"] if a["iscrowd"])
    assert isinstance(crowd["segmentation"], dict), "crowd regions stay RLE (COCO convention)"
    back = records_from_coco(json.loads(json.dumps(coco)))
    assert [as_coco_record(r) for r in back] == [as_coco_record(r) for r in records]


@pytest.mark.parametrize("task", ["detect", "segment", "pose"])
def test_coco_to_yolo_and_back_keeps_every_label(tmp_path: Path, task: str) -> None:
    write_dataset(tmp_path)
    labels = open_dataset(tmp_path)
    (folder,) = export(labels, "yolo", tmp_path / "yolo", task=task)
    back, categories = read_yolo(folder)
    assert categories == CATEGORIES
    assert [r.index for r in back] == [r.index for r in labels.records]
    for original, restored in zip(labels.records, back, strict=True):
        assert (restored.width, restored.height, restored.file_name) == (WIDTH, HEIGHT, original.file_name)
        before = sorted(original.instances, key=key)
        after = sorted(restored.instances, key=key)
        assert [key(i) for i in after] == [key(i) for i in before], "class, box or ignore flag changed"
        for a, b in zip(before, after, strict=True):
            assert b.ignore == a.ignore
            if task == "segment":
                assert np.array_equal(decode_mask(b.segmentation), decode_mask(a.segmentation))
                assert b.area == a.area
            if task == "pose" and a.keypoints:
                assert np.allclose(b.keypoints, a.keypoints, atol=1e-3)
    # ... and on to COCO again: a valid dataset (images linked into the YOLO folder)
    (coco_path,) = export(open_dataset(folder), "coco")
    report = audit_dataset(coco_path)
    assert report.ok, report.describe()


def test_yolo_folder_layout(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    labels = open_dataset(tmp_path)
    out = write_yolo(labels.records, labels.categories, tmp_path / "y", "pose", labels.root)
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["names"] == {0: "box", 1: "ring", 2: "pair"} and data["nc"] == 3 and "path" not in data
    assert data["kpt_shape"] == [3, 3] and data["flip_idx"] == [0, 1, 2]
    lines = (out / "labels" / "000000.txt").read_text().splitlines()
    assert len(lines) == 3 and all(len(line.split()) == 5 + 9 for line in lines)
    assert (out / "ignore" / "000000.txt").read_text().startswith("0 ")  # the speck, class box
    image = out / "images" / "000000.png"
    assert image.is_symlink() and image.resolve() == (tmp_path / "images" / "000000.png").resolve()
    values = [float(v) for line in lines for v in line.split()[1:5]]
    assert all(0.0 <= v <= 1.0 for v in values)


def test_bop_files_hold_pose_camera_and_visibility() -> None:
    records = make_records(2)
    files = bop_files(records)
    camera = files["scene_camera.json"]["1"]
    assert (
        camera["cam_K"] == [80.0, 0.0, 32.0, 0.0, 80.0, 24.0, 0.0, 0.0, 1.0] and camera["depth_scale"] == 1000
    )
    gt = files["scene_gt.json"]["1"]
    assert len(gt) == 4 and gt[1]["obj_id"] == 2 and gt[1]["cam_t_m2c"] == pytest.approx([200.0, 0.0, 3000.0])
    info = files["scene_gt_info.json"]["0"][0]
    inst = records[0].instances[0]
    assert info["bbox_visib"] == inst.bbox and info["bbox_obj"] == inst.amodal_bbox
    assert info["px_count_visib"] == inst.area and info["px_count_all"] == inst.amodal_area
    assert info["visib_fract"] == pytest.approx(inst.visibility)


def test_export_command_writes_every_format(tmp_path: Path, capsys) -> None:
    write_dataset(tmp_path)
    assert main(["export", str(tmp_path), "--format", "yolo"]) == 0
    assert {p.name for p in (tmp_path / "yolo").iterdir()} == {"detect", "segment", "pose"}
    assert main(["export", str(tmp_path), "--format", "coco-polygons"]) == 0
    assert main(["export", str(tmp_path), "--format", "bop", "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "scene_gt.json").is_file()
    assert main(["audit", str(tmp_path / "annotations_polygons.json")]) == 0
    assert main(["export", str(tmp_path), "--format", "yolo", "--task", "nope"]) == 1
    assert "--task 'nope'" in capsys.readouterr().err


def test_export_box_scale_grows_boxes_about_their_centers(tmp_path: Path, capsys) -> None:
    """--box-scale 1.2: every YOLO/COCO box 1.2x larger about the same center (clipped), masks unchanged."""
    write_dataset(tmp_path)
    labels = open_dataset(tmp_path)
    assert main(["export", str(tmp_path), "--format", "yolo", "--task", "detect", "--box-scale", "1.2"]) == 0
    grown, _ = read_yolo(tmp_path / "yolo" / "detect")
    checked = 0
    for original, restored in zip(labels.records, grown, strict=True):
        for a, b in zip(
            sorted(original.instances, key=key), sorted(restored.instances, key=key), strict=True
        ):
            x, y, w, h = a.bbox
            if x - 0.1 * w > 0 and y - 0.1 * h > 0 and x + 1.1 * w < WIDTH and y + 1.1 * h < HEIGHT:
                assert b.bbox == pytest.approx([x - 0.1 * w, y - 0.1 * h, 1.2 * w, 1.2 * h], abs=0.02)
                checked += 1
            bx, by, bw, bh = b.bbox
            assert bx >= 0 and by >= 0 and bx + bw <= WIDTH + 0.01 and by + bh <= HEIGHT + 0.01
            assert bw >= w and bh >= h
    assert checked >= 3
    (coco_path,) = export(labels, "coco", tmp_path / "loose.json", box_scale=1.2)
    loose = json.loads(coco_path.read_text())["annotations"]
    tight = json.loads((tmp_path / "annotations.json").read_text())["annotations"]
    assert [a["segmentation"] for a in loose] == [a["segmentation"] for a in tight]
    assert sum(a["bbox"][2] for a in loose) > 1.1 * sum(a["bbox"][2] for a in tight)
    assert main(["export", str(tmp_path), "--format", "bop", "--box-scale", "1.2"]) == 1
    assert main(["export", str(tmp_path), "--format", "yolo", "--box-scale", "5"]) == 1
    assert "--box-scale 5.0: expected a factor between 0.5 and 2.0" in capsys.readouterr().err
