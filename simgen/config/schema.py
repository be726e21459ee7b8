"""The typed scene-config schema (pydantic). Unknown keys are errors everywhere.

A ``SceneConfig`` still holds distributions; ``simgen.sampling`` turns it into one concrete ``FrameSpec``
per image. Units: meters, degrees, watts (point/spot/area) or W/m² (sun), colors as linear RGB in [0, 1].
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from simgen.config.distributions import (
    Choice,
    ColorValue,
    FloatValue,
    IntValue,
    RotationValue,
    Vec3Value,
    _tag,
    literal_choice,
)
from simgen.config.generators import Generator

PRIMITIVES = ("cube", "sphere", "ico_sphere", "cylinder", "cone", "torus", "plane")
MESH_SUFFIXES = (".obj", ".ply", ".stl", ".gltf", ".glb")
TEXTURES = ("noise", "checker", "voronoi", "wave", "brick", "magic", "gradient", "image")
RULE_CATEGORIES = {"die_face_up": ["one", "two", "three", "four", "five", "six"]}
"""Categories a category_rule can produce."""
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".exr", ".hdr", ".tif", ".tiff")


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


class Orbit(StrictModel):
    """Camera placement on a sphere around ``target`` (replaces ``camera.location``).

    Azimuth 0° puts the camera on the -Y side looking towards +Y; elevation 90° looks straight down.
    """

    target: Vec3Value = (0.0, 0.0, 0.0)
    distance: FloatValue = 5.0
    elevation: FloatValue = Field(30.0, description="Degrees above the target's horizontal plane.")
    azimuth: FloatValue = Field(0.0, description="Degrees, counter-clockwise seen from above.")


class DepthOfField(StrictModel):
    """Thin-lens depth of field, focused on the look-at point unless ``focus_distance`` is given."""

    fstop: FloatValue = 2.8
    focus_distance: FloatValue | None = Field(None, description="Meters; default: distance to look_at.")


class CameraSection(StrictModel):
    """A pinhole camera at ``location`` (or on an ``orbit``) looking at ``look_at``.

    Lens: ``focal_length`` (mm) or ``fov`` (deg, horizontal).
    """

    location: Vec3Value = (0.0, -4.0, 3.0)
    orbit: Orbit | None = Field(None, description="Sample the position on a sphere around a target.")
    look_at: Vec3Value = Field((0.0, 0.0, 0.0), description="Ignored with orbit (orbit.target is used).")
    look_at_jitter: Vec3Value = Field((0.0, 0.0, 0.0), description="Offset added to the look-at point.")
    up: tuple[float, float, float] = Field(
        (0.0, 0.0, 1.0), description="World direction shown upwards in the image ([0, 1, 0]: top-down views)."
    )
    dof: DepthOfField | None = None
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
    color: ColorValue = (1.0, 1.0, 1.0)
    radius: FloatValue = Field(
        0.1, description="Soft-shadow size: point/spot radius, area side, sun angle (deg)."
    )
    spot_size: FloatValue = Field(45.0, description="Spot cone angle, degrees.")


class LightRig(StrictModel):
    """Randomized lights on a shell around ``target`` (added to the fixed ``lights``)."""

    count: IntValue = 1
    type: literal_choice("point", "sun", "spot", "area") = "area"  # type: ignore[valid-type]
    power: FloatValue = Field(500.0, description="Watts, for point, spot and area lights.")
    sun_strength: FloatValue = Field(
        3.0,
        description="W/m², for sun lights: a sun's strength is irradiance, not watts, so a rig that mixes "
        "types draws it separately (a 500 W value on a sun would blow the image out).",
    )
    color: ColorValue = Field((1.0, 1.0, 1.0), description="e.g. {kelvin: {uniform: [2700, 7500]}}")
    radius: FloatValue = 0.5
    spot_size: FloatValue = 45.0
    target: Vec3Value = (0.0, 0.0, 0.0)
    distance: FloatValue = 5.0
    elevation: FloatValue = Field(45.0, description="Degrees above the target's horizontal plane.")
    azimuth: FloatValue = Field({"uniform": [0.0, 360.0]}, description="Degrees.")


class Sky(StrictModel):
    """Blender's physical sky texture (multiple scattering)."""

    sun_elevation: FloatValue = Field(30.0, description="Degrees.")
    sun_rotation: FloatValue = Field(0.0, description="Degrees about +Z.")
    sun_intensity: FloatValue = 1.0
    sun_size: FloatValue = Field(0.545, description="Angular diameter in degrees.")
    air_density: FloatValue = 1.0
    aerosol_density: FloatValue = 1.0


