"""The typed scene-config schema (pydantic). Unknown keys are errors everywhere.

A ``SceneConfig`` still holds distributions; ``simgen.sampling`` turns it into one concrete ``FrameSpec``
per image. Units: meters, degrees, watts (point/spot/area) or W/m² (sun), colors as linear RGB in [0, 1].
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simgen.config.distributions import FloatValue, IntValue, Vec3Value, literal_choice

PRIMITIVES = ("cube", "sphere", "ico_sphere", "cylinder", "cone", "torus", "plane")
MESH_SUFFIXES = (".obj", ".ply", ".stl", ".gltf", ".glb")
TEXTURES = ("noise", "checker", "voronoi", "wave", "brick", "magic", "gradient")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class SceneSection(StrictModel):
    """What the dataset is called and how big it is."""

    name: str = "scene"
    seed: int = Field(0, ge=0, description="Dataset seed: image i depends only on (seed, i).")
    num_images: int = Field(10, ge=1, description="Number of images to render.")


class RenderSection(StrictModel):
    """Cycles settings; shared by every image of the dataset."""

    engine: Literal["cycles"] = "cycles"
    resolution: tuple[int, int] = Field((320, 240), description="Width, height in pixels.")
    samples: int = Field(16, ge=1, description="Cycles samples per pixel.")
    max_bounces: int = Field(4, ge=0, le=64)
    denoise: bool = Field(True, description="OpenImageDenoise on the final image (labels are unaffected).")
    device: Literal["auto", "cpu", "gpu"] = Field(
        "auto", description="auto: GPU (OptiX, then CUDA, HIP, oneAPI, Metal) when present, else CPU."
    )
    threads: int = Field(0, ge=0, description="CPU render threads per worker; 0 = all cores.")
    view_transform: Literal["AgX", "Standard", "Filmic", "Khronos PBR Neutral"] = Field(
        "AgX", description="Blender color management view transform for the 8-bit image."
    )
    image_format: Literal["png", "jpg"] = "png"
    jpeg_quality: int = Field(95, ge=1, le=100)

    @field_validator("resolution")
    @classmethod
    def _resolution_positive(cls, value: tuple[int, int]) -> tuple[int, int]:
        if min(value) < 8 or max(value) > 16384:
            raise ValueError(f"each side must be in [8, 16384] pixels, found {list(value)}")
        return value


class CameraSection(StrictModel):
    """A pinhole camera at ``location`` looking at ``look_at``; ``focal_length`` (mm) or ``fov`` (deg)."""

    location: Vec3Value = (0.0, -4.0, 3.0)
    look_at: Vec3Value = (0.0, 0.0, 0.0)
    roll: FloatValue = Field(0.0, description="Rotation about the viewing axis, degrees.")
    focal_length: FloatValue | None = Field(None, description="mm, with sensor_width; default 35 mm.")
    fov: FloatValue | None = Field(None, description="Horizontal field of view in degrees.")
    sensor_width: float = Field(36.0, gt=0, description="mm (horizontal sensor fit).")
    clip_start: float = Field(0.01, gt=0)
    clip_end: float = Field(1000.0, gt=0)

    @model_validator(mode="after")
    def _one_lens(self) -> CameraSection:
        if self.focal_length is not None and self.fov is not None:
            raise ValueError("give either focal_length or fov, not both")
        return self


class Light(StrictModel):
    """A Blender light. Point/spot/area power in watts; sun strength in W/m²."""

    type: literal_choice("point", "sun", "spot", "area") = "point"  # type: ignore[valid-type]
    location: Vec3Value = (2.0, -2.0, 4.0)
    look_at: Vec3Value = Field((0.0, 0.0, 0.0), description="Where sun, spot and area lights point.")
    power: FloatValue = 500.0
    color: Vec3Value = (1.0, 1.0, 1.0)
    radius: FloatValue = Field(
        0.1, description="Soft-shadow size: point/spot radius, area side, sun angle (deg)."
    )
    spot_size: FloatValue = Field(45.0, description="Spot cone angle, degrees.")


class World(StrictModel):
    """The environment seen behind objects and lighting them."""

    color: Vec3Value = (0.05, 0.05, 0.05)
    strength: FloatValue = 1.0


class Texture(StrictModel):
    """A procedural texture that blends the base color with ``color`` (Blender shader nodes)."""

    type: literal_choice(*TEXTURES)  # type: ignore[valid-type]
    color: Vec3Value = Field((0.1, 0.1, 0.1), description="Second color, mixed in by the texture pattern.")
    scale: FloatValue = 5.0
    distortion: FloatValue = 0.0
    bump: FloatValue = Field(0.0, description="Bump strength from the same pattern (0 = flat).")


class Material(StrictModel):
    """Principled BSDF parameters; ``emission`` > 0 makes the surface glow in its base color."""

    base_color: Vec3Value = (0.8, 0.8, 0.8)
    roughness: FloatValue = 0.5
    metallic: FloatValue = 0.0
    emission: FloatValue = Field(0.0, description="Emission strength in the base color.")
    texture: Texture | None = None


class SceneObject(StrictModel):
    """A primitive (``shape``) or a mesh file (``mesh``), placed and shaded; labelled if it has a category."""

    name: str | None = None
    category: str | None = Field(None, description="Category name; objects without one are not labelled.")
    shape: literal_choice(*PRIMITIVES) | None = None  # type: ignore[valid-type]
    mesh: str | None = Field(None, description="Path to OBJ/PLY/STL/glTF/GLB, relative to the config file.")
    count: IntValue = Field(1, description="Number of instances; each samples its own parameters.")
    size: FloatValue | None = Field(
        None,
        description="Largest extent in meters (primitives default 1: cube edge, sphere diameter); "
        "meshes keep their own units when unset.",
    )
    location: Vec3Value = (0.0, 0.0, 0.0)
    rotation: Vec3Value = Field((0.0, 0.0, 0.0), description="XYZ Euler angles in degrees.")
    scale: Vec3Value = (1.0, 1.0, 1.0)
    material: Material = Field(default_factory=Material)

    @model_validator(mode="after")
    def _shape_xor_mesh(self) -> SceneObject:
        if (self.shape is None) == (self.mesh is None):
            raise ValueError("give exactly one of shape (a primitive) or mesh (a file path)")
        if self.mesh is not None and not self.mesh.lower().endswith(MESH_SUFFIXES):
            raise ValueError(f"mesh must end in one of {list(MESH_SUFFIXES)}, found {self.mesh!r}")
        return self


class LabelPolicy(StrictModel):
    """Which instances become annotations."""

    min_visible_pixels: int = Field(1, ge=1, description="Drop instances with fewer visible pixels.")


class Outputs(StrictModel):
    """Which per-pixel maps are written next to the RGB image."""

    instances: bool = Field(True, description="16-bit PNG instance-id map (0 = background).")
    semantic: bool = Field(True, description="16-bit PNG category-id map (0 = background).")
    depth: bool = Field(True, description="float32 EXR, meters along the optical axis (0 = background).")
    normals: bool = Field(False, description="float32 EXR, world-space surface normals.")


class SceneConfig(StrictModel):
    """A whole scene: the root of a YAML config."""

    scene: SceneSection = Field(default_factory=SceneSection)
    render: RenderSection = Field(default_factory=RenderSection)
    camera: CameraSection = Field(default_factory=CameraSection)
    lights: list[Light] = Field(default_factory=lambda: [Light()])
    world: World = Field(default_factory=World)
    categories: list[str] | None = Field(
        None, description="Fixed category list (ids 1..N in this order); default: order of first use."
    )
    objects: list[SceneObject] = Field(min_length=1)
    labels: LabelPolicy = Field(default_factory=LabelPolicy)
    outputs: Outputs = Field(default_factory=Outputs)

    @model_validator(mode="after")
    def _categories_known(self) -> SceneConfig:
        if self.categories is not None:
            if len(set(self.categories)) != len(self.categories):
                raise ValueError(f"categories has duplicates: {self.categories}")
            unknown = sorted({o.category for o in self.objects if o.category} - set(self.categories))
            if unknown:
                raise ValueError(f"objects use categories not listed in categories: {unknown}")
        return self

    def category_names(self) -> list[str]:
        """Category names in id order (id = position + 1)."""
        if self.categories is not None:
            return list(self.categories)
        names: list[str] = []
        for obj in self.objects:
            if obj.category and obj.category not in names:
                names.append(obj.category)
        return names
