"""lighting: fixed lights plus a rig of randomized lights on a shell around a target.

lights:
  - {type: area, location: [0, -2, 5], power: {loguniform: [400, 1500]}, radius: 2}
light_rig:
  count: {randint: [1, 3]}
  type: {choice: [area, point, spot, sun], weights: [4, 2, 2, 1]}
  color: {kelvin: {uniform: [2700, 7500]}}
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pydantic import Field

from simgen.config.base import StrictModel
from simgen.config.distributions import (
    ColorValue,
    FloatValue,
    IntValue,
    Vec3Value,
    literal_choice,
    nonnegative,
    positive,
    ranged,
)
from simgen.randomizers.base import FrameDraw, Randomizer
from simgen.randomizers.camera import shell_position
from simgen.spec import LightSpec, look_at_rotation

if TYPE_CHECKING:
    from simgen.spec import FrameSpec

LIGHT_TYPES = ("point", "sun", "spot", "area")
MAX_RIG_LIGHTS = 64


class Light(StrictModel):
    """A Blender light. Point/spot/area power in watts; sun strength in W/m²."""

    type: literal_choice(*LIGHT_TYPES) = "point"  # type: ignore[valid-type]
    location: Vec3Value = (2.0, -2.0, 4.0)
    look_at: Vec3Value = Field((0.0, 0.0, 0.0), description="Where sun, spot and area lights point.")
    power: nonnegative(FloatValue) = Field(500.0, description="Watts (point, spot, area) or W/m² (sun).")
    color: ColorValue = (1.0, 1.0, 1.0)
    radius: nonnegative(FloatValue) = Field(
        0.1, description="Soft-shadow size: point/spot radius, area side, sun angle (deg)."
    )
    spot_size: ranged(FloatValue, 0, 180, open_low=True) = Field(
        45.0, description="Spot cone angle, degrees."
    )


class LightRig(StrictModel):
    """Randomized lights on a shell around ``target`` (added to the fixed ``lights``)."""

    count: ranged(IntValue, 0, MAX_RIG_LIGHTS) = 1
    type: literal_choice(*LIGHT_TYPES) = "area"  # type: ignore[valid-type]
    power: nonnegative(FloatValue) = Field(500.0, description="Watts, for point, spot and area lights.")
    sun_strength: nonnegative(FloatValue) = Field(
        3.0,
        description="W/m², for sun lights: a sun's strength is irradiance, not watts, so a rig that mixes "
        "types draws it separately (a 500 W value on a sun would blow the image out).",
    )
    color: ColorValue = Field((1.0, 1.0, 1.0), description="e.g. {kelvin: {uniform: [2700, 7500]}}")
    radius: nonnegative(FloatValue) = 0.5
    spot_size: ranged(FloatValue, 0, 180, open_low=True) = 45.0
    target: Vec3Value = (0.0, 0.0, 0.0)
    distance: positive(FloatValue) = 5.0
    elevation: ranged(FloatValue, -90, 90) = Field(
        45.0, description="Degrees above the target's horizontal plane."
    )
    azimuth: FloatValue = Field({"uniform": [0.0, 360.0]}, description="Degrees.")


class LightingSections(StrictModel):
    lights: list[Light] = Field(default_factory=lambda: [Light()])
    light_rig: LightRig | None = None


class LightingRandomizer(Randomizer):
    name = "lighting"
    summary = (
        "number of lights, type (point/sun/spot/area), power, color temperature, position on a shell "
        "(distance, elevation, azimuth), softness"
    )
    config_keys = "`light_rig:` (plus fixed `lights:`)"
    demo = "scenes/demos/lighting.yaml"
    SECTIONS = LightingSections

    def sample(self, draw: FrameDraw) -> None:
        config, s = draw.config, draw.streams
        draw.lights = [_fixed_light(light, s, f"lights[{i}]") for i, light in enumerate(config.lights)]
        if config.light_rig is not None:
            rig = config.light_rig
            count = int(s.value("light_rig.count", rig.count))
            draw.lights += [_rig_light(rig, s, f"light_rig#{k}") for k in range(count)]

    def blender_hook(self, ctx: Any) -> LightsHook:
        return LightsHook(ctx)


def _fixed_light(light: Light, s: Any, p: str) -> LightSpec:
    return LightSpec(
        type=str(s.value(f"{p}.type", light.type)),
        location=s.vec3(f"{p}.location", light.location),
        look_at=s.vec3(f"{p}.look_at", light.look_at),
        power=s.float(f"{p}.power", light.power),
        color=s.color(f"{p}.color", light.color),
        radius=s.float(f"{p}.radius", light.radius),
        spot_size_deg=s.float(f"{p}.spot_size", light.spot_size),
    )


def _rig_light(rig: LightRig, s: Any, p: str) -> LightSpec:
    target = s.vec3(f"{p}.target", rig.target)
    light_type = str(s.value(f"{p}.type", rig.type))
    power = (
        s.float(f"{p}.sun_strength", rig.sun_strength)
        if light_type == "sun"
        else s.float(f"{p}.power", rig.power)
    )
    location = shell_position(
        target,
        s.float(f"{p}.distance", rig.distance),
        s.float(f"{p}.elevation", rig.elevation),
        s.float(f"{p}.azimuth", rig.azimuth),
    )
    return LightSpec(
        type=light_type,
        location=location,
        look_at=target,
        power=power,
        color=s.color(f"{p}.color", rig.color),
        radius=s.float(f"{p}.radius", rig.radius),
        spot_size_deg=s.float(f"{p}.spot_size", rig.spot_size),
    )


class LightsHook:
    """Blender lights matching ``spec.lights``; rebuilt only when the list of light types changes."""

    moves_objects = False

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.objects: list[Any] = []

    def apply(self, spec: FrameSpec) -> None:
        data = self.ctx.bpy.data
        if [light.type for light in spec.lights] != [obj.data.type.lower() for obj in self.objects]:
            for obj in self.objects:
                light_data = obj.data
                data.objects.remove(obj, do_unlink=True)
                data.lights.remove(light_data)
            self.objects = []
            for i, light in enumerate(spec.lights):
                obj = data.objects.new(f"light.{i}", data.lights.new(f"light.{i}", type=light.type.upper()))
                self.ctx.scene.collection.objects.link(obj)
                self.objects.append(obj)
        for obj, light in zip(self.objects, spec.lights, strict=True):
            self._set(obj, light)

    def _set(self, obj: Any, light: LightSpec) -> None:
        data = obj.data
        data.energy = light.power
        data.color = light.color
        if light.type == "sun":
            data.angle = math.radians(light.radius)
        elif light.type == "area":
            data.size = light.radius
        else:
            data.shadow_soft_size = light.radius
        if light.type == "spot":
            data.spot_size = math.radians(light.spot_size_deg)
        obj.matrix_world = self.ctx.pose_matrix(
            light.location, look_at_rotation(light.location, light.look_at)
        )
