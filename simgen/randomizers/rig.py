"""rig: several cameras fixed to one rig whose pose is the drawn camera (a stereo pair, or N cameras).

rig:
  stereo: {baseline: {uniform: [0.08, 0.14]}, convergence: 0}     # two cameras, "left" and "right"
rig:
  cameras:
    - {name: front, offset: [0, 0, 0]}
    - {name: side, offset: [0.3, 0, 0], rotation: [0, -30, 0], fov: 70}

The ``camera:`` section (and ``sequence.camera``) places the rig: its pose is the rig transform, itself
randomized. Each rig camera sits at ``offset`` (meters) turned by ``rotation`` (degrees about the rig's
x, y, z axes, applied x first), both in the rig camera's OpenCV axes (x right, y down, z forward); its
lens is the camera section's unless it sets ``focal_length`` or ``fov``. One sample is all cameras at the
same instant: the C cameras of a clip frame are C consecutive images (``simgen.clips``) sharing one scene
draw, and every record holds every rig camera's K and world→camera transform. A stereo pair also gets a
disparity map per image (``outputs.disparity``): x_left - x_right of the surface each pixel sees.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field, model_validator

from simgen.clips import clip_position
from simgen.config.base import StrictModel
from simgen.config.distributions import FloatValue, Vec3Value, positive, ranged
from simgen.randomizers.base import FrameDraw, Randomizer
from simgen.spec import CameraSpec, euler_xyz_to_matrix

if TYPE_CHECKING:
    from simgen.randomizers.sequence import SequenceSpec, ViewPose

MAX_RIG_CAMERAS = 16
OPENCV_FROM_BLENDER = np.diag([1.0, -1.0, -1.0])


class RigCamera(StrictModel):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    offset: Vec3Value = Field(
        (0.0, 0.0, 0.0), description="Meters in the rig frame (x right, y down, z fwd)."
    )
    rotation: Vec3Value = Field((0.0, 0.0, 0.0), description="Degrees about the rig's x, y, z axes.")
    focal_length: positive(FloatValue) | None = Field(None, description="mm; default: the camera section's.")
    fov: ranged(FloatValue, 0, 180, open_low=True, open_high=True) | None = Field(
        None, description="Horizontal field of view, degrees; default: the camera section's lens."
    )

    @model_validator(mode="after")
    def _one_lens(self) -> RigCamera:
        if self.focal_length is not None and self.fov is not None:
            raise ValueError("give either focal_length or fov, not both")
        return self


class Stereo(StrictModel):
    baseline: positive(FloatValue) = Field(0.12, description="Meters between the two optical centers.")
    convergence: ranged(FloatValue, 0, 90, open_high=True) = Field(
        0.0, description="Degrees between the optical axes (toe-in; 0: parallel, rectified)."
    )


class Rig(StrictModel):
    """Cameras on one rig; give ``stereo`` (a left/right pair) or a list of ``cameras``."""

    stereo: Stereo | None = None
    cameras: list[RigCamera] | None = Field(None, min_length=1, max_length=MAX_RIG_CAMERAS)

    @model_validator(mode="after")
    def _one_layout(self) -> Rig:
        if (self.stereo is None) == (self.cameras is None):
            raise ValueError("give either stereo or cameras")
        names = self.camera_names()
        if len(set(names)) != len(names):
            raise ValueError(f"cameras: duplicate names {names}")
        return self

    def camera_names(self) -> list[str]:
        return ["left", "right"] if self.stereo is not None else [c.name for c in self.cameras or []]


class RigSections(StrictModel):
    rig: Rig | None = None


@dataclass
class RigSpec:
    """The image's camera in its rig, and every camera of the rig at this instant."""

    camera: int
    names: list[str]
    cameras: list[CameraSpec]
    stereo: bool

    def view(self, j: int) -> dict[str, Any]:
        cam = self.cameras[j]
        return {
            "name": self.names[j],
            "K": cam.intrinsics().tolist(),
            "world_to_camera": cam.world_to_opencv().tolist(),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "camera": self.camera,
            "names": self.names,
            "stereo": self.stereo,
            "cameras": [asdict(c) for c in self.cameras],
        }


