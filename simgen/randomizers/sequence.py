"""sequence: clips of F frames in which the objects and the camera move along drawn trajectories.

sequence:
  frames: 12
  fps: 24
  objects: {type: linear, velocity: {uniform: [[-0.3, -0.3, 0], [0.3, 0.3, 0]]}}
  camera: {type: orbit, rate: {uniform: [-20, 20]}}
  motion_blur: {shutter: 0.5}        # optional: Cycles motion blur over half a frame interval

A clip's scene (objects, materials, lights, start poses, trajectory parameters) is drawn once from the
clip's streams (``simgen.clips``); frame k shows it at time k / fps. Trajectories: ``static``, ``linear``
(velocity in m/s, Euler angle rates in deg/s), ``orbit`` (about a vertical axis, deg/s), ``spline``
(Catmull-Rom through ``points`` drawn offsets spread over the clip) and, for objects, ``physics`` (the
rigid-body simulation of ``physics:`` run forward: frame k is simulation frame ``physics_start + k``).

Each frame also carries the poses a frame interval before and after: the back-end keys them so that
Cycles' vector pass gives the optical flow to the previous and next frames (``outputs.flow``) and its
motion blur the streaks; labels are made at the frame's own moment (mid-shutter). Instance ids are the
clip's, so they are the track ids of the clip.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from simgen.clips import clip_position
from simgen.config.base import StrictModel
from simgen.config.distributions import FloatValue, Vec3Value, ranged
from simgen.randomizers.base import FrameDraw, Randomizer, linear_keys
from simgen.spec import Vec3

if TYPE_CHECKING:
    from simgen.spec import CameraSpec, FrameSpec

TrajectoryType = Literal["static", "linear", "orbit", "spline", "physics"]


class Trajectory(StrictModel):
    """How something moves over a clip; the values are drawn once per clip (per instance for objects)."""

    type: TrajectoryType = "static"
    velocity: Vec3Value = Field((0.0, 0.0, 0.0), description="linear: meters per second, world axes.")
    angular_velocity: Vec3Value = Field(
        (0.0, 0.0, 0.0), description="linear: degrees per second added to the X, Y, Z Euler angles."
    )
    center: Vec3Value | None = Field(
        None,
        description="orbit: a point of the vertical axis turned about (default: the camera's look-at "
        "point for the camera, the world origin for objects).",
    )
    rate: FloatValue = Field(0.0, description="orbit: degrees per second, counter-clockwise seen from above.")
    points: int = Field(4, ge=2, le=32, description="spline: control points spread evenly over the clip.")
    offset: Vec3Value = Field(
        (0.0, 0.0, 0.0), description="spline: each control point after the first, offset from the start (m)."
    )


class MotionBlur(StrictModel):
    shutter: ranged(FloatValue, 0, 1, open_low=True) = Field(
        0.5, description="Exposure as a fraction of the frame interval (0.5: a 180° shutter)."
    )


class Sequence(StrictModel):
    """Clips of ``frames`` frames: a sample of the dataset is a clip (scene.num_images counts images)."""

    frames: int = Field(8, ge=1, le=10_000, description="Frames per clip.")
    fps: float = Field(24.0, gt=0, le=1000, description="Frames per second (sets the time step).")
    objects: Trajectory = Field(default_factory=Trajectory, description="Every labelled object's motion.")
    camera: Trajectory = Field(default_factory=Trajectory, description="The camera's (or rig's) motion.")
    motion_blur: MotionBlur | None = Field(None, description="Cycles motion blur; labels at mid-shutter.")
    physics_start: int = Field(
        2, ge=2, le=10_000, description="objects.type physics: the simulation frame shown as frame 0."
    )

    @model_validator(mode="after")
    def _camera_cannot_simulate(self) -> Sequence:
        if self.camera.type == "physics":
            raise ValueError("camera.type: physics moves objects only; use linear, orbit or spline")
        return self


class SequenceSections(StrictModel):
    sequence: Sequence | None = None


Pose = tuple[Vec3, Vec3]  # (location, Euler XYZ degrees)


@dataclass
class ViewPose:
    """Where a camera is and looks at one moment (its lens is the frame's)."""

    location: Vec3
    look_at: Vec3
    up: Vec3


@dataclass
class SequenceSpec:
    """Where the image sits in its clip, and the poses one frame interval before and after it.

    ``before``/``after`` hold (location, rotation) per object of the frame (None: it does not move);
    the physics hook fills them for simulated objects."""

    clip: int
    frame: int
    frames: int
    fps: float
    shutter: float | None
    before: list[Pose | None] = field(default_factory=list)
    after: list[Pose | None] = field(default_factory=list)
    camera_before: ViewPose | None = None
    camera_after: ViewPose | None = None
    physics_start: int | None = None  # objects move by simulation (frame k = simulation frame start + k)
    flow: bool = False  # the back-end reads Cycles' vector pass (outputs.flow)

    @property
    def time(self) -> float:
        return self.frame / self.fps

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in ("before", "after") and v is not None}


