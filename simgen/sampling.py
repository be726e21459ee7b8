"""Turn a ``SceneConfig`` (with distributions) into the concrete ``FrameSpec`` of image ``index``.

A frame is drawn in two steps: the object instances of every config entry are created (how many, which
shape, mesh or generator draw, which label), then every randomizer of ``simgen.randomizers.REGISTRY``
draws its part in registry order (camera, lights, world, distractors, materials, poses and placement,
effects). All draws come from counter-based streams (``simgen.streams``), so image i depends only on
(config, seed, i) and mesh bounds, never on other images or on the order of the steps.
"""

from __future__ import annotations

from simgen.config.schema import SceneConfig, SceneObject
from simgen.generators import RULES, get_generator
from simgen.randomizers import REGISTRY
from simgen.randomizers.base import FrameDraw, InstanceDraw, MeshBounds
from simgen.spec import FrameSpec, ObjectSpec
from simgen.streams import Sampler, image_seed

__all__ = ["apply_category_rules", "image_seed", "sample_frame"]


def sample_frame(
    config: SceneConfig, index: int, dataset_seed: int | None = None, mesh_bounds: MeshBounds | None = None
) -> FrameSpec:
    """The concrete spec of image ``index`` (a pure function of config, seed, index and mesh bounds)."""
    seed = config.scene.seed if dataset_seed is None else dataset_seed
    draw = FrameDraw(config=config, streams=Sampler(seed, index), mesh_bounds=mesh_bounds)
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
    size = obj.size
    if size is None and obj.mesh is None:  # primitives are 1 m; generators know their own size
        size = 1.0 if generator is None else get_generator(generator.type).natural_size(generator)
    return InstanceDraw(p, spec, obj.material, size, obj.location, obj.rotation, obj.scale, obj.placement)


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
