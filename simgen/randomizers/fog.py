"""fog: volumetric fog or haze, scattered by Cycles from the scene's own lights.

fog:
  density: {loguniform: [0.03, 0.4]}        # extinction per meter: visibility ≈ 3.9 / density meters
  color: [0.85, 0.88, 0.92]                 # scattering albedo: white fog, bluish haze, brown smog
  anisotropy: {uniform: [0.0, 0.7]}         # Henyey-Greenstein g: > 0 glows around lights seen through it
  size: [30, 30, 10]                        # the fog box (meters), centered on `center`

A box of homogeneous scattering medium (Cycles' Volume Scatter, Henyey-Greenstein phase) around the
scene, so lights inside it and the sky outside it behave physically. Not Blender's world volume: that
fills all of space, so sky and sun lights end up black (measured: mean pixel 0 at density 0.05).

Labels are unaffected: a camera ray that scatters in the fog never reaches the surface behind it (at
density 0.05 that moved 3 % of a test scene's object-index pixels), so the back-end takes the instance,
depth and normal maps from a 1-sample render of the same frame with the fog switched off. An object
lost in thick fog is still labelled where it is, as in Foggy Cityscapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field

from simgen.config.base import StrictModel
from simgen.config.distributions import ColorValue, FloatValue, Vec3Value, nonnegative, positive, ranged
from simgen.randomizers.base import FrameDraw, Randomizer
from simgen.spec import Vec3

if TYPE_CHECKING:
    from simgen.spec import FrameSpec


class Fog(StrictModel):
    """Volumetric fog: a box of homogeneous scattering medium around the scene (Cycles volume)."""

    density: nonnegative(FloatValue) = Field(
        0.1, description="Extinction per meter; visibility is about 3.9 / density m."
    )
    color: ColorValue = Field((0.85, 0.88, 0.92), description="Scattering color (albedo) of the medium.")
    anisotropy: ranged(FloatValue, -1, 1, open_low=True, open_high=True) = Field(
        0.0, description="Henyey-Greenstein g in (-1, 1): 0 scatters evenly, > 0 forward (glow round lights)."
    )
    center: Vec3Value = Field((0.0, 0.0, 0.0), description="Center of the fog box, meters.")
    size: positive(Vec3Value) = Field(
        (30.0, 30.0, 10.0), description="Extent of the fog box along x, y, z, meters."
    )


class FogSections(StrictModel):
    fog: Fog | None = None


@dataclass
class FogSpec:
    density: float
    color: Vec3
    anisotropy: float
    center: Vec3
    size: Vec3


class FogRandomizer(Randomizer):
    name = "fog"
    summary = "volumetric fog or haze around the scene: density, scattering color, anisotropy (glow), extent"
    config_keys = "`fog:`"
    demo = "scenes/demos/fog.yaml"
    SECTIONS = FogSections
    off_mode = "remove"

    def sample(self, draw: FrameDraw) -> None:
        fog, s = draw.config.fog, draw.streams
        if fog is None:
            return
        draw.parts[self.name] = FogSpec(
            density=s.float("fog.density", fog.density),
            color=s.color("fog.color", fog.color),
            anisotropy=s.float("fog.anisotropy", fog.anisotropy),
            center=s.vec3("fog.center", fog.center),
            size=s.vec3("fog.size", fog.size),
        )

    def blender_hook(self, ctx: Any) -> FogHook:
        return FogHook(ctx)


class FogHook:
    """A unit cube with a Volume Scatter material, scaled to the fog box; hidden when there is no fog."""

    moves_objects = False
    image_only = True  # labels come from a render without it (see the module docstring)

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.box: Any = None

    def active(self, spec: FrameSpec) -> bool:
        return spec.part("fog") is not None

    def apply(self, spec: FrameSpec) -> None:
        fog: FogSpec | None = spec.part("fog")
        if fog is None:
            if self.box is not None:
                self.box.hide_render = True
            return
        box = self.box or self._build()
        box.hide_render = False
        box.location = fog.center
        box.scale = fog.size
        scatter = box.active_material.node_tree.nodes["scatter"]
        scatter.inputs["Density"].default_value = fog.density
        scatter.inputs["Color"].default_value = (*fog.color, 1.0)
        scatter.inputs["Anisotropy"].default_value = fog.anisotropy

    def set_enabled(self, spec: FrameSpec, enabled: bool) -> None:
        if self.box is not None:
            self.box.hide_render = not enabled

    def _build(self) -> Any:
        import bmesh  # the back-end has loaded Blender by now

        data = self.ctx.bpy.data
        mesh = data.meshes.new("fog")
        bm = bmesh.new()
        bmesh.ops.create_cube(bm, size=1.0)
        bm.to_mesh(mesh)
        bm.free()
        material = data.materials.new("fog")
        nodes, links = material.node_tree.nodes, material.node_tree.links
        nodes.clear()
        scatter = nodes.new("ShaderNodeVolumeScatter")
        scatter.name = "scatter"
        output = nodes.new("ShaderNodeOutputMaterial")
        links.new(scatter.outputs["Volume"], output.inputs["Volume"])
        mesh.materials.append(material)
        self.box = data.objects.new("fog", mesh)
        self.box.pass_index = 0  # never labelled
        self.ctx.scene.collection.objects.link(self.box)
        return self.box
