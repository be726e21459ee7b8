"""Schema of the procedural object generators (built by the Blender backend, no asset files needed).

objects:
  - generator: {type: die, bevel: 0.15, pip_color: '#ffffff'}
    category_rule: die_face_up          # category = the face pointing to world +Z
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from simgen.config.distributions import ColorValue, FloatValue


class _Generator(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class DieShape(_Generator):
    """A six-sided die: rounded cube (edge 1 before ``size``) with inlaid pips; opposite faces sum to 7.

    Layout: +Z shows 1, -Z 6, +X 2, -X 5, +Y 3, -Y 4.
    """

    type: Literal["die"]
    bevel: FloatValue = Field(0.12, description="Edge rounding radius, fraction of the edge length.")
    pip_radius: FloatValue = Field(0.085, description="Pip radius, fraction of the edge length.")
    pip_color: ColorValue = Field((0.02, 0.02, 0.02), description="Color of the pips.")
    pip_depth: FloatValue = Field(0.01, description="Dome height of the inlaid pips (fraction of the edge).")


class FruitShape(_Generator):
    """A deformed ellipsoid for fruits and nuts: dates, figs, hazelnuts, olives...

    Largest extent 1 before ``size``; ``wrinkles`` displaces the skin with 3D noise (drawn per instance).
    """

    type: Literal["fruit"]
    elongation: FloatValue = Field(1.0, description="Length / width (>= 1 stretches along X).")
    flatten: FloatValue = Field(1.0, description="Height / width.")
    taper: FloatValue = Field(0.0, description="Pear shape: one end narrower (0 = symmetric, 0.6 = fig).")
    tip: FloatValue = Field(0.0, description="Pointed end (hazelnut-like), 0..1.")
    wrinkles: FloatValue = Field(0.0, description="Skin displacement amplitude, fraction of the size.")
    wrinkle_scale: FloatValue = Field(6.0, description="Spatial frequency of the wrinkles.")
    stem: FloatValue = Field(0.0, description="Stem length, fraction of the size (0 = none).")


class TrafficConeShape(_Generator):
    """A traffic cone on a square base (1 m tall before ``size``) with a reflective stripe."""

    type: Literal["traffic_cone"]
    stripe_color: ColorValue = (0.9, 0.9, 0.9)
    top_radius: FloatValue = 0.05
    bottom_radius: FloatValue = 0.3


class InflatableCubeShape(_Generator):
    """A cube puffed up like an inflated cushion (``puff`` 0 = cube, 1 = nearly a sphere)."""

    type: Literal["inflatable_cube"]
    puff: FloatValue = 0.3


Generator = Annotated[
    DieShape | FruitShape | TrafficConeShape | InflatableCubeShape, Field(discriminator="type")
]

GEOMETRY_PARAMS = {
    "die": ("bevel", "pip_radius", "pip_depth"),
    "fruit": ("elongation", "flatten", "taper", "tip", "wrinkles", "wrinkle_scale", "stem", "seed"),
    "traffic_cone": ("top_radius", "bottom_radius"),
    "inflatable_cube": ("puff",),
}
"""Parameters that change a generator's mesh (the rest, e.g. colors, only change materials)."""