class World(StrictModel):
    """The environment seen behind objects and lighting them.

    type: color (uniform), gradient (``color`` at the horizon to ``zenith_color`` overhead), sky
    (Blender's sky texture), image (an equirectangular HDR/EXR/PNG/JPG chosen per image from ``images``).
    ``backplate``: a flat photo shown behind the objects to the camera only (lighting still comes from
    ``type``), chosen per image from a file or folder.
    """

    type: literal_choice("color", "gradient", "sky", "image") = "color"  # type: ignore[valid-type]
    color: ColorValue = (0.05, 0.05, 0.05)
    zenith_color: ColorValue = (0.15, 0.3, 0.7)
    strength: FloatValue = 1.0
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


class Texture(StrictModel):
    """A procedural texture that blends the base color with ``color`` (Blender shader nodes)."""

    type: literal_choice(*TEXTURES)  # type: ignore[valid-type]
    color: ColorValue = Field((0.1, 0.1, 0.1), description="Second color, mixed in by the texture pattern.")
    scale: FloatValue = 5.0
    distortion: FloatValue = 0.0
    bump: FloatValue = Field(0.0, description="Bump strength from the same pattern (0 = flat).")
    images: str | None = Field(None, description="type image: an image file or a folder to choose from.")

    @model_validator(mode="after")
    def _images_for_image_type(self) -> Texture:
        types = self.type.choice if isinstance(self.type, Choice) else [self.type]
        if "image" in types and not self.images:
            raise ValueError("texture type image needs images: a file or folder of images")
        return self


class Material(StrictModel):
    """Principled BSDF parameters; ``emission`` > 0 makes the surface glow in its base color."""

    base_color: ColorValue = (0.8, 0.8, 0.8)
    roughness: FloatValue = 0.5
    metallic: FloatValue = 0.0
    emission: FloatValue = Field(0.0, description="Emission strength in the base color.")
    transmission: FloatValue = Field(0.0, description="0 opaque .. 1 glass-like (translucent dice, bottles).")
    texture: Texture | None = None


MaterialValue = Annotated[
    Union[Annotated[Material, Tag("const")], Annotated[Choice[Material], Tag("choice")]],  # noqa: UP007
    Discriminator(
        lambda v: "choice" if _tag(v) == "choice" else "const",
        custom_error_type="material",
        custom_error_message="expected a material mapping or a pool {choice: [material, ...]}",
    ),
]


class Placement(StrictModel):
    """Where instances go: uniformly in a box, or in a disc (on the plane z = center z).

    With ``rest_on`` the object's lowest point (after rotation) sits on the plane z = rest_on, and the
    region's z is ignored. Instances with ``avoid_overlap`` never overlap (oriented-box test, bounded
    retries, then a clear error).
    """

    region: Literal["box", "disc"] = "box"
    min: tuple[float, float, float] = (-1.0, -1.0, 0.0)
    max: tuple[float, float, float] = (1.0, 1.0, 0.0)
    center: tuple[float, float, float] = (0.0, 0.0, 0.0)
    radius: float = Field(1.0, gt=0)
    rest_on: float | None = Field(None, description="z of the supporting surface.")
    avoid_overlap: bool = True

    @model_validator(mode="after")
    def _ordered_box(self) -> Placement:
        if any(lo > hi for lo, hi in zip(self.min, self.max, strict=True)):
            raise ValueError(f"placement box needs min <= max per axis, found min {self.min} max {self.max}")
        return self


class SceneObject(StrictModel):
    """A primitive (``shape``) or a mesh file (``mesh``), placed and shaded; labelled if it has a category."""

    name: str | None = None
    category: str | None = Field(None, description="Category name; objects without one are not labelled.")
    shape: literal_choice(*PRIMITIVES) | None = None  # type: ignore[valid-type]
    mesh: str | None = Field(None, description="Path to OBJ/PLY/STL/glTF/GLB, relative to the config file.")
    generator: Generator | None = Field(None, description="A procedural object: die, fruit, traffic_cone...")
    category_rule: Literal["die_face_up"] | None = Field(
        None, description="Category from the final pose: die_face_up → one..six, the face pointing to +Z."
    )
    count: IntValue = Field(1, description="Number of instances; each samples its own parameters.")
    size: FloatValue | None = Field(
        None,
        description="Largest extent in meters (primitives default 1: cube edge, sphere diameter); "
        "meshes keep their own units when unset.",
    )
    location: Vec3Value = (0.0, 0.0, 0.0)
    placement: Placement | None = Field(None, description="Sample the location in a region.")
    rotation: RotationValue = Field(
        (0.0, 0.0, 0.0), description="XYZ Euler degrees, {yaw: ...} (upright) or so3 (uniformly random)."
    )
    scale: Vec3Value = (1.0, 1.0, 1.0)
    material: MaterialValue = Field(default_factory=Material)
    physics: Literal["auto", "active", "passive", "none"] = Field(
        "auto", description="Rigid-body role when physics is on; auto: active if placed, else passive."
    )

    @model_validator(mode="after")
    def _shape_xor_mesh(self) -> SceneObject:
        if sum(x is not None for x in (self.shape, self.mesh, self.generator)) != 1:
            raise ValueError("give exactly one of shape (a primitive), mesh (a file path) or generator")
        if self.category_rule is not None and self.category is not None:
            raise ValueError("give either category or category_rule, not both")
        if self.mesh is not None and not self.mesh.lower().endswith(MESH_SUFFIXES):
            raise ValueError(f"mesh must end in one of {list(MESH_SUFFIXES)}, found {self.mesh!r}")
        return self


