"""The Blender (Cycles) back-end: keeps one live scene per process and renders FrameSpecs into arrays.

One render gives everything: the RGB image plus the Object Index, Depth and Normal passes, saved with
``save_render`` as one multilayer EXR (the compositor is not needed) and read back with OpenEXR. The
Object Index pass holds exact integers from one sample per pixel, so the instance map never contains
blended ids. Between frames only what changed is rebuilt: geometry when an object's shape/mesh list
changes, a material's node graph when its texture type changes; everything else is set in place.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bpy  # must come first: bmesh and mathutils are provided by it

# isort: split
import bmesh
import cv2
import numpy as np
import OpenEXR
from mathutils import Matrix

from simgen.backend.generators import build_generator_mesh
from simgen.backend.result import RenderResult
from simgen.config.schema import RenderSection
from simgen.errors import SimgenError
from simgen.geometry import ObjectGeometry
from simgen.spec import (
    CameraSpec,
    FrameSpec,
    LightSpec,
    MaterialSpec,
    ObjectSpec,
    WorldSpec,
    look_at_rotation,
)

GPU_BACKENDS = ("OPTIX", "CUDA", "HIP", "ONEAPI", "METAL")
_UNBUILT = "<no graph yet>"
BACKGROUND_DEPTH = 1e9  # Cycles writes ~1e10 where a camera ray hits nothing
REST_CHECK_FRAMES = 10  # physics: frames between two at-rest checks once physics.frames have run
# At rest: over one check interval, the height changed by less than REST_MOVE_FRACTION of the object's
# size and the tilt by less than REST_TURN_DEG. Looser than "not moving at all": dice with raised pips
# keep rocking by a degree or two on their convex hulls long after they have landed.
REST_MOVE_FRACTION = 0.02
REST_TURN_DEG = 5.0
REST_SLEEP_SPEED = 0.02  # Bullet deactivation thresholds (m/s, rad/s): slower bodies fall asleep
REST_SLEEP_SPIN = 0.1


@contextlib.contextmanager
def silence_stdout() -> Iterator[None]:
    """Hide Blender's per-frame C-level prints (they would break progress bars)."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def blender_version() -> str:
    return bpy.app.version_string


