"""Pin each render worker process to CPUs of its own.

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
