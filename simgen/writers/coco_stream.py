"""Writing COCO files as the records come, with memory that does not grow with the dataset.

``CocoStream`` writes one ``annotations.json``: image entries go straight to the file, annotations to a
temp file that is appended at the end (COCO puts all images before all annotations), and the file is
published atomically, byte-identical to ``write_json_atomic(path, build_coco(...))``. ``CocoParts`` writes
the split form of a large dataset: ``annotations/part-00000.json`` ... (each a complete COCO file of
consecutive images, annotation ids continuing across parts, so the parts concatenate to the single file)
and ``annotations/index.json``, written last, that lists them. ``read_coco`` reads either form.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from simgen.errors import SimgenError
from simgen.fileio import atomic_writer, compact_json, write_json_atomic
from simgen.labels import ImageRecord
from simgen.writers.coco import (
    PARTS_FORMAT,
    _coco_head,
    add_video,
    annotation_entry,
    image_entry,
    record_track,
)


def spill_file(folder: Path) -> IO[str]:
    """An anonymous temp file next to the output (same disk), gone when closed."""
    return tempfile.TemporaryFile("w+", encoding="utf-8", dir=folder)


class CocoStream:
    """One COCO file, written record by record (records in index order); a context manager that
    publishes the file on success and leaves nothing on failure."""

    def __init__(
        self,
        path: Path,
        categories: list[str] | list[dict[str, Any]],
        info: dict[str, Any],
        polygons: bool = False,
        first_annotation_id: int = 1,
    ) -> None:
        self.path, self.categories, self.info, self.polygons = path, categories, info, polygons
        self.next_annotation_id = first_annotation_id
        self.images = self.annotations = 0
        self.first_image = self.last_image = -1
        self.videos: dict[int, dict[str, Any]] = {}  # clips: one small entry per clip and camera

    def __enter__(self) -> CocoStream:
        self._stack = contextlib.ExitStack()
        self.out = self._stack.enter_context(atomic_writer(self.path))
        self.spill = self._stack.enter_context(spill_file(self.path.parent))
        self.out.write(compact_json(_coco_head(self.categories, self.info))[:-1] + ',"images":[')
        return self

    def add(self, record: ImageRecord) -> None:
        if record.index <= self.last_image:
            raise ValueError(f"records out of index order ({record.index} after {self.last_image})")
        self.out.write(("," if self.images else "") + compact_json(image_entry(record)))
        self.first_image = record.index if self.first_image < 0 else self.first_image
        self.last_image = record.index
        self.images += 1
        add_video(self.videos, record)
        for inst in record.instances:
            track = record_track(record, inst)
            entry = annotation_entry(inst, record.index, self.next_annotation_id, self.polygons, track)
            self.spill.write(("," if self.annotations else "") + compact_json(entry))
            self.next_annotation_id += 1
            self.annotations += 1

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: Any) -> None:
        if kind is None:
            self.out.write('],"annotations":[')
            self.spill.seek(0)
            shutil.copyfileobj(self.spill, self.out, 1 << 20)
            videos = list(self.videos.values())
            self.out.write("]" + (',"videos":' + compact_json(videos) if videos else "") + "}")
        self._stack.__exit__(kind, value, tb)


class CocoParts:
    """The split form: a ``CocoStream`` per ``per_part`` images under ``folder``, then index.json."""

    def __init__(
        self,
        folder: Path,
        categories: list[str] | list[dict[str, Any]],
        info: dict[str, Any],
        per_part: int,
        polygons: bool = False,
    ) -> None:
        self.folder, self.categories, self.info = folder, categories, info
        self.per_part, self.polygons = per_part, polygons
        self.parts: list[dict[str, Any]] = []
        self.current: CocoStream | None = None

    def __enter__(self) -> CocoParts:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def add(self, record: ImageRecord) -> None:
        if self.current is not None and self.current.images >= self.per_part:
            self._close_part(None)
        if self.current is None:
            first_id = self.parts[-1]["last_annotation_id"] + 1 if self.parts else 1
            path = self.folder / f"part-{len(self.parts):05d}.json"
            self.current = CocoStream(path, self.categories, self.info, self.polygons, first_id).__enter__()
        self.current.add(record)

    def _close_part(self, kind: type[BaseException] | None, value: Any = None, tb: Any = None) -> None:
        part, self.current = self.current, None
        if part is None:
            return
        part.__exit__(kind, value, tb)
        if kind is None:
            self.parts.append(
                {
                    "file": part.path.name,
                    "first_image": part.first_image,
                    "last_image": part.last_image,
                    "images": part.images,
                    "annotations": part.annotations,
                    "last_annotation_id": part.next_annotation_id - 1,
                }
            )

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: Any) -> None:
        self._close_part(kind, value, tb)
        if kind is None:
            index = {"format": PARTS_FORMAT, "info": self.info, "parts": self.parts}
            write_json_atomic(self.folder / "index.json", index, indent=1)  # last: marks the set complete


def write_coco(
    path: Path,
    records: Iterable[ImageRecord],
    categories: list[str] | list[dict[str, Any]],
    info: dict[str, Any],
    polygons: bool = False,
    parts: tuple[Path, int] | None = None,
) -> Path:
    """The COCO file of ``records`` (in index order), written as they come; with ``parts`` (folder,
    images per part) also the split form, in the same pass."""
    try:
        with contextlib.ExitStack() as stack:
            sinks: list[Any] = [stack.enter_context(CocoStream(path, categories, info, polygons))]
            if parts:
                sinks.append(stack.enter_context(CocoParts(parts[0], categories, info, parts[1], polygons)))
            for record in records:
                for sink in sinks:
                    sink.add(record)
    except ValueError as exc:
        raise SimgenError(f"{path}: cannot write labels: {exc}") from None
    return path