class BlenderBackend:
    """A Blender scene that renders FrameSpecs. Create once per worker process; call ``render`` per frame."""

    def __init__(self, render: RenderSection, scratch_dir: str | Path | None = None) -> None:
        with silence_stdout():
            bpy.ops.wm.read_factory_settings(use_empty=True)
        self.settings = render
        self.scene = bpy.context.scene
        self.device = configure_cycles(self.scene, render)
        self.camera = _new_camera(self.scene)
        self.world = _new_world(self.scene)
        self._world_key: tuple[str, bool] | None = None
        self._objects: list[bpy.types.Object] = []
        self._structure: list[tuple[str | None, str | None]] | None = None
        # texture type each material graph was built for, per (object index, material slot)
        self._texture_types: dict[tuple[int, int], str | None] = {}
        self._lights: list[bpy.types.Object] = []
        self._meshes = MeshLibrary()
        base = scratch_dir or ("/dev/shm" if os.path.isdir("/dev/shm") else None)
        self._scratch = Path(tempfile.mkdtemp(prefix="simgen-", dir=base))

    # -- public -------------------------------------------------------------------------------------
    def render(self, spec: FrameSpec) -> RenderResult:
        """Apply ``spec`` to the live scene, render it, and return pixel-aligned arrays."""
        t0 = time.perf_counter()
        self.apply(spec)
        t1 = time.perf_counter()
        with silence_stdout():
            bpy.ops.render.render(write_still=False)
        t2 = time.perf_counter()
        result = self._read_result(spec)
        result.timings = {"sync": t1 - t0, "render": t2 - t1, "read": time.perf_counter() - t2}
        return result

    def apply(self, spec: FrameSpec) -> None:
        """Make the live scene match ``spec`` (rebuilding only what changed structurally).

        With physics on, objects are first settled by the rigid-body simulation and ``spec`` is updated
        in place with the resting poses, so the saved spec reproduces the rendered image.
        """
        self._sync_objects(spec.objects)
        if spec.physics:
            settle_objects(self.scene, self._objects, spec)
            self._sync_objects(spec.objects)
        self._sync_lights(spec.lights)
        world_key = (spec.world.type, spec.world.backplate is not None)
        if world_key != self._world_key:
            build_world_nodes(self.world, *world_key)
            self._world_key = world_key
        apply_world(self.world, spec.world)
        _apply_camera(self.camera, spec.camera)
        self.scene.cycles.seed = spec.seed
        bpy.context.view_layer.update()  # matrix_world etc. now match the spec

    def mesh_bounds(self, path: str) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """(center, half extents) of a mesh file's local bounding box, for collision-free placement."""
        return self._meshes.bounds(path)

    def save_blend(self, path: str | Path) -> None:
        """Write the current scene as a .blend file (to inspect a frame in Blender's UI)."""
        bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)

    def close(self) -> None:
        shutil.rmtree(self._scratch, ignore_errors=True)

    def object_geometry(self, spec: FrameSpec) -> dict[int, ObjectGeometry]:
        """World-space triangles of every labelled instance in the live scene (call after ``render``).

        All mesh objects carrying an instance's pass index are merged into that one instance, so an
        asset built from several parts is still one label. Triangles of unmodified meshes are cached
        per mesh datablock; only the world transform is applied per frame.
        """
        return labelled_geometry(self.scene, self._objects, {o.instance_id for o in spec.labelled()})

    # -- scene sync ---------------------------------------------------------------------------------
    def _sync_objects(self, objects: list[ObjectSpec]) -> None:
        structure = [o.structure_key() for o in objects]
        if structure != self._structure:
            for obj in self._objects:
                materials = [slot.material for slot in obj.material_slots if slot.material is not None]
                bpy.data.objects.remove(obj, do_unlink=True)
                for material in materials:
                    bpy.data.materials.remove(material)
            self._meshes.purge_unused()
            self._objects = [self._new_object(o) for o in objects]
            self._texture_types = {}
            self._structure = structure
        for i, (obj, spec) in enumerate(zip(self._objects, objects, strict=True)):
            obj.name = spec.name
            obj.pass_index = spec.instance_id
            factor = self._meshes.size_factor(spec)
            obj.location = spec.location
            obj.rotation_mode = "XYZ"
            obj.rotation_euler = [math.radians(a) for a in spec.rotation_deg]
            obj.scale = [s * factor for s in spec.scale]
            for slot_index, slot in enumerate(obj.material_slots):
                extra = spec.extra_materials
                wanted = extra[slot_index - 1] if 0 < slot_index <= len(extra) else spec.material
                self._sync_material(slot.material, wanted, (i, slot_index))

    def _sync_material(self, material: bpy.types.Material, spec: MaterialSpec, key: tuple[int, int]) -> None:
        texture_type = spec.texture.type if spec.texture else None
        if self._texture_types.get(key, _UNBUILT) != texture_type:
            build_material_nodes(material, texture_type)
            self._texture_types[key] = texture_type
        apply_material(material, spec)

    def _new_object(self, spec: ObjectSpec) -> bpy.types.Object:
        mesh = self._meshes.get(spec)
        obj = bpy.data.objects.new(spec.name, mesh)
        self.scene.collection.objects.link(obj)
        for k, slot in enumerate(obj.material_slots):
            slot.link = "OBJECT"  # instances share geometry but each gets its own materials
            slot.material = bpy.data.materials.new(f"{spec.name}.material.{k}")
        return obj

    def _sync_lights(self, lights: list[LightSpec]) -> None:
        if [light.type for light in lights] != [obj.data.type.lower() for obj in self._lights]:
            for obj in self._lights:
                data = obj.data
                bpy.data.objects.remove(obj, do_unlink=True)
                bpy.data.lights.remove(data)
            self._lights = []
            for i, light in enumerate(lights):
                data = bpy.data.lights.new(f"light.{i}", type=light.type.upper())
                obj = bpy.data.objects.new(f"light.{i}", data)
                self.scene.collection.objects.link(obj)
                self._lights.append(obj)
        for obj, light in zip(self._lights, lights, strict=True):
            _apply_light(obj, light)

    # -- reading passes -----------------------------------------------------------------------------
    def _read_result(self, spec: FrameSpec) -> RenderResult:
        image = bpy.data.images["Render Result"]
        exr_path, png_path = self._scratch / "passes.exr", self._scratch / "rgb.png"
        settings = self.scene.render.image_settings
        settings.media_type = "MULTI_LAYER_IMAGE"
        settings.file_format = "OPEN_EXR_MULTILAYER"
        settings.color_depth = "32"
        settings.exr_codec = "NONE"
        image.save_render(str(exr_path), scene=self.scene)
        settings.media_type = "IMAGE"
        settings.file_format = "PNG"
        settings.color_mode = "RGB"
        settings.color_depth = "8"
        settings.compression = 0
        image.save_render(str(png_path), scene=self.scene)

        channels = _read_exr_channels(exr_path)
        ids = np.rint(_channel(channels, "Object Index.X")).astype(np.int64)
        known = {0, *(o.instance_id for o in spec.objects)}
        unexpected = set(np.unique(ids).tolist()) - known
        if unexpected:
            raise RuntimeError(f"object index pass holds ids {sorted(unexpected)} not in the frame spec")
        depth = _channel(channels, "Depth.Z").astype(np.float32)
        depth[depth >= BACKGROUND_DEPTH] = 0.0
        normals = np.stack([_channel(channels, f"Normal.{a}") for a in "XYZ"], axis=-1).astype(np.float32)
        bgr = cv2.imread(str(png_path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise RuntimeError(f"Blender did not write a readable image to {png_path}")
        return RenderResult(
            rgb=np.ascontiguousarray(bgr[:, :, ::-1]),
            instance_ids=ids.astype(np.uint16),
            depth=depth,
            normals=normals,
        )


def _read_exr_channels(path: Path) -> dict[str, np.ndarray]:
    with OpenEXR.File(str(path), separate_channels=True) as exr:
        return {name: channel.pixels for part in exr.parts for name, channel in part.channels.items()}


def _channel(channels: dict[str, np.ndarray], suffix: str) -> np.ndarray:
    for name, pixels in channels.items():
        if name.endswith(suffix):
            return pixels
    raise RuntimeError(f"render pass {suffix!r} missing from Blender's output (have {sorted(channels)})")


# -- render settings --------------------------------------------------------------------------------
def configure_cycles(scene: bpy.types.Scene, render: RenderSection) -> str:
    """Set up Cycles, passes and color management; returns the device used (e.g. 'CPU', 'OPTIX')."""
    scene.render.engine = "CYCLES"
    cycles = scene.cycles
    cycles.samples = render.samples
    cycles.use_adaptive_sampling = False  # fixed cost per frame, easier to reason about and benchmark
    cycles.max_bounces = render.max_bounces
    for name in ("diffuse_bounces", "glossy_bounces", "transmission_bounces", "volume_bounces"):
        setattr(cycles, name, min(getattr(cycles, name), render.max_bounces))
    cycles.use_denoising = render.denoise
    if render.denoise:
        cycles.denoiser = "OPENIMAGEDENOISE"
        cycles.denoising_prefilter = "FAST"
        cycles.denoising_quality = "FAST"
    cycles.use_animated_seed = False
    scene.render.resolution_x, scene.render.resolution_y = render.resolution
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = False
    scene.render.dither_intensity = 0.0  # dither noise is not seeded: it would break pixel determinism
    scene.render.use_compositing = False
    scene.render.use_sequencer = False
    if render.threads > 0:
        scene.render.threads_mode = "FIXED"
        scene.render.threads = render.threads
    else:
        scene.render.threads_mode = "AUTO"
    scene.view_settings.view_transform = render.view_transform
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.view_settings.gamma = 1.0
    layer = scene.view_layers[0]
    layer.use_pass_object_index = True
    layer.use_pass_z = True
    layer.use_pass_normal = True
    return _select_device(scene, render.device)


def _select_device(scene: bpy.types.Scene, wanted: str) -> str:
    if wanted == "cpu":
        scene.cycles.device = "CPU"
        return "CPU"
    prefs = bpy.context.preferences.addons["cycles"].preferences
    for backend in GPU_BACKENDS:
        try:
            prefs.compute_device_type = backend
        except TypeError:  # backend not compiled into this build
            continue
        with silence_stdout():
            prefs.refresh_devices()
        devices = [d for d in prefs.devices if d.type == backend]
        if devices:
            for d in prefs.devices:
                d.use = d.type == backend
            scene.cycles.device = "GPU"
            return backend
    if wanted == "gpu":
        raise SimgenError(
            "render.device: 'gpu' requested but Cycles found no OptiX/CUDA/HIP/oneAPI/Metal device"
        )
    scene.cycles.device = "CPU"
    return "CPU"


# -- camera, world, lights --------------------------------------------------------------------------
def _new_camera(scene: bpy.types.Scene) -> bpy.types.Object:
    data = bpy.data.cameras.new("camera")
    obj = bpy.data.objects.new("camera", data)
    scene.collection.objects.link(obj)
    scene.camera = obj
    return obj


def _apply_camera(obj: bpy.types.Object, cam: CameraSpec) -> None:
    data = obj.data
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
    obj.matrix_world = _pose_matrix(cam.location, cam.rotation_camera_to_world())


def _pose_matrix(location: tuple[float, float, float], rotation: np.ndarray) -> Matrix:
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = location
    return Matrix(pose.tolist())


def _new_world(scene: bpy.types.Scene) -> bpy.types.World:
    # Blender 5 creates the Background and Output nodes itself (World.use_nodes is deprecated)
    world = bpy.data.worlds.new("world")
    scene.world = world
    return world


def build_world_nodes(world: bpy.types.World, world_type: str, backplate: bool) -> None:
    """(Re)build the world graph for a world type; a backplate is shown to camera rays only."""
    nodes, links = world.node_tree.nodes, world.node_tree.links
    nodes.clear()
    output = nodes.new("ShaderNodeOutputWorld")
    background = nodes.new("ShaderNodeBackground")
    background.name = "background"
    coords = nodes.new("ShaderNodeTexCoord")
    if world_type == "gradient":
        split = nodes.new("ShaderNodeSeparateXYZ")
        mix = nodes.new("ShaderNodeMix")
        mix.name, mix.data_type = "gradient", "RGBA"
        mix.clamp_factor = True
        links.new(coords.outputs["Generated"], split.inputs["Vector"])
        links.new(split.outputs["Z"], mix.inputs["Factor"])
        links.new(mix.outputs["Result"], background.inputs["Color"])
    elif world_type == "sky":
        sky = nodes.new("ShaderNodeTexSky")
        sky.name = "sky"
        sky.sky_type = "MULTIPLE_SCATTERING"
        links.new(sky.outputs["Color"], background.inputs["Color"])
    elif world_type == "image":
        mapping = nodes.new("ShaderNodeMapping")
        mapping.name = "env_mapping"
        env = nodes.new("ShaderNodeTexEnvironment")
        env.name = "environment"
        links.new(coords.outputs["Generated"], mapping.inputs["Vector"])
        links.new(mapping.outputs["Vector"], env.inputs["Vector"])
        links.new(env.outputs["Color"], background.inputs["Color"])
    if not backplate:
        links.new(background.outputs["Background"], output.inputs["Surface"])
        return
    plate = nodes.new("ShaderNodeTexImage")
    plate.name = "backplate"
    plate.extension = "EXTEND"
    plate_emit = nodes.new("ShaderNodeBackground")
    path = nodes.new("ShaderNodeLightPath")
    mix = nodes.new("ShaderNodeMixShader")
    links.new(coords.outputs["Window"], plate.inputs["Vector"])
    links.new(plate.outputs["Color"], plate_emit.inputs["Color"])
    links.new(path.outputs["Is Camera Ray"], mix.inputs["Fac"])
    links.new(background.outputs["Background"], mix.inputs[1])
    links.new(plate_emit.outputs["Background"], mix.inputs[2])
    links.new(mix.outputs["Shader"], output.inputs["Surface"])


def load_image(path: str, non_color: bool = False) -> bpy.types.Image:
    """Load an image once per process (Blender caches by path)."""
    try:
        image = bpy.data.images.load(path, check_existing=True)
    except RuntimeError as exc:
        raise SimgenError(f"{path}: Blender cannot read this image: {exc}") from None
    if non_color:
        image.colorspace_settings.name = "Non-Color"
    return image


def apply_world(world: bpy.types.World, spec: WorldSpec) -> None:
    nodes = world.node_tree.nodes
    background = nodes["background"]
    background.inputs["Color"].default_value = (*spec.color, 1.0)
    background.inputs["Strength"].default_value = spec.strength
    if spec.type == "gradient":
        nodes["gradient"].inputs["A"].default_value = (*spec.color, 1.0)
        nodes["gradient"].inputs["B"].default_value = (*spec.zenith_color, 1.0)
    elif spec.type == "sky":
        sky = nodes["sky"]
        sky.sun_elevation = math.radians(spec.sky.get("sun_elevation", 30.0))
        sky.sun_rotation = math.radians(spec.sky.get("sun_rotation", 0.0))
        sky.sun_intensity = spec.sky.get("sun_intensity", 1.0)
        sky.sun_size = math.radians(spec.sky.get("sun_size", 0.545))
        sky.air_density = spec.sky.get("air_density", 1.0)
        sky.aerosol_density = spec.sky.get("aerosol_density", 1.0)
    elif spec.type == "image" and spec.image:
        nodes["environment"].image = load_image(spec.image)
        nodes["env_mapping"].inputs["Rotation"].default_value = (0.0, 0.0, math.radians(spec.rotation_deg))
    if spec.backplate:
        nodes["backplate"].image = load_image(spec.backplate)


def _apply_light(obj: bpy.types.Object, light: LightSpec) -> None:
    data = obj.data
    data.energy = light.power
    data.color = light.color
    if light.type == "sun":
        data.angle = math.radians(light.radius)
    elif light.type == "area":
        data.size = light.radius
    else:
        data.shadow_soft_size = light.radius
    if light.type == "spot":
        data.spot_size = math.radians(light.spot_size_deg)
    obj.matrix_world = _pose_matrix(light.location, look_at_rotation(light.location, light.look_at))


# -- materials --------------------------------------------------------------------------------------
TEXTURE_NODES = {
    "noise": ("ShaderNodeTexNoise", "Fac"),
    "checker": ("ShaderNodeTexChecker", "Fac"),
    "voronoi": ("ShaderNodeTexVoronoi", "Distance"),
    "wave": ("ShaderNodeTexWave", "Fac"),
    "brick": ("ShaderNodeTexBrick", "Fac"),
    "magic": ("ShaderNodeTexMagic", "Fac"),
    "gradient": ("ShaderNodeTexGradient", "Fac"),
}


def build_material_nodes(material: bpy.types.Material, texture_type: str | None) -> None:
    """(Re)build a Principled BSDF graph; with a texture, its pattern mixes two colors and drives bump."""
    nodes, links = material.node_tree.nodes, material.node_tree.links
    nodes.clear()
    output = nodes.new("ShaderNodeOutputMaterial")
    bsdf = nodes.new("ShaderNodeBsdfPrincipled")
    bsdf.name = "bsdf"
    links.new(bsdf.outputs["BSDF"], output.inputs["Surface"])
    if texture_type is None:
        return
    if texture_type == "image":
        coords = nodes.new("ShaderNodeTexCoord")
        mapping = nodes.new("ShaderNodeMapping")
        mapping.name = "mapping"
        texture = nodes.new("ShaderNodeTexImage")
        texture.name = "texture"
        texture.projection = "BOX"  # no UVs needed: project from the object's own axes
        texture.projection_blend = 0.2
        bump = nodes.new("ShaderNodeBump")
        bump.name = "bump"
        links.new(coords.outputs["Object"], mapping.inputs["Vector"])
        links.new(mapping.outputs["Vector"], texture.inputs["Vector"])
        links.new(texture.outputs["Color"], bsdf.inputs["Base Color"])
        links.new(texture.outputs["Color"], bump.inputs["Height"])
        links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])
        return
    node_type, output_name = TEXTURE_NODES[texture_type]
    coords = nodes.new("ShaderNodeTexCoord")
    mapping = nodes.new("ShaderNodeMapping")
    mapping.name = "mapping"
    texture = nodes.new(node_type)
    texture.name = "texture"
    mix = nodes.new("ShaderNodeMix")
    mix.name = "mix"
    mix.data_type = "RGBA"
    bump = nodes.new("ShaderNodeBump")
    bump.name = "bump"
    links.new(coords.outputs["Object"], mapping.inputs["Vector"])
    links.new(mapping.outputs["Vector"], texture.inputs["Vector"])
    links.new(texture.outputs[output_name], mix.inputs["Factor"])
    links.new(mix.outputs["Result"], bsdf.inputs["Base Color"])
    links.new(texture.outputs[output_name], bump.inputs["Height"])
    links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])


