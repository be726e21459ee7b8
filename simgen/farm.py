"""Render-farm builds: shards, worker counts, merging shard folders, and a Ray runner.

A dataset is N images, image i a pure function of (config, seed, i), so any split of the index range
renders the same dataset. This module only decides *which* indices a process renders and *where*; the
rendering, resuming and merging are ``simgen.build``'s. Ray is optional and imported only by
``RayRunner``: the cluster does the scheduling, retries and networking, simgen feeds it chunks.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simgen.build import (
    Done,
    RenderedImage,
    available_cpus,
    commit_image,
    crash_for_test,
    load_dataset_config,
    make_backend,
    read_record,
    read_records,
    record_path,
    recorded_indices,
    render_image,
)
from simgen.config.loader import config_to_dict
from simgen.config.schema import SceneConfig
from simgen.cpuslots import pin_to_free_slot
from simgen.errors import SimgenError
from simgen.fileio import link_or_copy_atomic, write_bytes_atomic

# -- shards -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based): a contiguous range of image indices."""

    index: int
    count: int

    def indices(self, num_images: int) -> range:
        """Balanced contiguous ranges: sizes differ by at most one, every index in exactly one shard."""
        return range(self.index * num_images // self.count, (self.index + 1) * num_images // self.count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str, where: str = "--shard") -> Shard:
    """``"i/N"`` with 0 <= i < N."""
    head, sep, tail = text.strip().partition("/")
    try:
        if not sep:
            raise ValueError
        shard = Shard(int(head), int(tail))
    except ValueError:
        raise SimgenError(f"{where}: expected INDEX/COUNT such as 0/8, found {text!r}") from None
    if shard.count < 1 or not 0 <= shard.index < shard.count:
        raise SimgenError(f"{where}: shard index must be in [0, {shard.count}), found {text!r}")
    return shard


def shard_from_env(env: Mapping[str, str] | None = None) -> tuple[Shard, str] | None:
    """The shard of an array job, from its environment; None outside one.

    SIMGEN_SHARD=i/N wins; then a Slurm job array (SLURM_ARRAY_TASK_ID, _COUNT, _MIN, _STEP); then a
    Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with the shard count in SIMGEN_SHARD_COUNT since
    Kubernetes does not export ``completions``). With SIMGEN_SHARD_COUNT set, a Slurm task id is the shard
    index itself, so re-submitting only some ids (``--array=3,7``) keeps every shard's range.
    """
    env = os.environ if env is None else env
    if env.get("SIMGEN_SHARD"):
        return parse_shard(env["SIMGEN_SHARD"], "SIMGEN_SHARD"), "SIMGEN_SHARD"
    if env.get("SLURM_ARRAY_TASK_ID"):
        return _slurm_shard(env), "SLURM_ARRAY_TASK_ID"
    if env.get("JOB_COMPLETION_INDEX"):
        if not env.get("SIMGEN_SHARD_COUNT"):
            raise SimgenError(
                "JOB_COMPLETION_INDEX is set (Kubernetes Indexed Job) but SIMGEN_SHARD_COUNT is not: "
                "set it in the pod's env to the Job's `completions`"
            )
        text = f"{env['JOB_COMPLETION_INDEX']}/{env['SIMGEN_SHARD_COUNT']}"
        return parse_shard(text, "JOB_COMPLETION_INDEX/SIMGEN_SHARD_COUNT"), "JOB_COMPLETION_INDEX"
    return None


def _slurm_shard(env: Mapping[str, str]) -> Shard:
    """Slurm array ids may start anywhere and step (``--array=1-64:1``); map them onto 0..COUNT-1."""
    if env.get("SIMGEN_SHARD_COUNT"):
        text = f"{env['SLURM_ARRAY_TASK_ID']}/{env['SIMGEN_SHARD_COUNT']}"
        return parse_shard(text, "SLURM_ARRAY_TASK_ID/SIMGEN_SHARD_COUNT")
    try:
        task = int(env["SLURM_ARRAY_TASK_ID"])
        count = int(env["SLURM_ARRAY_TASK_COUNT"])
        first = int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
        step = int(env.get("SLURM_ARRAY_TASK_STEP", "1")) or 1
    except (KeyError, ValueError):
        raise SimgenError(
            "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is missing or not a number "
            "(Slurm >= 17.11 sets it); pass --shard INDEX/COUNT instead"
        ) from None
    index, rest = divmod(task - first, step)
    if rest or not 0 <= index < count:
        raise SimgenError(
            f"SLURM_ARRAY_TASK_ID={task} is not one of {count} evenly spaced ids from {first}: "
            f"submit a plain range such as --array=0-{count - 1}, or pass --shard INDEX/COUNT"
        )
    return Shard(index, count)


def resolve_shard(flag: str | None, env: Mapping[str, str] | None = None) -> tuple[Shard | None, str]:
    """``--shard`` value → (shard or None for the whole dataset, where it came from).

    No flag: the array job's environment if there is one, else the whole dataset. ``auto`` insists on
    the environment; ``all`` ignores it.
    """
    if flag is None or flag == "auto":
        found = shard_from_env(env)
        if found:
            return found
        if flag == "auto":
            raise SimgenError(
                "--shard auto: no array-job environment found (SIMGEN_SHARD, SLURM_ARRAY_TASK_ID, "
                "JOB_COMPLETION_INDEX + SIMGEN_SHARD_COUNT)"
            )
        return None, ""
    if flag == "all":
        return None, "--shard all"
    return parse_shard(flag), "--shard"


# -- workers on one machine -------------------------------------------------------------------------

WORKER_MEMORY_GIB = 1.0  # budget per Blender worker (a small scene needs ~0.3-0.5 GiB; meshes add)


def auto_workers(config: SceneConfig, cpus: int | None = None) -> int:
    """The worker count for ``--workers auto`` (threads then default to CPUs / workers).

    One single-threaded worker per CPU (each pinned to its CPU, see simgen.cpuslots), as many as memory
    allows: each image also has single-threaded phases (scene sync, physics, reading passes, labels, PNG
    encoding) that a second process overlaps with the other's render. Measured on 2 cores with
    bench/bench_scaling.py: tabletop 2x1 = 1x2 within 1 %; dice (rigid-body physics) 2x1 is 3 % faster.
    A GPU renders one frame at a time best: one worker then.
    """
    cpus = cpus or available_cpus()
    if config.render.device == "gpu" or (config.render.device == "auto" and _gpu_present()):
        return 1
    return max(1, min(cpus, int(_memory_gib() // WORKER_MEMORY_GIB)))


def _gpu_present() -> bool:
    """Cheap hint that Cycles will pick a GPU (NVIDIA driver or ROCm present), without importing bpy."""
    nvidia = Path("/proc/driver/nvidia/gpus")
    return (nvidia.is_dir() and any(nvidia.iterdir())) or Path("/dev/kfd").exists()


def _memory_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 4.0


def parse_workers(text: str) -> int | None:
    """``--workers`` value: a positive count, or ``auto`` (None: decided from the machine and config)."""
    if text == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise SimgenError(f"--workers: expected a positive number or 'auto', found {text!r}")
    return value


# -- merging shard folders --------------------------------------------------------------------------


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
        theirs = {i for i in recorded_indices(shard_dir) if i < config.scene.num_images}
        ours = read_records(out_dir, theirs)
        report.already += len(ours)
        for index in sorted(theirs - set(ours)):
            if _copy_image(shard_dir, out_dir, index):
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


def _copy_image(src: Path, dst: Path, index: int) -> bool:
    """Link or copy one complete image (files first, record last); False if the shard's copy is broken."""
    found = read_record(src, index)
    if found is None:
        return False
    record, _ = found
    for name in [record.file_name, *record.extra_files.values()]:
        link_or_copy_atomic(src / name, dst / name)
    link_or_copy_atomic(record_path(src, index), record_path(dst, index))
    return True


def describe_missing(config: SceneConfig, out_dir: Path) -> str:
    """Which images block a merge, as index ranges (so a farm user sees which shards to run again)."""
    total = config.scene.num_images
    found = read_records(out_dir, range(total))
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


# -- Ray ---------------------------------------------------------------------------------------------


class ChunkRenderer:
    """The Ray actor: one process, one Blender scene, fed chunks of indices; returns encoded files.

    Returning the files (instead of writing them on the worker) means the driver alone writes the dataset:
    no shared filesystem is needed between nodes, and a worker that dies mid-chunk leaves nothing behind.
    """

    def __init__(self, config_data: dict[str, Any], threads: int) -> None:
        pin_to_free_slot(threads)  # before Blender starts; see simgen.cpuslots
        self.config, self.backend = make_backend(config_data, threads)

    def render(self, indices: list[int]) -> list[RenderedImage]:
        out = []
        for index in indices:
            crash_for_test(index)
            out.append(render_image(self.backend, self.config, index))
        return out


@dataclass
class RayRunner:
    """Render pending images on a Ray cluster (``address``; None: RAY_ADDRESS or a new local instance).

    One actor per ``threads`` CPUs of the cluster (or ``actors``), each holding a Blender scene. Ray restarts
    an actor whose process or node dies and retries its chunk there (``max_restarts``/``max_task_retries``);
    if an actor is gone for good its chunks go to the others. Progress comes from ``ray.wait``.
    """

    address: str | None = None
    actors: int | None = None
    threads: int = 1
    chunk_size: int | None = None
    max_restarts: int = 3
    in_flight_per_actor: int = 2

    def __call__(
        self, config: SceneConfig, out_dir: Path, pending: list[int], on_done: Callable[[Done], None]
    ) -> None:
        ray = _import_ray()
        started = self._connect(ray)
        try:
            pool = self._start_actors(ray, config, len(pending))
            chunks = deque(_chunks(pending, self.chunk_size or _default_chunk(len(pending), len(pool))))
            self._drain(ray, pool, chunks, out_dir, on_done)
        finally:
            if started:
                ray.shutdown()

    def _connect(self, ray: Any) -> bool:
        """Connect (True if this call started Ray, so it must also shut it down)."""
        if ray.is_initialized():
            return False
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        kwargs: dict[str, Any] = {"logging_level": "WARNING", "log_to_driver": False}
        if address is None:
            kwargs["include_dashboard"] = False
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise SimgenError(f"--ray {address or ''}: cannot start or reach Ray: {exc}") from None
        return True

    def _start_actors(self, ray: Any, config: SceneConfig, pending: int) -> list[Any]:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        biggest = max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")), default=0)
        if self.threads > biggest:
            raise SimgenError(f"--threads {self.threads}: no Ray node has that many CPUs (most: {biggest:g})")
        count = max(1, min(self.actors or cpus // max(1, self.threads), pending))
        actor = ray.remote(
            num_cpus=self.threads, max_restarts=self.max_restarts, max_task_retries=self.max_restarts
        )(ChunkRenderer)
        data = config_to_dict(config)
        return [actor.remote(data, self.threads) for _ in range(count)]

    def _drain(
        self,
        ray: Any,
        pool: list[Any],
        chunks: deque[list[int]],
        out_dir: Path,
        on_done: Callable[[Done], None],
    ) -> None:
        """Keep every actor busy; commit each returned chunk; re-queue the chunks of actors gone for good."""
        running: dict[Any, tuple[Any, list[int]]] = {}

        def feed(actor: Any) -> None:
            while chunks and sum(a is actor for a, _ in running.values()) < self.in_flight_per_actor:
                chunk = chunks.popleft()
                running[actor.render.remote(chunk)] = (actor, chunk)

        for actor in pool:
            feed(actor)
        while running:
            [ref], _ = ray.wait(list(running), num_returns=1)
            actor, chunk = running.pop(ref)
            try:
                images = ray.get(ref)
            except ray.exceptions.RayActorError:
                chunks.appendleft(chunk)
                pool = [a for a in pool if a is not actor]
                _warn(f"a Ray worker died for good; {len(pool)} left, its chunk goes to another")
                if not pool:
                    raise SimgenError(
                        f"{out_dir}: every Ray worker died; rerun the same command to resume"
                    ) from None
                for other in pool:
                    feed(other)
                continue
            for image in images:
                on_done(commit_image(out_dir, image))
            feed(actor)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SimgenError("--ray needs Ray: pip install 'simgen[ray]' (or 'ray[default]>=2.9')") from None
    return ray


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _default_chunk(pending: int, actors: int) -> int:
    """Big enough to hide a round trip, small enough to balance the tail and lose little to a crash."""
    return max(1, min(8, math.ceil(pending / (4 * actors))))


def _warn(message: str) -> None:
    print(f"warning: {message} ({time.strftime('%H:%M:%S')})", file=sys.stderr)