@dataclass
class Mount:
    """One rig camera's drawn placement: rotation (3x3, rig OpenCV axes) and offset (m), lens (mm)."""

    rotation: np.ndarray
    offset: np.ndarray
    focal_length_mm: float | None


class RigRandomizer(Randomizer):
    name = "rig"
    summary = "stereo pairs (baseline, convergence) and N-camera rigs on a randomized rig transform"
    config_keys = "`rig:`"
    demo = "scenes/demos/stereo_clip.yaml"
    SECTIONS = RigSections
    off_mode = "freeze"

    def sample(self, draw: FrameDraw) -> None:
        rig = draw.config.rig
        if rig is None or draw.camera is None:
            return
        mounts = drawn_mounts(rig, draw.streams, draw.camera.sensor_width_mm)
        cameras = [mounted(draw.camera, m) for m in mounts]
        j = clip_position(draw.config, draw.index).camera
        sequence: SequenceSpec | None = draw.parts.get("sequence")
        if sequence is not None and sequence.camera_before is not None:
            sequence.camera_before = mounted_view(draw.camera, sequence.camera_before, mounts[j])
            sequence.camera_after = mounted_view(draw.camera, sequence.camera_after, mounts[j])
        draw.camera = cameras[j]
        draw.parts[self.name] = RigSpec(j, rig.camera_names(), cameras, rig.stereo is not None)


def drawn_mounts(rig: Rig, s: Any, sensor_width_mm: float) -> list[Mount]:
    if rig.stereo is not None:
        half = s.float("rig.stereo.baseline", rig.stereo.baseline) / 2
        toe = s.float("rig.stereo.convergence", rig.stereo.convergence) / 2
        return [
            Mount(euler_xyz_to_matrix((0.0, toe, 0.0)), np.array([-half, 0.0, 0.0]), None),
            Mount(euler_xyz_to_matrix((0.0, -toe, 0.0)), np.array([half, 0.0, 0.0]), None),
        ]
    mounts = []
    for i, cam in enumerate(rig.cameras or []):
        p = f"rig.cameras[{i}]"
        lens = None
        if cam.focal_length is not None:
            lens = s.float(f"{p}.focal_length", cam.focal_length)
        elif cam.fov is not None:
            lens = sensor_width_mm / (2.0 * math.tan(math.radians(s.float(f"{p}.fov", cam.fov)) / 2.0))
        rotation = euler_xyz_to_matrix(s.vec3(f"{p}.rotation", cam.rotation))
        mounts.append(Mount(rotation, np.asarray(s.vec3(f"{p}.offset", cam.offset)), lens))
    return mounts


def _opencv_pose(camera: CameraSpec) -> tuple[np.ndarray, np.ndarray]:
    """(camera→world rotation in OpenCV axes, optical center) of a camera."""
    return camera.rotation_camera_to_world() @ OPENCV_FROM_BLENDER, np.asarray(camera.location, dtype=float)


def _placed(rig_rotation: np.ndarray, rig_center: np.ndarray, mount: Mount) -> dict[str, Any]:
    rotation = rig_rotation @ mount.rotation
    center = rig_center + rig_rotation @ mount.offset
    forward, up = rotation[:, 2], -rotation[:, 1]
    return {
        "location": tuple(float(v) for v in center),
        "look_at": tuple(float(v) for v in center + forward),
        "up": tuple(float(v) for v in up),
    }


def mounted(rig_camera: CameraSpec, mount: Mount) -> CameraSpec:
    """The rig camera ``mount`` when the rig stands where ``rig_camera`` is."""
    placed = _placed(*_opencv_pose(rig_camera), mount)
    lens = mount.focal_length_mm or rig_camera.focal_length_mm
    focus = rig_camera.focus_distance
    return replace(rig_camera, **placed, roll_deg=0.0, focal_length_mm=lens, focus_distance=focus)


def mounted_view(rig_camera: CameraSpec, view: ViewPose, mount: Mount) -> ViewPose:
    """A rig pose of another moment (sequence), moved to the mount."""
    from simgen.randomizers.sequence import ViewPose

    at = replace(rig_camera, location=view.location, look_at=view.look_at, up=view.up, roll_deg=0.0)
    return ViewPose(**_placed(*_opencv_pose(at), mount))