def apply_material(material: bpy.types.Material, spec: MaterialSpec) -> None:
    """Set a material's values in place (its node graph must match ``spec.texture``)."""
    nodes = material.node_tree.nodes
    bsdf = nodes["bsdf"]
    color = (*spec.base_color, 1.0)
    bsdf.inputs["Base Color"].default_value = color
    bsdf.inputs["Roughness"].default_value = spec.roughness
    bsdf.inputs["Metallic"].default_value = spec.metallic
    bsdf.inputs["Emission Color"].default_value = color
    bsdf.inputs["Emission Strength"].default_value = spec.emission
    bsdf.inputs["Transmission Weight"].default_value = spec.transmission
    material.diffuse_color = color  # viewport color, handy when inspecting a saved .blend
    tex = spec.texture
    if tex is None:
        return
    if tex.type == "image":
        nodes["texture"].image = load_image(tex.image or "")
        nodes["mapping"].inputs["Scale"].default_value = (tex.scale,) * 3
        nodes["bump"].inputs["Strength"].default_value = tex.bump
        return
    mix = nodes["mix"]
    mix.inputs["A"].default_value = color
    mix.inputs["B"].default_value = (*tex.color, 1.0)
    texture = nodes["texture"]
    if "Scale" in texture.inputs:
        texture.inputs["Scale"].default_value = tex.scale
        nodes["mapping"].inputs["Scale"].default_value = (1.0, 1.0, 1.0)
    else:  # gradient has no scale of its own
        nodes["mapping"].inputs["Scale"].default_value = (tex.scale,) * 3
    if "Distortion" in texture.inputs:
        texture.inputs["Distortion"].default_value = tex.distortion
    nodes["bump"].inputs["Strength"].default_value = tex.bump


