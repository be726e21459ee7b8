"""The label files a build writes once every image is done, all from the same per-image records."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simgen.labels import ImageRecord, keypoint_names, keypoint_skeleton
from simgen.writers import get_writer
from simgen.writers.base import LabelSet, WriteOptions, by_index
from simgen.writers.coco import coco_categories
from simgen.writers.coco_stream import write_coco


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


def write_label_files(
    config: Any, out_dir: Path, records: Sequence[ImageRecord], info: dict[str, Any]
) -> Path:
    """annotations.json (COCO; polygons if ``labels.polygons``), then every format of ``dataset_formats``.

    ``records`` in index order; a lazy ``RecordStream`` is read once per format, never held."""
    coco_path = out_dir / "annotations.json"
    categories = config_categories(config)
    per_part = config.outputs.parts_size(config.scene.num_images)
    parts = (out_dir / "annotations", per_part) if per_part else None
    write_coco(coco_path, by_index(records), categories, info, config.labels.polygons, parts)
    labels = LabelSet(records, categories, out_dir, info)
    for name in dataset_formats(config):
        writer = get_writer(name)
        writer.write(labels, out_dir / writer.default_out, WriteOptions())
    return coco_path
