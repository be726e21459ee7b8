"""CPU pinning of render workers: disjoint slots, claimed through lock files that die with the process."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import pytest

from simgen.build.cpus import cpu_slots, pin_to_free_slot, release_slots


def test_slots_are_disjoint_groups_of_the_thread_count() -> None:
    assert cpu_slots([0, 1, 2, 3, 4], 2) == [[0, 1], [2, 3]]
    assert cpu_slots([4, 6], 1) == [[4], [6]]
    assert cpu_slots([0, 1], 3) == []


def _claim(lock_dir: str, threads: int, out: mp.Queue) -> None:
    """Claim a slot, report it, and hold it until killed (at most a minute)."""
    slot = pin_to_free_slot(threads, Path(lock_dir))
    out.put((slot, sorted(os.sched_getaffinity(0))))
    time.sleep(60)


needs_two_cpus = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs (Linux)"
)


@needs_two_cpus
def test_concurrent_workers_get_different_cpus_and_a_dead_worker_frees_its_slot(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    first = ctx.Process(target=_claim, args=(str(tmp_path), 1, out))
    second = ctx.Process(target=_claim, args=(str(tmp_path), 1, out))
    first.start()
    slot_a, mask_a = out.get(timeout=60)
    second.start()
    slot_b, mask_b = out.get(timeout=60)
    assert slot_a is not None and slot_b is not None
    assert mask_a == slot_a and mask_b == slot_b and not set(slot_a) & set(slot_b)
    first.kill()  # like kill -9: the lock goes with the process
    first.join()
    third = ctx.Process(target=_claim, args=(str(tmp_path), 1, out))
    third.start()
    slot_c, _ = out.get(timeout=60)
    for process in (second, third):
        process.kill()
        process.join()
    assert slot_c == slot_a


@needs_two_cpus
def test_no_pinning_when_one_worker_takes_every_cpu_or_when_disabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = os.sched_getaffinity(0)
    assert pin_to_free_slot(len(before), tmp_path) is None
    monkeypatch.setenv("SIMGEN_PIN_CPUS", "0")
    assert pin_to_free_slot(1, tmp_path) is None
    assert os.sched_getaffinity(0) == before
    release_slots()
