"""``fruit``: a deformed ellipsoid for fruits and nuts (dates, figs, hazelnuts, olives...).

objects:
  - generator: {type: fruit, elongation: {uniform: [1.6, 2.2]}, wrinkles: 0.02}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from simgen.config.distributions import FloatValue, positive, ranged
from simgen.generators.base import DrawnParams, Generator, GeneratorParams, normalized_bounds
from simgen.spec import Bounds

if TYPE_CHECKING:
    import bmesh

STEM_RADIUS = 0.03
WRINKLE_NOISE_MAX = 1.5  # |noise(p) + 0.5 noise(2.3 p)|: Blender's Perlin noise stays within [-1, 1]


class FruitParams(GeneratorParams):
    """A deformed ellipsoid for fruits and nuts: dates, figs, hazelnuts, olives...

    Largest extent 1 before ``size``; ``wrinkles`` displaces the skin with 3D noise (drawn per instance).
    """

    type: Literal["fruit"]
    elongation: ranged(FloatValue, 0.2, 10) = Field(
        1.0, description="Length / width (>= 1 stretches along X)."
    )
    flatten: ranged(FloatValue, 0.1, 10) = Field(1.0, description="Height / width.")
    taper: ranged(FloatValue, 0, 0.95) = Field(0.0, description="Pear shape: one end narrower (0.6 = fig).")
    tip: ranged(FloatValue, 0, 1) = Field(0.0, description="Pointed end (hazelnut-like).")
    wrinkles: ranged(FloatValue, 0, 0.2) = Field(
        0.0, description="Skin displacement amplitude, fraction of the size."
    )
    wrinkle_scale: positive(FloatValue) = Field(6.0, description="Spatial frequency of the wrinkles.")
    stem: ranged(FloatValue, 0, 1) = Field(0.0, description="Stem length, fraction of the size (0 = none).")


@dataclass
class DrawnFruit(DrawnParams):
    elongation: float
    flatten: float
    taper: float
    tip: float
    wrinkles: float
    wrinkle_scale: float
    stem: float


class Fruit(Generator):
    name = "fruit"
    summary = (
        "deformed ellipsoid for fruits and nuts: `elongation`, `flatten`, `taper` (pear), `tip` (pointed), "
        "`wrinkles` + `wrinkle_scale` (noise displacement, per instance), `stem`"
    )
    Params = FruitParams
    Drawn = DrawnFruit
    geometry_params = ("elongation", "flatten", "taper", "tip", "wrinkles", "wrinkle_scale", "stem", "seed")

    def local_bounds(self, drawn: DrawnFruit) -> Bounds:
        """The deformed sphere's box (same vertices as ``build``), plus the wrinkles' largest push and
        the stem: a long date gets a long box, not a cube."""
        x, y, z = _deformed_sphere(drawn).T
        reach = WRINKLE_NOISE_MAX * drawn.wrinkles
        lo = np.array([x.min(), y.min(), z.min()]) - reach
        hi = np.array([x.max(), y.max(), z.max()]) + reach
        if drawn.stem > 0:
            hi[0] = max(hi[0], x.max() + 0.9 * drawn.stem)
            lo[1:], hi[1:] = np.minimum(lo[1:], -STEM_RADIUS), np.maximum(hi[1:], STEM_RADIUS)
        return normalized_bounds(hi - lo)

    def build(self, bm: bmesh.types.BMesh, drawn: DrawnFruit) -> None:
        import bmesh
        from mathutils import Vector, noise

        bmesh.ops.create_uvsphere(bm, u_segments=32, v_segments=16, radius=0.5)
        elongation = max(drawn.elongation, 0.2)
        flatten = max(drawn.flatten, 0.1)
        offset = Vector(((drawn.seed % 997) * 0.37, (drawn.seed % 991) * 0.53, (drawn.seed % 983) * 0.71))
        for vert in bm.verts:
            x, y, z = vert.co
            width = _width(x / 0.5, drawn)
            vert.co = Vector((x * elongation, y * width, z * width * flatten))
        bm.normal_update()
        if drawn.wrinkles > 0:
            scale = drawn.wrinkle_scale
            for vert in bm.verts:
                n = noise.noise(vert.co * scale + offset) + 0.5 * noise.noise(vert.co * scale * 2.3 + offset)
                vert.co += vert.normal * drawn.wrinkles * n
        if drawn.stem > 0:
            tip_x = max(v.co.x for v in bm.verts)
            matrix = _matrix_along_x(Vector((tip_x + drawn.stem * 0.4, 0.0, 0.0)))
            bmesh.ops.create_cone(
                bm,
                cap_ends=True,
                segments=8,
                radius1=STEM_RADIUS,
                radius2=0.02,
                depth=drawn.stem,
                matrix=matrix,
            )
        for face in bm.faces:
            face.smooth = True


def _width(t: Any, drawn: DrawnFruit) -> Any:
    """Cross-section scale at ``t`` in [-1, 1] along the long axis: pear taper, then a pointed tip."""
    width = 1.0 - drawn.taper * (t + 1) / 2  # pear: narrower towards +X
    return width * (1.0 - drawn.tip * np.maximum(t, 0.0) ** 3)  # pointed end


def _deformed_sphere(drawn: DrawnFruit) -> np.ndarray:
    """The vertices ``build`` deforms (bmesh's 32 x 16 UV sphere: rings every 11.25°), deformed alike."""
    theta, phi = np.meshgrid(np.radians(np.arange(0, 181, 11.25)), np.radians(np.arange(0, 360, 11.25)))
    x = 0.5 * np.sin(theta) * np.cos(phi)
    y = 0.5 * np.sin(theta) * np.sin(phi)
    z = 0.5 * np.cos(theta)
    width = _width(x / 0.5, drawn)
    points = [x * max(drawn.elongation, 0.2), y * width, z * width * max(drawn.flatten, 0.1)]
    return np.stack([c.ravel() for c in points], axis=1)


def _matrix_along_x(location: Any) -> Any:
    from mathutils import Matrix

    return Matrix.Translation(location) @ Matrix.Rotation(math.pi / 2, 4, "Y")
