"""pose: where each instance goes and how it is turned and sized, without two instances overlapping.

objects:
  - category: box
    count: {randint: [1, 3]}
    size: {uniform: [0.4, 0.7]}                 # largest extent, meters
    rotation: {yaw: {uniform: [0, 360]}}        # or XYZ Euler ranges, or so3
    placement: {region: disc, radius: 1.6, rest_on: 0.0}
layout: {max_tries: 200, gap: 0.02}

Each instance's oriented bounding box (exact for boxes, conservative for every other shape) is kept
apart from the boxes already placed in the frame (objects in config order, then distractors), with
bounded retries and then a clear error.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from simgen.config.base import StrictModel
from simgen.config.distributions import freeze
from simgen.errors import SimgenError
from simgen.placement import PRIMITIVE_BOUNDS, OrientedBox, boxes_overlap, oriented_box
from simgen.randomizers.base import FrameDraw, InstanceDraw, Randomizer, revalidate
from simgen.spec import Bounds, ObjectSpec, euler_xyz_to_matrix

if TYPE_CHECKING:
    from simgen.config.schema import SceneConfig
    from simgen.randomizers.base import MeshBounds


class Placement(StrictModel):
    """Where instances go: uniformly in a box, or in a disc (on the plane z = center z).

    With ``rest_on`` the object's lowest point (after rotation) sits on the plane z = rest_on, and the
    region's z is ignored. Instances with ``avoid_overlap`` never overlap (oriented-box test, bounded
    retries, then a clear error).
    """

    region: Literal["box", "disc"] = "box"
    min: tuple[float, float, float] = (-1.0, -1.0, 0.0)
    max: tuple[float, float, float] = (1.0, 1.0, 0.0)
    center: tuple[float, float, float] = (0.0, 0.0, 0.0)
    radius: float = Field(1.0, gt=0)
    rest_on: float | None = Field(None, description="z of the supporting surface.")
    avoid_overlap: bool = True

    @model_validator(mode="after")
    def _ordered_box(self) -> Placement:
        if any(lo > hi for lo, hi in zip(self.min, self.max, strict=True)):
            raise ValueError(f"placement box needs min <= max per axis, found min {self.min} max {self.max}")
        return self


class Layout(StrictModel):
    """Placement search limits."""

    max_tries: int = Field(200, ge=1, description="Attempts per instance before placement fails.")
    gap: float = Field(0.0, ge=0, description="Minimum clearance between placed instances, meters.")


class PoseSections(StrictModel):
    layout: Layout = Field(default_factory=Layout)


class PoseRandomizer(Randomizer):
    name = "pose"
    summary = (
        "region (box or disc), resting on a surface (`rest_on`), collision-free (oriented-box test, bounded "
        "retries, clear error when impossible), SO(3)/yaw/Euler rotations, scale jitter, per-entry count "
        "ranges"
    )
    config_keys = "`placement:`, `rotation:`, `scale:`, `count:`"
    demo = "scenes/demos/pose.yaml"
    SECTIONS = PoseSections

    def sample(self, draw: FrameDraw) -> None:
        placed: list[OrientedBox] = []
        for inst in draw.instances:
            s, p, spec = draw.streams, inst.path, inst.spec
            spec.size = None if inst.size is None else s.float(f"{p}.size", inst.size)
            spec.location = s.vec3(f"{p}.location", inst.location)
            spec.rotation_deg = s.rotation(f"{p}.rotation", inst.rotation)
            spec.scale = s.vec3(f"{p}.scale", inst.scale)
            if inst.placement is not None:
                spec.location = _place(inst, draw, placed)

    def off(self, config: SceneConfig) -> SceneConfig:
        """Rotations, sizes and scales at their centers (locations still vary within the placement)."""
        fields = ("rotation", "scale", "size")

        def frozen(entry: Any) -> Any:
            return entry.model_copy(update={f: freeze(getattr(entry, f)) for f in fields})

        objects = [
            frozen(o).model_copy(update={"variants": [frozen(v) for v in o.variants] if o.variants else None})
            for o in config.objects
        ]
        update: dict[str, Any] = {"objects": objects}
        if config.distractors is not None:
            update["distractors"] = config.distractors.model_copy(
                update={"rotation": freeze(config.distractors.rotation)}
            )
        return revalidate(config.model_copy(update=update), "without pose")


def local_bounds(spec: ObjectSpec, mesh_bounds: MeshBounds | None) -> Bounds:
    """(center, half extents) of an instance's mesh before scaling: primitive, generator or mesh file."""
    if spec.generator is not None:
        from simgen.generators import get_generator

        return get_generator(spec.generator.type).local_bounds(spec.generator)
    if spec.shape is not None:
        return PRIMITIVE_BOUNDS[spec.shape]
    if mesh_bounds is None:
        raise SimgenError(
            f"{spec.mesh}: placement of a mesh needs its bounds; sample with the renderer's mesh_bounds"
        )
    return mesh_bounds(spec.mesh or "")


def _place(inst: InstanceDraw, draw: FrameDraw, placed: list[OrientedBox]) -> tuple[float, float, float]:
    """Draw a location in the region so the instance's box overlaps no earlier box (bounded retries)."""
    placement, spec, p = inst.placement, inst.spec, inst.path
    bounds = local_bounds(spec, draw.mesh_bounds)
    factor = 1.0 if spec.size is None else spec.size / max(2 * max(bounds[1]), 1e-12)
    scale = np.asarray(spec.scale, dtype=float) * factor
    rotation = euler_xyz_to_matrix(spec.rotation_deg)
    gap, max_tries = draw.config.layout.gap, draw.config.layout.max_tries
    for attempt in range(max_tries):
        location = _region_point(placement, draw.streams.rng(f"{p}.placement#{attempt}"))
        box = oriented_box(np.array(bounds[0]), np.array(bounds[1]), rotation, scale, location)
        if placement.rest_on is not None:
            location[2] += placement.rest_on - box.lowest_z()
            box = oriented_box(np.array(bounds[0]), np.array(bounds[1]), rotation, scale, location)
        if not placement.avoid_overlap or not any(boxes_overlap(box, other, gap) for other in placed):
            if placement.avoid_overlap:
                placed.append(box)
            return (float(location[0]), float(location[1]), float(location[2]))
    entry, _, instance = p.partition("#")
    raise SimgenError(
        f"{entry}: could not place instance {instance or 0} without overlap after {max_tries} tries; enlarge "
        "the placement region, lower count or size, raise layout.max_tries, or set avoid_overlap: false"
    )


def _region_point(placement: Placement, rng: np.random.Generator) -> np.ndarray:
    if placement.region == "box":
        return rng.uniform(placement.min, placement.max)
    radius = placement.radius * math.sqrt(rng.uniform())
    angle = rng.uniform(0, 2 * math.pi)
    offset = np.array([radius * math.cos(angle), radius * math.sin(angle), 0.0])
    return np.asarray(placement.center, dtype=float) + offset
