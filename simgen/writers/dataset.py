"""The label files a build writes once every image is done, all from the same per-image records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simgen.fileio import write_json_atomic
from simgen.labels import ImageRecord, keypoint_names, keypoint_skeleton
from simgen.writers.bop import write_bop
from simgen.writers.coco import build_coco, coco_categories


def config_categories(config: Any) -> list[dict[str, Any]]:
    """COCO categories of a scene config, with keypoint names and skeletons where declared."""
    keypoints = {
        name: (keypoint_names(entry), keypoint_skeleton(entry)) for name, entry in config.keypoints.items()
    }
    return coco_categories(config.category_names(), keypoints)


def write_label_files(config: Any, out_dir: Path, records: list[ImageRecord], info: dict[str, Any]) -> Path:
    """annotations.json (COCO; polygons if ``labels.polygons``) and, with ``outputs.pose``, bop/*.json."""
    coco_path = out_dir / "annotations.json"
    coco = build_coco(records, config_categories(config), info, polygons=config.labels.polygons)
    write_json_atomic(coco_path, coco)
    if config.outputs.pose:
        write_bop(records, out_dir / "bop")
    return coco_path
