"""Dataset builds: render image indices into an output folder, resumably, then merge into COCO.

Layout of an output folder::

    config.yaml          resolved config (defaults filled, mesh paths absolute)
    images/000000.png    RGB
    instances/000000.png uint16 instance ids (0 = background)       [outputs.instances]
    semantic/000000.png  uint16 category ids (0 = background)       [outputs.semantic]
    depth/000000.exr     float32 meters along the optical axis       [outputs.depth]
    normals/000000.exr   float32 camera-space normals                [outputs.normals]
    records/000000.json  labels + sampled FrameSpec + timings; written last, so it marks the image done
    annotations.json     COCO, merged from the records once every image is done
    manifest.json        provenance: versions, device, config hash, per-image seed and timing

Every file is written atomically, so a killed build can simply be run again: images whose record and
files are complete are skipped, anything else is rendered again.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from simgen import __version__
from simgen.config.loader import config_hash, config_to_dict, dump_config_yaml
from simgen.config.schema import SceneConfig
from simgen.errors import SimgenError
from simgen.fileio import (
    image_file_is_complete,
    write_exr_atomic,
    write_image_atomic,
    write_json_atomic,
    write_text_atomic,
)
from simgen.labels import ImageRecord, annotate, camera_normals, semantic_map
from simgen.postfx import apply_postfx
from simgen.sampling import sample_frame
from simgen.writers.dataset import write_label_files


@dataclass
class BuildSummary:
    out_dir: Path
    requested: int
    rendered: int
    skipped: int
    instances: int
    wall_seconds: float
    render_seconds: float
    overhead_seconds: float
    coco_path: Path | None = None
    device: str = ""
    per_image: list[dict[str, Any]] = field(default_factory=list)

    @property
    def seconds_per_image(self) -> float:
        return self.wall_seconds / self.rendered if self.rendered else 0.0

    def describe(self) -> str:
        lines = [
            f"{self.out_dir}: {self.rendered} image(s) rendered, {self.skipped} already done, "
            f"{self.instances} instance(s) labelled",
        ]
        if self.rendered:
            share = self.overhead_seconds / max(self.render_seconds, 1e-9)
            lines.append(
                f"{self.seconds_per_image:.2f} s/image wall ({self.device}); labels+writing "
                f"= {100 * share:.1f}% of render time"
            )
        lines.append(f"COCO: {self.coco_path}" if self.coco_path else "COCO: not merged yet (images missing)")
        return "\n".join(lines)


def frame_stem(index: int) -> str:
    return f"{index:06d}"


def record_path(out_dir: Path, index: int) -> Path:
    return out_dir / "records" / f"{frame_stem(index)}.json"


def load_record(out_dir: Path, index: int) -> ImageRecord | None:
    """The record of image ``index`` if it and every file it lists are complete, else None."""
    path = record_path(out_dir, index)
    try:
        record = ImageRecord.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    files = [record.file_name, *record.extra_files.values()]
    if not all((out_dir / f).is_file() and (out_dir / f).stat().st_size > 0 for f in files):
        return None
    pixel_maps = [record.file_name, *(f for f in record.extra_files.values() if f.endswith(".png"))]
    if not all(image_file_is_complete(out_dir / f) for f in pixel_maps):
        return None
    return record


def prepare_output(config: SceneConfig, out_dir: Path) -> str:
    """Create the folder and save the resolved config; refuse to mix two configs in one folder."""
    out_dir.mkdir(parents=True, exist_ok=True)
    digest = config_hash(config)
    stamp = out_dir / "config.hash"
    if stamp.exists() and stamp.read_text().strip() != digest:
        raise SimgenError(
            f"{out_dir}: already holds a dataset built from a different config "
            f"(hash {stamp.read_text().strip()}, now {digest}); choose another --out or delete the folder"
        )
    if not stamp.exists():
        write_text_atomic(out_dir / "config.yaml", dump_config_yaml(config))
        write_text_atomic(stamp, digest + "\n")
    return digest


def render_one(backend: Any, config: SceneConfig, index: int, out_dir: Path) -> ImageRecord:
    """Render image ``index``, label it and write its files; the record is written last."""
    spec = sample_frame(config, index, mesh_bounds=getattr(backend, "mesh_bounds", None))
    result = backend.render(spec)
    result.rgb = apply_postfx(result.rgb, spec.postfx, spec.seed)
    t0 = time.perf_counter()
    stem = frame_stem(index)
    ext = "jpg" if config.render.image_format == "jpg" else "png"
    record = ImageRecord(
        index=index,
        seed=spec.seed,
        width=int(result.rgb.shape[1]),
        height=int(result.rgb.shape[0]),
        file_name=f"images/{stem}.{ext}",
        spec=spec.to_dict(),
    )
    annotate(record, result, spec, config, backend)
    write_image_atomic(out_dir / record.file_name, result.rgb, config.render.jpeg_quality)
    outputs = config.outputs
    if outputs.instances:
        record.extra_files["instances"] = f"instances/{stem}.png"
        write_image_atomic(out_dir / record.extra_files["instances"], result.instance_ids)
    if outputs.semantic:
        record.extra_files["semantic"] = f"semantic/{stem}.png"
        write_image_atomic(out_dir / record.extra_files["semantic"], semantic_map(result.instance_ids, spec))
    if outputs.depth:
        record.extra_files["depth"] = f"depth/{stem}.exr"
        write_exr_atomic(out_dir / record.extra_files["depth"], {"Z": result.depth})
    if outputs.normals and result.normals is not None:
        record.extra_files["normals"] = f"normals/{stem}.exr"
        n = camera_normals(result.normals, spec.camera)
        write_exr_atomic(
            out_dir / record.extra_files["normals"], {"X": n[..., 0], "Y": n[..., 1], "Z": n[..., 2]}
        )
    record.timings = {**result.timings, **record.timings, "label_write": time.perf_counter() - t0}
    write_json_atomic(record_path(out_dir, index), record.to_dict())
    return record


# -- process-level worker state (one Blender scene per process) -------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(config_data: dict[str, Any], out_dir: str, threads: int) -> None:
    """Pool initializer: import Blender once per process and keep its scene for every frame."""
    from simgen.backend.blender import BlenderBackend

    config = SceneConfig.model_validate(config_data)
    if threads:
        config.render.threads = threads
    _WORKER.update(config=config, out_dir=Path(out_dir), backend=BlenderBackend(config.render))


def _render_in_worker(index: int) -> tuple[int, int, dict[str, float], str]:
    record = render_one(_WORKER["backend"], _WORKER["config"], index, _WORKER["out_dir"])
    return record.index, len(record.instances), record.timings, _WORKER["backend"].device


def build_dataset(
    config: SceneConfig,
    out_dir: str | Path,
    indices: Sequence[int] | None = None,
    workers: int = 1,
    progress: bool = True,
    merge: bool = True,
) -> BuildSummary:
    """Render the images in ``indices`` (default: all) that are not done yet, then merge if complete."""
    out_dir = Path(out_dir)
    digest = prepare_output(config, out_dir)
    wanted = list(range(config.scene.num_images) if indices is None else indices)
    pending = [i for i in wanted if load_record(out_dir, i) is None]
    start = time.perf_counter()
    results = _render_pending(config, out_dir, pending, workers, progress)
    wall = time.perf_counter() - start
    summary = BuildSummary(
        out_dir=out_dir,
        requested=len(wanted),
        rendered=len(results),
        skipped=len(wanted) - len(pending),
        instances=sum(n for _, n, _, _ in results),
        wall_seconds=wall,
        render_seconds=sum(t.get("render", 0.0) for _, _, t, _ in results),
        overhead_seconds=sum(t.get("read", 0.0) + t.get("label_write", 0.0) for _, _, t, _ in results),
        device=results[0][3] if results else "",
        per_image=[{"index": i, **t} for i, _, t, _ in results],
    )
    if merge:
        summary.coco_path = merge_dataset(config, out_dir, config_digest=digest, device=summary.device)
    return summary


def _render_pending(
    config: SceneConfig, out_dir: Path, pending: list[int], workers: int, progress: bool
) -> list[tuple[int, int, dict[str, float], str]]:
    from tqdm import tqdm

    if not pending:
        return []
    workers = max(1, min(workers, len(pending)))
    bar = tqdm(total=len(pending), desc="render", unit="img", disable=not progress, dynamic_ncols=True)
    results = []
    try:
        if workers == 1:
            _init_worker(config_to_dict(config), str(out_dir), 0)
            for index in pending:
                results.append(_render_in_worker(index))
                bar.update(1)
                bar.set_postfix(instances=sum(r[1] for r in results))
        else:
            threads = config.render.threads or max(1, (os.cpu_count() or 1) // workers)
            ctx = mp.get_context("spawn")
            with ctx.Pool(workers, _init_worker, (config_to_dict(config), str(out_dir), threads)) as pool:
                for result in pool.imap_unordered(_render_in_worker, pending):
                    results.append(result)
                    bar.update(1)
                    bar.set_postfix(instances=sum(r[1] for r in results))
    finally:
        bar.close()
    return sorted(results)


def merge_dataset(
    config: SceneConfig, out_dir: str | Path, config_digest: str | None = None, device: str = ""
) -> Path | None:
    """Write annotations.json + manifest.json from the records, if every image of the dataset is done."""
    out_dir = Path(out_dir)
    records = []
    for index in range(config.scene.num_images):
        record = load_record(out_dir, index)
        if record is None:
            return None
        records.append(record)
    digest = config_digest or config_hash(config)
    info = {"scene": config.scene.name, "seed": config.scene.seed, "config_hash": digest}
    coco_path = out_dir / "annotations.json"
    write_label_files(config, out_dir, records, info)
    write_json_atomic(out_dir / "manifest.json", _manifest(config, digest, records, device), indent=1)
    return coco_path


def _manifest(
    config: SceneConfig, digest: str, records: Iterable[ImageRecord], device: str
) -> dict[str, Any]:
    try:
        import bpy  # only to report the version when it is already loaded in this process

        blender = bpy.app.version_string if "bpy" in sys.modules else None
    except ImportError:  # pragma: no cover - bpy is a core dependency
        blender = None
    return {
        "simgen_version": __version__,
        "blender_version": blender,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "numpy_version": np.__version__,
        "device": device,
        "config_hash": digest,
        "scene": config.scene.name,
        "seed": config.scene.seed,
        "num_images": config.scene.num_images,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "images": [
            {"index": r.index, "seed": r.seed, "render_seconds": round(r.timings.get("render", 0.0), 4)}
            for r in records
        ],
        "config": yaml.safe_load(dump_config_yaml(config)),
    }
