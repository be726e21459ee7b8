"""``simgen export``: read labels in any supported format into records, write them in another.

Every writer consumes the same per-image records (``ImageRecord``), so a conversion is read → write;
COCO (simgen's annotations.json) is the lossless hub, YOLO keeps class, box, mask, keypoints and
ignore regions, BOP keeps poses, camera and visibility statistics (docs/labels.md has the table).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from simgen.errors import SimgenError
from simgen.fileio import write_json_atomic
from simgen.labels import ImageRecord, with_grown_boxes
from simgen.writers.bop import write_bop
from simgen.writers.coco import build_coco, load_coco_json, records_from_coco
from simgen.writers.yolo import TASKS, num_keypoints, read_yolo, write_yolo

FORMATS = ("coco", "coco-polygons", "yolo", "bop")


@dataclass
class LabelSet:
    """What every writer needs: records, COCO categories, provenance and the folder images are in."""

    records: list[ImageRecord]
    categories: list[dict[str, Any]]
    root: Path
    info: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None  # the COCO file the labels were read from


def load_labels(path: str | Path) -> LabelSet:
    """A simgen dataset folder or COCO json, or a YOLO folder (one with data.yaml)."""
    path = Path(path)
    if path.is_dir() and (path / "data.yaml").is_file() and not (path / "annotations.json").is_file():
        records, categories = read_yolo(path)
        return LabelSet(records, categories, path, {"source": f"yolo:{path.name}"})
    json_path = path / "annotations.json" if path.is_dir() else path
    if not json_path.is_file():
        raise SimgenError(
            f"{path}: neither a dataset folder with annotations.json, a COCO json nor a YOLO folder"
        )
    data = load_coco_json(json_path)
    info = {k: v for k, v in data.get("info", {}).items() if k not in ("description", "version")}
    return LabelSet(records_from_coco(data), data["categories"], json_path.parent, info, json_path)


def export(
    labels: LabelSet,
    fmt: str,
    out: str | Path | None = None,
    task: str = "all",
    box_scale: float = 1.0,
) -> list[Path]:
    """Write ``labels`` as ``fmt``; returns the written file/folder paths.

    ``box_scale`` grows every box about its center (masks unchanged) for a target labelling rule.
    """
    if fmt not in FORMATS:
        raise SimgenError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if not 0.5 < box_scale < 2.0:
        raise SimgenError(f"--box-scale {box_scale}: expected a factor between 0.5 and 2.0")
    if box_scale != 1.0:
        if fmt == "bop":
            raise SimgenError("--box-scale: BOP labels hold poses, not boxes; drop --box-scale")
        labels = replace(labels, records=with_grown_boxes(labels.records, box_scale))
    if fmt in ("coco", "coco-polygons"):
        default = "annotations.json" if fmt == "coco" else "annotations_polygons.json"
        path = Path(out) if out else labels.root / default
        if labels.source is not None and path.resolve() == labels.source.resolve():
            raise SimgenError(f"{path}: refusing to overwrite the labels being converted; pass --out")
        coco = build_coco(labels.records, labels.categories, labels.info, polygons=fmt == "coco-polygons")
        write_json_atomic(path, coco)
        return [path]
    if fmt == "bop":
        if not any(inst.pose for r in labels.records for inst in r.instances):
            raise SimgenError(f"{labels.root}: no poses in these labels (BOP needs simgen's pose field)")
        return [write_bop(labels.records, Path(out) if out else labels.root / "bop")]
    tasks = _yolo_tasks(task, labels.categories)
    base = Path(out) if out else labels.root / "yolo"
    return [write_yolo(labels.records, labels.categories, base / t, t, labels.root) for t in tasks]


def _yolo_tasks(task: str, categories: list[dict[str, Any]]) -> list[str]:
    if task == "all":
        return [t for t in TASKS if t != "pose" or num_keypoints(categories) > 0]
    if task not in TASKS:
        raise SimgenError(f"--task {task!r}: expected all or one of {', '.join(TASKS)}")
    return [task]
