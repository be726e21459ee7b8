"""``carton``: a cardboard box with a printed label on one face and packing tape over the top.

objects:
  - category: parcel
    generator:
      type: carton
      width: {uniform: [0.2, 0.6]}        # meters along x, y (depth) and z (height)
      depth: {uniform: [0.2, 0.4]}
      height: {uniform: [0.1, 0.4]}
      label: ../assets/labels             # an image (or a folder: one image per instance)
      label_face: {choice: [-y, +z]}
    material: {base_color: '#b58a5a', roughness: 0.85}   # the cardboard

The carton keeps its size in meters unless ``size`` is set (then ``size`` is its largest extent). The
label is a decal 0.8 mm in front of the face, UV-mapped so the image reads the right way up: on a side
face its top points to +z, on the top face to +y, on the bottom face to -y. It keeps the image's aspect
ratio, its longer side at ``label_size`` of the face. Material slots: body (the object's material),
label (the image), tape (``tape_color``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
from pydantic import Field

from simgen.config.distributions import ColorValue, FloatValue, literal_choice, nonnegative, positive, ranged
from simgen.generators.base import DrawnParams, Generator, GeneratorParams, normalized_bounds
from simgen.spec import Bounds, MaterialSpec, TextureSpec, Vec3

if TYPE_CHECKING:
    import bmesh

FACES = ("+x", "-x", "+y", "-y", "+z", "-z")
# face → (normal, image right, image up): right x up = normal, so the decal faces outwards
FACE_AXES = {
    "+x": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "-x": ((-1, 0, 0), (0, -1, 0), (0, 0, 1)),
    "+y": ((0, 1, 0), (-1, 0, 0), (0, 0, 1)),
    "-y": ((0, -1, 0), (1, 0, 0), (0, 0, 1)),
    "+z": ((0, 0, 1), (1, 0, 0), (0, 1, 0)),
    "-z": ((0, 0, -1), (1, 0, 0), (0, -1, 0)),
}
DECAL_OFFSET = 0.0008  # meters in front of the face: no z-fighting, invisible at any sane resolution


class CartonParams(GeneratorParams):
    """A cardboard box with a printed label on one face and packing tape over the top (meters)."""

    type: Literal["carton"]
    width: positive(FloatValue) = Field(0.4, description="Along x, meters.")
    depth: positive(FloatValue) = Field(0.3, description="Along y, meters.")
    height: positive(FloatValue) = Field(0.25, description="Along z, meters.")
    bevel: nonnegative(FloatValue) = Field(0.006, description="Edge rounding radius, meters.")
    label: str | None = Field(None, description="Label image file, or a folder (one image per instance).")
    label_face: literal_choice(*FACES) = Field(  # type: ignore[valid-type]
        "-y", description="Face the label is printed on (-y faces a camera on the -y side)."
    )
    label_size: ranged(FloatValue, 0, 1) = Field(
        0.6, description="Label size, fraction of the face (aspect kept)."
    )
    tape_color: ColorValue = Field((0.62, 0.48, 0.3), description="Packing tape color.")
    tape_width: nonnegative(FloatValue) = Field(
        0.05, description="Tape width over the top and down the x ends, m (0 = none)."
    )


@dataclass
class DrawnCarton(DrawnParams):
    width: float
    depth: float
    height: float
    bevel: float
    label: str | None
    label_face: str
    label_size: float
    tape_color: Vec3
    tape_width: float


class Carton(Generator):
    name = "carton"
    summary = (
        "cardboard box in meters (`width`, `depth`, `height`, `bevel`) with a printed `label` image on "
        "`label_face` (a decal, aspect kept, `label_size` of the face) and packing tape (`tape_color`, "
        "`tape_width`)"
    )
    Params = CartonParams
    Drawn = DrawnCarton
    material_slots = ("body", "label", "tape")
    slot_colors: ClassVar[dict[str, str]] = {"tape": "tape_color"}
    geometry_params = ("width", "depth", "height", "bevel", "label", "label_face", "label_size", "tape_width")
    file_params = ("label",)
    choice_params = ("label_face",)

    def natural_size(self, drawn: DrawnCarton) -> float:
        return float(max(_extents(drawn)))

    def local_bounds(self, drawn: DrawnCarton) -> Bounds:
        return normalized_bounds(_extents(drawn))

    def slot_materials(self, drawn: DrawnCarton) -> list[MaterialSpec]:
        label = MaterialSpec(base_color=(1.0, 1.0, 1.0), roughness=0.35, metallic=0.0, emission=0.0)
        if drawn.label is not None:
            label.texture = TextureSpec(
                type="image",
                color=(1.0, 1.0, 1.0),  # the image as it is (image textures are tinted by color)
                scale=1.0,
                distortion=0.0,
                bump=0.0,
                image=drawn.label,
                mapping="uv",
            )
        return [label, MaterialSpec.plain(drawn.tape_color)]

    def build(self, bm: bmesh.types.BMesh, drawn: DrawnCarton) -> None:
        import bmesh
        from mathutils import Matrix

        size = np.array([drawn.width, drawn.depth, drawn.height], dtype=float)
        uv = bm.loops.layers.uv.new("UVMap")
        bmesh.ops.create_cube(bm, size=1.0, matrix=Matrix.Diagonal((*size, 1.0)))
        bevel = min(max(drawn.bevel, 0.0), 0.45 * float(size.min()))
        if bevel > 0:
            bmesh.ops.bevel(bm, geom=list(bm.edges), offset=bevel, segments=3, affect="EDGES", profile=0.5)
        if drawn.label is not None and drawn.label_size > 0:
            width, height = _label_extent(
                size, drawn.label_face, drawn.label_size, _image_aspect(drawn.label)
            )
            _decal(bm, uv, size, drawn.label_face, (0.0, 0.0), (width, height), self.slot("label"))
        if drawn.tape_width > 0:
            tape = min(drawn.tape_width, float(size[1]))
            _decal(bm, uv, size, "+z", (0.0, 0.0), (float(size[0]), tape), self.slot("tape"))
            drop = float(size[2]) / 3  # down both x ends, a third of the height
            for face in ("+x", "-x"):
                _decal(bm, uv, size, face, (0.0, (size[2] - drop) / 2), (tape, drop), self.slot("tape"))


def _decal_faces(drawn: DrawnCarton) -> list[str]:
    faces = [drawn.label_face] if drawn.label is not None and drawn.label_size > 0 else []
    return faces + (["+z", "+x", "-x"] if drawn.tape_width > 0 else [])


def _extents(drawn: DrawnCarton) -> np.ndarray:
    """The built mesh's extents: the box plus the decals standing off its faces (the box keeps its size)."""
    extents = np.array([drawn.width, drawn.depth, drawn.height], dtype=float)
    for face in set(_decal_faces(drawn)):
        extents[np.argmax(np.abs(FACE_AXES[face][0]))] += DECAL_OFFSET
    return extents


