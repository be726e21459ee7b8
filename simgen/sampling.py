"""Turn a ``SceneConfig`` (with distributions) into the concrete ``FrameSpec`` of image ``index``.

Counter-based seeding: every field draws from its own stream seeded by (dataset seed, image index, field
path). Image i therefore depends only on (seed, i) — it can be re-rendered alone, shards need no order —
and switching one randomizer off leaves every other field's draws unchanged.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np

from simgen.config.distributions import sample_value
from simgen.config.schema import Material, SceneConfig, SceneObject
from simgen.spec import CameraSpec, FrameSpec, LightSpec, MaterialSpec, ObjectSpec, TextureSpec, WorldSpec


def image_seed(dataset_seed: int, index: int) -> int:
    """A 31-bit seed for image ``index`` (also Cycles' noise seed), stable across machines."""
    return int(np.random.SeedSequence([dataset_seed, index]).generate_state(1)[0] & 0x7FFFFFFF)


class Sampler:
    """Draws config values for one image; each field path gets an independent, reproducible stream."""

    def __init__(self, dataset_seed: int, index: int) -> None:
        self.dataset_seed = dataset_seed
        self.index = index

    def rng(self, path: str) -> np.random.Generator:
        key = zlib.crc32(path.encode("utf-8"))
        return np.random.default_rng(np.random.SeedSequence([self.dataset_seed, self.index, key]))

    def value(self, path: str, value: Any) -> Any:
        return sample_value(value, self.rng(path))

    def float(self, path: str, value: Any) -> float:
        return float(self.value(path, value))

    def vec3(self, path: str, value: Any) -> tuple[float, float, float]:
        drawn = self.value(path, value)
        if len(drawn) != 3:
            raise ValueError(f"{path}: expected 3 values, drew {drawn}")
        return (float(drawn[0]), float(drawn[1]), float(drawn[2]))


def sample_frame(config: SceneConfig, index: int, dataset_seed: int | None = None) -> FrameSpec:
    """The concrete spec of image ``index`` (pure function of config, seed and index)."""
    seed = config.scene.seed if dataset_seed is None else dataset_seed
    s = Sampler(seed, index)
    return FrameSpec(
        index=index,
        seed=image_seed(seed, index),
        camera=_sample_camera(config, s),
        lights=[_sample_light(config, s, i) for i in range(len(config.lights))],
        world=WorldSpec(
            color=s.vec3("world.color", config.world.color),
            strength=s.float("world.strength", config.world.strength),
        ),
        objects=_sample_objects(config, s),
    )


def _sample_camera(config: SceneConfig, s: Sampler) -> CameraSpec:
    cam = config.camera
    if cam.fov is not None:
        fov = s.float("camera.fov", cam.fov)
        if not 0.0 < fov < 180.0:
            raise ValueError(f"camera.fov: drew {fov} degrees, expected within (0, 180)")
        focal = cam.sensor_width / (2.0 * math.tan(math.radians(fov) / 2.0))
    else:
        focal = s.float("camera.focal_length", cam.focal_length if cam.focal_length is not None else 35.0)
    return CameraSpec(
        location=s.vec3("camera.location", cam.location),
        look_at=s.vec3("camera.look_at", cam.look_at),
        roll_deg=s.float("camera.roll", cam.roll),
        focal_length_mm=focal,
        sensor_width_mm=cam.sensor_width,
        resolution=config.render.resolution,
        clip_start=cam.clip_start,
        clip_end=cam.clip_end,
    )


def _sample_light(config: SceneConfig, s: Sampler, i: int) -> LightSpec:
    light = config.lights[i]
    p = f"lights[{i}]"
    return LightSpec(
        type=str(s.value(f"{p}.type", light.type)),
        location=s.vec3(f"{p}.location", light.location),
        look_at=s.vec3(f"{p}.look_at", light.look_at),
        power=s.float(f"{p}.power", light.power),
        color=s.vec3(f"{p}.color", light.color),
        radius=s.float(f"{p}.radius", light.radius),
        spot_size_deg=s.float(f"{p}.spot_size", light.spot_size),
    )


def _sample_material(material: Material, s: Sampler, p: str) -> MaterialSpec:
    texture = None
    if material.texture is not None:
        t = material.texture
        texture = TextureSpec(
            type=str(s.value(f"{p}.texture.type", t.type)),
            color=s.vec3(f"{p}.texture.color", t.color),
            scale=s.float(f"{p}.texture.scale", t.scale),
            distortion=s.float(f"{p}.texture.distortion", t.distortion),
            bump=s.float(f"{p}.texture.bump", t.bump),
        )
    return MaterialSpec(
        base_color=s.vec3(f"{p}.base_color", material.base_color),
        roughness=s.float(f"{p}.roughness", material.roughness),
        metallic=s.float(f"{p}.metallic", material.metallic),
        emission=s.float(f"{p}.emission", material.emission),
        texture=texture,
    )


def _sample_objects(config: SceneConfig, s: Sampler) -> list[ObjectSpec]:
    category_ids = {name: i + 1 for i, name in enumerate(config.category_names())}
    objects: list[ObjectSpec] = []
    next_instance = 1
    for i, obj in enumerate(config.objects):
        count = int(s.value(f"objects[{i}].count", obj.count))
        if count < 0:
            raise ValueError(f"objects[{i}].count: drew {count}, expected >= 0")
        for k in range(count):
            instance_id = 0
            if obj.category:
                instance_id, next_instance = next_instance, next_instance + 1
            objects.append(_sample_object(obj, s, f"objects[{i}]#{k}", instance_id, category_ids, i, k))
    return objects


def _sample_object(
    obj: SceneObject, s: Sampler, p: str, instance_id: int, category_ids: dict[str, int], i: int, k: int
) -> ObjectSpec:
    shape = None if obj.shape is None else str(s.value(f"{p}.shape", obj.shape))
    size = obj.size if obj.size is not None else (1.0 if shape is not None else None)
    base_name = obj.name or obj.category or shape or "mesh"
    return ObjectSpec(
        name=f"{base_name}.{i}.{k}",
        instance_id=instance_id,
        category=obj.category,
        category_id=category_ids.get(obj.category, 0) if obj.category else 0,
        shape=shape,
        mesh=obj.mesh,
        size=None if size is None else s.float(f"{p}.size", size),
        location=s.vec3(f"{p}.location", obj.location),
        rotation_deg=s.vec3(f"{p}.rotation", obj.rotation),
        scale=s.vec3(f"{p}.scale", obj.scale),
        material=_sample_material(obj.material, s, f"{p}.material"),
    )