# -- geometry ---------------------------------------------------------------------------------------
class MeshLibrary:
    """Mesh datablocks shared by instances: unit-size primitives and (merged) imported mesh files."""

    def __init__(self) -> None:
        self._meshes: dict[tuple[str | None, str | None], bpy.types.Mesh] = {}
        self._extent: dict[tuple[str | None, str | None], float] = {}
        self._bounds: dict[tuple[str | None, str | None], tuple[tuple[float, ...], tuple[float, ...]]] = {}

    def get(self, spec: ObjectSpec) -> bpy.types.Mesh:
        key = spec.structure_key()
        if key not in self._meshes:
            if spec.generator is not None:
                mesh = build_generator_mesh(spec.generator)
            elif spec.shape:
                mesh = _primitive_mesh(spec.shape)
            else:
                mesh = _import_mesh(spec.mesh or "")
            if not mesh.materials:
                mesh.materials.append(None)
            self._meshes[key] = mesh
            dims = np.ptp(np.array([v.co for v in mesh.vertices]), axis=0) if mesh.vertices else np.ones(3)
            self._extent[key] = float(max(dims.max(), 1e-12))
        return self._meshes[key]

    def purge_unused(self) -> None:
        """Free generated meshes no object uses any more (every drawn die/fruit is a new mesh)."""
        for key, mesh in list(self._meshes.items()):
            if key[0] == "generator" and mesh.users == 0:
                bpy.data.meshes.remove(mesh)
                del self._meshes[key]
                self._extent.pop(key, None)

    def bounds(self, path: str) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """(center, half extents) of an imported mesh's bounding box in its own units."""
        key = (None, path)
        if key not in self._bounds:
            mesh = self._meshes.get(key) or self._load(key)
            co = np.array([v.co for v in mesh.vertices]) if mesh.vertices else np.zeros((1, 3))
            lo, hi = co.min(axis=0), co.max(axis=0)
            self._bounds[key] = (tuple((lo + hi) / 2), tuple((hi - lo) / 2))
        return self._bounds[key]

    def _load(self, key: tuple[str | None, str | None]) -> bpy.types.Mesh:
        shape, path = key
        self.get(
            ObjectSpec(
                "probe",
                0,
                None,
                0,
                shape,
                path,
                None,
                (0, 0, 0),
                (0, 0, 0),
                (1, 1, 1),
                MaterialSpec((1, 1, 1), 0.5, 0.0, 0.0),
            )
        )
        return self._meshes[key]

    def size_factor(self, spec: ObjectSpec) -> float:
        """Scale that makes the object's largest extent equal ``spec.size`` (1 when size is unset)."""
        if spec.size is None:
            return 1.0
        self.get(spec)
        return spec.size / self._extent[spec.structure_key()]


