"""The Blender scene of a worker process: made once per process, used for every image it renders."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

from simgen.backend.protocol import Renderer, make_renderer
from simgen.build.cpus import pin_to_free_slot
from simgen.build.frame import RenderedImage, render_image
from simgen.config.loader import config_from_payload
from simgen.config.schema import SceneConfig

_WORKER: dict[str, Any] = {}


def make_backend(payload: dict[str, Any], threads: int = 0) -> tuple[SceneConfig, Renderer]:
    """A worker's config (from ``config_payload``) and renderer; ``threads`` overrides render.threads."""
    _drop_inherited_blender_paths()
    config = config_from_payload(payload)
    if threads:
        config.render.threads = threads
    return config, make_renderer(config.render)


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


def init_worker(payload: dict[str, Any], threads: int) -> None:
    """Start the renderer once per process and keep its scene for every frame."""
    config, backend = make_backend(payload, threads)
    _WORKER.update(config=config, backend=backend)


def init_pool_worker(payload: dict[str, Any], threads: int) -> None:
    """Pool initializer: a Blender scene for this process, on CPUs of its own, not outliving the parent."""
    _die_with_parent()
    pin_to_free_slot(threads)
    init_worker(payload, threads)


def render_with_process_scene(index: int) -> RenderedImage:
    """Render and encode with this process's Blender scene; the caller writes (in a pool: the parent, so
    fsync stalls stay off the render processes)."""
    return render_image(_WORKER["backend"], _WORKER["config"], index)


def _die_with_parent() -> None:
    """Linux: end this worker when the parent dies (kill -9 of the CLI must not leave renders running)."""
    if sys.platform != "linux":
        return
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
