"""Shards: which contiguous range of image indices a process of an array job renders.

A dataset is N images, image i a pure function of (config, seed, i), so any split of the index range
renders the same dataset. Slurm job arrays, Kubernetes Indexed Jobs and plain ``--shard I/N`` all map
onto ``Shard``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from simgen.errors import SimgenError


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