class SequenceRandomizer(Randomizer):
    name = "sequence"
    summary = (
        "clips: objects and camera move along drawn trajectories (linear, orbit, spline) or by rigid-body "
        "physics run forward; stable instance ids over the clip (tracks), optical flow, motion blur"
    )
    config_keys = "`sequence:`"
    demo = "scenes/demos/stereo_clip.yaml"
    SECTIONS = SequenceSections
    off_mode = "freeze"

    def off(self, config: Any) -> Any:
        """Every trajectory static (the clips still have their frames)."""
        from simgen.randomizers.base import revalidate

        if config.sequence is None:
            return config
        still = config.sequence.model_copy(update={"objects": Trajectory(), "camera": Trajectory()})
        return revalidate(config.model_copy(update={"sequence": still}), "without sequence")

    def sample(self, draw: FrameDraw) -> None:
        seq = draw.config.sequence
        if seq is None:
            return
        position, s = clip_position(draw.config, draw.index), draw.streams
        part = SequenceSpec(
            clip=position.clip,
            frame=position.frame,
            frames=seq.frames,
            fps=seq.fps,
            shutter=None if seq.motion_blur is None else s.float("sequence.shutter", seq.motion_blur.shutter),
            physics_start=seq.physics_start if seq.objects.type == "physics" else None,
            flow=draw.config.outputs.flow,
        )
        dt, t = 1.0 / seq.fps, part.time
        for inst in draw.instances:
            moves = inst.spec.instance_id > 0 and seq.objects.type not in ("static", "physics")
            if not moves:
                part.before.append(None)
                part.after.append(None)
                continue
            path = f"sequence.{inst.path}"
            motion = drawn_motion(seq.objects, s, path, seq, center=(0.0, 0.0, 0.0))
            start = (inst.spec.location, inst.spec.rotation_deg)
            inst.spec.location, inst.spec.rotation_deg = motion.pose(start, t)
            part.before.append(motion.pose(start, t - dt))
            part.after.append(motion.pose(start, t + dt))
        if draw.camera is not None:
            self._move_camera(draw, seq, part)
        draw.parts[self.name] = part

    @staticmethod
    def _move_camera(draw: FrameDraw, seq: Sequence, part: SequenceSpec) -> None:
        camera = draw.camera
        assert camera is not None
        motion = drawn_motion(seq.camera, draw.streams, "sequence.camera", seq, center=camera.look_at)
        start = view_of(camera)
        part.camera_before = motion.view(start, part.time - 1.0 / seq.fps)
        part.camera_after = motion.view(start, part.time + 1.0 / seq.fps)
        now = motion.view(start, part.time)
        draw.camera = replace(camera, location=now.location, look_at=now.look_at, up=now.up, roll_deg=0.0)

    def blender_hook(self, ctx: Any) -> SequenceHook:
        return SequenceHook(ctx)


def view_of(camera: CameraSpec) -> ViewPose:
    """The camera's pose as (location, look-at, exact up vector), so a moved copy keeps its roll."""
    rotation = camera.rotation_camera_to_world()
    return ViewPose(camera.location, camera.look_at, tuple(float(v) for v in rotation[:, 1]))  # type: ignore[arg-type]


@dataclass
class DrawnMotion:
    """One trajectory with its values drawn: evaluates a pose at any time of the clip (and beyond)."""

    type: TrajectoryType
    velocity: np.ndarray
    angular_velocity: np.ndarray
    center: np.ndarray
    rate: float
    offsets: np.ndarray  # spline: control points - start, points x 3 (first row zero)
    duration: float  # spline: seconds from the first to the last control point

    def displacement(self, t: float) -> np.ndarray:
        if self.type == "linear":
            return self.velocity * t
        if self.type == "spline":
            return catmull_rom(self.offsets, t / self.duration if self.duration > 0 else 0.0)
        return np.zeros(3)

    def turn_deg(self, t: float) -> float:
        return self.rate * t if self.type == "orbit" else 0.0

    def moved(self, point: np.ndarray, t: float) -> np.ndarray:
        """Where ``point`` (its start position) is at time ``t``."""
        if self.type == "orbit":
            return self.center + z_rotation(self.turn_deg(t)) @ (point - self.center)
        return point + self.displacement(t)

    def pose(self, start: Pose, t: float) -> Pose:
        location = self.moved(np.asarray(start[0], dtype=float), t)
        rotation = np.asarray(start[1], dtype=float)
        if self.type == "linear":
            rotation = rotation + self.angular_velocity * t
        elif self.type == "orbit":
            rotation = rotation + np.array([0.0, 0.0, self.turn_deg(t)])
        return _vec(location), _vec(rotation)

    def view(self, start: ViewPose, t: float) -> ViewPose:
        """The camera at time ``t``: linear and spline carry the look-at point along, orbit turns both
        the position and the up vector about the axis through the look-at point."""
        location = self.moved(np.asarray(start.location, dtype=float), t)
        look_at = np.asarray(start.look_at, dtype=float)
        up = np.asarray(start.up, dtype=float)
        if self.type == "orbit":
            look_at = self.moved(look_at, t)
            up = z_rotation(self.turn_deg(t)) @ up
        elif self.type in ("linear", "spline"):
            look_at = look_at + self.displacement(t)
        return ViewPose(_vec(location), _vec(look_at), _vec(up))


