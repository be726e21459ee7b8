"""What a renderer back-end must offer, and how one is chosen.

The build only talks to a ``Renderer``: it hands it FrameSpecs and gets pixel-aligned arrays back. The
Blender back-end (``simgen.backend.blender``) is the only one shipped and the only module that imports
``bpy``. ``SIMGEN_BACKEND=module:factory`` makes every worker use another factory (the tests use it to
inject faults; a new back-end is tried the same way before it gets a name in ``BACKENDS``).
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any, Protocol

from simgen.errors import SimgenError

if TYPE_CHECKING:
    from simgen.backend.result import RenderResult
    from simgen.config.schema import RenderSection
    from simgen.geometry import ObjectGeometry
    from simgen.spec import Bounds, FrameSpec

BACKENDS = {"blender": "simgen.backend.blender:BlenderBackend"}
"""Back-end name → ``module:factory``; a factory takes the config's RenderSection."""
DEFAULT_BACKEND = "blender"


class Renderer(Protocol):
    """A back-end: one live scene per worker process, rendering frame after frame."""

    device: str  # what renders ("CPU", "OPTIX", ...)

    def render(self, spec: FrameSpec) -> RenderResult:
        """Apply ``spec`` to the scene and render it. Physics may settle ``spec``'s poses in place."""
        ...

    def mesh_bounds(self, path: str) -> Bounds:
        """(center, half extents) of a mesh file's local bounding box, for placement."""
        ...

    def object_geometry(self, spec: FrameSpec) -> dict[int, ObjectGeometry]:
        """World-space triangles of every labelled instance of the frame just rendered."""
        ...

    def provenance(self) -> dict[str, Any]:
        """Where and how frames were rendered (device, threads, versions), for records and manifests."""
        ...

    def close(self) -> None: ...


def make_renderer(render: RenderSection, name: str = DEFAULT_BACKEND) -> Renderer:
    """The back-end for this process: ``SIMGEN_BACKEND`` if set, else the named one."""
    target = os.environ.get("SIMGEN_BACKEND") or BACKENDS.get(name)
    if target is None:
        raise SimgenError(f"unknown back-end {name!r}; choose from {', '.join(BACKENDS)}")
    module_name, _, attribute = target.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise SimgenError(f"back-end {target!r} cannot be loaded: {exc}") from None
    return factory(render)