def _primitive_mesh(shape: str) -> bpy.types.Mesh:
    """A primitive whose largest extent is 1 m, centered on its origin."""
    bm = bmesh.new()
    smooth = shape in ("sphere", "ico_sphere", "cylinder", "cone", "torus")
    if shape == "cube":
        bmesh.ops.create_cube(bm, size=1.0)
    elif shape == "sphere":
        bmesh.ops.create_uvsphere(bm, u_segments=48, v_segments=24, radius=0.5)
    elif shape == "ico_sphere":
        bmesh.ops.create_icosphere(bm, subdivisions=3, radius=0.5)
    elif shape == "cylinder":
        bmesh.ops.create_cone(bm, cap_ends=True, segments=48, radius1=0.5, radius2=0.5, depth=1.0)
    elif shape == "cone":
        bmesh.ops.create_cone(bm, cap_ends=True, segments=48, radius1=0.5, radius2=0.0, depth=1.0)
    elif shape == "plane":
        bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=0.5)
    elif shape == "torus":
        _add_torus(bm, major=0.375, minor=0.125, major_segments=48, minor_segments=16)
    else:
        raise SimgenError(f"unknown primitive shape {shape!r}")
    if smooth:
        for face in bm.faces:
            face.smooth = True
    mesh = bpy.data.meshes.new(f"primitive.{shape}")
    bm.to_mesh(mesh)
    bm.free()
    return mesh


