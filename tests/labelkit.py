"""Hand-made labelled datasets (no Blender) for the writer and audit tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from simgen.fileio import write_image_atomic, write_json_atomic
from simgen.labels import ImageRecord, InstanceLabel, encode_mask, tight_bbox
from simgen.writers.coco import build_coco, coco_categories

WIDTH, HEIGHT = 64, 48
CATEGORIES = coco_categories(["box", "ring", "pair"], {"box": (["a", "b", "c"], [[1, 2], [2, 3]])})


def instance_map(index: int) -> np.ndarray:
    """Three objects: a box (with keypoints), a ring with a hole, a two-part object; plus one speck."""
    ids = np.zeros((HEIGHT, WIDTH), np.uint16)
    ids[4 + index : 20 + index, 3:22] = 1
    cv2.circle(ids, (40, 18), 11, 2, -1)
    cv2.circle(ids, (40, 18), 4, 0, -1)  # the hole
    ids[32:44, 5:12] = 3
    ids[34:40, 20:31] = 3  # second part of the same instance
    ids[45, 60] = 4  # a 1-pixel speck, kept as an ignore region
    return ids


def make_records(n: int = 3) -> list[ImageRecord]:
    records = []
    for index in range(n):
        ids = instance_map(index)
        record = ImageRecord(
            index=index,
            seed=100 + index,
            width=WIDTH,
            height=HEIGHT,
            file_name=f"images/{index:06d}.png",
            extra_files={"instances": f"instances/{index:06d}.png"},
            camera={
                "K": [[80.0, 0.0, 32.0], [0.0, 80.0, 24.0], [0.0, 0.0, 1.0]],
                "world_to_camera": np.eye(4).tolist(),
            },
        )
        for k, category in ((1, 1), (2, 2), (3, 3), (4, 1)):
            visible = ids == k
            amodal = visible.copy()
            if k == 1:
                amodal[4 + index : 24 + index, 3:22] = True  # hidden lower part
            inst = InstanceLabel(
                instance_id=k,
                category_id=category,
                category=CATEGORIES[category - 1]["name"],
                bbox=tight_bbox(visible),
                area=int(visible.sum()),
                segmentation=encode_mask(visible),
                visibility=round(int(visible.sum()) / int(amodal.sum()), 6),
                truncation=0.0,
                occluded=bool(amodal.sum() > visible.sum()),
                amodal_bbox=tight_bbox(amodal),
                amodal_area=int(amodal.sum()),
                amodal_segmentation=encode_mask(amodal),
                pose={
                    "R": np.eye(3).ravel().tolist(),
                    "t": [0.1 * k, 0.0, 2.0 + index],
                    "scale": [1.0, 1.0, 1.0],
                },
            )
            if category == 1:
                inst.keypoints = [5.5, 6.25, 2, 20.0, 15.0 + index, 1, 0, 0, 0]
                inst.num_keypoints = 2
            if k == 4:
                inst.ignore, inst.iscrowd = True, 1
            record.instances.append(inst)
        records.append(record)
    return records


def write_dataset(root: Path, records: list[ImageRecord] | None = None) -> Path:
    """Images, instance maps and annotations.json under ``root``; returns the json path."""
    records = records if records is not None else make_records()
    rng = np.random.default_rng(0)
    for record in records:
        write_image_atomic(root / record.file_name, rng.integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8))
        write_image_atomic(root / record.extra_files["instances"], instance_map(record.index))
    path = root / "annotations.json"
    write_json_atomic(path, build_coco(records, CATEGORIES, {"scene": "kit"}))
    (root / "config.yaml").write_text("labels: {below_threshold: ignore}\n")  # the speck is an ignore region
    return path
