"""motion: Cycles' own camera motion blur, as a moving or shaking camera records it.

motion:
  velocity: {uniform: [[-0.5, -0.2, -0.2], [0.5, 0.2, 0.2]]}   # camera speed in m/s, world axes
  shutter: {choice: [0.008, 0.016, 0.033]}                      # exposure time in seconds

The camera moves at ``velocity`` during an exposure of ``shutter`` seconds centered on the image's
moment, so Cycles blurs every object by its true parallax (near objects more than far ones; unlike
``postfx.motion_blur``, which streaks the whole image alike). The drawn camera pose is the pose at
mid-shutter, and the labels are made there: the back-end takes the instance, depth and normal maps from a
1-sample render of the same frame without motion blur, so a box is the object's box at mid-exposure
(as a human annotator would draw it on the streak's center).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field

from simgen.config.base import StrictModel
from simgen.config.distributions import FloatValue, Vec3Value, ranged
from simgen.randomizers.base import FrameDraw, Randomizer, linear_keys
from simgen.spec import Vec3

if TYPE_CHECKING:
    from simgen.spec import FrameSpec


class CameraMotion(StrictModel):
    """Camera motion during the exposure (Cycles motion blur; labels at mid-shutter)."""

    velocity: Vec3Value = Field((0.0, 0.0, 0.0), description="Camera velocity in m/s, world axes.")
    shutter: ranged(FloatValue, 0, 1, open_low=True) = Field(
        1 / 30, description="Exposure time in seconds (the camera moves velocity x shutter meters)."
    )


class MotionSections(StrictModel):
    motion: CameraMotion | None = None


@dataclass
class MotionSpec:
    velocity: Vec3
    shutter: float


class MotionRandomizer(Randomizer):
    name = "motion"
    summary = "camera motion blur rendered by Cycles (velocity, shutter time); labels at mid-shutter"
    config_keys = "`motion:`"
    demo = "scenes/demos/webcam.yaml"
    SECTIONS = MotionSections
    off_mode = "remove"

    def sample(self, draw: FrameDraw) -> None:
        motion, s = draw.config.motion, draw.streams
        if motion is None:
            return
        draw.parts[self.name] = MotionSpec(
            velocity=s.vec3("motion.velocity", motion.velocity),
            shutter=s.float("motion.shutter", motion.shutter),
        )

    def blender_hook(self, ctx: Any) -> MotionHook:
        return MotionHook(ctx)


class MotionHook:
    """Two linear location keys half a frame either side of the current frame, the shutter one frame."""

    moves_objects = False
    image_only = True  # labels come from a render without motion blur, at mid-shutter

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    def active(self, spec: FrameSpec) -> bool:
        return spec.part("motion") is not None

    def apply(self, spec: FrameSpec) -> None:
        scene, camera = self.ctx.scene, self.ctx.scene.camera
        camera.animation_data_clear()
        motion: MotionSpec | None = spec.part("motion")
        scene.render.use_motion_blur = motion is not None
        if motion is None:
            return
        scene.render.motion_blur_position = "CENTER"
        scene.render.motion_blur_shutter = 1.0  # one frame = the exposure
        frame = scene.frame_current
        middle = camera.location.copy()
        with linear_keys(self.ctx.bpy):
            for side in (-0.5, 0.5):
                camera.location = [
                    m + side * v * motion.shutter for m, v in zip(middle, motion.velocity, strict=True)
                ]
                camera.keyframe_insert("location", frame=frame + side)
        scene.frame_set(frame)  # evaluates the keys: the camera is back at mid-shutter

    def set_enabled(self, spec: FrameSpec, enabled: bool) -> None:
        self.ctx.scene.render.use_motion_blur = enabled and self.active(spec)
