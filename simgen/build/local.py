"""Rendering on this machine: in this process (one worker) or in a pool of spawned Blender processes."""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import multiprocessing as mp
import sys
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from simgen.build.cpus import available_cpus
from simgen.build.frame import Done, RenderedImage, commit_image
from simgen.build.workers import init_pool_worker, init_worker, render_with_process_scene
from simgen.config.loader import config_to_dict
from simgen.config.schema import SceneConfig
from simgen.errors import SimgenError

Runner = Callable[[SceneConfig, Path, list[int], Callable[[Done], None]], None]
"""Renders the pending indices into the folder and calls back once per committed image."""


def local_runner(workers: int = 1, threads: int = 0) -> Runner:
    """Render in this process (1 worker) or in ``workers`` spawned Blender processes on this machine.

    ``threads`` is Cycles threads per worker; 0 takes render.threads from the config, else shares the
    CPUs evenly between the workers.
    """

    def run(config: SceneConfig, out_dir: Path, pending: list[int], on_done: Callable[[Done], None]) -> None:
        n = max(1, min(workers, len(pending)))
        per_worker = threads or config.render.threads or (0 if n == 1 else max(1, available_cpus() // n))
        if n == 1:
            init_worker(config_to_dict(config), per_worker)
            for index in pending:
                on_done(commit_image(out_dir, render_with_process_scene(index)))
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
            initializer=init_pool_worker,
            initargs=(config_to_dict(config), threads),
        )
        try:
            for image in _bounded_map(pool, render_with_process_scene, list(remaining), 2 * workers):
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
