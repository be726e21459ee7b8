"""Turn a ``SceneConfig`` (with distributions) into the concrete ``FrameSpec`` of image ``index``.

A frame is drawn in two steps: the object instances of every config entry are created (how many, which
shape, mesh or generator draw, which label), then every randomizer of ``simgen.randomizers.REGISTRY``
draws its part in registry order (camera, lights, world, distractors, materials, poses and placement,
effects). All draws come from counter-based streams (``simgen.streams``), so image i depends only on
(config, seed, i) and mesh bounds, never on other images or on the order of the steps.
"""

from __future__ import annotations

import numpy as np

from simgen.clips import clip_position, image_index
from simgen.config.schema import PoseVariant, SceneConfig, SceneObject
from simgen.generators import RULES, get_generator
from simgen.randomizers import REGISTRY
from simgen.randomizers.base import FrameDraw, InstanceDraw, MeshBounds
from simgen.spec import FrameSpec, ObjectSpec
from simgen.streams import Sampler, image_seed

__all__ = ["apply_category_rules", "image_seed", "objects_in_view", "sample_frame"]

DEFAULT_VIEW_ATTEMPTS = 100


def sample_frame(
    config: SceneConfig, index: int, dataset_seed: int | None = None, mesh_bounds: MeshBounds | None = None
) -> FrameSpec:
    """The concrete spec of image ``index`` (a pure function of config, seed, index and mesh bounds).

    With ``camera.min_objects_in_view`` the whole image is drawn again (attempt 1, 2, ...: other streams)
    until enough labelled objects are in view; attempt 0 is the draw every other image gets. In a clip
    the test is made on its first image, so every image of the clip keeps the same draw."""
    wanted = config.camera.min_objects_in_view or 0
    attempts = config.camera.view_attempts or DEFAULT_VIEW_ATTEMPTS
    first = image_index(config, clip_position(config, index).clip, 0, 0)
    best = 0
    for attempt in range(attempts if wanted else 1):
        spec = _draw(config, first if wanted else index, dataset_seed, mesh_bounds, attempt)
        if not wanted:
            return spec
        seen = objects_in_view(spec)
        if seen >= wanted:
            return spec if first == index else _draw(config, index, dataset_seed, mesh_bounds, attempt)
        best = max(best, seen)
    from simgen.errors import SimgenError

    raise SimgenError(
        f"camera.min_objects_in_view: image {index}: at most {best} of the wanted {wanted} labelled objects "
        f"were in view in {attempts} draws; aim the camera at the placement region, "
        "narrow the region, or lower min_objects_in_view"
    )


def objects_in_view(spec: FrameSpec) -> int:
    """Labelled objects whose center is in front of the camera and projects inside the frame."""
    centers = np.array([obj.location for obj in spec.labelled()], dtype=float).reshape(-1, 3)
    if not len(centers):
        return 0
    cam = spec.camera
    try:
        depth = (np.c_[centers, np.ones(len(centers))] @ cam.world_to_opencv().T)[:, 2]
    except ValueError:  # a camera on its own look-at point sees nothing (validation names it)
        return 0
    uv = cam.project(centers)
    width, height = cam.image_size
    inside = (depth > cam.clip_start) & (uv[:, 0] >= 0) & (uv[:, 0] < width) & (uv[:, 1] >= 0)
    return int((inside & (uv[:, 1] < height)).sum())


def _draw(
    config: SceneConfig, index: int, dataset_seed: int | None, mesh_bounds: MeshBounds | None, attempt: int
) -> FrameSpec:
    seed = config.scene.seed if dataset_seed is None else dataset_seed
    clip = clip_position(config, index).clip
    draw = FrameDraw(config, Sampler(seed, clip, attempt), mesh_bounds, index=index)
    draw.instances = object_instances(config, draw.streams)
    for randomizer in REGISTRY.values():
        randomizer.sample(draw)
    spec = FrameSpec(
        index=index,
        seed=image_seed(seed, index),
        camera=draw.camera,  # type: ignore[arg-type]  # the camera randomizer always draws one
        lights=draw.lights,
        world=draw.world,  # type: ignore[arg-type]
        objects=[inst.spec for inst in draw.instances],
        parts=draw.parts,
    )
    apply_category_rules(spec, config.category_names())  # again after physics, in the build
    return spec


def object_instances(config: SceneConfig, s: Sampler) -> list[InstanceDraw]:
    """Every instance of every object entry, in config order; labelled ones get ids 1, 2, ..."""
    category_ids = {name: i + 1 for i, name in enumerate(config.category_names())}
    instances: list[InstanceDraw] = []
    next_instance = 1
    for i, obj in enumerate(config.objects):
        count = int(s.value(f"objects[{i}].count", obj.count))
        if count < 0:
            from simgen.errors import SimgenError

            raise SimgenError(f"objects[{i}].count: drew {count}, expected >= 0")
        for k in range(count):
            inst = _instance(obj, s, f"objects[{i}]#{k}", f"{obj.name or obj.category or 'object'}.{i}.{k}")
            if obj.category or obj.category_rule:
                inst.spec.instance_id, next_instance = next_instance, next_instance + 1
            inst.spec.category_id = category_ids.get(obj.category, 0) if obj.category else 0
            instances.append(inst)
    return instances


def _instance(obj: SceneObject, s: Sampler, p: str, name: str) -> InstanceDraw:
    generator, slots = None, []
    if obj.generator is not None:
        generator, slots = get_generator(obj.generator.type).sample(obj.generator, s, p)
    spec = ObjectSpec(
        name=name,
        instance_id=0,
        category=obj.category,
        category_id=0,
        shape=None if obj.shape is None else str(s.value(f"{p}.shape", obj.shape)),
        mesh=obj.mesh,
        size=None,
        location=(0.0, 0.0, 0.0),
        rotation_deg=(0.0, 0.0, 0.0),
        scale=(1.0, 1.0, 1.0),
        material=None,  # type: ignore[arg-type]  # drawn by the materials randomizer
        physics=_physics_role(obj.physics, obj.placement is not None),
        generator=generator,
        extra_materials=slots,
        category_rule=obj.category_rule,
    )
    variant = _variant(obj, s, p)
    size = variant.size if variant and variant.size is not None else obj.size
    if size is None and obj.mesh is None:  # primitives are 1 m; generators know their own size
        size = 1.0 if generator is None else get_generator(generator.type).natural_size(generator)
    rotation = variant.rotation if variant and variant.rotation is not None else obj.rotation
    scale = variant.scale if variant and variant.scale is not None else obj.scale
    return InstanceDraw(p, spec, obj.material, size, obj.location, rotation, scale, obj.placement)


def _variant(obj: SceneObject, s: Sampler, p: str) -> PoseVariant | None:
    """The instance's draw among ``obj.variants`` by weight (None without variants)."""
    if not obj.variants:
        return None
    weights = np.array([v.weight for v in obj.variants], dtype=float)
    return obj.variants[int(s.rng(f"{p}.variant").choice(len(weights), p=weights / weights.sum()))]


def _physics_role(obj_physics: str, placed: bool) -> str:
    if obj_physics == "auto":
        return "active" if placed else "passive"
    return obj_physics


def apply_category_rules(spec: FrameSpec, category_names: list[str]) -> None:
    """Set category and category_id of every object whose category follows a rule, from its pose."""
    ids = {name: i + 1 for i, name in enumerate(category_names)}
    for obj in spec.objects:
        if obj.category_rule is not None:
            name = RULES[obj.category_rule].category_of(obj.rotation_deg)
            obj.category, obj.category_id = name, ids[name]
