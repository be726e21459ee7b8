"""physics: placed objects drop and settle with Blender's rigid-body simulation (Bullet) before the render.

physics: {frames: 200, max_frames: 400, friction: 0.8, angular_damping: 0.8}

The simulation runs from scratch for every image (same inputs, same result), and the settled poses are
written back into the frame's spec, so the saved record reproduces the rendered image and a label rule
(die_face_up) reads the pose the camera sees. Objects still falling or tipping when it stops are
counted per image (``spec.physics.still_moving``) and the build warns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from simgen.config.base import StrictModel
from simgen.randomizers.base import FrameDraw, Randomizer

if TYPE_CHECKING:
    from simgen.spec import FrameSpec

REST_CHECK_FRAMES = 10  # frames between two at-rest checks once physics.frames have run
# At rest: over one check interval, the height changed by less than REST_MOVE_FRACTION of the object's
# size and the tilt by less than REST_TURN_DEG. Looser than "not moving at all": dice with raised pips
# keep rocking by a degree or two on their convex hulls long after they have landed.
REST_MOVE_FRACTION = 0.02
REST_TURN_DEG = 5.0
REST_SLEEP_SPEED = 0.02  # Bullet deactivation thresholds (m/s, rad/s): slower bodies fall asleep
REST_SLEEP_SPIN = 0.1


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
    substeps: int = Field(10, ge=1, le=1000)

    @model_validator(mode="after")
    def _max_after_min(self) -> Physics:
        if self.max_frames is not None and self.max_frames < self.frames:
            raise ValueError(f"max_frames ({self.max_frames}) must be at least frames ({self.frames})")
        return self


class PhysicsSections(StrictModel):
    physics: Physics | None = None


@dataclass
class PhysicsSpec:
    """The simulation settings of one image, and what the simulation did (filled in by the back-end)."""

    enabled: bool
    drop_height: float
    frames: int
    max_frames: int | None
    friction: float
    bounciness: float
    angular_damping: float
    substeps: int
    simulated_frames: int | None = None
    still_moving: int | None = None  # objects still falling or tipping when the simulation stopped


class PhysicsRandomizer(Randomizer):
    name = "physics"
    summary = (
        "Blender rigid-body (Bullet) settling: placed objects drop and rest on passive objects and on each "
        "other; the settled pose is saved in the record. Objects still falling or tipping when the "
        "simulation stops are counted per image and the build warns; `max_frames` simulates on while they "
        "move; `angular_damping` stops round objects rolling on for ever (Bullet has no rolling friction)"
    )
    config_keys = "`physics:`"
    demo = "scenes/demos/pose.yaml"
    SECTIONS = PhysicsSections
    off_mode = "remove"

    def sample(self, draw: FrameDraw) -> None:
        physics = draw.config.physics
        if physics is not None and physics.enabled:
            draw.parts[self.name] = PhysicsSpec(**physics.model_dump())

    def blender_hook(self, ctx: Any) -> PhysicsHook:
        return PhysicsHook(ctx)


class PhysicsHook:
    """Drops the active objects onto the passive ones and writes the resting poses into the spec.

    After the simulation the rigid-body world is switched off, so the render sees plain transforms that
    equal the saved spec.
    """

    moves_objects = True

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    def apply(self, spec: FrameSpec) -> None:
        settings: PhysicsSpec | None = spec.part("physics")
        if settings is None:
            return
        bpy, scene, objects = self.ctx.bpy, self.ctx.scene, self.ctx.objects
        world = self._world(bpy, scene, settings)
        for obj, ospec in zip(objects, spec.objects, strict=True):
            _set_rigid_body(bpy, world, obj, ospec.physics, settings)
            if ospec.physics == "active":
                obj.location.z += settings.drop_height
        if bpy.ops.ptcache.free_bake_all.poll():
            bpy.ops.ptcache.free_bake_all()
        active = [obj for obj, ospec in zip(objects, spec.objects, strict=True) if ospec.physics == "active"]
        sequence = spec.part("sequence")
        if sequence is not None and sequence.physics_start is not None:
            self._run_forward(spec, sequence, active)
        else:
            max_frames = max(settings.max_frames or settings.frames, settings.frames)
            simulated, moving = _simulate_until_rest(scene, active, settings.frames, max_frames)
            settings.simulated_frames, settings.still_moving = simulated, moving
            for obj, ospec in zip(objects, spec.objects, strict=True):
                if ospec.physics == "active":
                    ospec.location, ospec.rotation_deg = _pose(obj.matrix_world)
        world.enabled = False
        scene.frame_set(1)

    def _run_forward(self, spec: FrameSpec, sequence: Any, active: list[Any]) -> None:
        """A clip frame of a simulation run forward: the poses at simulation frame ``start + k`` and the
        frames either side (for the vector pass and motion blur), at the clip's frame rate."""
        scene = self.ctx.scene
        fps = round(sequence.fps)
        scene.render.fps, scene.render.fps_base = fps, fps / sequence.fps
        target = sequence.physics_start + sequence.frame
        scene.rigidbody_world.point_cache.frame_end = scene.frame_end = target + 2
        poses: dict[int, list[tuple[Any, Any]]] = {}
        for frame in range(1, target + 2):
            scene.frame_set(frame)
            if frame >= target - 1:
                poses[frame] = [_pose(obj.matrix_world) for obj in active]
        moving = iter(range(len(active)))
        for i, ospec in enumerate(spec.objects):
            if ospec.physics != "active":
                continue
            k = next(moving)
            before, now, after = (poses[f][k] for f in (target - 1, target, target + 1))
            ospec.location, ospec.rotation_deg = now[0], _compatible(now[1], before[1])
            sequence.before[i] = before
            sequence.after[i] = (after[0], _compatible(after[1], ospec.rotation_deg))
        settings = spec.part("physics")
        settings.simulated_frames, settings.still_moving = target + 1, None

    @staticmethod
    def _world(bpy: Any, scene: Any, settings: PhysicsSpec) -> Any:
        if scene.rigidbody_world is None:
            with bpy.context.temp_override(scene=scene):
                bpy.ops.rigidbody.world_add()
        world = scene.rigidbody_world
        if world.collection is None:
            world.collection = bpy.data.collections.new("rigid_bodies")
        world.enabled = True
        world.substeps_per_frame = settings.substeps
        world.solver_iterations = 20
        max_frames = max(settings.max_frames or settings.frames, settings.frames)
        world.point_cache.frame_start, world.point_cache.frame_end = 1, max_frames + 1
        scene.frame_start, scene.frame_end = 1, max_frames + 1
        return world


