"""``traffic_cone``: a traffic cone on a square base with a reflective stripe.

objects:
  - generator: {type: traffic_cone, stripe_color: [0.9, 0.9, 0.9]}
    material: {base_color: '#ff6600'}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from simgen.config.distributions import ColorValue, FloatValue, ranged
from simgen.generators.base import DrawnParams, Generator, GeneratorParams, normalized_bounds
from simgen.spec import Bounds, Vec3

if TYPE_CHECKING:
    import bmesh

BASE_SIDE, BASE_HEIGHT, CONE_HEIGHT = 0.8, 0.04, 0.95  # before the back-end scales the largest extent to 1


class TrafficConeParams(GeneratorParams):
    """A traffic cone on a square base (1 m tall before ``size``) with a reflective stripe."""

    type: Literal["traffic_cone"]
    stripe_color: ColorValue = (0.9, 0.9, 0.9)
    top_radius: ranged(FloatValue, 0, 0.5) = 0.05
    bottom_radius: ranged(FloatValue, 0, 0.5, open_low=True) = 0.3


@dataclass
class DrawnTrafficCone(DrawnParams):
    stripe_color: Vec3
    top_radius: float
    bottom_radius: float


class TrafficCone(Generator):
    name = "traffic_cone"
    summary = "cone on a square base with a stripe: `top_radius`, `bottom_radius`, `stripe_color`"
    Params = TrafficConeParams
    Drawn = DrawnTrafficCone
    material_slots = ("body", "stripe")
    slot_colors: ClassVar[dict[str, str]] = {"stripe": "stripe_color"}
    geometry_params = ("top_radius", "bottom_radius")

    def local_bounds(self, drawn: DrawnTrafficCone) -> Bounds:
        """The base (0.8 square) or the cone's widest ring, whichever is wider; 0.99 tall."""
        width = max(BASE_SIDE, 2 * drawn.bottom_radius, 2 * drawn.top_radius)
        return normalized_bounds((width, width, BASE_HEIGHT + CONE_HEIGHT))

    def build(self, bm: bmesh.types.BMesh, drawn: DrawnTrafficCone) -> None:
        import bmesh
        from mathutils import Matrix

        stripe = self.slot("stripe")
        bmesh.ops.create_cube(bm, size=1.0, matrix=Matrix.Diagonal((BASE_SIDE, BASE_SIDE, BASE_HEIGHT, 1.0)))
        bmesh.ops.create_cone(
            bm,
            cap_ends=True,
            segments=32,
            radius1=drawn.bottom_radius,
            radius2=drawn.top_radius,
            depth=CONE_HEIGHT,
            matrix=Matrix.Translation((0, 0, BASE_HEIGHT / 2 + CONE_HEIGHT / 2)),
        )
        for face in bm.faces:
            z = face.calc_center_median().z
            face.material_index = stripe if 0.45 < z < 0.65 else 0
            face.smooth = abs(face.normal.z) < 0.9
        bmesh.ops.subdivide_edges(
            bm, edges=[e for e in bm.edges if abs(e.verts[0].co.z - e.verts[1].co.z) > 0.5], cuts=8
        )
        for face in bm.faces:
            z = face.calc_center_median().z
            if abs(face.normal.z) < 0.9:
                face.material_index = stripe if 0.5 < z < 0.68 else 0
