"""``die``: a six-sided die with inlaid pips, and the ``die_face_up`` label rule that reads it.

objects:
  - generator: {type: die, bevel: 0.15, pip_color: '#ffffff'}
    category_rule: die_face_up          # category = the face pointing to world +Z, after physics

Layout: +Z shows 1, -Z 6, +X 2, -X 5, +Y 3, -Y 4 (opposite faces sum to 7). The builder and the rule read
the same ``FACE_BY_AXIS``, so the label always names the face that the mesh shows on top.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from simgen.config.distributions import ColorValue, FloatValue, ranged
from simgen.generators.base import DrawnParams, Generator, GeneratorParams, LabelRule
from simgen.spec import Vec3, euler_xyz_to_matrix

if TYPE_CHECKING:
    import bmesh

FACE_BY_AXIS = {(2, 1): 1, (2, -1): 6, (0, 1): 2, (0, -1): 5, (1, 1): 3, (1, -1): 4}
"""(normal axis, sign) of a face in the die's own frame → its pip count."""
FACE_NAMES = ("one", "two", "three", "four", "five", "six")
PIP_LAYOUT = {  # pip centers in face coordinates (u, v) ∈ [-1, 1]², scaled by the usable half-width
    1: [(0, 0)],
    2: [(-1, -1), (1, 1)],
    3: [(-1, -1), (0, 0), (1, 1)],
    4: [(-1, -1), (-1, 1), (1, -1), (1, 1)],
    5: [(-1, -1), (-1, 1), (0, 0), (1, -1), (1, 1)],
    6: [(-1, -1), (-1, 0), (-1, 1), (1, -1), (1, 0), (1, 1)],
}


class DieParams(GeneratorParams):
    """A six-sided die: rounded cube (edge 1 before ``size``) with inlaid pips; opposite faces sum to 7.

    Layout: +Z shows 1, -Z 6, +X 2, -X 5, +Y 3, -Y 4.
    """

    type: Literal["die"]
    bevel: ranged(FloatValue, 0, 0.45) = Field(
        0.12, description="Edge rounding radius, fraction of the edge."
    )
    pip_radius: ranged(FloatValue, 0, 0.2, open_low=True) = Field(
        0.085, description="Pip radius, fraction of the edge."
    )
    pip_color: ColorValue = Field((0.02, 0.02, 0.02), description="Color of the pips.")
    pip_depth: ranged(FloatValue, 0, 0.2) = Field(
        0.01, description="Dome height of the pips, fraction of the edge."
    )


@dataclass
class DrawnDie(DrawnParams):
    bevel: float
    pip_radius: float
    pip_color: Vec3
    pip_depth: float


def die_face_up(rotation_deg: tuple[float, float, float]) -> int:
    """The pip count on the face whose outward normal is closest to world +Z."""
    up_in_object = euler_xyz_to_matrix(rotation_deg).T @ np.array([0.0, 0.0, 1.0])
    axis = int(np.argmax(np.abs(up_in_object)))
    return FACE_BY_AXIS[(axis, 1 if up_in_object[axis] > 0 else -1)]


class Die(Generator):
    name = "die"
    summary = (
        "rounded cube with inlaid pips in the standard layout (opposite faces sum to 7): `bevel`, "
        "`pip_radius`, `pip_color`, `pip_depth`; body material (incl. `transmission` for translucent dice)"
    )
    Params = DieParams
    Drawn = DrawnDie
    material_slots = ("body", "pips")
    slot_colors: ClassVar[dict[str, str]] = {"pips": "pip_color"}
    geometry_params = ("bevel", "pip_radius", "pip_depth")
    rule = LabelRule(
        name="die_face_up",
        generator="die",
        categories=FACE_NAMES,
        category_of=lambda rotation: FACE_NAMES[die_face_up(rotation) - 1],
        description="die_face_up → one..six, the face pointing to +Z",
    )

    def build(self, bm: bmesh.types.BMesh, drawn: DrawnDie) -> None:
        import bmesh

        bmesh.ops.create_cube(bm, size=1.0)
        bevel = min(max(drawn.bevel, 0.0), 0.45)
        if bevel > 0:
            bmesh.ops.bevel(bm, geom=list(bm.edges), offset=bevel, segments=4, affect="EDGES", profile=0.5)
        for face in bm.faces:
            face.smooth = True
        radius = drawn.pip_radius
        spacing = 0.5 - max(bevel, radius) - radius * 1.2
        template = _pip_template(radius, drawn.pip_depth)
        for (axis, sign), count in FACE_BY_AXIS.items():
            for u, v in PIP_LAYOUT[count]:
                _add_pip(bm, template, axis, sign, u * spacing, v * spacing, self.slot("pips"))


def _pip_template(radius: float, height: float) -> tuple[list[Any], list[tuple[int, ...]]]:
    """A shallow dome (x, y in the face plane, z = height above it), built once per die.

    The rim sits just above the face so the pip is never hidden inside the body (an inlay).
    """
    from mathutils import Vector

    segments, rings = 16, (0.5, 1.0)
    verts = [Vector((0.0, 0.0, 0.001 + height))]
    for rho in rings:
        for k in range(segments):
            a = 2 * math.pi * k / segments
            verts.append(
                Vector(
                    (rho * radius * math.cos(a), rho * radius * math.sin(a), 0.001 + height * (1 - rho**2))
                )
            )
    faces: list[tuple[int, ...]] = [(0, 1 + k, 1 + (k + 1) % segments) for k in range(segments)]
    for k in range(segments):
        k2 = (k + 1) % segments
        faces.append((1 + k, 1 + segments + k, 1 + segments + k2, 1 + k2))
    return verts, faces


def _add_pip(
    bm: bmesh.types.BMesh,
    template: tuple[list[Any], list[tuple[int, ...]]],
    axis: int,
    sign: int,
    u: float,
    v: float,
    material_index: int,
) -> None:
    """Place one pip on the face (axis, sign) at face coordinates (u, v)."""
    other = [a for a in range(3) if a != axis]
    new_verts = []
    for local in template[0]:
        co = [0.0, 0.0, 0.0]
        co[other[0]] = u + local.x
        co[other[1]] = v + local.y
        co[axis] = sign * (0.5 + local.z)
        new_verts.append(bm.verts.new(co))
    for face_indices in template[1]:
        face = bm.faces.new([new_verts[i] for i in (face_indices if sign > 0 else face_indices[::-1])])
        face.material_index = material_index
        face.smooth = True
