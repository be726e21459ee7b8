"""The typed scene-config schema (pydantic). Unknown keys are errors everywhere.

A ``SceneConfig`` still holds distributions; ``simgen.sampling`` turns it into one concrete ``FrameSpec``
per image. Units: meters, degrees, watts (point/spot/area) or W/m² (sun), colors as linear RGB in [0, 1].

This module holds the core of a scene (what to render and label: the dataset, the render settings, the
objects, the label policy, the outputs). Every randomizer adds its own sections (``camera:``,
``lights:``/``light_rig:``, ``world:``, ``postfx:``, ...) from its unit in ``simgen.randomizers``; every
generator adds its parameters to ``objects[*].generator`` from ``simgen.generators``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from simgen.config.base import StrictModel
from simgen.config.distributions import (
    FloatValue,
    IntValue,
    RotationValue,
    Vec3Value,
    literal_choice,
    positive,
    ranged,
    value_ranges,
)
from simgen.config.files import MESH_SUFFIXES
from simgen.config.tunable import TuneField
from simgen.generators import RULES, generator_field, rule_categories
from simgen.randomizers import section_models
from simgen.randomizers.distractors import MAX_INSTANCES, PRIMITIVES
from simgen.randomizers.materials import Material, MaterialValue
from simgen.randomizers.pose import Placement
from simgen.writers import REGISTRY as WRITERS

RuleName = Literal[tuple(RULES)]  # type: ignore[valid-type]
FormatName = Literal[tuple(n for n in WRITERS if n not in ("coco", "coco-polygons"))]  # type: ignore[valid-type]


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
        "AgX",
        description="Blender color management view transform for the 8-bit image. Standard: a color "
        "renders as configured (emission 1); AgX: camera-like highlight roll-off and desaturation.",
    )
    image_format: Literal["png", "jpg"] = "png"
    jpeg_quality: int = Field(95, ge=1, le=100)
    output_size: tuple[int, int] | None = Field(
        None,
        description="Resample each rendered image to this width, height (non-square pixels when the "
        "aspect differs: a 4:3 webcam frame stretched to 640 x 640 is resolution [640, 480], output_size "
        "[640, 640]). RGB is area/linear-resampled, instance and semantic maps, depth and normals nearest; "
        "labels come from the resampled maps and the camera's K is the anamorphic one, so boxes, masks, "
        "keypoints and poses agree with the stored pixels. Post-effects run on the output image.",
    )

    @field_validator("resolution", "output_size")
    @classmethod
    def _resolution_in_range(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and (min(value) < 8 or max(value) > 16384):
            raise ValueError(f"each side must be in [8, 16384] pixels, found {list(value)}")
        return value


class PoseVariant(StrictModel):
    """One alternative of ``variants``: unset fields keep the entry's values."""

    weight: float = Field(1.0, gt=0, description="Relative probability of this variant.")
    rotation: RotationValue | None = None
    scale: positive(Vec3Value) | None = None
    size: positive(FloatValue) | None = None


class SceneObject(StrictModel):
    """A primitive (``shape``) or a mesh file (``mesh``), placed and shaded; labelled if it has a category."""

    name: str | None = None
    category: str | None = Field(
        None, min_length=1, description="Category name; objects without one are not labelled."
    )
    shape: literal_choice(*PRIMITIVES) | None = None  # type: ignore[valid-type]
    mesh: str | None = Field(None, description="Path to OBJ/PLY/STL/glTF/GLB, relative to the config file.")
    generator: generator_field() | None = Field(  # type: ignore[valid-type]
        None, description="A procedural object: die, fruit, traffic_cone..."
    )
    category_rule: RuleName | None = Field(
        None,
        description="Category from the final pose: " + "; ".join(rule.description for rule in RULES.values()),
    )
    count: ranged(IntValue, 0, MAX_INSTANCES) = Field(
        1, description="Number of instances; each samples its own parameters."
    )
    size: positive(FloatValue) | None = Field(
        None,
        description="Largest extent in meters of the unscaled object (primitives default 1: cube edge, "
        "sphere diameter; meshes keep their own units when unset). Applied first, then scale: a size-1 "
        "cube with scale [1, 1, 2] is 1 x 1 x 2 m.",
    )
    location: Vec3Value = (0.0, 0.0, 0.0)
    placement: Placement | None = Field(None, description="Sample the location in a region.")
    rotation: RotationValue = Field(
        (0.0, 0.0, 0.0), description="XYZ Euler degrees, {yaw: ...} (upright) or so3 (uniformly random)."
    )
    scale: positive(Vec3Value) = Field(
        (1.0, 1.0, 1.0), description="Per-axis factors applied after size (the final extent is size x scale)."
    )
    material: MaterialValue = Field(default_factory=Material)
    physics: Literal["auto", "active", "passive", "none"] = Field(
        "auto", description="Rigid-body role when physics is on; auto: active if placed, else passive."
    )
    variants: list[PoseVariant] | None = Field(
        None,
        min_length=1,
        description="Discrete alternatives drawn per instance (e.g. standing or lying), each with a weight "
        "and the rotation / scale / size it uses instead of the entry's; count stays one draw for the entry.",
    )

    @model_validator(mode="after")
    def _shape_xor_mesh(self) -> SceneObject:
        if sum(x is not None for x in (self.shape, self.mesh, self.generator)) != 1:
            raise ValueError("give exactly one of shape (a primitive), mesh (a file path) or generator")
        if self.category_rule is not None and self.category is not None:
            raise ValueError("give either category or category_rule, not both")
        rule = RULES.get(self.category_rule or "")
        if rule is not None and (self.generator is None or self.generator.type != rule.generator):
            raise ValueError(
                f"category_rule {rule.name} reads the faces of a {rule.generator} generator; "
                f"this object is a {self.generator.type if self.generator else self.shape or 'mesh'}"
            )
        if self.mesh is not None and not self.mesh.lower().endswith(MESH_SUFFIXES):
            raise ValueError(f"mesh must end in one of {list(MESH_SUFFIXES)}, found {self.mesh!r}")
        return self

    def category_names(self) -> list[str]:
        """The categories this entry can label: its category, or every category its rule produces."""
        return [self.category] if self.category else rule_categories(self.category_rule)


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