class Distractors(StrictModel):
    """Unlabelled clutter: random shapes with random materials that occlude but are never annotated."""

    count: IntValue = 0
    shape: literal_choice(*PRIMITIVES) = Field(  # type: ignore[valid-type]
        {"choice": ["cube", "sphere", "ico_sphere", "cylinder", "cone", "torus"]}
    )
    meshes: list[str] = Field(default_factory=list, description="Mesh files used instead of shapes.")
    size: FloatValue = 0.3
    placement: Placement = Field(default_factory=Placement)
    rotation: RotationValue = "so3"
    material: MaterialValue = Field(
        default_factory=lambda: Material.model_validate(
            {
                "base_color": {"hsv": [{"uniform": [0, 1]}, {"uniform": [0.2, 1]}, {"uniform": [0.2, 1]}]},
                "roughness": {"uniform": [0.1, 1.0]},
                "texture": {
                    "type": {"choice": ["noise", "checker", "voronoi", "wave", "brick", "magic"]},
                    "color": {"uniform": [[0, 0, 0], [1, 1, 1]]},
                    "scale": {"loguniform": [1, 30]},
                },
            }
        )
    )


class Physics(StrictModel):
    """Let placed objects fall and settle with Blender's rigid-body simulation before rendering."""

    enabled: bool = True
    drop_height: float = Field(0.05, ge=0, description="Lift before the drop, meters.")
    frames: int = Field(80, ge=1, le=2000, description="Simulated frames at 24 fps (at least).")
    max_frames: int | None = Field(
        None,
        ge=1,
        le=10000,
        description="After `frames`, keep simulating, 10 frames at a time, while a falling object still "
        "tilts or drops, up to this many frames (default: no extension). Objects still moving at the end "
        "are counted in each image's record (spec.physics.still_moving).",
    )
    friction: float = Field(0.6, ge=0)
    bounciness: float = Field(0.1, ge=0, le=1)
    angular_damping: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Share of spin lost per second by falling objects (Blender's default 0.1). Bullet has "
        "no rolling friction, so round objects roll on and on; a soft support such as fabric stops "
        "them fast (0.5-0.9).",
    )
    substeps: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _max_after_min(self) -> Physics:
        if self.max_frames is not None and self.max_frames < self.frames:
            raise ValueError(f"max_frames ({self.max_frames}) must be at least frames ({self.frames})")
        return self


class PostEffects(StrictModel):
    """Camera/sensor effects on the rendered 8-bit image (labels stay pixel-aligned)."""

    noise: FloatValue = Field(0.0, description="Gaussian sensor noise std, in 8-bit levels.")
    blur: FloatValue = Field(0.0, description="Gaussian blur sigma, pixels.")
    jpeg_quality: IntValue | None = Field(None, description="Re-encode as JPEG at this quality (artifacts).")
    brightness: FloatValue = Field(0.0, description="Added to all channels, in [−1, 1] of full scale.")
    contrast: FloatValue = Field(1.0, description="Multiplies deviations from mid-gray.")
    saturation: FloatValue = 1.0
    hue_shift: FloatValue = Field(0.0, description="Degrees.")
    white_balance: Vec3Value = Field((1.0, 1.0, 1.0), description="Per-channel RGB gains.")
    vignette: FloatValue = Field(0.0, description="Corner darkening, 0 (none) to 1 (black corners).")
    auto_white_balance: FloatValue = Field(
        0.0,
        description="Gray-world auto white balance, as a phone camera does: 0 (off) to 1 (the image's "
        "mean color becomes neutral). Applied before white_balance, which then adds a residual cast.",
    )
    auto_exposure: FloatValue | None = Field(
        None,
        description="Auto exposure, as a phone camera does: scale the image in linear light so its "
        "median luminance becomes this 8-bit level (e.g. 180). None = off.",
    )