def drawn_motion(traj: Trajectory, s: Any, path: str, seq: Sequence, center: Vec3) -> DrawnMotion:
    offsets = np.zeros((traj.points, 3))
    if traj.type == "spline":
        for j in range(1, traj.points):
            offsets[j] = s.vec3(f"{path}.offset#{j}", traj.offset)
    return DrawnMotion(
        type=traj.type,
        velocity=np.asarray(s.vec3(f"{path}.velocity", traj.velocity)),
        angular_velocity=np.asarray(s.vec3(f"{path}.angular_velocity", traj.angular_velocity)),
        center=np.asarray(center if traj.center is None else s.vec3(f"{path}.center", traj.center)),
        rate=s.float(f"{path}.rate", traj.rate),
        offsets=offsets,
        duration=max(seq.frames - 1, 1) / seq.fps,
    )


def catmull_rom(points: np.ndarray, u: float) -> np.ndarray:
    """The uniform Catmull-Rom spline through ``points`` at ``u`` in [0, 1] (first to last point);
    outside [0, 1] it continues along the end segments' tangents, so flow at a clip's ends is defined."""
    n = len(points) - 1
    if u <= 0:
        return points[0] + (points[1] - points[0]) * (u * n)
    if u >= 1:
        return points[n] + (points[n] - points[n - 1]) * (u * n - n)
    x = u * n
    i = min(int(x), n - 1)
    f = x - i
    p0, p1, p2, p3 = (points[min(max(j, 0), n)] for j in (i - 1, i, i + 1, i + 2))
    return 0.5 * (
        2 * p1 + (p2 - p0) * f + (2 * p0 - 5 * p1 + 4 * p2 - p3) * f * f + (3 * p1 - p0 - 3 * p2 + p3) * f**3
    )


def z_rotation(angle_deg: float) -> np.ndarray:
    a = math.radians(angle_deg)
    return np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])


def _vec(v: np.ndarray) -> Vec3:
    return (float(v[0]), float(v[1]), float(v[2]))


class SequenceHook:
    """Keys every moving object and the camera a frame before (Blender frame 0), at (1) and after (2)
    the image's moment, linear in between, and renders frame 1: Cycles' vector pass then holds the motion
    to the previous and next frames, and its motion blur (when on) integrates along the keys."""

    moves_objects = False
    image_only = True  # with motion blur the labels come from a render without it

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    def active(self, spec: FrameSpec) -> bool:
        part: SequenceSpec | None = spec.part("sequence")
        return part is not None and part.shutter is not None

    def apply(self, spec: FrameSpec) -> None:
        part: SequenceSpec | None = spec.part("sequence")
        render = self.ctx.scene.render
        if part is None:
            return
        render.use_motion_blur = part.shutter is not None
        if part.shutter is not None:
            render.motion_blur_position = "CENTER"
            render.motion_blur_shutter = part.shutter
        with linear_keys(self.ctx.bpy):
            for obj, ospec, before, after in zip(
                self.ctx.objects, spec.objects, part.before, part.after, strict=True
            ):
                if before is not None and after is not None:
                    _key_object(obj, before, (ospec.location, ospec.rotation_deg), after)
            if part.camera_before is not None and part.camera_after is not None:
                self._key_camera(spec, part)
        self.ctx.scene.frame_set(1)

    def _key_camera(self, spec: FrameSpec, part: SequenceSpec) -> None:
        camera = self.ctx.scene.camera
        camera.rotation_mode = "XYZ"
        views = (part.camera_before, None, part.camera_after)
        previous = None
        for frame, view in enumerate(views):
            cam = spec.camera if view is None else replace(spec.camera, **asdict(view), roll_deg=0.0)
            camera.matrix_world = self.ctx.pose_matrix(cam.location, cam.rotation_camera_to_world())
            if previous is not None:  # no jump from -179° to 179° between two keys
                euler = camera.rotation_euler.copy()
                euler.make_compatible(previous)
                camera.rotation_euler = euler
            previous = camera.rotation_euler.copy()
            camera.keyframe_insert("location", frame=frame)
            camera.keyframe_insert("rotation_euler", frame=frame)

    def set_enabled(self, spec: FrameSpec, enabled: bool) -> None:
        self.ctx.scene.render.use_motion_blur = enabled and self.active(spec)


def _key_object(obj: Any, before: Pose, now: Pose, after: Pose) -> None:
    obj.rotation_mode = "XYZ"
    for frame, (location, rotation) in enumerate((before, now, after)):
        obj.location = location
        obj.rotation_euler = [math.radians(a) for a in rotation]
        obj.keyframe_insert("location", frame=frame)
        obj.keyframe_insert("rotation_euler", frame=frame)
