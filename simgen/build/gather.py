"""Gathering shard folders into one dataset folder (hard links where possible, else copies)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from simgen.build.layout import Layout, folder_layout, recorded_indices
from simgen.build.output import load_dataset_config
from simgen.build.records import read_record, scan_done
from simgen.config.schema import SceneConfig
from simgen.errors import SimgenError
from simgen.fileio import link_or_copy_atomic, write_bytes_atomic


@dataclass
class GatherReport:
    copied: int = 0
    already: int = 0
    incomplete: int = 0

    def describe(self, shards: int) -> str:
        text = f"gathered {self.copied} image(s) from {shards} shard folder(s), {self.already} already there"
        if self.incomplete:
            text += f", {self.incomplete} broken record(s) skipped (render them again)"
        return text


def gather_shards(out_dir: Path, shard_dirs: Sequence[Path]) -> GatherReport:
    """Bring the finished images of shard folders into ``out_dir`` (hard links where possible).

    Every shard must come from the same config (config.hash); images already complete in ``out_dir`` are
    kept, and each image's record is placed after its files, so an interrupted gather resumes too.
    """
    digest = _check_same_config(out_dir, shard_dirs)
    report = GatherReport()
    for shard_dir in shard_dirs:
        if shard_dir.resolve() == out_dir.resolve():
            continue
        config, _ = load_dataset_config(shard_dir)
        if not (out_dir / "config.hash").is_file():
            link_or_copy_atomic(shard_dir / "config.yaml", out_dir / "config.yaml")
            write_bytes_atomic(out_dir / "config.hash", (digest + "\n").encode())
        layout = folder_layout(shard_dir, config.scene.num_images)
        theirs = {i for i in recorded_indices(shard_dir) if i < config.scene.num_images}
        ours = scan_done(out_dir, layout, theirs)
        report.already += len(ours)
        for index in sorted(theirs - ours):
            if _copy_image(shard_dir, out_dir, index, layout):
                report.copied += 1
            else:
                report.incomplete += 1
    return report


def _check_same_config(out_dir: Path, shard_dirs: Sequence[Path]) -> str:
    stamps = {d: _read_stamp(d) for d in shard_dirs}
    if (out_dir / "config.hash").is_file():
        stamps = {out_dir: _read_stamp(out_dir), **stamps}
    digests = set(stamps.values())
    if len(digests) > 1:
        listing = ", ".join(f"{d} ({h})" for d, h in stamps.items())
        raise SimgenError(f"cannot merge folders built from different configs: {listing}")
    return digests.pop()


def _read_stamp(folder: Path) -> str:
    stamp = folder / "config.hash"
    if not stamp.is_file():
        raise SimgenError(f"{folder}: not a simgen dataset folder (no config.hash in it)")
    return stamp.read_text().strip()


def _copy_image(src: Path, dst: Path, index: int, layout: Layout) -> bool:
    """Link or copy one complete image (files first, record last); False if the shard's copy is broken."""
    found = read_record(src, index, layout)
    if found is None:
        return False
    record, _ = found
    for name in [record.file_name, *record.extra_files.values()]:
        link_or_copy_atomic(src / name, dst / name)
    link_or_copy_atomic(layout.record(src, index), layout.record(dst, index))
    return True


def describe_missing(config: SceneConfig, out_dir: Path) -> str:
    """Which images block a merge, as index ranges (so a farm user sees which shards to run again)."""
    total = config.scene.num_images
    found = scan_done(out_dir, folder_layout(out_dir, total), range(total))
    missing = [i for i in range(total) if i not in found]
    return f"{len(missing)} of {total} image(s) are missing or broken (indices {_ranges(missing)})"


def _ranges(indices: list[int], limit: int = 8) -> str:
    spans: list[list[int]] = []
    for i in indices:
        if spans and spans[-1][1] == i - 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans[:limit])
    return text + (f", ... ({len(spans) - limit} more ranges)" if len(spans) > limit else "")