class Layout(StrictModel):
    """Placement search limits."""

    max_tries: int = Field(200, ge=1, description="Attempts per instance before placement fails.")
    gap: float = Field(0.0, ge=0, description="Minimum clearance between placed instances, meters.")


class LabelPolicy(StrictModel):
    """Which instances become annotations, mirroring a real dataset's annotation rules (docs/labels.md)."""

    min_visible_pixels: int = Field(
        1, ge=1, description="Instances with fewer visible pixels are below threshold."
    )
    min_visibility: float = Field(
        0.0, ge=0.0, le=1.0, description="Instances with a smaller visible/amodal fraction are below it."
    )
    below_threshold: Literal["drop", "ignore"] = Field(
        "drop", description="drop: no annotation; ignore: keep it with iscrowd=1 and ignore=true."
    )
    amodal: bool = Field(True, description="Amodal masks/boxes, visibility and truncation per annotation.")
    polygons: bool = Field(False, description="annotations.json segmentations as polygons instead of RLE.")
    depth_tolerance: float = Field(
        0.01,
        gt=0.0,
        le=1.0,
        description="Relative depth margin (plus two pixel footprints) deciding occlusion of keypoints.",
    )

    @model_validator(mode="after")
    def _visibility_needs_amodal(self) -> LabelPolicy:
        if self.min_visibility > 0 and not self.amodal:
            raise ValueError("min_visibility needs amodal: true (visibility = visible / amodal pixels)")
        return self


class Keypoint(StrictModel):
    """A named 3D point in mesh-local coordinates (unit-size primitive or mesh file units, before scaling)."""

    name: str = Field(min_length=1)
    position: tuple[float, float, float]


KeypointSet = Literal["bbox_corners"] | list[Keypoint]


class Outputs(StrictModel):
    """Which per-pixel maps are written next to the RGB image."""

    instances: bool = Field(True, description="16-bit PNG instance-id map (0 = background).")
    semantic: bool = Field(True, description="16-bit PNG category-id map (0 = background).")
    depth: bool = Field(True, description="float32 EXR, meters along the optical axis (0 = background).")
    normals: bool = Field(True, description="float32 EXR, camera-space (OpenCV axes) surface normals.")
    pose: bool = Field(True, description="BOP-style bop/scene_camera.json, scene_gt.json, scene_gt_info.json")


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
    light_rig: LightRig | None = None
    distractors: Distractors | None = None
    physics: Physics | None = None
    postfx: PostEffects | None = None
    layout: Layout = Field(default_factory=Layout)
    labels: LabelPolicy = Field(default_factory=LabelPolicy)
    keypoints: dict[str, KeypointSet] = Field(
        default_factory=dict,
        description="Per category: 3D keypoints in mesh-local coordinates, or bbox_corners (8 corners of "
        "the mesh's local bounding box).",
    )
    outputs: Outputs = Field(default_factory=Outputs)

    @model_validator(mode="after")
    def _keypoint_categories_known(self) -> SceneConfig:
        unknown = sorted(set(self.keypoints) - set(self.category_names()))
        if unknown:
            raise ValueError(f"keypoints: categories {unknown} are not used by any object or listed")
        for name, points in self.keypoints.items():
            names = [] if isinstance(points, str) else [p.name for p in points]
            if len(set(names)) != len(names):
                raise ValueError(f"keypoints.{name}: duplicate keypoint names {names}")
        return self

    @model_validator(mode="after")
    def _categories_known(self) -> SceneConfig:
        if self.categories is not None:
            if len(set(self.categories)) != len(self.categories):
                raise ValueError(f"categories has duplicates: {self.categories}")
            used = {o.category for o in self.objects if o.category}
            used |= {n for o in self.objects for n in RULE_CATEGORIES.get(o.category_rule or "", [])}
            unknown = sorted(used - set(self.categories))
            if unknown:
                raise ValueError(f"objects use categories not listed in categories: {unknown}")
        return self

    def category_names(self) -> list[str]:
        """Category names in id order (id = position + 1)."""
        if self.categories is not None:
            return list(self.categories)
        names: list[str] = []
        for obj in self.objects:
            for name in [obj.category] if obj.category else RULE_CATEGORIES.get(obj.category_rule or "", []):
                if name not in names:
                    names.append(name)
        return names
