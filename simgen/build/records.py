"""Reading what a build has written: which images are done, and their records.

An image is done when its record parses and every file it lists is complete. How hard "complete" is
checked is a level (docs/farm.md lists what each one catches):

- ``record``: the record parses and names its own index; its files are not looked at. For datasets in
  object storage (simgen.build.remote), where a record object exists only once its files were uploaded.
- ``size`` (default, what resume and merge use): the record parses, names its own index, and every file
  it lists exists with the size the record states. One stat per file, no decoding: a missing or
  truncated file is caught, a same-size bit flip is not.
- ``hash`` (``simgen render --verify``): also each file's xxh3-64 content hash, as written in the record.
  Catches any change to a file's bytes.
- ``decode`` (``simgen audit --deep``): also decodes every file (PNG/JPEG/EXR) and checks its pixel size
  against the record. Catches a file that was written wrong in the first place.

Records from before sizes and hashes were stored are checked by decoding, whatever the level. Anything
that fails is rendered again rather than kept, so a killed or corrupted build resumes by rerunning it.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import orjson
import xxhash

from simgen.build.cpus import available_cpus
from simgen.build.layout import Layout, frame_stem, record_files, recorded_indices
from simgen.errors import SimgenError
from simgen.fileio import exr_file_is_complete, image_file_is_complete, image_size, is_temp_name
from simgen.labels import ImageRecord

Level = Literal["record", "size", "hash", "decode"]
LEVELS: tuple[Level, ...] = ("record", "size", "hash", "decode")

__all__ = [
    "LEVELS",
    "IncompleteDataset",
    "RecordStream",
    "check_record",
    "file_integrity",
    "iter_records",
    "load_record",
    "read_record",
    "read_records",
    "recorded_indices",
    "remove_stale_temps",
    "scan_done",
]


def file_integrity(files: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    """What a record states about each of its files: byte size and xxh3-64 hash (``commit_image``)."""
    return {name: {"size": len(data), "xxh3": xxhash.xxh3_64_hexdigest(data)} for name, data in files.items()}


def file_hash(path: Path) -> str:
    hasher = xxhash.xxh3_64()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def _record_data(out_dir: Path, path: Path, index: int, level: Level) -> dict[str, Any] | None:
    """The parsed record at ``path`` if it and its files pass ``level``, else None."""
    data, problem = check_record(out_dir, path, index, level)
    return None if problem else data


def check_record(
    out_dir: Path, path: Path, index: int, level: Level
) -> tuple[dict[str, Any] | None, str | None]:
    """(parsed record, None) if the record and its files pass ``level``, else (record or None, problem)."""
    try:
        data = orjson.loads(path.read_bytes())  # 3x json's speed: the resume scan is mostly this
        files = [data["file_name"], *data.get("extra_files", {}).values()]
        if data["index"] != index:
            return data, f"the record is for image {data['index']}"
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        return None, f"the record is unreadable ({type(exc).__name__})"
    try:
        return data, _file_problem(out_dir, files, data.get("files"), level, data)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        return data, f"its files do not match the record ({type(exc).__name__}: {exc})"


def _file_problem(
    out_dir: Path, files: list[str], stated: dict[str, Any] | None, level: Level, data: dict[str, Any]
) -> str | None:
    if level == "record":
        return None
    if not stated:  # a record from before sizes were stored: decode, as then
        return _decode_problem(out_dir, files, data)
    root = os.fspath(out_dir)
    for name in files:
        path = os.path.join(root, name)  # plain strings: pathlib costs more than the stat at 1M images
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            return f"{name} is missing"
        if size != stated[name]["size"]:
            return f"{name} has {size} bytes, its record says {stated[name]['size']} (truncated or replaced)"
        if level != "size" and file_hash(Path(path)) != stated[name]["xxh3"]:
            return f"{name}: content differs from the hash in its record (changed after it was written)"
    return _decode_problem(out_dir, files, data) if level == "decode" else None


def _decode_problem(out_dir: Path, files: list[str], data: dict[str, Any]) -> str | None:
    size = (data.get("width"), data.get("height"))
    for name in files:
        path = out_dir / name
        if not path.is_file() or path.stat().st_size == 0:
            return f"{name} is missing or empty"
        whole = exr_file_is_complete(path) if path.suffix == ".exr" else image_file_is_complete(path)
        if not whole:
            return f"{name} does not decode"
        if path.suffix != ".exr" and image_size(path) != size:
            return f"{name} is {image_size(path)} pixels, its record says {size}"
    return None


def _split(data: dict[str, Any]) -> tuple[ImageRecord, dict[str, Any]]:
    provenance = data.pop("provenance", {})
    data.pop("files", None)
    return ImageRecord.from_dict(data), provenance


def read_record(
    out_dir: Path, index: int, layout: Layout | None = None, level: Level = "size"
) -> tuple[ImageRecord, dict[str, Any]] | None:
    """Image ``index``'s record and render provenance (device, threads, host) if complete, else None.

    ``layout`` defaults to whichever of the flat or fanned-out names exists."""
    path = layout.record(out_dir, index) if layout else _find_record(out_dir, index)
    return _read_at(out_dir, path, index, level) if path else None


def _read_at(
    out_dir: Path, path: Path, index: int, level: Level
) -> tuple[ImageRecord, dict[str, Any]] | None:
    data = _record_data(out_dir, path, index, level)
    if data is None:
        return None
    try:
        return _split(data)
    except (TypeError, ValueError, KeyError, AttributeError):
        return None


def _find_record(out_dir: Path, index: int) -> Path | None:
    flat = out_dir / "records" / f"{frame_stem(index)}.json"
    return flat if flat.is_file() else record_files(out_dir).get(index)


def load_record(out_dir: Path, index: int, layout: Layout | None = None) -> ImageRecord | None:
    """The record of image ``index`` if it and every file it lists are complete, else None."""
    found = read_record(out_dir, index, layout)
    return found[0] if found else None


def scan_done(out_dir: Path, layout: Layout, indices: Iterable[int], level: Level = "size") -> set[int]:
    """Which of ``indices`` are done, at ``level`` (the resume scan: only indices come back, so memory
    does not grow with the records' size). At ``size`` this is a record parse and a stat per file
    (~0.1 ms per image, bench/bench_scale.py); ``hash`` and ``decode`` read every file, in threads."""
    candidates = sorted(set(indices) & recorded_indices(out_dir))

    def check(index: int) -> bool:
        return _record_data(out_dir, layout.record(out_dir, index), index, level) is not None

    if level == "size":  # parsing holds the GIL: threads would only add switching
        return {i for i in candidates if check(i)}
    with cf.ThreadPoolExecutor(max(1, min(8, available_cpus()))) as pool:
        flags = pool.map(check, candidates, chunksize=64)
        return {i for i, ok in zip(candidates, flags, strict=True) if ok}


def read_records(
    out_dir: Path, indices: Iterable[int], level: Level = "size"
) -> dict[int, tuple[ImageRecord, dict[str, Any]]]:
    """The complete records among ``indices``, in memory (for a handful: use ``iter_records`` for many)."""
    files = record_files(out_dir)
    found = {i: _read_at(out_dir, files[i], i, level) for i in sorted(set(indices) & set(files))}
    return {i: r for i, r in found.items() if r is not None}


def iter_records(
    out_dir: Path, layout: Layout, indices: Iterable[int], level: Level = "size"
) -> Iterator[tuple[int, tuple[ImageRecord, dict[str, Any]] | None]]:
    """``(index, record or None)`` in the order given, one at a time (bounded memory)."""
    for index in indices:
        yield index, read_record(out_dir, index, layout, level)


def remove_stale_temps(out_dir: Path, layout: Layout, indices: Iterable[int]) -> int:
    """Delete temp files a killed writer left for these images; other shards' images are left alone."""
    stems = {layout.stem(i).rsplit("/", 1)[-1] for i in indices}
    removed = 0
    for folder in _file_folders(out_dir):
        with os.scandir(folder) as entries:
            for entry in entries:
                if is_temp_name(entry.name) and entry.name[1:].split(".", 1)[0] in stems:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                        removed += 1
    return removed


def _file_folders(out_dir: Path) -> Iterator[Path]:
    """The dataset's per-kind folders and, in a fanned-out dataset, their numbered subfolders."""
    for folder in (p for p in out_dir.iterdir() if p.is_dir()):
        yield folder
        with os.scandir(folder) as entries:
            yield from (Path(e.path) for e in entries if e.name.isdigit() and e.is_dir())


class IncompleteDataset(SimgenError):
    """A record vanished or broke while it was being streamed (another shard re-rendering the image)."""

    def __init__(self, out_dir: Path, index: int) -> None:
        super().__init__(
            f"{out_dir}: image {index} is missing or broken (its record or files); render it again by "
            "rerunning the build, then retry"
        )


class RecordStream(Sequence[ImageRecord]):
    """Records ``0..count-1`` of a build, read from disk as they are iterated (in index order, with
    read-ahead): a merge hands this to the writers, so memory does not grow with the dataset.
    ``on_read(record, provenance)`` sees each one (the manifest is gathered that way)."""

    in_index_order = True

    def __init__(
        self,
        out_dir: Path,
        layout: Layout,
        on_read: Callable[[ImageRecord, dict[str, Any]], None] | None = None,
        level: Level = "size",
    ) -> None:
        self.out_dir, self.layout, self.on_read, self.level = out_dir, layout, on_read, level

    def __len__(self) -> int:
        return self.layout.num_images

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < len(self):
            raise IndexError(index)
        found = read_record(self.out_dir, index, self.layout, self.level)
        if found is None:
            raise IncompleteDataset(self.out_dir, index)
        return found[0]

    def __iter__(self) -> Iterator[ImageRecord]:
        for index, found in iter_records(self.out_dir, self.layout, range(len(self)), self.level):
            if found is None:
                raise IncompleteDataset(self.out_dir, index)
            if self.on_read:
                self.on_read(*found)
            yield found[0]