def _label_extent(size: np.ndarray, face: str, fraction: float, aspect: float) -> tuple[float, float]:
    """(width, height) of a label of this image aspect (width / height) fitting ``fraction`` of the face."""
    _, right, up = FACE_AXES[face]
    face_w, face_h = float(np.abs(right) @ size), float(np.abs(up) @ size)
    scale = min(fraction * face_w / aspect, fraction * face_h)
    return aspect * scale, scale


@lru_cache(maxsize=64)
def _image_aspect(path: str) -> float:
    import cv2

    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    return 1.0 if image is None else image.shape[1] / image.shape[0]


def _decal(
    bm: bmesh.types.BMesh,
    uv: bmesh.types.BMLayerItem,
    size: np.ndarray,
    face: str,
    offset: tuple[float, float],
    extent: tuple[float, float],
    material_index: int,
) -> None:
    """A quad just in front of ``face``, ``offset`` (right, up) from its center, UV-mapped to the whole
    image the right way up (see FACE_AXES)."""
    normal, right, up = (np.array(a, dtype=float) for a in FACE_AXES[face])
    center = normal * (float(np.abs(normal) @ size) / 2 + DECAL_OFFSET) + offset[0] * right + offset[1] * up
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1)]  # counter-clockwise seen from outside
    verts = [bm.verts.new(center + u * extent[0] / 2 * right + v * extent[1] / 2 * up) for u, v in corners]
    quad = bm.faces.new(verts)
    quad.material_index = material_index
    for loop, (u, v) in zip(quad.loops, corners, strict=True):
        loop[uv].uv = ((u + 1) / 2, (v + 1) / 2)
