"""What a domain randomizer is: one small, named unit that owns a part of the config and of the frame.

Vocabulary borrowed from Unity Perception: a *randomizer* draws *parameters* (config fields) from
*samplers* (the distributions of ``simgen.config.distributions``, through the counter-based streams of
``simgen.streams``) and acts on the scene at fixed points of a frame's life:

1. ``sample(draw)``: write its part of the frame being drawn (no Blender; tests run in milliseconds);
2. ``blender_hook(ctx)``: optional, the object that applies that part to the live Blender scene (it
   runs inside the back-end and receives Blender's objects from it; units never import ``bpy``);
3. ``apply_image(rgb, spec)``: optional, an image-space step on the rendered RGB (post-effects);
4. ``off(config)``: the same config with this randomizer switched off (``simgen ablate``).

``SECTIONS`` is a pydantic model whose fields become top-level fields of ``SceneConfig``; the units in
``simgen.randomizers.REGISTRY`` are read by the schema, the sampler, the back-end, the ablation and the
docs, so a new randomizer is one new file plus its registry line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from simgen.config.base import StrictModel
from simgen.config.distributions import freeze
from simgen.spec import Bounds
from simgen.streams import Sampler

if TYPE_CHECKING:
    import numpy as np

    from simgen.config.schema import SceneConfig
    from simgen.spec import CameraSpec, FrameSpec, LightSpec, ObjectSpec, WorldSpec

MeshBounds = Callable[[str], Bounds]
"""mesh path → (center, half extents) of its local bounding box in file units (the back-end knows them)."""


@dataclass
class InstanceDraw:
    """One object instance while its frame is drawn: where its values come from and the spec they fill.

    ``path`` prefixes every stream of the instance (``objects[2]#1``, ``distractors#0``); the config
    values are those of its entry (an object entry, or the distractors section).
    """

    path: str
    spec: ObjectSpec
    material: Any  # MaterialValue
    size: Any  # FloatValue or None: a mesh keeps its own units
    location: Any  # Vec3Value
    rotation: Any  # RotationValue
    scale: Any  # Vec3Value
    placement: Any  # Placement or None


@dataclass
class FrameDraw:
    """A frame while its values are drawn: the config, the streams, and the parts filled in so far."""

    config: SceneConfig
    streams: Sampler  # the clip's streams (simgen.clips): every image of a clip draws the same scene
    mesh_bounds: MeshBounds | None = None
    index: int = 0  # the image's own index (its frame and camera in the clip)
    camera: CameraSpec | None = None
    lights: list[LightSpec] = field(default_factory=list)
    world: WorldSpec | None = None
    instances: list[InstanceDraw] = field(default_factory=list)
    parts: dict[str, Any] = field(default_factory=dict)


class BlenderHook(Protocol):
    """Applies one randomizer's part of a frame to the live Blender scene (built once per worker).

    A hook whose effect only changes how the image looks and would disturb the label passes (a volume
    scatters camera rays before they reach a surface) also sets ``image_only = True`` and implements
    ``active(spec)`` and ``set_enabled(spec, on)``: the back-end then takes the instance, depth and
    normal maps from a 1-sample render of the frame with the effect switched off.
    """

    moves_objects: bool  # the back-end re-syncs object transforms after it (physics settles them)

    def apply(self, spec: FrameSpec) -> None: ...


class Randomizer:
    """One domain randomizer. Subclasses set the class attributes and override what they use."""

    name: ClassVar[str]
    """Registry key and the name ``simgen ablate --randomizers`` takes."""
    summary: ClassVar[str]
    """What varies, one line (the README's randomizer table and ``simgen ablate --list``)."""
    config_keys: ClassVar[str]
    """How a config spells it, e.g. "``light_rig:`` (plus fixed ``lights:``)"."""
    demo: ClassVar[str | None] = None
    """A scene under scenes/demos/ that shows this randomizer alone."""
    SECTIONS: ClassVar[type[StrictModel] | None] = None
    """The top-level config fields this randomizer adds to SceneConfig (None: it acts on objects)."""
    off_mode: ClassVar[Literal["freeze", "remove"]] = "freeze"
    """Switched off: every distribution of its sections at its center, or the sections removed."""

    def sample(self, draw: FrameDraw) -> None:
        """Draw this randomizer's values for one frame into ``draw``."""

    def off(self, config: SceneConfig) -> SceneConfig:
        """``config`` with this randomizer switched off; everything else as configured."""
        fields = list(self.SECTIONS.model_fields) if self.SECTIONS is not None else []
        if self.off_mode == "remove":
            update = {name: None for name in fields}
        else:
            update = {name: freeze(getattr(config, name)) for name in fields}
        return revalidate(config.model_copy(update=update), f"without {self.name}")

    def off_summary(self) -> str:
        """What ``off`` does, in a few words (``simgen ablate --list``)."""
        if type(self).off is not Randomizer.off:
            first = (type(self).off.__doc__ or "").strip().splitlines()[0].rstrip(".")
            return first[:1].lower() + first[1:]
        what = ", ".join(f"{name}:" for name in (self.SECTIONS.model_fields if self.SECTIONS else ()))
        if self.off_mode == "remove":
            return f"{what} removed"
        return f"every distribution in {what} at its center"

    def blender_hook(self, ctx: Any) -> BlenderHook | None:
        """The object that applies this randomizer's part in Blender, or None if it needs none."""
        return None

    def apply_image(self, rgb: np.ndarray, spec: FrameSpec) -> np.ndarray:
        """An image-space step on the rendered 8-bit RGB; labels must stay pixel-aligned."""
        return rgb


def revalidate(config: SceneConfig, what: str) -> SceneConfig:
    """A changed copy of a config, validated again like a loaded one (a frozen value must still be legal)."""
    from simgen.config.loader import config_to_dict, validate_config

    fresh = validate_config(config_to_dict(config), source=f"<{config.scene.name} {what}>")
    return fresh.with_source(config.source)


@contextlib.contextmanager
def linear_keys(bpy: Any) -> Iterator[None]:
    """New keyframes interpolate linearly inside the block (Blender's default is Bezier)."""
    edit = bpy.context.preferences.edit
    saved, edit.keyframe_new_interpolation_type = edit.keyframe_new_interpolation_type, "LINEAR"
    try:
        yield
    finally:
        edit.keyframe_new_interpolation_type = saved
