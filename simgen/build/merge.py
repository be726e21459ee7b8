"""Merging: once every image of a dataset is done, its records become annotations.json and manifest.json.

The merge streams: records are read one at a time in index order and written out as they come, so its
memory does not grow with the dataset (bench/bench_scale.py measures it). If a record breaks while it is
being read (another shard re-rendering that image), nothing is published and the merge reports the
dataset as not complete yet.
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from simgen import __version__
from simgen.build.layout import folder_layout, recorded_indices
from simgen.build.records import IncompleteDataset, Level, RecordStream
from simgen.config.loader import config_hash, portable_config
from simgen.config.schema import SceneConfig
from simgen.fileio import atomic_writer
from simgen.labels import ImageRecord
from simgen.writers.base import LabelSet
from simgen.writers.coco_stream import spill_file
from simgen.writers.dataset import config_categories, write_label_files


def missing_indices(config: SceneConfig, out_dir: Path) -> list[int]:
    """Indices of the dataset without a record file (cheap: directory listings)."""
    have = recorded_indices(out_dir)
    return [i for i in range(config.scene.num_images) if i not in have]


def merge_dataset(
    config: SceneConfig,
    out_dir: str | Path,
    config_digest: str | None = None,
    device: str = "",
    level: Level = "size",
) -> Path | None:
    """Write annotations.json + manifest.json (+ ``outputs.formats``) from the records, if every image of
    the dataset is done (each record checked at ``level`` as it is streamed).

    Returns None (and writes nothing) while any image is missing or broken, so a shard that finishes
    early never leaves a partial annotations.json behind.
    """
    out_dir = Path(out_dir)
    total = config.scene.num_images
    layout = folder_layout(out_dir, total)
    if missing_indices(config, out_dir):  # cheapest check first: most finishing shards stop here
        return None
    # each record is checked (at the default level) as it is streamed; a broken one aborts the merge
    digest = config_digest or config_hash(config)
    info = dataset_info(config, digest)
    manifest = ManifestWriter(config, digest, device, out_dir)
    try:
        with manifest:
            records = RecordStream(out_dir, layout, manifest.add, level)
            coco_path = write_label_files(config, out_dir, records, info)
    except IncompleteDataset:
        return None
    return coco_path


def dataset_info(config: SceneConfig, digest: str) -> dict[str, Any]:
    """The COCO ``info`` provenance of a build (the same for a merge and a streamed export)."""
    return {"scene": config.scene.name, "seed": config.scene.seed, "config_hash": digest}


class ManifestWriter:
    """manifest.json, gathered while the merge streams the records: per-image provenance is spilled to a
    temp file, the summary (versions, devices, hosts) kept in sets, and the file published at the end."""

    def __init__(self, config: SceneConfig, digest: str, device: str, out_dir: Path) -> None:
        self.config, self.digest, self.device, self.out_dir = config, digest, device, out_dir
        self.blender: set[str] = set()
        self.devices: set[str] = set()
        self.hosts: set[str] = set()
        self.count = 0

    def __enter__(self) -> ManifestWriter:
        self.spill = spill_file(self.out_dir)
        return self

    def add(self, record: ImageRecord, provenance: dict[str, Any]) -> None:
        """Note one record; records come in index order, and a second pass (another format) is ignored."""
        if record.index < self.count:
            return
        for key, seen in (("blender", self.blender), ("device", self.devices), ("host", self.hosts)):
            if provenance.get(key):
                seen.add(str(provenance[key]))
        entry = {
            "index": record.index,
            "seed": record.seed,
            "render_seconds": round(record.timings.get("render", 0.0), 4),
            **{k: provenance[k] for k in ("device", "threads", "host") if k in provenance},
        }
        self.spill.write((",\n  " if self.count else "") + json.dumps(entry, allow_nan=False))
        self.count += 1

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        try:
            if kind is None:
                self._publish()
        finally:
            self.spill.close()

    def _publish(self) -> None:
        head = json.dumps(self._summary(), indent=1, allow_nan=False)
        with atomic_writer(self.out_dir / "manifest.json") as out:
            out.write(head[:-2] + ',\n "images": [\n  ')
            self.spill.seek(0)
            shutil.copyfileobj(self.spill, out, 1 << 20)
            out.write("\n ]\n}")

    def _summary(self) -> dict[str, Any]:
        """Provenance: versions, where the images were rendered, the resolved config."""
        config = self.config
        devices = sorted(self.devices) or ([self.device] if self.device else [])
        blender = sorted(self.blender)
        return {
            "simgen_version": __version__,
            "blender_version": blender[0] if len(blender) == 1 else blender or None,
            "python_version": platform.python_version(),
            "platform": platform.platform(),
            "numpy_version": np.__version__,
            "device": devices[0] if len(devices) == 1 else devices,
            "hosts": sorted(self.hosts),
            "config_hash": self.digest,
            "scene": config.scene.name,
            "seed": config.scene.seed,
            "num_images": config.scene.num_images,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "config": portable_config(config, self.out_dir),
        }


def streamed_labels(out_dir: Path) -> LabelSet | None:
    """A finished build folder's labels, read from its records as they are iterated (what exports of
    large builds use); None for anything else (not a simgen build, or images missing)."""
    from simgen.build.output import load_dataset_config
    from simgen.errors import SimgenError

    if not (out_dir / "records").is_dir():
        return None
    try:
        config, digest = load_dataset_config(out_dir)
    except SimgenError:
        return None
    if missing_indices(config, out_dir):
        return None
    info = dataset_info(config, digest)
    records = RecordStream(out_dir, folder_layout(out_dir, config.scene.num_images))
    return LabelSet(records, config_categories(config), out_dir, info, source=out_dir / "annotations.json")
