"""FrameSpec: everything about one image, with every random value already drawn.

Plain dataclasses (no pydantic, no Blender) so the sampler can be tested alone, the spec can be saved
next to the image (it explains and reproduces the image), and any back-end can render it.
Conventions: meters, degrees, linear RGB; camera intrinsics follow OpenCV (x right, y down, z forward).

The scene elements every back-end draws (camera, lights, world, objects and their materials) are typed
here; a randomizer that adds an effect (post-effects, physics, fog, ...) defines its own part type in
its unit and the frame keeps it in ``parts`` under the randomizer's name.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simgen.lens import Distortion

Vec3 = tuple[float, float, float]
Bounds = tuple[Vec3, Vec3]
"""(center, half extents) of a local axis-aligned bounding box."""


@dataclass
class CameraSpec:
    location: Vec3
    look_at: Vec3
    roll_deg: float
    focal_length_mm: float
    sensor_width_mm: float
    resolution: tuple[int, int]  # width, height
    clip_start: float = 0.01
    clip_end: float = 1000.0
    fstop: float | None = None  # depth of field off when None
    focus_distance: float | None = None
    up: Vec3 = (0.0, 0.0, 1.0)  # world direction that appears "up" in the image (before roll)
    output_resolution: tuple[int, int] | None = None  # render.output_size: the stored image's size
    distortion: Distortion | None = None  # lens distortion (simgen.lens); None: a pinhole camera

    @property
    def image_size(self) -> tuple[int, int]:
        """Width, height of the stored image (and of every label): the output size, else the render's."""
        return self.output_resolution or self.resolution

    def rotation_camera_to_world(self) -> np.ndarray:
        """3x3 rotation whose columns are the Blender camera's x (right), y (up), z (backward) axes."""
        return look_at_rotation(np.asarray(self.location), np.asarray(self.look_at), self.roll_deg, self.up)

    def intrinsics(self) -> np.ndarray:
        """OpenCV 3x3 K of the stored image, whose pixel (0, 0) spans [0, 1) x [0, 1); with an output
        size of another aspect the pixels are not square (fx != fy)."""
        width, height = self.resolution
        fx = self.focal_length_mm / self.sensor_width_mm * width
        out_w, out_h = self.image_size
        sx, sy = out_w / width, out_h / height
        return np.array([[fx * sx, 0.0, out_w / 2.0], [0.0, fx * sy, out_h / 2.0], [0.0, 0.0, 1.0]])

    def world_to_opencv(self) -> np.ndarray:
        """4x4 transform from world to OpenCV camera coordinates (x right, y down, z forward)."""
        rot = self.rotation_camera_to_world() @ np.diag([1.0, -1.0, -1.0])  # Blender cam → OpenCV cam axes
        out = np.eye(4)
        out[:3, :3] = rot.T
        out[:3, 3] = -rot.T @ np.asarray(self.location, dtype=float)
        return out

    def project(self, points_world: np.ndarray) -> np.ndarray:
        """Project Nx3 world points to Nx2 pixel coordinates (continuous, OpenCV convention), through
        the lens distortion when there is one."""
        pts = (
            np.c_[np.asarray(points_world, dtype=float), np.ones(len(points_world))]
            @ self.world_to_opencv().T
        )
        return self.project_camera(pts[:, :3])

    def project_camera(self, points_camera: np.ndarray) -> np.ndarray:
        """Nx3 OpenCV camera-space points (z > 0) → Nx2 pixels of the stored image."""
        if self.distortion is not None:
            from simgen.lens import project_normalized

            return project_normalized(points_camera, self.intrinsics(), self.distortion)
        uvw = np.asarray(points_camera, dtype=float) @ self.intrinsics().T
        return uvw[:, :2] / uvw[:, 2:3]


def look_at_rotation(
    eye: np.ndarray, target: np.ndarray, roll_deg: float = 0.0, up: Vec3 | np.ndarray = (0.0, 0.0, 1.0)
) -> np.ndarray:
    """Rotation (camera→world) for a Blender camera/light at ``eye`` whose -Z axis points at ``target``.

    ``up`` is the world direction shown upwards in the image; a camera looking along it (e.g. straight
    down with up = +Z) falls back to +Y so the result is always defined.
    """
    forward = np.asarray(target, dtype=float) - np.asarray(eye, dtype=float)
    norm = np.linalg.norm(forward)
    if norm < 1e-9:
        raise ValueError(f"look_at target {tuple(target)} coincides with the position {tuple(eye)}")
    forward /= norm
    world_up = np.asarray(up, dtype=float) / np.linalg.norm(up)
    if abs(forward @ world_up) > 0.999:
        world_up = np.array([0.0, 1.0, 0.0]) if abs(forward[1]) < 0.999 else np.array([1.0, 0.0, 0.0])
    right = np.cross(forward, world_up)
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    if roll_deg:
        angle = np.deg2rad(roll_deg)
        right, up = np.cos(angle) * right + np.sin(angle) * up, -np.sin(angle) * right + np.cos(angle) * up
    return np.stack([right, up, -forward], axis=1)


@dataclass
class LightSpec:
    type: str
    location: Vec3
    look_at: Vec3
    power: float
    color: Vec3
    radius: float
    spot_size_deg: float


@dataclass
class SkySpec:
    """Blender's physical sky (world type sky); angles in degrees."""

    sun_elevation: float
    sun_rotation: float
    sun_intensity: float
    sun_size: float
    air_density: float
    aerosol_density: float


