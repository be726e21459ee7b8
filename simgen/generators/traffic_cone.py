"""``traffic_cone``: a traffic cone on a square base with a reflective stripe.

objects:
  - generator: {type: traffic_cone, stripe_color: [0.9, 0.9, 0.9]}
    material: {base_color: '#ff6600'}

All lengths are in units of the cone's height (0.95 above a 0.04 base) before ``size`` scales the
largest extent: with ``size: 0.3`` a default cone is 0.3 m tall and its base 0.24 m wide. Real variants
are parameters: no base (``base_side: 0``), no stripe (``stripe_width: 0``), a hollow shell open at the
bottom as real cones are (``wall``, visible when one lies base-first), a squatter or slimmer cone (radii).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from simgen.config.distributions import ColorValue, FloatValue, ranged
from simgen.generators.base import DrawnParams, Generator, GeneratorParams, normalized_bounds
from simgen.spec import Bounds, Vec3

if TYPE_CHECKING:
    import bmesh

BASE_SIDE, BASE_HEIGHT, CONE_HEIGHT = 0.8, 0.04, 0.95  # before the back-end scales the largest extent to 1
STRIPE_CENTER = 0.59


class TrafficConeParams(GeneratorParams):
    """A traffic cone on a square base (about 1 unit tall before ``size``) with a reflective stripe.

    Lengths are in units of the cone's height before ``size``; ``size`` then sets the largest extent."""

    type: Literal["traffic_cone"]
    stripe_color: ColorValue = Field((0.9, 0.9, 0.9), description="Color of the reflective stripe.")
    top_radius: ranged(FloatValue, 0, 0.5) = Field(0.05, description="Radius at the tip (0: pointed).")
    bottom_radius: ranged(FloatValue, 0, 0.5, open_low=True) = Field(
        0.3, description="Radius where the cone meets the base (the base square's half side is 0.4)."
    )
    base_side: ranged(FloatValue, 0, 1.5) = Field(
        0.8, description="Side of the square base (0: no base, a bare cone)."
    )
    stripe_width: ranged(FloatValue, 0, 0.5) = Field(
        0.18, description="Height of the stripe band, centered 0.59 up the cone (0: no stripe)."
    )
    wall: ranged(FloatValue, 0, 0.1) = Field(
        0.0, description="Wall thickness of a hollow cone, open at the bottom (0: solid)."
    )


@dataclass
class DrawnTrafficCone(DrawnParams):
    stripe_color: Vec3
    top_radius: float
    bottom_radius: float
    base_side: float = BASE_SIDE
    stripe_width: float = 0.18
    wall: float = 0.0


class TrafficCone(Generator):
    name = "traffic_cone"
    summary = (
        "cone on a square base with a stripe: `top_radius`, `bottom_radius`, `base_side` (0: none), "
        "`stripe_width` (0: none), `stripe_color`, `wall` (hollow)"
    )
    Params = TrafficConeParams
    Drawn = DrawnTrafficCone
    material_slots = ("body", "stripe")
    slot_colors: ClassVar[dict[str, str]] = {"stripe": "stripe_color"}
    geometry_params = ("top_radius", "bottom_radius", "base_side", "stripe_width", "wall")

    def local_bounds(self, drawn: DrawnTrafficCone) -> Bounds:
        """The base square or the cone's widest ring, whichever is wider; 0.99 tall (0.95 without base)."""
        width = max(drawn.base_side, 2 * drawn.bottom_radius, 2 * drawn.top_radius)
        height = CONE_HEIGHT + (BASE_HEIGHT if drawn.base_side > 0 else 0.0)
        return normalized_bounds((width, width, height))

    def build(self, bm: bmesh.types.BMesh, drawn: DrawnTrafficCone) -> None:
        import bmesh
        from mathutils import Matrix

        stripe = self.slot("stripe")
        hollow = drawn.wall > 0
        bmesh.ops.create_cone(
            bm,
            cap_ends=not hollow,
            segments=32,
            radius1=drawn.bottom_radius,
            radius2=drawn.top_radius,
            depth=CONE_HEIGHT,
            matrix=Matrix.Translation((0, 0, BASE_HEIGHT / 2 + CONE_HEIGHT / 2)),
        )
        bmesh.ops.subdivide_edges(
            bm, edges=[e for e in bm.edges if abs(e.verts[0].co.z - e.verts[1].co.z) > 0.5], cuts=8
        )
        if hollow:  # a shell of the given thickness, open at both ends like a real (stackable) cone
            bmesh.ops.solidify(bm, geom=list(bm.faces), thickness=drawn.wall)  # only the cone exists yet
        if drawn.base_side > 0:
            side = drawn.base_side
            bmesh.ops.create_cube(bm, size=1.0, matrix=Matrix.Diagonal((side, side, BASE_HEIGHT, 1.0)))
        low, high = STRIPE_CENTER - drawn.stripe_width / 2, STRIPE_CENTER + drawn.stripe_width / 2
        for face in bm.faces:
            z = face.calc_center_median().z
            side_face = abs(face.normal.z) < 0.9
            face.smooth = side_face
            face.material_index = stripe if side_face and drawn.stripe_width > 0 and low < z < high else 0