def _add_torus(
    bm: bmesh.types.BMesh, major: float, minor: float, major_segments: int, minor_segments: int
) -> None:
    verts = []
    for i in range(major_segments):
        a = 2 * math.pi * i / major_segments
        for j in range(minor_segments):
            b = 2 * math.pi * j / minor_segments
            r = major + minor * math.cos(b)
            verts.append(bm.verts.new((r * math.cos(a), r * math.sin(a), minor * math.sin(b))))
    for i in range(major_segments):
        for j in range(minor_segments):
            i2, j2 = (i + 1) % major_segments, (j + 1) % minor_segments
            quad = [
                verts[i * minor_segments + j],
                verts[i2 * minor_segments + j],
                verts[i2 * minor_segments + j2],
                verts[i * minor_segments + j2],
            ]
            bm.faces.new(quad)


IMPORTERS = {
    ".obj": lambda p: bpy.ops.wm.obj_import(filepath=p),
    ".ply": lambda p: bpy.ops.wm.ply_import(filepath=p),
    ".stl": lambda p: bpy.ops.wm.stl_import(filepath=p),
    ".gltf": lambda p: bpy.ops.import_scene.gltf(filepath=p),
    ".glb": lambda p: bpy.ops.import_scene.gltf(filepath=p),
}


def _import_mesh(path: str) -> bpy.types.Mesh:
    """Import a mesh file and merge all its parts into one mesh (one configured object = one instance)."""
    suffix = Path(path).suffix.lower()
    if suffix not in IMPORTERS:
        raise SimgenError(f"{path}: unsupported mesh format {suffix!r} (use {sorted(IMPORTERS)})")
    before = set(bpy.data.objects)
    try:
        with silence_stdout():
            result = IMPORTERS[suffix](path)
    except RuntimeError as exc:
        raise SimgenError(f"{path}: Blender could not import this mesh: {exc}") from None
    imported = [o for o in bpy.data.objects if o not in before]
    parts = [o for o in imported if o.type == "MESH"]
    if "FINISHED" not in result or not parts:
        raise SimgenError(f"{path}: no mesh geometry found in the file")
    bm = bmesh.new()
    for obj in parts:
        data = obj.data.copy()
        data.transform(obj.matrix_world)
        bm.from_mesh(data)
        bpy.data.meshes.remove(data)
    mesh = bpy.data.meshes.new(f"mesh.{Path(path).stem}")
    bm.to_mesh(mesh)
    bm.free()
    for obj in imported:
        bpy.data.objects.remove(obj, do_unlink=True)
    mesh.materials.clear()
    return mesh


