"""Rendering on this machine: in this process (one worker) or in a pool of spawned Blender processes."""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import multiprocessing as mp
import sys
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool

from simgen.build.cpus import available_cpus
from simgen.build.frame import RenderedImage
from simgen.build.workers import init_pool_worker, init_worker, render_with_process_scene
from simgen.config.loader import config_payload
from simgen.config.schema import SceneConfig
from simgen.errors import SimgenError

Runner = Callable[[SceneConfig, list[int], Callable[[RenderedImage], None]], None]
"""Renders the pending indices and hands each rendered image back; the build writes it (``commit_image``),
so a runner never touches the output folder."""


def local_runner(workers: int = 1, threads: int = 0) -> Runner:
    """Render in this process (1 worker) or in ``workers`` spawned Blender processes on this machine.

    ``threads`` is Cycles threads per worker; 0 takes render.threads from the config, else shares the
    CPUs evenly between the workers.
    """

    def run(config: SceneConfig, pending: list[int], on_rendered: Callable[[RenderedImage], None]) -> None:
        n = max(1, min(workers, len(pending)))
        per_worker = threads or config.render.threads or (0 if n == 1 else max(1, available_cpus() // n))
        if n == 1:
            init_worker(config_payload(config), per_worker)
            for index in pending:
                on_rendered(render_with_process_scene(index))
        else:
            _render_in_pool(config, pending, n, per_worker, on_rendered)

    return run


POOL_RESTARTS = 3


def _render_in_pool(
    config: SceneConfig,
    pending: list[int],
    workers: int,
    threads: int,
    on_rendered: Callable[[RenderedImage], None],
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
            initargs=(config_payload(config), threads),
        )
        try:
            for image in _bounded_map(pool, render_with_process_scene, list(remaining), 2 * workers):
                on_rendered(image)
                remaining.pop(image.record.index, None)
            return
        except BrokenProcessPool:
            if attempt == POOL_RESTARTS:
                raise SimgenError(
                    f"Blender worker processes died {attempt + 1} times ({len(remaining)} image(s) left); "
                    "rerun the same command to resume"
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
