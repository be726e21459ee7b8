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
files are complete are skipped, anything else is rendered again. Several shards may write into one folder
at once: each renders its own indices, and whichever finds every image done writes annotations.json
(atomically; the content is a pure function of the records, so concurrent merges write the same bytes).
Multi-machine runners (Ray) live in ``simgen.farm``; they plug in through ``build_dataset(runner=...)``.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import itertools
import json
import multiprocessing as mp
import os
import platform
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from simgen import __version__
from simgen.config.loader import config_hash, config_to_dict, dump_config_yaml
from simgen.config.schema import SceneConfig
from simgen.cpuslots import pin_to_free_slot
from simgen.errors import SimgenError
from simgen.fileio import (
    encode_exr,
    encode_image,
    exr_file_is_complete,
    image_file_is_complete,
    is_temp_name,
    write_bytes_atomic,
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
    missing: int = 0  # images of the whole dataset not done yet (rendered by other shards, or failed)
    unsettled_images: int = 0  # images where physics stopped with objects still moving
    unsettled_objects: int = 0

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
        if self.unsettled_images:
            lines.append(
                f"warning: {self.unsettled_objects} object(s) in {self.unsettled_images} image(s) were still "
                "falling or tipping when the physics stopped (records: spec.physics.still_moving); raise "
                "physics.frames or set physics.max_frames"
            )
        if self.coco_path:
            lines.append(f"COCO: {self.coco_path}")
        else:
            lines.append(
                f"COCO: not written yet: {self.missing} image(s) of the dataset are not done "
                f"(other shards?); the last shard writes it, or run `simgen merge {self.out_dir}`"
            )
        return "\n".join(lines)


def frame_stem(index: int) -> str:
    return f"{index:06d}"


def record_path(out_dir: Path, index: int) -> Path:
    return out_dir / "records" / f"{frame_stem(index)}.json"


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


def available_cpus() -> int:
    """CPUs this process may use: the affinity mask (Slurm, taskset, cpusets) capped by a cgroup CPU quota
    (a Kubernetes CPU limit shows all of the node's CPUs in the mask)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(cpus, quota)) if quota else cpus


def _cgroup_cpu_quota() -> int | None:
    """CPUs allowed by cgroup v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``, rounded up; None if unlimited."""
    v2, v1 = Path("/sys/fs/cgroup/cpu.max"), Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
    try:
        if v2.is_file():
            quota, period = v2.read_text().split()
        elif v1.is_file():
            quota, period = v1.read_text().strip(), v1.with_name("cpu.cfs_period_us").read_text().strip()
        else:
            return None
        if quota in ("max", "-1"):
            return None
        return max(1, -(-int(quota) // int(period)))
    except (OSError, ValueError):
        return None


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


@dataclass
class RenderedImage:
    """One rendered image: its record and its encoded files, not yet on disk (a Ray worker ships this)."""

    record: ImageRecord
    files: dict[str, bytes]
    provenance: dict[str, Any]


def commit_image(out_dir: Path, rendered: RenderedImage) -> Done:
    """Write the files atomically, then the record: a record on disk means every file it lists is whole.

    Returns what the runner reports for the committed image."""
    t0 = time.perf_counter()
    for name, data in rendered.files.items():
        write_bytes_atomic(out_dir / name, data)
    record = rendered.record
    record.timings["label_write"] = record.timings.get("label_write", 0.0) + time.perf_counter() - t0
    data = {**record.to_dict(), "provenance": rendered.provenance}
    write_json_atomic(record_path(out_dir, record.index), data)
    device = str(rendered.provenance.get("device", ""))
    moving = int((record.spec.get("physics") or {}).get("still_moving", 0))
    return Done(record.index, len(record.instances), record.timings, device, moving)


def render_image(backend: Any, config: SceneConfig, index: int) -> RenderedImage:
    """Render image ``index`` and label it; files are encoded in memory (see ``commit_image``)."""
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
    files = {record.file_name: encode_image(record.file_name, result.rgb, config.render.jpeg_quality)}
    outputs = config.outputs
    if outputs.instances:
        record.extra_files["instances"] = f"instances/{stem}.png"
        files[record.extra_files["instances"]] = encode_image("ids.png", result.instance_ids)
    if outputs.semantic:
        record.extra_files["semantic"] = f"semantic/{stem}.png"
        semantic = semantic_map(result.instance_ids, spec)
        files[record.extra_files["semantic"]] = encode_image("ids.png", semantic)
    if outputs.depth:
        record.extra_files["depth"] = f"depth/{stem}.exr"
        files[record.extra_files["depth"]] = encode_exr({"Z": result.depth})
    if outputs.normals and result.normals is not None:
        record.extra_files["normals"] = f"normals/{stem}.exr"
        n = camera_normals(result.normals, spec.camera)
        files[record.extra_files["normals"]] = encode_exr({"X": n[..., 0], "Y": n[..., 1], "Z": n[..., 2]})
    record.timings = {**result.timings, **record.timings, "label_write": time.perf_counter() - t0}
    return RenderedImage(record, files, render_provenance(backend))


def render_provenance(backend: Any) -> dict[str, Any]:
    """Where and how an image was rendered; the denoiser's output depends on the thread count."""
    scene = getattr(backend, "scene", None)
    bpy = sys.modules.get("bpy")
    return {
        "device": getattr(backend, "device", ""),
        "threads": int(scene.render.threads) if scene is not None else None,
        "blender": bpy.app.version_string if bpy is not None else None,
        "python": platform.python_version(),
        "host": socket.gethostname(),
    }


# -- process-level worker state (one Blender scene per process) -------------------------------------
_WORKER: dict[str, Any] = {}


@dataclass(frozen=True)
class Done:
    """What a runner reports once an image is on disk."""

    index: int
    instances: int
    timings: dict[str, float]
    device: str
    still_moving: int = 0  # objects the rigid-body simulation left moving (physics.frames too short)


Runner = Callable[[SceneConfig, Path, list[int], Callable[[Done], None]], None]
"""Renders the pending indices into the folder and calls back once per committed image."""


def make_backend(config_data: dict[str, Any], threads: int = 0) -> tuple[SceneConfig, Any]:
    """A worker's config and Blender scene; ``threads`` overrides render.threads (0 keeps the config's)."""
    _drop_inherited_blender_paths()
    from simgen.backend.blender import BlenderBackend

    config = SceneConfig.model_validate(config_data)
    if threads:
        config.render.threads = threads
    return config, BlenderBackend(config.render)


def _drop_inherited_blender_paths() -> None:
    """A spawned child inherits the parent's sys.path; if the parent had imported bpy, that path starts with
    Blender's script folders, whose ``bpy`` package would shadow the real module (No module named '_bpy')."""
    if "bpy" in sys.modules:
        return
    sys.path[:] = [p for p in sys.path if not _is_blender_script_dir(p)]


def _is_blender_script_dir(path: str) -> bool:
    """``.../bpy/5.0/scripts/...`` (the bpy wheel) or ``~/.config/blender/5.0/scripts/...``."""
    parts = Path(path).parts
    i = parts.index("scripts") if "scripts" in parts else -1
    return i >= 2 and parts[i - 2] in ("bpy", "blender")


def _init_worker(config_data: dict[str, Any], threads: int) -> None:
    """Import Blender once per process and keep its scene for every frame."""
    config, backend = make_backend(config_data, threads)
    _WORKER.update(config=config, backend=backend)


def _init_pool_worker(config_data: dict[str, Any], threads: int) -> None:
    """Pool initializer: a Blender scene for this process, on CPUs of its own, not outliving the parent."""
    _die_with_parent()
    pin_to_free_slot(threads)
    _init_worker(config_data, threads)


def _render_with_process_scene(index: int) -> RenderedImage:
    """Render and encode with this process's Blender scene; the caller writes (in a pool: the parent, so
    fsync stalls stay off the render processes)."""
    crash_for_test(index)
    return render_image(_WORKER["backend"], _WORKER["config"], index)


def _die_with_parent() -> None:
    """Linux: end this worker when the parent dies (kill -9 of the CLI must not leave renders running)."""
    if sys.platform != "linux":
        return
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def crash_for_test(index: int) -> None:
    """Fault injection for the tests: SIMGEN_TEST_CRASH="INDEX:MARKER" kills the worker once at INDEX."""
    spec = os.environ.get("SIMGEN_TEST_CRASH")
    if not spec or spec.partition(":")[0] != str(index):
        return
    try:
        os.close(os.open(spec.partition(":")[2], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    os._exit(70)


def build_dataset(
    config: SceneConfig,
    out_dir: str | Path,
    indices: Sequence[int] | None = None,
    workers: int = 1,
    progress: bool = True,
    merge: bool = True,
    threads: int = 0,
    runner: Runner | None = None,
) -> BuildSummary:
    """Render the images in ``indices`` (default: all) that are not done yet, then merge if complete.

    ``workers``/``threads`` configure the local process pool; ``runner`` replaces it (e.g. Ray).
    """
    out_dir = Path(out_dir)
    digest = prepare_output(config, out_dir)
    wanted = list(dict.fromkeys(range(config.scene.num_images) if indices is None else indices))
    outside = [i for i in wanted if not 0 <= i < config.scene.num_images]
    if outside:
        raise SimgenError(f"image indices {outside[:5]} are outside 0..{config.scene.num_images - 1}")
    done = read_records(out_dir, wanted)
    pending = [i for i in wanted if i not in done]
    remove_stale_temps(out_dir, pending)
    start = time.perf_counter()
    results = _render_pending(config, out_dir, pending, progress, runner or local_runner(workers, threads))
    summary = BuildSummary(
        out_dir=out_dir,
        requested=len(wanted),
        rendered=len(results),
        skipped=len(wanted) - len(pending),
        instances=sum(d.instances for d in results),
        wall_seconds=time.perf_counter() - start,
        render_seconds=sum(d.timings.get("render", 0.0) for d in results),
        overhead_seconds=sum(d.timings.get("read", 0.0) + d.timings.get("label_write", 0.0) for d in results),
        device=results[0].device if results else "",
        per_image=[{"index": d.index, **d.timings} for d in results],
        unsettled_images=sum(d.still_moving > 0 for d in results),
        unsettled_objects=sum(d.still_moving for d in results),
    )
    if merge:
        summary.coco_path = merge_dataset(config, out_dir, config_digest=digest)
    if summary.coco_path is None:
        summary.missing = len(missing_indices(config, out_dir))
    return summary


def _render_pending(
    config: SceneConfig, out_dir: Path, pending: list[int], progress: bool, runner: Runner
) -> list[Done]:
    from tqdm import tqdm

    if not pending:
        return []
    results: list[Done] = []
    instances = 0
    with tqdm(total=len(pending), desc="render", unit="img", disable=not progress, dynamic_ncols=True) as bar:

        def on_done(done: Done) -> None:
            nonlocal instances
            results.append(done)
            instances += done.instances
            bar.update(1)
            bar.set_postfix(instances=instances, refresh=False)

        runner(config, out_dir, pending, on_done)
    return sorted(results, key=lambda d: d.index)


def local_runner(workers: int = 1, threads: int = 0) -> Runner:
    """Render in this process (1 worker) or in ``workers`` spawned Blender processes on this machine.

    ``threads`` is Cycles threads per worker; 0 takes render.threads from the config, else shares the
    CPUs evenly between the workers.
    """

    def run(config: SceneConfig, out_dir: Path, pending: list[int], on_done: Callable[[Done], None]) -> None:
        n = max(1, min(workers, len(pending)))
        per_worker = threads or config.render.threads or (0 if n == 1 else max(1, available_cpus() // n))
        if n == 1:
            _init_worker(config_to_dict(config), per_worker)
            for index in pending:
                on_done(commit_image(out_dir, _render_with_process_scene(index)))
        else:
            _render_in_pool(config, out_dir, pending, n, per_worker, on_done)

    return run


POOL_RESTARTS = 3


def _render_in_pool(
    config: SceneConfig,
    out_dir: Path,
    pending: list[int],
    workers: int,
    threads: int,
    on_done: Callable[[Done], None],
) -> None:
    """A spawn pool of Blender workers that render and encode; this process writes every file, as with Ray.

    If a worker dies (segfault, OOM kill) the pool restarts for the images left (nothing of the dead
    worker's image was written).
    """
    remaining = dict.fromkeys(pending)
    for attempt in range(POOL_RESTARTS + 1):
        pool = cf.ProcessPoolExecutor(
            workers,
            mp_context=mp.get_context("spawn"),
            initializer=_init_pool_worker,
            initargs=(config_to_dict(config), threads),
        )
        try:
            for image in _bounded_map(pool, _render_with_process_scene, list(remaining), 2 * workers):
                done = commit_image(out_dir, image)
                remaining.pop(done.index, None)
                on_done(done)
            return
        except BrokenProcessPool:
            if attempt == POOL_RESTARTS:
                raise SimgenError(
                    f"{out_dir}: Blender worker processes died {attempt + 1} times "
                    f"({len(remaining)} image(s) left); rerun the same command to resume"
                ) from None
            print(
                f"warning: a Blender worker died; restarting the pool for {len(remaining)} image(s)",
                file=sys.stderr,
            )
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _bounded_map(
    pool: cf.Executor, fn: Callable[[int], RenderedImage], items: list[int], window: int
) -> Iterator[RenderedImage]:
    """Results as they finish, with at most ``window`` tasks queued (a huge shard stays small in memory)."""
    todo = iter(items)
    running = {pool.submit(fn, i) for i in itertools.islice(todo, window)}
    while running:
        finished, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
        for future in finished:
            yield future.result()
            running |= {pool.submit(fn, i) for i in itertools.islice(todo, 1)}


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
    manifest = _manifest(config, digest, [found[i] for i in range(config.scene.num_images)], device)
    write_json_atomic(out_dir / "manifest.json", manifest, indent=1)
    return coco_path


def load_dataset_config(out_dir: Path) -> tuple[SceneConfig, str]:
    """The config and hash a dataset folder was built from; needs no asset files (merge runs anywhere)."""
    from simgen.config.loader import validate_config

    path, stamp = out_dir / "config.yaml", out_dir / "config.hash"
    if not path.is_file() or not stamp.is_file():
        raise SimgenError(f"{out_dir}: not a simgen dataset folder (no config.yaml + config.hash in it)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SimgenError(f"{path}: not valid YAML: {exc}") from None
    return validate_config(raw, source=path), stamp.read_text().strip()


def _manifest(
    config: SceneConfig, digest: str, found: list[tuple[ImageRecord, dict[str, Any]]], device: str
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
        "config": yaml.safe_load(dump_config_yaml(config)),
    }