def _pose(matrix: Any) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """(location, XYZ Euler degrees) of a world matrix."""
    location = tuple(float(v) for v in matrix.to_translation())
    return location, tuple(math.degrees(a) for a in matrix.to_euler("XYZ"))  # type: ignore[return-value]


def _compatible(rotation: tuple[float, ...], near: tuple[float, ...]) -> tuple[float, float, float]:
    """``rotation`` with each Euler angle moved by whole turns next to ``near`` (no 359° spin between
    two keys of the same motion)."""
    return tuple(a + 360.0 * round((b - a) / 360.0) for a, b in zip(rotation, near, strict=True))  # type: ignore[return-value]


def _simulate_until_rest(scene: Any, active: list[Any], frames: int, max_frames: int) -> tuple[int, int]:
    """Step ``frames`` frames, then on in chunks while objects move, up to ``max_frames``.

    Returns (frames simulated, objects still moving in the last check interval): the count goes into
    the image's record so that unsettled poses are visible. A fixed frame count can be too short:
    dice dropped at the dice scene's scale still tumble after 70 frames (median tilt 14° from flat).
    """
    scene.frame_set(1)
    frame = 1
    check_from = max(1, frames + 1 - REST_CHECK_FRAMES)  # motion is measured from here to the end
    before = [obj.matrix_world.copy() for obj in active]
    for frame in range(2, frames + 2):
        scene.frame_set(frame)
        if frame == check_from:
            before = [obj.matrix_world.copy() for obj in active]
    while True:
        after = [obj.matrix_world.copy() for obj in active]
        moving = sum(not _at_rest(obj, a, b) for obj, a, b in zip(active, before, after, strict=True))
        if not moving or frame >= max_frames + 1:
            return frame - 1, moving
        before = after
        last = min(frame + REST_CHECK_FRAMES, max_frames + 1)
        for step in range(frame + 1, last + 1):
            scene.frame_set(step)
        frame = last


def _at_rest(obj: Any, before: Any, after: Any) -> bool:
    """Its height and its tilt stopped changing over the last check interval.

    Turning about the vertical or sliding flat does not count as moving: the object already lies as
    it will, and the render uses the final pose either way.
    """
    size = max(max(obj.dimensions), 1e-6)
    rose = abs(after.translation.z - before.translation.z)
    # Row 2 of the rotation: each local axis's vertical component; unchanged by a turn about world Z.
    rows = [m.to_3x3().normalized()[2] for m in (before, after)]
    tilted = max(abs(a - b) for a, b in zip(rows[0], rows[1], strict=True))
    return rose < REST_MOVE_FRACTION * size and tilted < math.sin(math.radians(REST_TURN_DEG))


def _set_rigid_body(bpy: Any, world: Any, obj: Any, role: str, settings: PhysicsSpec) -> None:
    in_world = obj.name in world.collection.objects
    if role not in ("active", "passive"):
        if in_world:
            world.collection.objects.unlink(obj)
        return
    if not in_world:
        world.collection.objects.link(obj)
    if obj.rigid_body is None:
        with bpy.context.temp_override(object=obj, active_object=obj, selected_objects=[obj]):
            bpy.ops.rigidbody.object_add()
    body = obj.rigid_body
    body.type = "ACTIVE" if role == "active" else "PASSIVE"
    body.collision_shape = "CONVEX_HULL" if role == "active" else "MESH"
    body.friction = settings.friction
    body.restitution = settings.bounciness
    body.angular_damping = settings.angular_damping
    body.collision_margin = 0.001
    body.use_margin = True
    # Bullet deactivation: bodies slower than these thresholds fall asleep instead of jittering.
    body.use_deactivation = role == "active"
    body.deactivate_linear_velocity = REST_SLEEP_SPEED
    body.deactivate_angular_velocity = REST_SLEEP_SPIN
