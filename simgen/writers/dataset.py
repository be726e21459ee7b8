"""The label files a build writes once every image is done, all from the same per-image records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simgen.fileio import write_json_atomic
from simgen.labels import ImageRecord, keypoint_names, keypoint_skeleton
from simgen.writers import get_writer
from simgen.writers.base import LabelSet, WriteOptions
from simgen.writers.coco import build_coco, coco_categories


def config_categories(config: Any) -> list[dict[str, Any]]:
    """COCO categories of a scene config, with keypoint names and skeletons where declared."""
    keypoints = {
        name: (keypoint_names(entry), keypoint_skeleton(entry)) for name, entry in config.keypoints.items()
    }
    return coco_categories(config.category_names(), keypoints)


def dataset_formats(config: Any) -> list[str]:
    """The formats written next to annotations.json: ``outputs.formats``, by default BOP when poses are on."""
    if config.outputs.formats is not None:
        return list(config.outputs.formats)
    return ["bop"] if config.outputs.pose else []


def write_label_files(config: Any, out_dir: Path, records: list[ImageRecord], info: dict[str, Any]) -> Path:
    """annotations.json (COCO; polygons if ``labels.polygons``), then every format of ``dataset_formats``."""
    coco_path = out_dir / "annotations.json"
    categories = config_categories(config)
    write_json_atomic(coco_path, build_coco(records, categories, info, polygons=config.labels.polygons))
    labels = LabelSet(records, categories, out_dir, info)
    for name in dataset_formats(config):
        writer = get_writer(name)
        writer.write(labels, out_dir / writer.default_out, WriteOptions())
    return coco_path
