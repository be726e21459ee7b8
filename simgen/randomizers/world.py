"""world: the environment seen behind the objects and lighting them, and an optional backplate.

world:
  type: {choice: [color, gradient, sky, image]}
  color: {hsv: [{uniform: [0, 1]}, {uniform: [0, 0.5]}, {uniform: [0.1, 0.9]}]}
  images: ../assets/environments       # an HDR chosen per image (type image)
  backplate: ../assets/backplates      # a photo behind the objects, seen by the camera only
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from simgen.config.base import StrictModel
from simgen.config.distributions import (
    Choice,
    ColorValue,
    FloatValue,
    freeze,
    literal_choice,
    nonnegative,
    ranged,
)
from simgen.config.files import first_image, list_images
from simgen.randomizers.base import FrameDraw, Randomizer, revalidate
from simgen.spec import SkySpec, WorldSpec

if TYPE_CHECKING:
    from simgen.config.schema import SceneConfig
    from simgen.spec import FrameSpec

WORLD_TYPES = ("color", "gradient", "sky", "image")


class Sky(StrictModel):
    """Blender's physical sky texture (multiple scattering)."""

    sun_elevation: ranged(FloatValue, -90, 90) = Field(30.0, description="Degrees.")
    sun_rotation: FloatValue = Field(0.0, description="Degrees about +Z.")
    sun_intensity: nonnegative(FloatValue) = 1.0
    sun_size: ranged(FloatValue, 0, 90, open_low=True) = Field(
        0.545, description="Angular diameter in degrees."
    )
    air_density: nonnegative(FloatValue) = 1.0
    aerosol_density: nonnegative(FloatValue) = 1.0


class World(StrictModel):
    """The environment seen behind objects and lighting them.

    type: color (uniform), gradient (``color`` at the horizon to ``zenith_color`` overhead), sky
    (Blender's sky texture), image (an equirectangular HDR/EXR/PNG/JPG chosen per image from ``images``).
    ``backplate``: a flat photo shown behind the objects to the camera only (lighting still comes from
    ``type``), chosen per image from a file or folder.
    """

    type: literal_choice(*WORLD_TYPES) = "color"  # type: ignore[valid-type]
    color: ColorValue = (0.05, 0.05, 0.05)
    zenith_color: ColorValue = (0.15, 0.3, 0.7)
    strength: nonnegative(FloatValue) = 1.0
    sky: Sky = Field(default_factory=Sky)
    images: str | None = Field(None, description="Equirectangular image file or folder (type: image).")
    rotation: FloatValue = Field(0.0, description="Environment rotation about +Z, degrees.")
    backplate: str | None = Field(None, description="Image file or folder shown behind objects.")

    @model_validator(mode="after")
    def _images_for_image_type(self) -> World:
        types = self.type.choice if isinstance(self.type, Choice) else [self.type]
        if "image" in types and not self.images:
            raise ValueError("type image needs images: a file or folder of equirectangular images")
        return self


class WorldSections(StrictModel):
    world: World = Field(default_factory=World)


def choose_file(s: Any, path: str, folder: str | None) -> str | None:
    """One image of a file or folder, chosen per image by its own stream (None without a folder)."""
    if folder is None:
        return None
    files = list_images(folder)
    return str(files[s.index_of(path, len(files))])


class WorldRandomizer(Randomizer):
    name = "world"
    summary = (
        "`type`: color / gradient / Blender sky / equirectangular HDR chosen from a folder; strength, "
        "rotation, sun position; `backplate:` a flat photo behind the objects"
    )
    config_keys = "`world:`"
    demo = "scenes/demos/world.yaml"
    SECTIONS = WorldSections

    def sample(self, draw: FrameDraw) -> None:
        w, s = draw.config.world, draw.streams
        world_type = str(s.value("world.type", w.type))
        sky = None
        if world_type == "sky":
            sky = SkySpec(**{name: s.float(f"world.sky.{name}", value) for name, value in w.sky})
        draw.world = WorldSpec(
            type=world_type,
            color=s.color("world.color", w.color),
            zenith_color=s.color("world.zenith_color", w.zenith_color),
            strength=s.float("world.strength", w.strength),
            sky=sky,
            image=choose_file(s, "world.images", w.images) if world_type == "image" else None,
            rotation_deg=s.float("world.rotation", w.rotation),
            backplate=choose_file(s, "world.backplate", w.backplate),
        )

    def off(self, config: SceneConfig) -> SceneConfig:
        """Every distribution in world: at its center, an image folder at its first image."""
        world = freeze(config.world).model_copy(
            update={
                "images": first_image(config.world.images),
                "backplate": first_image(config.world.backplate),
            }
        )
        return revalidate(config.model_copy(update={"world": world}), "without world")

    def blender_hook(self, ctx: Any) -> WorldHook:
        return WorldHook(ctx)