# -- physics ----------------------------------------------------------------------------------------
def settle_objects(scene: bpy.types.Scene, objects: list[bpy.types.Object], spec: FrameSpec) -> None:
    """Drop the active objects onto the passive ones with Bullet and write the resting poses into spec.

    The simulation runs from scratch for every image (same inputs → same result), then the rigid-body
    world is switched off so the render sees plain transforms that equal the saved spec.
    """
    settings = spec.physics or {}
    if scene.rigidbody_world is None:
        with bpy.context.temp_override(scene=scene):
            bpy.ops.rigidbody.world_add()
    world = scene.rigidbody_world
    if world.collection is None:
        world.collection = bpy.data.collections.new("rigid_bodies")
    world.enabled = True
    world.substeps_per_frame = int(settings.get("substeps", 10))
    world.solver_iterations = 20
    frames = int(settings.get("frames", 80))
    max_frames = max(int(settings.get("max_frames") or frames), frames)
    world.point_cache.frame_start, world.point_cache.frame_end = 1, max_frames + 1
    scene.frame_start, scene.frame_end = 1, max_frames + 1
    for obj, ospec in zip(objects, spec.objects, strict=True):
        _set_rigid_body(world, obj, ospec.physics, settings)
        if ospec.physics == "active":
            obj.location.z += float(settings.get("drop_height", 0.05))
    bpy.ops.ptcache.free_bake_all() if bpy.ops.ptcache.free_bake_all.poll() else None
    active = [obj for obj, ospec in zip(objects, spec.objects, strict=True) if ospec.physics == "active"]
    simulated, moving = _simulate_until_rest(scene, active, frames, max_frames)
    for obj, ospec in zip(objects, spec.objects, strict=True):
        if ospec.physics == "active":
            matrix = obj.matrix_world.copy()
            ospec.location = tuple(float(v) for v in matrix.to_translation())
            ospec.rotation_deg = tuple(math.degrees(a) for a in matrix.to_euler("XYZ"))
    spec.physics = {**settings, "simulated_frames": simulated, "still_moving": moving}
    world.enabled = False
    scene.frame_set(1)


