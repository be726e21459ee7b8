"""camera: where the camera is, where it looks, its lens and depth of field.

camera:
  orbit: {distance: {uniform: [4, 6]}, elevation: {uniform: [25, 65]}, azimuth: {uniform: [0, 360]}}
  look_at_jitter: {uniform: [[-0.3, -0.3, 0], [0.3, 0.3, 0.3]]}
  roll: {normal: [0, 3]}
  fov: {uniform: [35, 55]}
  dof: {fstop: {loguniform: [2, 16]}}
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from simgen.config.base import StrictModel
from simgen.config.distributions import FloatValue, Vec3Value, positive, ranged
from simgen.errors import SimgenError
from simgen.lens import Distortion, canvas
from simgen.randomizers.base import FrameDraw, Randomizer
from simgen.spec import CameraSpec

if TYPE_CHECKING:
    from simgen.spec import FrameSpec

DEFAULT_FOCAL_LENGTH_MM = 35.0


class Orbit(StrictModel):
    """Camera placement on a sphere around ``target`` (replaces ``camera.location``).

    Azimuth 0° puts the camera on the -Y side looking towards +Y; elevation 90° looks straight down.
    """

    target: Vec3Value = (0.0, 0.0, 0.0)
    distance: positive(FloatValue) = 5.0
    elevation: ranged(FloatValue, -90, 90) = Field(
        30.0, description="Degrees above the target's horizontal plane."
    )
    azimuth: FloatValue = Field(0.0, description="Degrees, counter-clockwise seen from above.")


class DepthOfField(StrictModel):
    """Thin-lens depth of field, focused on the look-at point unless ``focus_distance`` is given."""

    fstop: positive(FloatValue) = 2.8
    focus_distance: positive(FloatValue) | None = Field(
        None, description="Meters; default: distance to look_at."
    )


class LensDistortion(StrictModel):
    """OpenCV lens models: ``brown`` (Brown-Conrady: k1, k2, k3 radial, p1, p2 tangential) or ``fisheye``
    (OpenCV's equidistant fisheye: k1..k4). Applied to the image and every label (simgen.lens)."""

    model: Literal["brown", "fisheye"] = "brown"
    k1: FloatValue = 0.0
    k2: FloatValue = 0.0
    k3: FloatValue = 0.0
    k4: FloatValue = Field(0.0, description="fisheye only.")
    p1: FloatValue = Field(0.0, description="brown only.")
    p2: FloatValue = Field(0.0, description="brown only.")

    @model_validator(mode="after")
    def _model_fields(self) -> LensDistortion:
        unused = ("p1", "p2") if self.model == "fisheye" else ("k4",)
        given = [name for name in unused if getattr(self, name) != 0.0]
        if given:
            raise ValueError(f"{', '.join(given)} not used by the {self.model} model")
        return self

    def names(self) -> tuple[str, ...]:
        """Coefficient names in OpenCV's order for the model."""
        return ("k1", "k2", "k3", "k4") if self.model == "fisheye" else ("k1", "k2", "p1", "p2", "k3")


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
    distortion: LensDistortion | None = Field(
        None, description="Lens distortion (OpenCV Brown-Conrady or fisheye) of the image and every label."
    )
    roll: FloatValue = Field(0.0, description="Rotation about the viewing axis, degrees.")
    focal_length: positive(FloatValue) | None = Field(
        None, description="mm, with sensor_width; default 35 mm."
    )
    fov: ranged(FloatValue, 0, 180, open_low=True, open_high=True) | None = Field(
        None, description="Horizontal field of view in degrees."
    )
    sensor_width: float = Field(36.0, gt=0, description="mm (horizontal sensor fit).")
    clip_start: float = Field(0.01, gt=0)
    clip_end: float = Field(1000.0, gt=0)
    min_objects_in_view: int | None = Field(
        None,
        ge=1,
        description="Redraw an image's scene (placements, camera, everything) until at least this many "
        "labelled objects have their center inside the frame, in front of the camera (checked on the "
        "drawn positions, before physics). Unset: never redraw.",
    )
    view_attempts: int | None = Field(
        None, ge=1, le=10_000, description="Draws tried per image for min_objects_in_view (default 100)."
    )

    @model_validator(mode="after")
    def _one_lens(self) -> CameraSection:
        if self.focal_length is not None and self.fov is not None:
            raise ValueError("give either focal_length or fov, not both")
        if self.clip_start >= self.clip_end:
            raise ValueError(f"clip_start ({self.clip_start}) must be below clip_end ({self.clip_end})")
        if sum(c * c for c in self.up) < 1e-12:
            raise ValueError(f"up must be a direction, found the zero vector {list(self.up)}")
        return self


class CameraSections(StrictModel):
    camera: CameraSection = Field(default_factory=CameraSection)


def shell_position(
    target: tuple[float, float, float], distance: float, elevation: float, azimuth: float
) -> tuple[float, float, float]:
    """A point at ``distance`` from target; azimuth 0° is the -Y side, elevation 90° straight above."""
    el, az = math.radians(elevation), math.radians(azimuth)
    return (
        target[0] + distance * math.cos(el) * math.sin(az),
        target[1] - distance * math.cos(el) * math.cos(az),
        target[2] + distance * math.sin(el),
    )


class CameraRandomizer(Randomizer):
    name = "camera"
    summary = "orbit (distance, elevation, azimuth), look-at jitter, roll, focal length / FOV, depth of field"
    config_keys = "`camera:`"
    demo = "scenes/demos/camera.yaml"
    SECTIONS = CameraSections

    def sample(self, draw: FrameDraw) -> None:
        cam, s = draw.config.camera, draw.streams
        target, location = self._position(cam, s)
        jitter = s.vec3("camera.look_at_jitter", cam.look_at_jitter)
        look_at = (target[0] + jitter[0], target[1] + jitter[1], target[2] + jitter[2])
        fstop = focus = None
        if cam.dof is not None:
            fstop = s.float("camera.dof.fstop", cam.dof.fstop)
            focus = (
                s.float("camera.dof.focus_distance", cam.dof.focus_distance)
                if cam.dof.focus_distance is not None
                else float(np.linalg.norm(np.subtract(look_at, location)))
            )
        draw.camera = CameraSpec(
            location=location,
            look_at=look_at,
            roll_deg=s.float("camera.roll", cam.roll),
            focal_length_mm=self._focal_length(cam, s),
            sensor_width_mm=cam.sensor_width,
            resolution=draw.config.render.resolution,
            clip_start=cam.clip_start,
            clip_end=cam.clip_end,
            fstop=fstop,
            focus_distance=focus,
            up=cam.up,
            output_resolution=draw.config.render.output_size,
            distortion=self._distortion(cam, s),
        )

    @staticmethod
    def _distortion(cam: CameraSection, s: Any) -> Distortion | None:
        lens = cam.distortion
        if lens is None:
            return None
        values = tuple(s.float(f"camera.distortion.{name}", getattr(lens, name)) for name in lens.names())
        return Distortion(lens.model, values)

    @staticmethod
    def _focal_length(cam: CameraSection, s: Any) -> float:
        if cam.fov is None:
            lens = DEFAULT_FOCAL_LENGTH_MM if cam.focal_length is None else cam.focal_length
            return s.float("camera.focal_length", lens)
        fov = s.float("camera.fov", cam.fov)
        if not 0.0 < fov < 180.0:
            raise SimgenError(f"camera.fov: drew {fov} degrees, expected within (0, 180)")
        return cam.sensor_width / (2.0 * math.tan(math.radians(fov) / 2.0))

    @staticmethod
    def _position(
        cam: CameraSection, s: Any
    ) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """(target, camera location): on the orbit, or as configured."""
        if cam.orbit is None:
            return s.vec3("camera.look_at", cam.look_at), s.vec3("camera.location", cam.location)
        target = s.vec3("camera.orbit.target", cam.orbit.target)
        location = shell_position(
            target,
            s.float("camera.orbit.distance", cam.orbit.distance),
            s.float("camera.orbit.elevation", cam.orbit.elevation),
            s.float("camera.orbit.azimuth", cam.orbit.azimuth),
        )
        return target, location

    def blender_hook(self, ctx: Any) -> CameraHook:
        return CameraHook(ctx)


class CameraHook:
    """The scene's one camera, set from ``spec.camera`` every frame."""

    moves_objects = False

    def __init__(self, ctx: Any) -> None:
        data = ctx.bpy.data.cameras.new("camera")
        self.obj = ctx.bpy.data.objects.new("camera", data)
        ctx.scene.collection.objects.link(self.obj)
        ctx.scene.camera = self.obj
        self.ctx = ctx

    def apply(self, spec: FrameSpec) -> None:
        cam, data = canvas(spec.camera), self.obj.data  # a distorted lens renders a wider pinhole
        self.obj.animation_data_clear()  # a clip frame or camera motion keys it again
        render = self.ctx.scene.render
        render.resolution_x, render.resolution_y = cam.resolution
        data.type = "PERSP"
        data.sensor_fit = "HORIZONTAL"
        data.sensor_width = cam.sensor_width_mm
        data.lens = cam.focal_length_mm
        data.shift_x = data.shift_y = 0.0
        data.clip_start, data.clip_end = cam.clip_start, cam.clip_end
        data.dof.use_dof = cam.fstop is not None
        if cam.fstop is not None:
            data.dof.aperture_fstop = cam.fstop
            data.dof.focus_distance = cam.focus_distance or 10.0
        self.obj.matrix_world = self.ctx.pose_matrix(cam.location, cam.rotation_camera_to_world())
