"""Where a dataset's files go inside its output folder.

config.yaml          resolved config (asset paths relative to the folder)
config.hash          which config the folder belongs to
images/000000.png    RGB
instances/000000.png uint16 instance ids (0 = background)       [outputs.instances]
semantic/000000.png  uint16 category ids (0 = background)       [outputs.semantic]
depth/000000.exr     float32 meters along the optical axis       [outputs.depth]
normals/000000.exr   float32 camera-space normals                [outputs.normals]
records/000000.json  labels + sampled FrameSpec + file sizes and hashes; written last, so it marks the
                     image done
annotations.json     COCO, merged from the records once every image is done
manifest.json        provenance: versions, device, config hash, per-image seed and timing

Datasets of more than ``FLAT_LIMIT`` images fan out, so that no folder holds more than ~``BUCKET``
files (file systems and object-store listings slow down on huge folders): image 12345 of a
1,000,000-image set is ``images/012/012345.png`` and ``records/012/012345.json``. The index width grows
with the dataset (6 digits at least). Readers never rebuild these names: they follow ``file_name``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

FLAT_LIMIT = 10_000
"""Datasets up to this many images keep one flat folder per kind (the layout of every older dataset)."""
BUCKET = 1_000
"""Images per subfolder in a fanned-out dataset."""


@dataclass(frozen=True)
class Layout:
    """File names of a dataset of ``num_images`` images (a pure function of the count, unless a folder
    built before fanning out existed says otherwise: see ``folder_layout``)."""

    num_images: int
    flat: bool = False  # keep the flat layout whatever the count (an older folder of > FLAT_LIMIT images)

    @property
    def fanned(self) -> bool:
        return self.num_images > FLAT_LIMIT and not self.flat

    @property
    def width(self) -> int:
        return max(6, len(str(max(self.num_images - 1, 0))))

    def stem(self, index: int) -> str:
        """``000123``, or ``012/012345`` in a fanned-out dataset."""
        name = f"{index:0{self.width}d}"
        if not self.fanned:
            return name
        return f"{index // BUCKET:0{self.width - 3}d}/{name}"

    def file(self, kind: str, index: int, ext: str) -> str:
        """A file's name relative to the dataset folder, e.g. ``images/000123.png``."""
        return f"{kind}/{self.stem(index)}.{ext}"

    def record(self, out_dir: Path, index: int) -> Path:
        return out_dir / "records" / f"{self.stem(index)}.json"


def folder_layout(out_dir: Path, num_images: int) -> Layout:
    """The layout of ``out_dir``: a folder whose records are flat (written before datasets fanned out)
    keeps its flat names, so an older large build resumes and merges where it is instead of starting over."""
    layout = Layout(num_images)
    if layout.fanned and any(True for _ in _record_names(out_dir / "records", nested=False)):
        return Layout(num_images, flat=True)
    return layout


def frame_stem(index: int) -> str:
    """The stem of a small (flat) dataset; prefer ``Layout(num_images).stem``."""
    return Layout(1).stem(index)


def record_files(out_dir: Path) -> dict[int, Path]:
    """Every record file by index, flat or fanned out (a listing only; says nothing about validity)."""
    records = out_dir / "records"
    return {int(name[:-5]): records / sub / name for sub, name in _record_names(records)}


def recorded_indices(out_dir: Path) -> set[int]:
    """Indices with a record file, from directory listings (cheap; says nothing about validity)."""
    return {int(name[:-5]) for _, name in _record_names(out_dir / "records")}


def first_record(out_dir: Path) -> Path | None:
    """The record of the lowest index there is (without listing a million of them), or None."""
    records = out_dir / "records"
    flat = sorted(name for sub, name in _record_names(records, nested=False))
    if flat:
        return records / flat[0]
    for sub in _subfolders(records):
        names = sorted(name for _, name in _record_names(records / sub, nested=False))
        if names:
            return records / sub / names[0]
    return None


def _record_names(records: Path, nested: bool = True) -> Iterator[tuple[str, str]]:
    """(subfolder or "", file name) of every record file; plain strings, as there may be millions."""
    try:
        names = os.listdir(records)
    except (FileNotFoundError, NotADirectoryError):
        return
    yield from (("", n) for n in names if _is_record_name(n))
    if nested:
        for sub in _subfolders(records):
            yield from ((sub, n) for n in os.listdir(records / sub) if _is_record_name(n))


def _subfolders(records: Path) -> list[str]:
    try:
        with os.scandir(records) as it:
            return sorted(e.name for e in it if e.name.isdigit() and e.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _is_record_name(name: str) -> bool:
    return name.endswith(".json") and name[:-5].isdigit()
