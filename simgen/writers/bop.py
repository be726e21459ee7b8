"""BOP-style pose files: ``scene_camera.json``, ``scene_gt.json`` and ``scene_gt_info.json``.

Follows the BOP conventions (https://github.com/thodan/bop_toolkit/blob/master/docs/bop_datasets_format.md):
keys are image ids as strings, rotations are row-major 3x3, translations are in millimeters, the
camera is OpenCV's. ``obj_id`` is the category id. simgen's models are the configured meshes in their
local coordinates scaled per instance, so each gt entry also carries ``scale`` (X_cam = R (scale ⊙ X) + t)
and ``instance_id``. ``depth_scale`` converts the depth EXR (meters) to millimeters.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from simgen.errors import SimgenError
from simgen.fileio import atomic_writer, compact_json
from simgen.labels import ImageRecord
from simgen.writers.base import LabelSet, WriteOptions, Writer, by_index

MM = 1000.0


def bop_files(records: Iterable[ImageRecord]) -> dict[str, dict[str, Any]]:
    """The three BOP json dicts, keyed by file name."""
    files: dict[str, dict[str, Any]] = {name: {} for name in BOP_FILES}
    for record in by_index(records):
        for name, entry in zip(BOP_FILES, bop_entries(record), strict=True):
            if entry is not None:
                files[name][str(record.index)] = entry
    return files


BOP_FILES = ("scene_camera.json", "scene_gt.json", "scene_gt_info.json")


def bop_entries(record: ImageRecord) -> tuple[dict[str, Any] | None, list[Any], list[Any]]:
    """One image's entries of the three files (no camera entry for a record without a camera)."""
    camera = None
    if record.camera:
        w2c = record.camera["world_to_camera"]
        camera = {
            "cam_K": _flat(record.camera["K"]),
            "cam_R_w2c": _flat([row[:3] for row in w2c[:3]]),
            "cam_t_w2c": _flat([row[3] * MM for row in w2c[:3]]),
            "depth_scale": MM,
        }
    posed = [inst for inst in record.instances if inst.pose is not None]
    gt = [
        {
            "obj_id": inst.category_id,
            "cam_R_m2c": _flat(inst.pose["R"]),
            "cam_t_m2c": _flat([v * MM for v in inst.pose["t"]]),
            "scale": _flat(inst.pose["scale"]),
            "instance_id": inst.instance_id,
        }
        for inst in posed
        if inst.pose is not None
    ]
    return camera, gt, [_gt_info(inst) for inst in posed]


def _gt_info(inst: Any) -> dict[str, Any]:
    amodal_area = inst.amodal_area if inst.amodal_area is not None else inst.area
    return {
        "bbox_obj": inst.amodal_bbox if inst.amodal_bbox is not None else inst.bbox,
        "bbox_visib": inst.bbox,
        "px_count_all": amodal_area,
        "px_count_valid": amodal_area,  # synthetic depth is valid everywhere
        "px_count_visib": inst.area,
        "visib_fract": inst.visibility if inst.visibility is not None else 1.0,
        "truncation": inst.truncation if inst.truncation is not None else 0.0,
        "instance_id": inst.instance_id,
    }


def _flat(values: Any) -> list[float]:
    """A vector or matrix (nested lists) as a flat list of floats rounded to 9 decimals. Plain Python:
    numpy's per-call overhead made this most of a large merge's time."""
    if isinstance(values, np.ndarray):
        values = values.tolist()
    flat = [v for row in values for v in row] if values and isinstance(values[0], list) else values
    return [round(float(v), 9) for v in flat]


def write_bop(records: Iterable[ImageRecord], out_dir: str | Path) -> Path:
    """The three files, written as the records come (memory does not grow with the dataset); the bytes
    equal ``write_json_atomic`` of ``bop_files``."""
    out_dir = Path(out_dir)
    try:
        with contextlib.ExitStack() as stack:
            outs = [stack.enter_context(atomic_writer(out_dir / name)) for name in BOP_FILES]
            written = [0, 0, 0]
            for out in outs:
                out.write("{")
            for record in by_index(records):
                key = json.dumps(str(record.index)) + ":"
                for k, entry in enumerate(bop_entries(record)):
                    if entry is not None:
                        outs[k].write(("," if written[k] else "") + key + compact_json(entry))
                        written[k] += 1
            for out in outs:
                out.write("}")
    except ValueError as exc:
        raise SimgenError(f"{out_dir}: cannot write BOP files: {exc}") from None
    return out_dir


class BopWriter(Writer):
    name = "bop"
    summary = "BOP scene_camera.json, scene_gt.json (6D pose per instance), scene_gt_info.json"
    default_out = "bop"
    keeps_boxes = False

    def write(self, labels: LabelSet, out: Path, options: WriteOptions) -> list[Path]:
        if not any(inst.pose for r in labels.records for inst in r.instances):
            raise SimgenError(f"{labels.root}: no poses in these labels (BOP needs simgen's pose field)")
        return [write_bop(labels.records, out)]
