"""CPUs a build may use, and pinning each render worker process to CPUs of its own.

Why: Blender's task scheduler starts threads on every CPU of the process's affinity mask, and with
``render.threads = 1`` they still busy-wait beside the render. Measured on 2 cores (tabletop, 16 images): an
unpinned 1-thread worker burns 1.9 CPUs (28 s of system time per 35 s of wall time), so two such workers
slow each other down (2 workers x 1 thread gave 1.4x one worker instead of 2x). Pinned with ``taskset``, each
uses one CPU at the same speed and two of them give 2.0x.

Workers claim a slot of ``threads`` CPUs through a lock file per slot, held for the life of the process (the
kernel drops it when the process dies, even on kill -9), so the pool's workers, Ray actors on one node and
separate builds on one machine never share a slot. Set ``SIMGEN_PIN_CPUS=0`` to turn it off.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from simgen.errors import SimgenError

if TYPE_CHECKING:
    from simgen.config.schema import SceneConfig

_HELD: list[int] = []  # file descriptors of claimed slot locks: kept open for the life of the process


def cpu_slots(cpus: list[int], threads: int) -> list[list[int]]:
    """Disjoint groups of ``threads`` CPUs from ``cpus`` (CPUs left over from the last group stay unused)."""
    if threads <= 0:
        return []
    return [cpus[i : i + threads] for i in range(0, len(cpus) - threads + 1, threads)]


def pin_to_free_slot(threads: int, lock_dir: Path | None = None) -> list[int] | None:
    """Pin this process to the first free slot of ``threads`` CPUs; None when pinning does not apply.

    Must run before Blender is imported: its scheduler sizes itself from the affinity mask at start-up.
    Not applied when ``threads`` covers every CPU (nothing to share), or where the OS has no affinity API.
    """
    if os.environ.get("SIMGEN_PIN_CPUS", "1") == "0" or not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if not 0 < threads < len(cpus):
        return None
    import fcntl

    lock_dir = lock_dir or Path(tempfile.gettempdir()) / f"simgen-cpu-slots-{os.getuid()}"
    lock_dir.mkdir(parents=True, exist_ok=True)
    for slot in cpu_slots(cpus, threads):
        fd = os.open(lock_dir / f"cpus-{'-'.join(map(str, slot))}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        _HELD.append(fd)
        os.sched_setaffinity(0, slot)
        return slot
    return None  # more workers than slots: run unpinned rather than stack two workers on one slot


def release_slots() -> None:
    """Give back every slot this process holds (tests; a worker process simply exits)."""
    while _HELD:
        with contextlib.suppress(OSError):
            os.close(_HELD.pop())


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


WORKER_MEMORY_GIB = 1.0  # budget per Blender worker (a small scene needs ~0.3-0.5 GiB; meshes add)


def auto_workers(config: SceneConfig, cpus: int | None = None) -> int:
    """The worker count for ``--workers auto`` (threads then default to CPUs / workers).

    One single-threaded worker per CPU (each pinned to its CPU, see pin_to_free_slot), as many as memory
    allows: each image also has single-threaded phases (scene sync, physics, reading passes, labels, PNG
    encoding) that a second process overlaps with the other's render. Measured on 2 cores with
    bench/bench_scaling.py: tabletop 2x1 = 1x2 within 1 %; dice (rigid-body physics) 2x1 is 3 % faster.
    A GPU renders one frame at a time best: one worker then.
    """
    cpus = cpus or available_cpus()
    if config.render.device == "gpu" or (config.render.device == "auto" and _gpu_present()):
        return 1
    return max(1, min(cpus, int(_memory_gib() // WORKER_MEMORY_GIB)))


def check_local_parallelism(workers: int, threads: int, cpus: int | None = None) -> None:
    """Refuse a worker or thread count that would only thrash this machine (``--workers 5000`` starts
    5000 Blender processes of ~0.5 GiB each): more workers than memory holds at ~0.3 GiB each, or more
    than 8 threads per CPU. Ray workers are sized by their own nodes and are not checked here."""
    cpus = cpus or available_cpus()
    most_workers = max(1, int(_memory_gib() / 0.3))
    if workers > most_workers:
        raise SimgenError(
            f"--workers {workers}: this machine's memory holds at most {most_workers} Blender workers "
            f"(~0.3 GiB each); use --ray or shards to spread a build over machines"
        )
    if threads > 8 * cpus:
        raise SimgenError(f"--threads {threads}: above 8 per CPU ({cpus} CPUs here) only adds contention")


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
