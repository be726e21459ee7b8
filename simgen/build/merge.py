"""Merging: once every image of a dataset is done, its records become annotations.json and manifest.json."""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from simgen import __version__
from simgen.build.records import read_records, recorded_indices
from simgen.config.loader import config_hash, portable_config
from simgen.config.schema import SceneConfig
from simgen.fileio import write_json_atomic
from simgen.labels import ImageRecord
from simgen.writers.dataset import write_label_files


def missing_indices(config: SceneConfig, out_dir: Path) -> list[int]:
    """Indices of the dataset without a record file (cheap: one directory listing)."""
    have = recorded_indices(out_dir)
    return [i for i in range(config.scene.num_images) if i not in have]


def merge_dataset(
    config: SceneConfig, out_dir: str | Path, config_digest: str | None = None, device: str = ""
) -> Path | None:
    """Write annotations.json + manifest.json from the records, if every image of the dataset is done.

    Returns None (and writes nothing) while any image is missing or broken, so a shard that finishes
    early never leaves a partial annotations.json behind.
    """
    out_dir = Path(out_dir)
    if missing_indices(config, out_dir):  # cheap check first: most finishing shards stop here
        return None
    found = read_records(out_dir, range(config.scene.num_images))
    if len(found) < config.scene.num_images:
        return None
    records = [found[i][0] for i in range(config.scene.num_images)]
    digest = config_digest or config_hash(config)
    info = {"scene": config.scene.name, "seed": config.scene.seed, "config_hash": digest}
    coco_path = out_dir / "annotations.json"
    write_label_files(config, out_dir, records, info)
    manifest = _manifest(config, digest, [found[i] for i in range(config.scene.num_images)], device, out_dir)
    write_json_atomic(out_dir / "manifest.json", manifest, indent=1)
    return coco_path


def _manifest(
    config: SceneConfig,
    digest: str,
    found: list[tuple[ImageRecord, dict[str, Any]]],
    device: str,
    out_dir: Path,
) -> dict[str, Any]:
    """Provenance: versions, where each image was rendered and how long it took, the resolved config."""
    blender = sorted({str(p["blender"]) for _, p in found if p.get("blender")})
    devices = sorted({str(p["device"]) for _, p in found if p.get("device")}) or ([device] if device else [])
    return {
        "simgen_version": __version__,
        "blender_version": blender[0] if len(blender) == 1 else blender or None,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "numpy_version": np.__version__,
        "device": devices[0] if len(devices) == 1 else devices,
        "hosts": sorted({str(p["host"]) for _, p in found if p.get("host")}),
        "config_hash": digest,
        "scene": config.scene.name,
        "seed": config.scene.seed,
        "num_images": config.scene.num_images,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "images": [
            {
                "index": r.index,
                "seed": r.seed,
                "render_seconds": round(r.timings.get("render", 0.0), 4),
                **{k: p[k] for k in ("device", "threads", "host") if k in p},
            }
            for r, p in found
        ],
        "config": portable_config(config, out_dir),
    }