DEFAULT_COCO_PART = 100_000


class Outputs(StrictModel):
    """Which per-pixel maps are written next to the RGB image."""

    instances: bool = Field(True, description="16-bit PNG instance-id map (0 = background).")
    semantic: bool = Field(True, description="16-bit PNG category-id map (0 = background).")
    depth: bool = Field(True, description="float32 EXR, meters along the optical axis (0 = background).")
    normals: bool = Field(True, description="float32 EXR, camera-space (OpenCV axes) surface normals.")
    pose: bool = Field(True, description="6D pose per annotation (and, by default, the BOP files).")
    flow: bool = Field(
        False,
        description="Clips (sequence:): float32 EXR of the optical flow to the next and previous frames, in "
        "pixels, from Cycles' vector pass (simgen.flow.read_flow).",
    )
    disparity: bool = Field(
        False, description="Stereo rigs (rig.stereo): float32 EXR of x_left - x_right in pixels per image."
    )
    boxes_3d: bool = Field(
        False,
        description="Oriented 3D box per annotation (center, size, rotation in camera axes, 8 projected "
        "corners) and the kitti export.",
    )
    formats: list[FormatName] | None = Field(
        None,
        description="Label formats written next to annotations.json (always COCO) once the dataset is "
        "complete, each in its folder (bop/, yolo/, voc/...); default: bop when pose is on.",
    )
    coco_parts: int | None = Field(
        None,
        ge=0,
        description="Also write the split COCO form, annotations/part-NNNNN.json of this many images each "
        "plus annotations/index.json, which every simgen command reads (a million images make a 4 GB "
        "annotations.json). Default: parts of 100,000 above 100,000 images; 0: never.",
    )

    def parts_size(self, num_images: int) -> int:
        """Images per part of the split COCO form for a dataset of ``num_images`` (0: not written)."""
        if self.coco_parts is None:
            return DEFAULT_COCO_PART if num_images > DEFAULT_COCO_PART else 0
        return self.coco_parts

    @model_validator(mode="after")
    def _bop_needs_pose(self) -> Outputs:
        if self.formats and "bop" in self.formats and not self.pose:
            raise ValueError("formats: bop needs pose: true (BOP files hold the 6D poses)")
        return self


class Limits(StrictModel):
    """Guards against typos that would render for days or fill memory; raise one when you mean it."""

    max_images: int = Field(100_000_000, ge=1, description="scene.num_images at most.")
    max_instances: int = Field(
        10_000,
        ge=1,
        le=65_535,
        description="Object instances (objects and distractors) per image at most (16-bit instance maps).",
    )
    max_megapixel_samples: float = Field(
        20_000,
        gt=0,
        description="Width x height x samples per image at most, in millions (4K at 1024 spp is 8,500).",
    )


class SceneHead(StrictModel):
    scene: SceneSection = Field(default_factory=SceneSection)
    render: RenderSection = Field(default_factory=RenderSection)


