"""What a label writer is: a name, ``write(labels, out)``, and optionally a reader for the same format.

Every writer consumes the same per-image records (``ImageRecord``) gathered in a ``LabelSet``, so a
conversion is read → write; COCO (simgen's annotations.json) is the lossless hub. The registry in
``simgen.writers`` is read by the build (``outputs.formats``), ``simgen export --format`` and
``open_dataset``, which every command uses to read labels.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from simgen.labels import ImageRecord


class MappedRecords(Sequence[ImageRecord]):
    """``records`` with ``change`` applied to each as it is read (a lazy map that keeps the length and the
    order, so a streamed dataset stays streamed)."""

    def __init__(self, records: Sequence[ImageRecord], change: Callable[[ImageRecord], ImageRecord]) -> None:
        self.records, self.change = records, change
        self.in_index_order = getattr(records, "in_index_order", False)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i):  # type: ignore[no-untyped-def]
        if isinstance(i, slice):
            return [self.change(r) for r in self.records[i]]
        return self.change(self.records[i])

    def __iter__(self) -> Iterator[ImageRecord]:
        return map(self.change, self.records)


def by_index(records: Iterable[ImageRecord]) -> Iterable[ImageRecord]:
    """``records`` in index order; a streamed dataset (``in_index_order``) is passed through unread, so
    writers that need the order do not load a million records into memory to sort them."""
    if getattr(records, "in_index_order", False):
        return records
    return sorted(records, key=lambda r: r.index)


@dataclass
class LabelSet:
    """What every writer needs: records, COCO categories, provenance and the folder images are in.

    ``records`` may be a list or a lazy sequence read from disk as it is iterated (a merge of a large
    build): writers iterate it once, in order, rather than index it or hold on to it."""

    records: Sequence[ImageRecord]
    categories: list[dict[str, Any]]
    root: Path  # image file names are relative to this folder
    info: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None  # the file or folder the labels were read from


@dataclass(frozen=True)
class WriteOptions:
    """Options some formats take (the others ignore them)."""

    task: str = "all"  # YOLO: detect, segment, pose or all
    shard_size: int = 0  # WebDataset samples per tar / Parquet rows per file (0: the format's default)


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


@contextlib.contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """A fresh folder next to ``out`` to write a multi-file export into; it replaces ``out`` when the
    block succeeds (two renames) and is removed when it fails, so ``out`` is never half-written."""
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)
