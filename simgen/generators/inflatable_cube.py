"""``inflatable_cube``: a cube puffed up like an inflated cushion.

objects:
  - generator: {type: inflatable_cube, puff: {uniform: [0.2, 0.5]}}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from simgen.config.distributions import FloatValue, ranged
from simgen.generators.base import DrawnParams, Generator, GeneratorParams

if TYPE_CHECKING:
    import bmesh


class InflatableCubeParams(GeneratorParams):
    """A cube puffed up like an inflated cushion (``puff`` 0 = cube, 1 = nearly a sphere)."""

    type: Literal["inflatable_cube"]
    puff: ranged(FloatValue, 0, 1) = Field(
        0.3, description="How far the faces bulge out: 0 a plain rounded cube, 1 a cushion-like ball."
    )


@dataclass
class DrawnInflatableCube(DrawnParams):
    puff: float


class InflatableCube(Generator):
    name = "inflatable_cube"
    summary = "puffed-up cube: `puff`"
    Params = InflatableCubeParams
    Drawn = DrawnInflatableCube
    geometry_params = ("puff",)

    def build(self, bm: bmesh.types.BMesh, drawn: DrawnInflatableCube) -> None:
        import bmesh

        bmesh.ops.create_cube(bm, size=1.0)
        bmesh.ops.subdivide_edges(bm, edges=list(bm.edges), cuts=12, use_grid_fill=True)
        puff = min(max(drawn.puff, 0.0), 1.0)
        for vert in bm.verts:
            direction = vert.co.normalized()
            vert.co = vert.co.lerp(direction * 0.5 * 1.1, puff * 0.6)
        for face in bm.faces:
            face.smooth = True