class SceneCore(StrictModel):
    categories: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None, description="Fixed category list (ids 1..N in this order); default: order of first use."
    )
    objects: list[SceneObject] = Field(min_length=1)
    labels: LabelPolicy = Field(default_factory=LabelPolicy)
    keypoints: dict[str, KeypointSet] = Field(
        default_factory=dict,
        description="Per category: 3D keypoints in mesh-local coordinates, or bbox_corners (8 corners of "
        "the mesh's local bounding box).",
    )
    outputs: Outputs = Field(default_factory=Outputs)
    limits: Limits = Field(default_factory=Limits)
    tune: list[TuneField] | None = Field(
        None,
        description="Fields `simgen tune` may set, with the bounds it searches; untuned, each field is at "
        "the centre of its bounds (docs/tune.md).",
    )

    @model_validator(mode="after")
    def _within_limits(self) -> SceneCore:
        scene, render, limits = getattr(self, "scene", None), getattr(self, "render", None), self.limits
        if scene is not None and scene.num_images > limits.max_images:
            raise ValueError(
                f"scene.num_images {scene.num_images:,} is above limits.max_images ({limits.max_images:,})"
            )
        if render is not None:
            megapixel_samples = render.resolution[0] * render.resolution[1] * render.samples / 1e6
            if megapixel_samples > limits.max_megapixel_samples:
                raise ValueError(
                    f"render: {render.resolution[0]} x {render.resolution[1]} px at {render.samples} samples "
                    "is "
                    f"{megapixel_samples:,.0f} million pixel samples per image, above "
                    f"limits.max_megapixel_samples ({limits.max_megapixel_samples:,.0f})"
                )
        most = sum(int(max(hi for _, hi in value_ranges(o.count) or [(1, 1)])) for o in self.objects)
        distractors = getattr(self, "distractors", None)
        if distractors is not None:
            most += int(max(hi for _, hi in value_ranges(distractors.count) or [(0, 0)]))
        if most > limits.max_instances:
            raise ValueError(
                f"the objects (and distractors) can add up to {most:,} instances per image, above "
                f"limits.max_instances ({limits.max_instances:,})"
            )
        return self

    @model_validator(mode="after")
    def _clips_fit(self) -> SceneCore:
        """Clips, rigs and the outputs that need them agree (a flow map of a still scene is all zeros)."""
        from simgen.clips import images_per_clip

        sequence, rig = getattr(self, "sequence", None), getattr(self, "rig", None)
        scene = getattr(self, "scene", None)
        if self.outputs.flow and sequence is None:
            raise ValueError("outputs.flow needs a sequence: section (flow is motion between clip frames)")
        if self.outputs.disparity and (rig is None or rig.stereo is None):
            raise ValueError("outputs.disparity needs a stereo rig (rig: {stereo: {baseline: ...}})")
        if sequence is not None and getattr(self, "motion", None) is not None:
            raise ValueError(
                "motion: and sequence: both move the camera; use sequence.camera and "
                "sequence.motion_blur in a clip"
            )
        if (
            sequence is not None
            and sequence.objects.type == "physics"
            and getattr(self, "physics", None) is None
        ):
            raise ValueError("sequence.objects.type physics needs a physics: section (its settings)")
        camera = getattr(self, "camera", None)
        if camera is not None and camera.distortion is not None:
            render = getattr(self, "render", None)
            if render is not None and render.output_size:
                raise ValueError("camera.distortion and render.output_size: distort at the rendered size")
            if self.outputs.disparity:
                raise ValueError(
                    "outputs.disparity is defined on undistorted (rectified) images; "
                    "drop camera.distortion or outputs.disparity"
                )
        per_clip = images_per_clip(self)
        if scene is not None and scene.num_images % per_clip:
            raise ValueError(
                f"scene.num_images {scene.num_images} is not a whole number of clips: each clip is "
                f"{per_clip} images (sequence.frames x rig cameras); use a multiple of {per_clip}"
            )
        return self

    @model_validator(mode="after")
    def _keypoint_categories_known(self) -> SceneCore:
        unknown = sorted(set(self.keypoints) - set(self.category_names()))
        if unknown:
            raise ValueError(f"keypoints: categories {unknown} are not used by any object or listed")
        for name, points in self.keypoints.items():
            names = [] if isinstance(points, str) else [p.name for p in points]
            if len(set(names)) != len(names):
                raise ValueError(f"keypoints.{name}: duplicate keypoint names {names}")
        return self

    @model_validator(mode="after")
    def _categories_known(self) -> SceneCore:
        if self.categories is not None:
            if len(set(self.categories)) != len(self.categories):
                raise ValueError(f"categories has duplicates: {self.categories}")
            used = {name for obj in self.objects for name in obj.category_names()}
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
            for name in obj.category_names():
                if name not in names:
                    names.append(name)
        return names


def _bases() -> tuple[type[StrictModel], ...]:
    """SceneConfig's bases: pydantic lists the fields of later bases first, so the head goes last and the
    randomizer sections come between the head and the core, in registry order."""
    return (SceneCore, *reversed(section_models()), SceneHead)


class SceneConfig(*_bases()):  # type: ignore[misc]
    """A whole scene: the root of a YAML config."""

    _source: str | None = PrivateAttr(None)  # the YAML file it was loaded from (messages, asset paths)

    @property
    def source(self) -> Path | None:
        """The config file this scene was loaded from (None for configs built in code)."""
        return Path(self._source) if self._source else None

    @property
    def asset_root(self) -> Path | None:
        """The folder asset paths are relative to (the config file's), as written in records."""
        return self.source.parent if self.source else None

    def with_source(self, source: str | Path | None) -> SceneConfig:
        self._source = str(source) if source is not None else None
        return self

    def __eq__(self, other: object) -> bool:
        """Equal configs describe the same scene, wherever they were loaded from."""
        return isinstance(other, SceneConfig) and self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]  # mutable, like every pydantic model
