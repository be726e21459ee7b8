"""Turn a ``SceneConfig`` (with distributions) into the concrete ``FrameSpec`` of image ``index``.

Counter-based seeding: every field draws from its own stream seeded by (dataset seed, image index, field
path). Image i therefore depends only on (seed, i) — it can be re-rendered alone, shards need no order —
and switching one randomizer off leaves every other field's draws unchanged.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from simgen.config.distributions import Choice, _Dist, sample_color, sample_rotation, sample_value
from simgen.config.loader import list_images
from simgen.config.schema import (
    Distractors,
    LightRig,
    Material,
    Placement,
    SceneConfig,
    SceneObject,
)
from simgen.errors import SimgenError
from simgen.placement import PRIMITIVE_BOUNDS, OrientedBox, boxes_overlap, oriented_box
from simgen.rules import apply_category_rules
from simgen.spec import (
    CameraSpec,
    FrameSpec,
    LightSpec,
    MaterialSpec,
    ObjectSpec,
    TextureSpec,
    WorldSpec,
    euler_xyz_to_matrix,
)

Bounds = tuple[tuple[float, float, float], tuple[float, float, float]]
MeshBounds = Callable[[str], Bounds]
"""mesh path → (center, half extents) of its local bounding box in file units (the backend knows them)."""


def image_seed(dataset_seed: int, index: int) -> int:
    """A 31-bit seed for image ``index`` (also Cycles' noise seed), stable across machines."""
    return int(np.random.SeedSequence([dataset_seed, index]).generate_state(1)[0] & 0x7FFFFFFF)


class Sampler:
    """Draws config values for one image; each field path gets an independent, reproducible stream.

    Paths of per-instance fields look like ``objects[2]#1.material.base_color``; a distribution marked
    ``per: image`` drops the ``#k`` so all instances of the entry share one draw.
    """

    def __init__(self, dataset_seed: int, index: int) -> None:
        self.dataset_seed = dataset_seed
        self.index = index

    def rng(self, path: str) -> np.random.Generator:
        key = zlib.crc32(path.encode("utf-8"))
        return np.random.default_rng(np.random.SeedSequence([self.dataset_seed, self.index, key]))

    def _path(self, path: str, value: Any) -> str:
        if _shared_per_image(value) and "#" in path:
            head, _, tail = path.partition("#")
            return head + tail[tail.find(".") :] if "." in tail else head
        return path

    def value(self, path: str, value: Any) -> Any:
        return sample_value(value, self.rng(self._path(path, value)))

    def float(self, path: str, value: Any) -> float:
        return float(self.value(path, value))

    def vec3(self, path: str, value: Any) -> tuple[float, float, float]:
        drawn = self.value(path, value)
        return (float(drawn[0]), float(drawn[1]), float(drawn[2]))

    def color(self, path: str, value: Any) -> tuple[float, float, float]:
        return sample_color(value, self.rng(self._path(path, value)))

    def rotation(self, path: str, value: Any) -> tuple[float, float, float]:
        return sample_rotation(value, self.rng(self._path(path, value)))


def _shared_per_image(value: Any) -> bool:
    if isinstance(value, _Dist):
        return value.per == "image"
    if isinstance(value, list | tuple):
        return any(_shared_per_image(v) for v in value)
    return False


def sample_frame(
    config: SceneConfig, index: int, dataset_seed: int | None = None, mesh_bounds: MeshBounds | None = None
) -> FrameSpec:
    """The concrete spec of image ``index`` (a pure function of config, seed, index and mesh bounds)."""
    seed = config.scene.seed if dataset_seed is None else dataset_seed
    s = Sampler(seed, index)
    lights = [_sample_light(config, s, i) for i in range(len(config.lights))]
    if config.light_rig is not None:
        lights += _sample_light_rig(config.light_rig, s)
    objects = _sample_objects(config, s, mesh_bounds)
    spec = FrameSpec(
        index=index,
        seed=image_seed(seed, index),
        camera=_sample_camera(config, s),
        lights=lights,
        world=_sample_world(config, s),
        objects=objects,
        postfx=_sample_postfx(config, s),
        physics=config.physics.model_dump() if config.physics and config.physics.enabled else None,
    )
    apply_category_rules(spec, config.category_names())  # again after physics, in the build
    return spec


# -- camera, lights, world ------------------------------------------------------------------------
def shell_position(target: tuple[float, float, float], distance: float, elevation: float, azimuth: float):
    """A point at ``distance`` from target; azimuth 0° is the -Y side, elevation 90° straight above."""
    el, az = math.radians(elevation), math.radians(azimuth)
    return (
        target[0] + distance * math.cos(el) * math.sin(az),
        target[1] - distance * math.cos(el) * math.cos(az),
        target[2] + distance * math.sin(el),
    )


def _sample_camera(config: SceneConfig, s: Sampler) -> CameraSpec:
    cam = config.camera
    if cam.fov is not None:
        fov = s.float("camera.fov", cam.fov)
        if not 0.0 < fov < 180.0:
            raise SimgenError(f"camera.fov: drew {fov} degrees, expected within (0, 180)")
        focal = cam.sensor_width / (2.0 * math.tan(math.radians(fov) / 2.0))
    else:
        focal = s.float("camera.focal_length", cam.focal_length if cam.focal_length is not None else 35.0)
    if cam.orbit is not None:
        target = s.vec3("camera.orbit.target", cam.orbit.target)
        location = shell_position(
            target,
            s.float("camera.orbit.distance", cam.orbit.distance),
            s.float("camera.orbit.elevation", cam.orbit.elevation),
            s.float("camera.orbit.azimuth", cam.orbit.azimuth),
        )
    else:
        target = s.vec3("camera.look_at", cam.look_at)
        location = s.vec3("camera.location", cam.location)
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
    return CameraSpec(
        location=location,
        look_at=look_at,
        roll_deg=s.float("camera.roll", cam.roll),
        focal_length_mm=focal,
        sensor_width_mm=cam.sensor_width,
        resolution=config.render.resolution,
        clip_start=cam.clip_start,
        clip_end=cam.clip_end,
        fstop=fstop,
        focus_distance=focus,
        up=cam.up,
    )


def _sample_light(config: SceneConfig, s: Sampler, i: int) -> LightSpec:
    light = config.lights[i]
    p = f"lights[{i}]"
    return LightSpec(
        type=str(s.value(f"{p}.type", light.type)),
        location=s.vec3(f"{p}.location", light.location),
        look_at=s.vec3(f"{p}.look_at", light.look_at),
        power=s.float(f"{p}.power", light.power),
        color=s.color(f"{p}.color", light.color),
        radius=s.float(f"{p}.radius", light.radius),
        spot_size_deg=s.float(f"{p}.spot_size", light.spot_size),
    )


def _sample_light_rig(rig: LightRig, s: Sampler) -> list[LightSpec]:
    lights = []
    for k in range(int(s.value("light_rig.count", rig.count))):
        p = f"light_rig#{k}"
        target = s.vec3(f"{p}.target", rig.target)
        light_type = str(s.value(f"{p}.type", rig.type))
        if light_type == "sun":
            power = s.float(f"{p}.sun_strength", rig.sun_strength)
        else:
            power = s.float(f"{p}.power", rig.power)
        lights.append(
            LightSpec(
                type=light_type,
                location=shell_position(
                    target,
                    s.float(f"{p}.distance", rig.distance),
                    s.float(f"{p}.elevation", rig.elevation),
                    s.float(f"{p}.azimuth", rig.azimuth),
                ),
                look_at=target,
                power=power,
                color=s.color(f"{p}.color", rig.color),
                radius=s.float(f"{p}.radius", rig.radius),
                spot_size_deg=s.float(f"{p}.spot_size", rig.spot_size),
            )
        )
    return lights


def _choose_file(s: Sampler, path: str, folder: str | None) -> str | None:
    if folder is None:
        return None
    files = list_images(folder)
    return str(files[int(s.rng(path).integers(len(files)))])


def _sample_world(config: SceneConfig, s: Sampler) -> WorldSpec:
    w = config.world
    world_type = str(s.value("world.type", w.type))
    sky = {name: s.float(f"world.sky.{name}", value) for name, value in w.sky}
    return WorldSpec(
        type=world_type,
        color=s.color("world.color", w.color),
        zenith_color=s.color("world.zenith_color", w.zenith_color),
        strength=s.float("world.strength", w.strength),
        sky=sky if world_type == "sky" else {},
        image=_choose_file(s, "world.images", w.images) if world_type == "image" else None,
        rotation_deg=s.float("world.rotation", w.rotation),
        backplate=_choose_file(s, "world.backplate", w.backplate),
    )


# -- materials --------------------------------------------------------------------------------------
def _sample_material(material: Material | Choice[Material], s: Sampler, p: str) -> MaterialSpec:
    if isinstance(material, Choice):
        material = material.sample(s.rng(f"{p}.choice"))
    texture = None
    if material.texture is not None:
        t = material.texture
        texture_type = str(s.value(f"{p}.texture.type", t.type))
        texture = TextureSpec(
            type=texture_type,
            color=s.color(f"{p}.texture.color", t.color),
            scale=s.float(f"{p}.texture.scale", t.scale),
            distortion=s.float(f"{p}.texture.distortion", t.distortion),
            bump=s.float(f"{p}.texture.bump", t.bump),
            image=_choose_file(s, f"{p}.texture.images", t.images) if texture_type == "image" else None,
        )
    return MaterialSpec(
        base_color=s.color(f"{p}.base_color", material.base_color),
        roughness=s.float(f"{p}.roughness", material.roughness),
        metallic=s.float(f"{p}.metallic", material.metallic),
        emission=s.float(f"{p}.emission", material.emission),
        texture=texture,
        transmission=s.float(f"{p}.transmission", material.transmission),
    )


# -- objects and placement ----------------------------------------------------------------------------
class _Layout:
    """Accepts instance boxes one by one, refusing any that overlaps an accepted one."""

    def __init__(self, gap: float) -> None:
        self.gap = gap
        self.boxes: list[OrientedBox] = []

    def fits(self, box: OrientedBox) -> bool:
        return not any(boxes_overlap(box, other, self.gap) for other in self.boxes)


def _local_bounds(
    shape: str | None, mesh: str | None, mesh_bounds: MeshBounds | None, generated: bool = False
) -> Bounds:
    if generated:  # generators build meshes centered on the origin whose largest extent is 1
        return ((0.0, 0.0, 0.0), (0.5, 0.5, 0.5))
    if shape is not None:
        return PRIMITIVE_BOUNDS[shape]
    if mesh_bounds is None:
        raise SimgenError(
            f"{mesh}: placement of a mesh needs its bounds; sample with the renderer's mesh_bounds"
        )
    return mesh_bounds(mesh or "")


def _place(
    placement: Placement,
    s: Sampler,
    p: str,
    bounds: Bounds,
    rotation_deg: tuple[float, float, float],
    scale: np.ndarray,
    layout: _Layout,
    max_tries: int,
) -> tuple[float, float, float]:
    """Draw a location in the region so the instance's box overlaps no earlier box (bounded retries)."""
    rotation = euler_xyz_to_matrix(rotation_deg)
    for attempt in range(max_tries):
        rng = s.rng(f"{p}.placement#{attempt}")
        if placement.region == "box":
            location = rng.uniform(placement.min, placement.max)
        else:
            radius = placement.radius * math.sqrt(rng.uniform())
            angle = rng.uniform(0, 2 * math.pi)
            offset = np.array([radius * math.cos(angle), radius * math.sin(angle), 0.0])
            location = np.asarray(placement.center, dtype=float) + offset
        box = oriented_box(np.array(bounds[0]), np.array(bounds[1]), rotation, scale, location)
        if placement.rest_on is not None:
            location[2] += placement.rest_on - box.lowest_z()
            box = oriented_box(np.array(bounds[0]), np.array(bounds[1]), rotation, scale, location)
        if not placement.avoid_overlap or layout.fits(box):
            if placement.avoid_overlap:
                layout.boxes.append(box)
            return (float(location[0]), float(location[1]), float(location[2]))
    raise SimgenError(
        f"{p.split('#')[0]}: could not place instance {p.split('#')[1] if '#' in p else 0} without overlap "
        f"after {max_tries} tries; enlarge the placement region, lower count or size, "
        "raise layout.max_tries, or set avoid_overlap: false"
    )


def _physics_role(obj_physics: str, placed: bool) -> str:
    if obj_physics == "auto":
        return "active" if placed else "passive"
    return obj_physics


def _sample_objects(config: SceneConfig, s: Sampler, mesh_bounds: MeshBounds | None) -> list[ObjectSpec]:
    category_ids = {name: i + 1 for i, name in enumerate(config.category_names())}
    layout = _Layout(config.layout.gap)
    objects: list[ObjectSpec] = []
    next_instance = 1
    for i, obj in enumerate(config.objects):
        count = int(s.value(f"objects[{i}].count", obj.count))
        if count < 0:
            raise SimgenError(f"objects[{i}].count: drew {count}, expected >= 0")
        for k in range(count):
            instance_id = 0
            if obj.category or obj.category_rule:
                instance_id, next_instance = next_instance, next_instance + 1
            spec = _sample_object(
                obj, s, f"objects[{i}]#{k}", f"{obj.name or obj.category or 'object'}.{i}.{k}"
            )
            spec.instance_id = instance_id
            spec.category_id = category_ids.get(obj.category, 0) if obj.category else 0
            _apply_placement(spec, obj.placement, s, f"objects[{i}]#{k}", layout, config, mesh_bounds)
            spec.physics = _physics_role(obj.physics, obj.placement is not None)
            objects.append(spec)
    if config.distractors is not None:
        objects += _sample_distractors(config.distractors, s, layout, config, mesh_bounds)
    return objects


def _sample_object(obj: SceneObject, s: Sampler, p: str, name: str) -> ObjectSpec:
    shape = None if obj.shape is None else str(s.value(f"{p}.shape", obj.shape))
    size = obj.size if obj.size is not None else (1.0 if obj.mesh is None else None)
    generator, extra_materials = _sample_generator(obj, s, p)
    return ObjectSpec(
        name=name,
        instance_id=0,
        category=obj.category,
        category_id=0,
        shape=shape,
        mesh=obj.mesh,
        size=None if size is None else s.float(f"{p}.size", size),
        location=s.vec3(f"{p}.location", obj.location),
        rotation_deg=s.rotation(f"{p}.rotation", obj.rotation),
        scale=s.vec3(f"{p}.scale", obj.scale),
        material=_sample_material(obj.material, s, f"{p}.material"),
        generator=generator,
        extra_materials=extra_materials,
        category_rule=obj.category_rule,
    )


def _sample_generator(
    obj: SceneObject, s: Sampler, p: str
) -> tuple[dict[str, Any] | None, list[MaterialSpec]]:
    """Draw a generator's parameters; colored parts become extra material slots (e.g. die pips)."""
    if obj.generator is None:
        return None, []
    params: dict[str, Any] = {
        "type": obj.generator.type,
        "seed": int(s.rng(f"{p}.generator.seed").integers(2**31)),
    }
    extra: list[MaterialSpec] = []
    for name, value in obj.generator:
        if name == "type":
            continue
        if name.endswith("_color"):
            color = s.color(f"{p}.generator.{name}", value)
            params[name] = list(color)
            extra.append(MaterialSpec(base_color=color, roughness=0.5, metallic=0.0, emission=0.0))
        else:
            params[name] = s.float(f"{p}.generator.{name}", value)
    return params, extra


def _apply_placement(
    spec: ObjectSpec,
    placement: Placement | None,
    s: Sampler,
    p: str,
    layout: _Layout,
    config: SceneConfig,
    mesh_bounds: MeshBounds | None,
) -> None:
    if placement is None:
        return
    bounds = _local_bounds(spec.shape, spec.mesh, mesh_bounds, generated=spec.generator is not None)
    factor = 1.0
    if spec.size is not None:
        factor = spec.size / max(2 * max(bounds[1]), 1e-12)
    scale = np.asarray(spec.scale, dtype=float) * factor
    spec.location = _place(placement, s, p, bounds, spec.rotation_deg, scale, layout, config.layout.max_tries)


def _sample_distractors(
    d: Distractors, s: Sampler, layout: _Layout, config: SceneConfig, mesh_bounds: MeshBounds | None
) -> list[ObjectSpec]:
    out = []
    for k in range(int(s.value("distractors.count", d.count))):
        p = f"distractors#{k}"
        mesh = None
        shape: str | None = None
        if d.meshes:
            mesh = d.meshes[int(s.rng(f"{p}.mesh").integers(len(d.meshes)))]
        else:
            shape = str(s.value(f"{p}.shape", d.shape))
        spec = ObjectSpec(
            name=f"distractor.{k}",
            instance_id=0,
            category=None,
            category_id=0,
            shape=shape,
            mesh=mesh,
            size=s.float(f"{p}.size", d.size),
            location=(0.0, 0.0, 0.0),
            rotation_deg=s.rotation(f"{p}.rotation", d.rotation),
            scale=(1.0, 1.0, 1.0),
            material=_sample_material(d.material, s, f"{p}.material"),
            distractor=True,
        )
        _apply_placement(spec, d.placement, s, p, layout, config, mesh_bounds)
        spec.physics = "active"
        out.append(spec)
    return out


def _sample_postfx(config: SceneConfig, s: Sampler) -> dict[str, float] | None:
    fx = config.postfx
    if fx is None:
        return None
    drawn: dict[str, Any] = {
        name: s.value(f"postfx.{name}", value)
        for name, value in fx
        if value is not None and name != "white_balance"
    }
    drawn["white_balance"] = list(s.vec3("postfx.white_balance", fx.white_balance))
    return drawn