@dataclass
class WorldSpec:
    color: Vec3
    strength: float
    type: str  # color | gradient | sky | image
    zenith_color: Vec3
    sky: SkySpec | None  # type sky only
    image: str | None  # equirectangular environment (type image)
    rotation_deg: float
    backplate: str | None  # flat image seen by the camera behind everything


@dataclass
class TextureSpec:
    type: str
    color: Vec3
    scale: float
    distortion: float
    bump: float
    image: str | None = None  # type image
    mapping: str = "box"  # box: projected from the object's own axes; uv: the mesh's UV map
    size: float | None = None  # world-space meters per repeat (instead of scale)


@dataclass
class DecalSpec:
    image: str
    face: str
    size: float


@dataclass
class MaterialSpec:
    base_color: Vec3
    roughness: float
    metallic: float
    emission: float
    texture: TextureSpec | None = None
    transmission: float = 0.0
    decal: DecalSpec | None = None

    @classmethod
    def plain(cls, color: Vec3) -> MaterialSpec:
        """A plain colored part (a die's pips, a cone's stripe)."""
        return cls(base_color=color, roughness=0.5, metallic=0.0, emission=0.0)


@dataclass
class ObjectSpec:
    """One object instance. ``instance_id`` >= 1 for labelled objects (it is Blender's pass_index)."""

    name: str
    instance_id: int  # 0 = not labelled
    category: str | None
    category_id: int  # 0 = not labelled
    shape: str | None
    mesh: str | None
    size: float | None
    location: Vec3
    rotation_deg: Vec3
    scale: Vec3
    material: MaterialSpec
    physics: str = "none"  # active | passive | none (rigid-body role when physics is on)
    distractor: bool = False
    generator: Any = None  # procedural object: the generator's drawn parameters (simgen.generators)
    extra_materials: list[MaterialSpec] = field(default_factory=list)  # material slots 1.. (e.g. die pips)
    category_rule: str | None = None  # e.g. die_face_up: category follows the final pose

    def structure_key(self) -> tuple[Any, ...]:
        """What needs new geometry when it changes (everything else is updated in place)."""
        if self.generator is None:
            return (self.shape, self.mesh)
        from simgen.generators import get_generator

        return ("generator", *get_generator(self.generator.type).geometry_key(self.generator))


@dataclass
class FrameSpec:
    """The whole truth about one image."""

    index: int
    seed: int
    camera: CameraSpec
    lights: list[LightSpec]
    world: WorldSpec
    objects: list[ObjectSpec] = field(default_factory=list)
    parts: dict[str, Any] = field(default_factory=dict)  # randomizer name → its part (None: off)

    def labelled(self) -> list[ObjectSpec]:
        return [o for o in self.objects if o.instance_id > 0]

    def part(self, name: str) -> Any:
        """A randomizer's part of this frame (e.g. ``"postfx"``), or None where it is off."""
        return self.parts.get(name)

    def to_dict(self, asset_root: str | Path | None = None) -> dict[str, Any]:
        """The record's ``spec``: the scene elements, then the part of every randomizer that is on.

        With ``asset_root`` (the config file's folder) asset paths are written relative to it, so a
        project moved elsewhere writes the same records.
        """
        data = asdict(self)
        del data["parts"]
        for name in ("output_resolution", "distortion"):
            if data["camera"][name] is None:
                del data["camera"][name]
        for obj in data["objects"]:  # fields that are off are left out, as records have always been
            for material in [obj["material"], *obj["extra_materials"]]:
                if material and material.get("texture") and material["texture"].get("size") is None:
                    del material["texture"]["size"]
                if material and "decal" in material and material["decal"] is None:
                    del material["decal"]
        for name, part in self.parts.items():
            if part is not None:
                to_dict = getattr(part, "to_dict", None)
                data[name] = to_dict() if to_dict is not None else asdict(part)
        if asset_root is not None:
            _relative_asset_paths(data, str(asset_root))
        return data


def _relative_asset_paths(data: dict[str, Any], root: str) -> None:
    """Rewrite the asset paths of a spec dict (meshes, texture images, environments, backplates, files
    of generator parameters) relative to ``root``."""

    def rel(path: Any) -> Any:
        return os.path.relpath(path, root) if isinstance(path, str) and os.path.isabs(path) else path

    world = data["world"]
    world["image"], world["backplate"] = rel(world["image"]), rel(world["backplate"])
    for obj in data["objects"]:
        obj["mesh"] = rel(obj["mesh"])
        for material in [obj["material"], *obj["extra_materials"]]:
            if material and material.get("texture"):
                material["texture"]["image"] = rel(material["texture"]["image"])
            if material and material.get("decal"):
                material["decal"]["image"] = rel(material["decal"]["image"])
        if obj["generator"] is not None:
            from simgen.generators import get_generator

            for name in get_generator(obj["generator"]["type"]).file_params:
                obj["generator"][name] = rel(obj["generator"][name])


def euler_xyz_to_matrix(angles_deg: Vec3 | list[float]) -> np.ndarray:
    """Blender's XYZ Euler (degrees) as a 3x3 rotation: X is applied first, then Y, then Z."""
    x, y, z = np.deg2rad(np.asarray(angles_deg, dtype=float))
    rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    return rz @ ry @ rx
