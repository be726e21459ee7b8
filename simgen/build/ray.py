"""Rendering on a Ray cluster: the cluster schedules, retries and moves data; simgen feeds it chunks.

Ray is optional and imported only when a ``RayRunner`` runs.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simgen.build.cpus import pin_to_free_slot
from simgen.build.frame import RenderedImage, render_image
from simgen.build.workers import make_backend
from simgen.config.loader import config_payload
from simgen.config.schema import SceneConfig
from simgen.errors import SimgenError


class ChunkRenderer:
    """The Ray actor: one process, one Blender scene, fed chunks of indices; returns encoded files.

    Returning the files (instead of writing them on the worker) means the driver alone writes the dataset:
    no shared filesystem is needed between nodes, and a worker that dies mid-chunk leaves nothing behind.
    """

    def __init__(self, payload: dict[str, Any], threads: int) -> None:
        pin_to_free_slot(threads)  # before Blender starts; see simgen.build.cpus
        self.config, self.backend = make_backend(payload, threads)

    def render(self, indices: list[int]) -> list[RenderedImage]:
        out = []
        for index in indices:
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
        self, config: SceneConfig, pending: list[int], on_rendered: Callable[[RenderedImage], None]
    ) -> None:
        ray = _import_ray()
        started = self._connect(ray)
        try:
            pool = self._start_actors(ray, config, len(pending))
            chunks = deque(_chunks(pending, self.chunk_size or _default_chunk(len(pending), len(pool))))
            self._drain(ray, pool, chunks, on_rendered)
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
        payload = config_payload(config)
        return [actor.remote(payload, self.threads) for _ in range(count)]

    def _drain(
        self,
        ray: Any,
        pool: list[Any],
        chunks: deque[list[int]],
        on_rendered: Callable[[RenderedImage], None],
    ) -> None:
        """Keep every actor busy; hand back each returned chunk; re-queue the chunks of lost actors."""
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
                    raise SimgenError("every Ray worker died; rerun the same command to resume") from None
                for other in pool:
                    feed(other)
                continue
            for image in images:
                on_rendered(image)
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
