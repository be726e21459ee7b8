"""What a label writer is: a name, ``write(labels, out)``, and optionally a reader for the same format.

Every writer consumes the same per-image records (``ImageRecord``) gathered in a ``LabelSet``, so a
conversion is read → write; COCO (simgen's annotations.json) is the lossless hub. The registry in
``simgen.writers`` is read by the build (``outputs.formats``), ``simgen export --format`` and
``open_dataset``, which every command uses to read labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from simgen.labels import ImageRecord


@dataclass
class LabelSet:
    """What every writer needs: records, COCO categories, provenance and the folder images are in."""

    records: list[ImageRecord]
    categories: list[dict[str, Any]]
    root: Path  # image file names are relative to this folder
    info: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None  # the file or folder the labels were read from


@dataclass(frozen=True)
class WriteOptions:
    """Options some formats take (the others ignore them)."""

    task: str = "all"  # YOLO: detect, segment, pose or all


class Writer:
    """One label format. Subclasses set the class attributes and implement ``write`` (and ``read``)."""

    name: ClassVar[str]
    """``--format`` value and ``outputs.formats`` entry."""
    summary: ClassVar[str]
    """What the format holds, one line (``simgen export --help``, docs/labels.md)."""
    default_out: ClassVar[str]
    """Where it goes inside the dataset folder when no ``--out`` is given."""
    keeps_boxes: ClassVar[bool] = True
    """False for formats without boxes (``--box-scale`` makes no sense for them)."""
    reads: ClassVar[bool] = False
    """True when ``open_dataset`` reads this format back (``claims`` and ``read`` are implemented)."""

    def write(self, labels: LabelSet, out: Path, options: WriteOptions) -> list[Path]:  # pragma: no cover
        """Write ``labels`` under ``out``; returns the files or folders written."""
        raise NotImplementedError

    def claims(self, path: Path) -> bool:
        """True if ``path`` holds labels in this format (readers only)."""
        return False

    def read(self, path: Path) -> LabelSet:  # pragma: no cover - writers without a reader never claim
        raise NotImplementedError
