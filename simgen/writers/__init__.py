"""Label writers (and readers), one unit per format; ``REGISTRY`` is what the rest of simgen reads.

``open_dataset(path)`` reads labels in any registered format that has a reader; ``export`` writes them
in any format. To add a format: write ``simgen/writers/<name>.py`` (copy ``voc.py``), add it below, and
see docs/extending.md.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

from simgen.errors import SimgenError
from simgen.labels import BOX_SCALE_LIMITS, grown_boxes
from simgen.writers.base import LabelSet, MappedRecords, WriteOptions, Writer
from simgen.writers.bop import BopWriter
from simgen.writers.coco import CocoPolygonsWriter, CocoWriter, build_coco
from simgen.writers.kitti import KittiWriter
from simgen.writers.mot import MotWriter
from simgen.writers.parquet import ParquetWriter
from simgen.writers.voc import VocWriter
from simgen.writers.webdataset import WebDatasetWriter
from simgen.writers.yolo import YoloWriter

REGISTRY: dict[str, Writer] = {
    w.name: w
    for w in (
        CocoWriter(),
        CocoPolygonsWriter(),
        YoloWriter(),
        BopWriter(),
        VocWriter(),
        WebDatasetWriter(),
        ParquetWriter(),
        MotWriter(),
        KittiWriter(),
    )
}
"""Every label format by its ``--format`` name."""

__all__ = ["REGISTRY", "LabelSet", "WriteOptions", "Writer", "export", "get_writer", "open_dataset"]


def get_writer(name: str) -> Writer:
    if name not in REGISTRY:
        raise SimgenError(f"--format {name!r}: expected one of {', '.join(REGISTRY)}")
    return REGISTRY[name]


def open_dataset(path: str | Path, stream: bool = False) -> LabelSet:
    """Labels from a dataset folder or file in any format with a reader (COCO, YOLO, Pascal VOC, ...).

    ``stream``: a finished simgen build folder is read from its records as they are used (bounded memory
    for exports of a million images) instead of loading annotations.json."""
    path = Path(path)
    if not path.exists():
        raise SimgenError(f"{path}: no such dataset folder or label file")
    if stream:
        from simgen.build.merge import streamed_labels

        labels = streamed_labels(path)
        if labels is not None:
            return labels
    for writer in REGISTRY.values():
        if writer.claims(path):
            return writer.read(path)
    readable = ", ".join(w.name for w in REGISTRY.values() if w.reads and w.name != "coco-polygons")
    raise SimgenError(f"{path}: no labels found here in a format simgen reads ({readable})")


def coco_data(path: str | Path, references: bool = True) -> tuple[dict, Path, Path]:
    """Labels in any format as a COCO dict, with (where they came from, the folder images are in).

    ``references=False`` lets dangling or repeated ids through (``simgen audit`` reports them itself)."""
    from simgen.writers.coco import read_coco

    path = Path(path)
    if REGISTRY["coco"].claims(path):
        coco = read_coco(path, references)
        return coco.data, coco.path, coco.root
    labels = open_dataset(path)
    return build_coco(labels.records, labels.categories, labels.info), path, labels.root


def export(
    labels: LabelSet,
    fmt: str,
    out: str | Path | None = None,
    task: str = "all",
    box_scale: float = 1.0,
    shard_size: int = 0,
) -> list[Path]:
    """Write ``labels`` as ``fmt``; returns the written file/folder paths.

    ``box_scale`` grows every box about its center (masks unchanged) for a target labelling rule.
    """
    writer = get_writer(fmt)
    low, high = BOX_SCALE_LIMITS
    if not low < box_scale < high:
        raise SimgenError(f"--box-scale {box_scale}: expected a factor between {low} and {high}")
    if box_scale != 1.0:
        if not writer.keeps_boxes:
            raise SimgenError(f"--box-scale: {fmt} labels hold no boxes; drop --box-scale")
        grow = functools.partial(grown_boxes, scale=box_scale)
        labels = replace(labels, records=MappedRecords(labels.records, grow))
    target = Path(out) if out else labels.root / writer.default_out
    return writer.write(labels, target, WriteOptions(task=task, shard_size=shard_size))