class WorldHook:
    """The scene's world shader; its node graph is rebuilt only when the world type or backplate changes."""

    moves_objects = False

    def __init__(self, ctx: Any) -> None:
        # Blender 5 creates the Background and Output nodes itself (World.use_nodes is deprecated)
        self.world = ctx.bpy.data.worlds.new("world")
        ctx.scene.world = self.world
        self.ctx = ctx
        self.key: tuple[str, bool] | None = None

    def apply(self, spec: FrameSpec) -> None:
        key = (spec.world.type, spec.world.backplate is not None)
        if key != self.key:
            build_world_nodes(self.world, *key)
            self.key = key
        self._set(spec.world)

    def _set(self, spec: WorldSpec) -> None:
        nodes = self.world.node_tree.nodes
        background = nodes["background"]
        background.inputs["Color"].default_value = (*spec.color, 1.0)
        background.inputs["Strength"].default_value = spec.strength
        if spec.type == "gradient":
            nodes["gradient"].inputs["A"].default_value = (*spec.color, 1.0)
            nodes["gradient"].inputs["B"].default_value = (*spec.zenith_color, 1.0)
        elif spec.type == "sky" and spec.sky is not None:
            sky = nodes["sky"]
            sky.sun_elevation = math.radians(spec.sky.sun_elevation)
            sky.sun_rotation = math.radians(spec.sky.sun_rotation)
            sky.sun_intensity = spec.sky.sun_intensity
            sky.sun_size = math.radians(spec.sky.sun_size)
            sky.air_density = spec.sky.air_density
            sky.aerosol_density = spec.sky.aerosol_density
        elif spec.type == "image" and spec.image:
            nodes["environment"].image = self.ctx.load_image(spec.image)
            nodes["env_mapping"].inputs["Rotation"].default_value = (
                0.0,
                0.0,
                math.radians(spec.rotation_deg),
            )
        if spec.backplate:
            nodes["backplate"].image = self.ctx.load_image(spec.backplate)


def build_world_nodes(world: Any, world_type: str, backplate: bool) -> None:
    """(Re)build the world graph for a world type; a backplate is shown to camera rays only."""
    nodes, links = world.node_tree.nodes, world.node_tree.links
    nodes.clear()
    output = nodes.new("ShaderNodeOutputWorld")
    output.name = "output"
    background = nodes.new("ShaderNodeBackground")
    background.name = "background"
    coords = nodes.new("ShaderNodeTexCoord")
    if world_type == "gradient":
        split = nodes.new("ShaderNodeSeparateXYZ")
        mix = nodes.new("ShaderNodeMix")
        mix.name, mix.data_type = "gradient", "RGBA"
        mix.clamp_factor = True
        links.new(coords.outputs["Generated"], split.inputs["Vector"])
        links.new(split.outputs["Z"], mix.inputs["Factor"])
        links.new(mix.outputs["Result"], background.inputs["Color"])
    elif world_type == "sky":
        sky = nodes.new("ShaderNodeTexSky")
        sky.name = "sky"
        sky.sky_type = "MULTIPLE_SCATTERING"
        links.new(sky.outputs["Color"], background.inputs["Color"])
    elif world_type == "image":
        mapping = nodes.new("ShaderNodeMapping")
        mapping.name = "env_mapping"
        env = nodes.new("ShaderNodeTexEnvironment")
        env.name = "environment"
        links.new(coords.outputs["Generated"], mapping.inputs["Vector"])
        links.new(mapping.outputs["Vector"], env.inputs["Vector"])
        links.new(env.outputs["Color"], background.inputs["Color"])
    if not backplate:
        links.new(background.outputs["Background"], output.inputs["Surface"])
        return
    plate = nodes.new("ShaderNodeTexImage")
    plate.name = "backplate"
    plate.extension = "EXTEND"
    plate_emit = nodes.new("ShaderNodeBackground")
    path = nodes.new("ShaderNodeLightPath")
    mix = nodes.new("ShaderNodeMixShader")
    links.new(coords.outputs["Window"], plate.inputs["Vector"])
    links.new(plate.outputs["Color"], plate_emit.inputs["Color"])
    links.new(path.outputs["Is Camera Ray"], mix.inputs["Fac"])
    links.new(background.outputs["Background"], mix.inputs[1])
    links.new(plate_emit.outputs["Background"], mix.inputs[2])
    links.new(mix.outputs["Shader"], output.inputs["Surface"])