def _simulate_until_rest(
    scene: bpy.types.Scene, active: list[bpy.types.Object], frames: int, max_frames: int
) -> tuple[int, int]:
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


def _at_rest(obj: bpy.types.Object, before: Matrix, after: Matrix) -> bool:
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


def _set_rigid_body(
    world: bpy.types.RigidBodyWorld, obj: bpy.types.Object, role: str, settings: dict[str, Any]
) -> None:
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
    body.friction = float(settings.get("friction", 0.6))
    body.restitution = float(settings.get("bounciness", 0.1))
    body.angular_damping = float(settings.get("angular_damping", 0.1))
    body.collision_margin = 0.001
    body.use_margin = True
    # Bullet deactivation: bodies slower than these thresholds fall asleep instead of jittering.
    body.use_deactivation = role == "active"
    body.deactivate_linear_velocity = REST_SLEEP_SPEED
    body.deactivate_angular_velocity = REST_SLEEP_SPIN


# -- label geometry (amodal masks, keypoints, pose) -------------------------------------------------
_TRIANGLE_CACHE: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # insertion-ordered: oldest first
_TRIANGLE_CACHE_SIZE = 256  # generated meshes are new datablocks every image: keep the cache bounded


def labelled_geometry(
    scene: bpy.types.Scene, roots: list[bpy.types.Object], instance_ids: set[int]
) -> dict[int, ObjectGeometry]:
    """Merge the evaluated triangles of all mesh objects per pass index into one ObjectGeometry each.

    The model frame of an instance is its configured object (one of ``roots``), else its first part.
    """
    depsgraph = bpy.context.evaluated_depsgraph_get()
    parts: dict[int, list[bpy.types.Object]] = {}
    for obj in scene.objects:
        if obj.type == "MESH" and obj.pass_index in instance_ids and not obj.hide_render:
            parts.setdefault(obj.pass_index, []).append(obj)
    root_of = {obj.pass_index: obj for obj in roots if obj.pass_index in parts}
    out = {}
    for instance_id, objs in parts.items():
        verts, tris, offset = [], [], 0
        for obj in objs:
            evaluated = obj.evaluated_get(depsgraph)
            local, triangles = _object_triangles(evaluated)
            world = np.array(evaluated.matrix_world, dtype=np.float64)
            verts.append(local @ world[:3, :3].T + world[:3, 3])
            tris.append(triangles + offset)
            offset += len(local)
        root = root_of.get(instance_id, objs[0]).evaluated_get(depsgraph)
        out[instance_id] = ObjectGeometry(
            vertices=np.concatenate(verts),
            triangles=np.concatenate(tris),
            model_to_world=np.array(root.matrix_world, dtype=np.float64),
        )
    return out


def _object_triangles(evaluated: bpy.types.Object) -> tuple[np.ndarray, np.ndarray]:
    """(local vertices N x 3, triangles M x 3) of an evaluated object; cached when it has no modifiers."""
    original = evaluated.original
    key = original.data.session_uid
    if not original.modifiers and key in _TRIANGLE_CACHE:
        return _TRIANGLE_CACHE[key]
    mesh = evaluated.to_mesh()
    try:
        co = np.empty(len(mesh.vertices) * 3, dtype=np.float64)
        mesh.vertices.foreach_get("co", co)
        tris = np.empty(len(mesh.loop_triangles) * 3, dtype=np.int64)
        mesh.loop_triangles.foreach_get("vertices", tris)
    finally:
        evaluated.to_mesh_clear()
    result = (co.reshape(-1, 3), tris.reshape(-1, 3))
    if not original.modifiers:
        _TRIANGLE_CACHE[key] = result
        while len(_TRIANGLE_CACHE) > _TRIANGLE_CACHE_SIZE:
            del _TRIANGLE_CACHE[next(iter(_TRIANGLE_CACHE))]
    return result
