"""The Blender (Cycles) back-end: keeps one live scene per process and renders FrameSpecs into arrays.

One render gives everything: the RGB image plus the Object Index, Depth and Normal passes, saved with
``save_render`` as one multilayer EXR (the compositor is not needed) and read back with OpenEXR. The
Object Index pass holds exact integers from one sample per pixel, so the instance map never contains
blended ids. Between frames only what changed is rebuilt: geometry when an object's shape/mesh list
changes, a material's node graph when its texture type changes; everything else is set in place.

This is the only module that imports ``bpy``. What each randomizer does to the scene lives in its unit
(``simgen.randomizers``) as a hook that this back-end builds once and calls every frame, handing it
Blender's objects through a ``BlenderContext``; generators build their meshes through the same door.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import shutil
import socket
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
from mathutils import Matrix, Vector

from simgen.backend.result import RenderResult
from simgen.config.schema import RenderSection
from simgen.errors import SimgenError
from simgen.fileio import read_exr_channels
from simgen.generators import get_generator
from simgen.geometry import ObjectGeometry
from simgen.randomizers import REGISTRY
from simgen.randomizers.base import BlenderHook
from simgen.randomizers.materials import BlenderMaterials
from simgen.spec import Bounds, FrameSpec, ObjectSpec

GPU_BACKENDS = ("OPTIX", "CUDA", "HIP", "ONEAPI", "METAL")
BACKGROUND_DEPTH = 1e9  # Cycles writes ~1e10 where a camera ray hits nothing


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


class BlenderContext:
    """What a randomizer's hook may use: Blender itself, the scene, and the frame's objects."""

    bpy = bpy

    def __init__(self, scene: bpy.types.Scene, backend: BlenderBackend) -> None:
        self.scene = scene
        self._backend = backend

    @property
    def objects(self) -> list[bpy.types.Object]:
        """The Blender objects of the current frame, aligned with ``spec.objects``."""
        return self._backend.objects

    @staticmethod
    def load_image(path: str, non_color: bool = False) -> bpy.types.Image:
        return load_image(path, non_color)

    @staticmethod
    def pose_matrix(location: tuple[float, float, float], rotation: np.ndarray) -> Matrix:
        """The 4x4 world matrix of a rotation (3x3, columns = local axes) at ``location``."""
        pose = np.eye(4)
        pose[:3, :3] = rotation
        pose[:3, 3] = location
        return Matrix(pose.tolist())


class BlenderBackend:
    """A Blender scene that renders FrameSpecs (a ``Renderer``). Create once per worker process."""

    def __init__(self, render: RenderSection, scratch_dir: str | Path | None = None) -> None:
        with silence_stdout():
            bpy.ops.wm.read_factory_settings(use_empty=True)
        self.settings = render
        self.scene = bpy.context.scene
        self.device = configure_cycles(self.scene, render)
        self.objects: list[bpy.types.Object] = []
        self._structure: list[tuple[Any, ...]] | None = None
        self._meshes = MeshLibrary()
        self.context = BlenderContext(self.scene, self)
        self._materials = BlenderMaterials(self.context)
        hooks = (r.blender_hook(self.context) for r in REGISTRY.values())
        self._hooks: list[BlenderHook] = [h for h in hooks if h is not None]
        base = scratch_dir or ("/dev/shm" if os.path.isdir("/dev/shm") else None)
        self._scratch = Path(tempfile.mkdtemp(prefix="simgen-", dir=base))

    # -- the Renderer protocol ----------------------------------------------------------------------
    def render(self, spec: FrameSpec) -> RenderResult:
        """Apply ``spec`` to the live scene, render it, and return pixel-aligned arrays."""
        t0 = time.perf_counter()
        self.apply(spec)
        t1 = time.perf_counter()
        with silence_stdout():
            bpy.ops.render.render(write_still=False)
        t2 = time.perf_counter()
        result = self._read_result(spec)
        t3 = time.perf_counter()
        image_only = [h for h in self._hooks if getattr(h, "image_only", False) and h.active(spec)]
        flow = bool(getattr(spec.part("sequence"), "flow", False))
        if image_only or flow:
            labels = self._render_label_pass(spec, image_only, flow)
            result.instance_ids, result.depth, result.normals, result.flow = labels
        result.timings = {"sync": t1 - t0, "render": t2 - t1, "read": t3 - t2}
        if image_only or flow:
            result.timings["label_pass"] = time.perf_counter() - t3
        return result

    def mesh_bounds(self, path: str) -> Bounds:
        """(center, half extents) of a mesh file's local bounding box, for collision-free placement."""
        return self._meshes.bounds(path)

    def object_geometry(self, spec: FrameSpec) -> dict[int, ObjectGeometry]:
        """World-space triangles of every labelled instance in the live scene (call after ``render``).

        All mesh objects carrying an instance's pass index are merged into that one instance, so an
        asset built from several parts is still one label. Triangles of unmodified meshes are cached
        per mesh datablock; only the world transform is applied per frame.
        """
        return labelled_geometry(self.scene, self.objects, {o.instance_id for o in spec.labelled()})

    def provenance(self) -> dict[str, Any]:
        """Where and how frames were rendered; the denoiser's output depends on the thread count."""
        return {
            "device": self.device,
            "threads": int(self.scene.render.threads),
            "blender": blender_version(),
            "python": platform.python_version(),
            "host": socket.gethostname(),
        }

    def close(self) -> None:
        shutil.rmtree(self._scratch, ignore_errors=True)

    # -- scene sync ---------------------------------------------------------------------------------
    def apply(self, spec: FrameSpec) -> None:
        """Make the live scene match ``spec``: objects, then every randomizer's hook in registry order.

        A hook that moves objects (physics) updates ``spec`` in place with the resting poses, so the
        saved spec reproduces the rendered image; the objects are synced to it again.
        """
        self._sync_objects(spec.objects)
        for hook in self._hooks:
            hook.apply(spec)
            if hook.moves_objects:
                self._sync_objects(spec.objects)
        self.scene.cycles.seed = spec.seed
        bpy.context.view_layer.update()  # matrix_world etc. now match the spec

    def save_blend(self, path: str | Path) -> None:
        """Write the current scene as a .blend file (to inspect a frame in Blender's UI)."""
        bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)

    def _sync_objects(self, objects: list[ObjectSpec]) -> None:
        structure = [o.structure_key() for o in objects]
        if structure != self._structure:
            for obj in self.objects:
                materials = [slot.material for slot in obj.material_slots if slot.material is not None]
                bpy.data.objects.remove(obj, do_unlink=True)
                for material in materials:
                    bpy.data.materials.remove(material)
            self._meshes.purge_unused()
            self.objects = [self._new_object(o) for o in objects]
            self._materials.forget()
            self._structure = structure
        for i, (obj, spec) in enumerate(zip(self.objects, objects, strict=True)):
            obj.animation_data_clear()  # transforms come from the spec (a clip frame keys them again)
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
                self._materials.sync(slot.material, wanted, (i, slot_index), tuple(obj.scale))

    def _new_object(self, spec: ObjectSpec) -> bpy.types.Object:
        mesh = self._meshes.get(spec)
        obj = bpy.data.objects.new(spec.name, mesh)
        self.scene.collection.objects.link(obj)
        for k, slot in enumerate(obj.material_slots):
            slot.link = "OBJECT"  # instances share geometry but each gets its own materials
            slot.material = bpy.data.materials.new(f"{spec.name}.material.{k}")
        return obj

    # -- reading passes -----------------------------------------------------------------------------
    def _read_result(self, spec: FrameSpec) -> RenderResult:
        ids, depth, normals, _ = self._read_passes(spec)
        return RenderResult(rgb=self._read_rgb(), instance_ids=ids, depth=depth, normals=normals)

    def _read_rgb(self) -> np.ndarray:
        png_path = self._scratch / "rgb.png"
        settings = self.scene.render.image_settings
        settings.media_type = "IMAGE"
        settings.file_format = "PNG"
        settings.color_mode = "RGB"
        settings.color_depth = "8"
        settings.compression = 0
        bpy.data.images["Render Result"].save_render(str(png_path), scene=self.scene)
        bgr = cv2.imread(str(png_path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise RuntimeError(f"Blender did not write a readable image to {png_path}")
        return np.ascontiguousarray(bgr[:, :, ::-1])

    def _read_passes(
        self, spec: FrameSpec, vectors: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """(instance ids uint16, depth float32 meters, world normals float32, flow or None) of the last
        render; flow from the vector pass when ``vectors`` (see ``flow_from_vector_pass``)."""
        exr_path = self._scratch / "passes.exr"
        settings = self.scene.render.image_settings
        settings.media_type = "MULTI_LAYER_IMAGE"
        settings.file_format = "OPEN_EXR_MULTILAYER"
        settings.color_depth = "32"
        settings.exr_codec = "NONE"
        bpy.data.images["Render Result"].save_render(str(exr_path), scene=self.scene)
        channels = read_exr_channels(exr_path)
        ids = np.rint(_channel(channels, "Object Index.X")).astype(np.int64)
        known = {0, *(o.instance_id for o in spec.objects)}
        unexpected = set(np.unique(ids).tolist()) - known
        if unexpected:
            raise RuntimeError(f"object index pass holds ids {sorted(unexpected)} not in the frame spec")
        depth = _channel(channels, "Depth.Z").astype(np.float32)
        depth[depth >= BACKGROUND_DEPTH] = 0.0
        normals = np.stack([_channel(channels, f"Normal.{a}") for a in "XYZ"], axis=-1).astype(np.float32)
        flow = None
        if vectors:
            flow = flow_from_vector_pass(*(_channel(channels, f"Vector.{a}") for a in "XYZW"), depth > 0)
        return ids.astype(np.uint16), depth, normals, flow

    def _render_label_pass(
        self, spec: FrameSpec, hooks: list[Any], vectors: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Instance ids, depth, normals (and flow) from a 1-sample render with the image-only effects off.

        Volumes and motion blur move a camera ray's first hit off the surface it looks at (a scatter
        event in fog ends the ray early), so the label passes of the beauty render would disagree with
        the scene; the labels come from a render of the same frame without them instead. The vector pass
        (flow) needs motion blur off, and from one sample per pixel it belongs to the same surface as
        the pixel's instance id (the beauty render averages it across edges).
        """
        cycles, layer = self.scene.cycles, self.scene.view_layers[0]
        saved = (cycles.samples, cycles.use_denoising, cycles.max_bounces)
        cycles.samples, cycles.use_denoising, cycles.max_bounces = 1, False, 0
        layer.use_pass_vector = vectors
        for hook in hooks:
            hook.set_enabled(spec, False)
        try:
            with silence_stdout():
                bpy.ops.render.render(write_still=False)
            return self._read_passes(spec, vectors)
        finally:
            layer.use_pass_vector = False
            for hook in hooks:
                hook.set_enabled(spec, True)
            cycles.samples, cycles.use_denoising, cycles.max_bounces = saved


def flow_from_vector_pass(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, w: np.ndarray, surface: np.ndarray
) -> np.ndarray:
    """H x W x 4 float32 flow in OpenCV pixel axes (x right, y down): forward u, v (where the pixel's
    surface point is one frame later, minus where it is now), then backward u, v (a frame earlier).

    Cycles' vector pass holds, in Blender's pixel axes (y up), previous - current in X, Y and
    current - next in Z, W (measured: a cube moving +1.38 px right and 0.69 px down per frame reads
    X = Z = -1.38, Y = W = +0.69). Pixels without a surface (the world) are NaN.
    """
    flow = np.stack([-z, w, x, -y], axis=-1).astype(np.float32)
    flow[~surface] = np.nan
    return flow


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


def load_image(path: str, non_color: bool = False) -> bpy.types.Image:
    """Load an image once per process (Blender caches by path)."""
    try:
        image = bpy.data.images.load(path, check_existing=True)
    except RuntimeError as exc:
        raise SimgenError(f"{path}: Blender cannot read this image: {exc}") from None
    if non_color:
        image.colorspace_settings.name = "Non-Color"
    return image


# -- geometry ---------------------------------------------------------------------------------------
class MeshLibrary:
    """Mesh datablocks shared by instances: unit-size primitives, generated meshes and merged mesh files.

    Keyed by ``ObjectSpec.structure_key()``: ``(shape, mesh path)`` or ``("generator", name, params...)``.
    """

    def __init__(self) -> None:
        self._meshes: dict[tuple[Any, ...], bpy.types.Mesh] = {}
        self._extent: dict[tuple[Any, ...], float] = {}
        self._bounds: dict[str, Bounds] = {}

    def get(self, spec: ObjectSpec) -> bpy.types.Mesh:
        return self._mesh(spec.structure_key(), lambda: self._build(spec))

    def _mesh(self, key: tuple[Any, ...], build: Any) -> bpy.types.Mesh:
        if key not in self._meshes:
            mesh = build()
            if not mesh.materials:
                mesh.materials.append(None)
            self._meshes[key] = mesh
            dims = np.ptp(np.array([v.co for v in mesh.vertices]), axis=0) if mesh.vertices else np.ones(3)
            self._extent[key] = float(max(dims.max(), 1e-12))
        return self._meshes[key]

    @staticmethod
    def _build(spec: ObjectSpec) -> bpy.types.Mesh:
        if spec.generator is not None:
            return build_generator_mesh(spec.generator)
        if spec.shape:
            return _primitive_mesh(spec.shape)
        return _import_mesh(spec.mesh or "")

    def purge_unused(self) -> None:
        """Free generated meshes no object uses any more (every drawn die/fruit is a new mesh)."""
        for key, mesh in list(self._meshes.items()):
            if key[0] == "generator" and mesh.users == 0:
                bpy.data.meshes.remove(mesh)
                del self._meshes[key]
                self._extent.pop(key, None)

    def bounds(self, path: str) -> Bounds:
        """(center, half extents) of an imported mesh's bounding box in its own units."""
        if path not in self._bounds:
            mesh = self._mesh((None, path), lambda: _import_mesh(path))
            co = np.array([v.co for v in mesh.vertices]) if mesh.vertices else np.zeros((1, 3))
            lo, hi = co.min(axis=0), co.max(axis=0)
            center, half = (lo + hi) / 2, (hi - lo) / 2
            self._bounds[path] = (tuple(map(float, center)), tuple(map(float, half)))  # type: ignore[assignment]
        return self._bounds[path]

    def size_factor(self, spec: ObjectSpec) -> float:
        """Scale that makes the object's largest extent equal ``spec.size`` (1 when size is unset)."""
        if spec.size is None:
            return 1.0
        self.get(spec)
        return spec.size / self._extent[spec.structure_key()]


def build_generator_mesh(drawn: Any) -> bpy.types.Mesh:
    """A generator's mesh for one draw, centered on its origin with largest extent 1.

    Material slots: 0 = the object's material, then the generator's named slots (die pips, cone stripe).
    """
    generator = get_generator(drawn.type)
    bm = bmesh.new()
    generator.build(bm, drawn)
    _normalize(bm)
    mesh = bpy.data.meshes.new(f"generated.{drawn.type}")
    bm.to_mesh(mesh)
    bm.free()
    for _ in generator.material_slots:
        mesh.materials.append(None)
    return mesh


def _normalize(bm: bmesh.types.BMesh) -> None:
    """Center on the bounding-box center and scale so the largest extent is 1."""
    coords = [v.co.copy() for v in bm.verts]
    lo = Vector([min(c[i] for c in coords) for i in range(3)])
    hi = Vector([max(c[i] for c in coords) for i in range(3)])
    center, extent = (lo + hi) / 2, max(hi - lo)
    for v in bm.verts:
        v.co = (v.co - center) / extent


def _primitive_mesh(shape: str) -> bpy.types.Mesh:
    """A primitive whose largest extent is 1 m, centered on its origin, with Blender's default UV map
    (cube: the six faces unfolded as a cross; plane: the unit square; spheres, cylinder, cone: wrapped)."""
    bm = bmesh.new()
    bm.loops.layers.uv.new("UVMap")
    smooth = shape in ("sphere", "ico_sphere", "cylinder", "cone", "torus")
    if shape == "cube":
        bmesh.ops.create_cube(bm, size=1.0, calc_uvs=True)
    elif shape == "sphere":
        bmesh.ops.create_uvsphere(bm, u_segments=48, v_segments=24, radius=0.5, calc_uvs=True)
    elif shape == "ico_sphere":
        bmesh.ops.create_icosphere(bm, subdivisions=3, radius=0.5, calc_uvs=True)
    elif shape == "cylinder":
        bmesh.ops.create_cone(
            bm, cap_ends=True, segments=48, radius1=0.5, radius2=0.5, depth=1.0, calc_uvs=True
        )
    elif shape == "cone":
        bmesh.ops.create_cone(
            bm, cap_ends=True, segments=48, radius1=0.5, radius2=0.0, depth=1.0, calc_uvs=True
        )
    elif shape == "plane":
        bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=0.5, calc_uvs=True)
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
