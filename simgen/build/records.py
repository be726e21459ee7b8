"""Reading what a build has written: which images are done, and their records.

An image is done when its record parses and every file it lists is complete (present, whole, decodable):
anything else is rendered again rather than kept, so a killed or corrupted build resumes by rerunning it.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from simgen.build.cpus import available_cpus
from simgen.build.layout import frame_stem, record_path
from simgen.fileio import exr_file_is_complete, image_file_is_complete, is_temp_name
from simgen.labels import ImageRecord


def load_record(out_dir: Path, index: int) -> ImageRecord | None:
    """The record of image ``index`` if it and every file it lists are complete, else None."""
    found = read_record(out_dir, index)
    return found[0] if found else None


def read_record(out_dir: Path, index: int) -> tuple[ImageRecord, dict[str, Any]] | None:
    """Image ``index``'s record and render provenance (device, threads, host), if complete; else None.

    A record that does not parse, or lists a missing, truncated or undecodable file, counts as not done:
    the image is rendered again rather than kept.
    """
    try:
        data = json.loads(record_path(out_dir, index).read_text())
        provenance = data.pop("provenance", {})
        record = ImageRecord.from_dict(data)
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    files = [record.file_name, *record.extra_files.values()]
    if record.index != index or not _files_complete(out_dir, files):
        return None
    return record, provenance


def _files_complete(out_dir: Path, files: list[str]) -> bool:
    paths = [out_dir / f for f in files]
    if not all(p.is_file() and p.stat().st_size > 0 for p in paths):
        return False
    return all(exr_file_is_complete(p) if p.suffix == ".exr" else image_file_is_complete(p) for p in paths)


def recorded_indices(out_dir: Path) -> set[int]:
    """Indices with a record file, from one directory listing (cheap; says nothing about validity)."""
    try:
        names = os.listdir(out_dir / "records")
    except FileNotFoundError:
        return set()
    return {int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit()}


def read_records(out_dir: Path, indices: Iterable[int]) -> dict[int, tuple[ImageRecord, dict[str, Any]]]:
    """The complete records among ``indices``; validated in threads (decoding images releases the GIL)."""
    candidates = sorted(set(indices) & recorded_indices(out_dir))
    with cf.ThreadPoolExecutor(max(1, min(8, available_cpus()))) as pool:
        found = pool.map(lambda i: read_record(out_dir, i), candidates, chunksize=64)
        return {i: r for i, r in zip(candidates, found, strict=True) if r is not None}


def remove_stale_temps(out_dir: Path, indices: Iterable[int]) -> int:
    """Delete temp files a killed writer left for these images; other shards' images are left alone."""
    stems = {frame_stem(i) for i in indices}
    removed = 0
    for folder in (p for p in out_dir.iterdir() if p.is_dir()):
        with os.scandir(folder) as entries:
            for entry in entries:
                if is_temp_name(entry.name) and entry.name[1:].split(".", 1)[0] in stems:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                        removed += 1
    return removed
