"""KITTI object labels with 3D boxes (``outputs.boxes_3d``), one text file per image, and calibration.

    kitti/
      label_2/000000.txt   type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y
      calib/000000.txt     P0..P3 (= K [I | 0]), R0_rect (identity), Tr_velo_to_cam (world → camera)
      image_2/000000.png   links to the dataset's images

KITTI's camera axes are OpenCV's (x right, y down, z ahead), as simgen's. A KITTI box can only turn about
the camera's y axis: its height is the box axis nearest the camera's vertical, ``rotation_y`` the turn of
its length axis (the longer of the two others) about y, and ``x y z`` the center of its bottom face. The
full rotation of every box is in annotations.json (``box3d.R``); for objects tilted towards the camera
the KITTI box is an approximation (as KITTI's own are). ``type`` is the category name (spaces as ``_``);
``occluded`` 0 (visible), 1 (partly, visibility >= 0.5), 2 (largely), 3 (unknown: amodal labels off);
ignore regions are ``DontCare``. Images whose annotations lack a 3D box write 2D boxes with -1 3D fields.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from simgen.fileio import link_image, write_text_atomic
from simgen.labels import ImageRecord, InstanceLabel
from simgen.writers.base import LabelSet, WriteOptions, Writer, by_index, staged_folder
from simgen.writers.yolo import label_stem


def kitti_box(box3d: dict[str, Any]) -> tuple[list[float], list[float], float]:
    """((h, w, l), bottom-center (x, y, z), rotation_y) of a simgen 3D box in camera axes."""
    rotation = np.asarray(box3d["R"], dtype=float).reshape(3, 3)
    size = np.asarray(box3d["size"], dtype=float)
    center = np.asarray(box3d["center"], dtype=float)
    up = int(np.argmax(np.abs(rotation[1])))  # box axis nearest the camera's y (down)
    others = [i for i in range(3) if i != up]
    length_axis, width_axis = sorted(others, key=lambda i: -size[i])
    direction = rotation[:, length_axis]
    rotation_y = math.atan2(-direction[2], direction[0])
    bottom = center + np.array([0.0, size[up] / 2 * abs(rotation[1, up]), 0.0])
    return [size[up], size[width_axis], size[length_axis]], bottom.tolist(), rotation_y


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


def label_line(inst: InstanceLabel, names: dict[int, str]) -> str:
    x, y, w, h = inst.bbox
    box2d = f"{x:.2f} {y:.2f} {x + w:.2f} {y + h:.2f}"
    if inst.iscrowd:
        return f"DontCare -1 -1 -10 {box2d} -1 -1 -1 -1000 -1000 -1000 -10\n"
    kind = names.get(inst.category_id, str(inst.category_id)).replace(" ", "_")
    truncated = 0.0 if inst.truncation is None else inst.truncation
    if inst.visibility is None:
        occluded = 3
    else:
        occluded = 0 if not inst.occluded else (1 if inst.visibility >= 0.5 else 2)
    if inst.box3d is None:
        return f"{kind} {truncated:.2f} {occluded} -10 {box2d} -1 -1 -1 -1000 -1000 -1000 -10\n"
    dims, (bx, by, bz), rotation_y = kitti_box(inst.box3d)
    cx, _, cz = inst.box3d["center"]
    alpha = _wrap(rotation_y - math.atan2(cx, cz))
    size = " ".join(f"{v:.3f}" for v in dims)
    return (
        f"{kind} {truncated:.2f} {occluded} {alpha:.3f} {box2d} {size} {bx:.3f} {by:.3f} {bz:.3f} "
        f"{_wrap(rotation_y):.3f}\n"
    )


def calib_text(record: ImageRecord) -> str:
    k = np.asarray(record.camera.get("K", np.eye(3)), dtype=float)
    w2c = np.asarray(record.camera.get("world_to_camera", np.eye(4)), dtype=float)
    p = " ".join(f"{v:.9g}" for v in np.c_[k, np.zeros(3)].ravel())
    rect = " ".join(f"{v:g}" for v in np.eye(3).ravel())
    tr = " ".join(f"{v:.9g}" for v in w2c[:3].ravel())
    imu = " ".join(f"{v:g}" for v in np.eye(4)[:3].ravel())
    lines = [f"P{i}: {p}" for i in range(4)] + [
        f"R0_rect: {rect}",
        f"Tr_velo_to_cam: {tr}",
        f"Tr_imu_to_velo: {imu}",
    ]
    return "\n".join(lines) + "\n"


class KittiWriter(Writer):
    name = "kitti"
    summary = "KITTI label_2 (2D + 3D boxes, rotation_y) and calib per image (3D boxes: outputs.boxes_3d)"
    default_out = "kitti"

    def write(self, labels: LabelSet, out: Path, options: WriteOptions) -> list[Path]:
        names = {c["id"]: c["name"] for c in labels.categories}
        with staged_folder(out) as staging:
            for record in by_index(labels.records):
                stem = label_stem(record.file_name)
                text = "".join(label_line(inst, names) for inst in record.instances)
                write_text_atomic(staging / "label_2" / f"{stem}.txt", text)
                write_text_atomic(staging / "calib" / f"{stem}.txt", calib_text(record))
                suffix = Path(record.file_name).suffix
                link_image(labels.root / record.file_name, staging / "image_2" / f"{stem}{suffix}")
        return [out]
