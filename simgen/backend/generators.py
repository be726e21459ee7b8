"""Procedural meshes for the config's ``generator:`` objects (bmesh; imported only by the backend).

Every generator returns a mesh centered on its origin whose largest extent is 1 (``size`` scales it) and
whose material slots are: 0 = body, 1.. = colored parts (die pips, cone stripe).
"""

from __future__ import annotations

import math
from typing import Any

import bpy  # must come first: bmesh and mathutils are provided by it

# isort: split
import bmesh
from mathutils import Vector, noise

# Pip centers on a face, in face coordinates (u, v) ∈ [-1, 1]², scaled by the face's usable half-width.
PIP_LAYOUT = {
    1: [(0, 0)],
    2: [(-1, -1), (1, 1)],
    3: [(-1, -1), (0, 0), (1, 1)],
    4: [(-1, -1), (-1, 1), (1, -1), (1, 1)],
    5: [(-1, -1), (-1, 1), (0, 0), (1, -1), (1, 1)],
    6: [(-1, -1), (-1, 0), (-1, 1), (1, -1), (1, 0), (1, 1)],
}
# (normal axis, sign) → pips; opposite faces sum to 7. Must match simgen.rules.DIE_FACE_BY_AXIS.
DIE_FACES = {(2, 1): 1, (2, -1): 6, (0, 1): 2, (0, -1): 5, (1, 1): 3, (1, -1): 4}


def build_generator_mesh(params: dict[str, Any]) -> bpy.types.Mesh:
    builders = {
        "die": _die,
        "fruit": _fruit,
        "traffic_cone": _traffic_cone,
        "inflatable_cube": _inflatable_cube,
    }
    bm = bmesh.new()
    slots = builders[params["type"]](bm, params)
    _normalize(bm)
    mesh = bpy.data.meshes.new(f"generated.{params['type']}")
    bm.to_mesh(mesh)
    bm.free()
    for _ in range(slots):
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


def _die(bm: bmesh.types.BMesh, p: dict[str, Any]) -> int:
    bmesh.ops.create_cube(bm, size=1.0)
    bevel = min(max(float(p.get("bevel", 0.12)), 0.0), 0.45)
    if bevel > 0:
        bmesh.ops.bevel(bm, geom=list(bm.edges), offset=bevel, segments=4, affect="EDGES", profile=0.5)
    for face in bm.faces:
        face.smooth = True
    radius = float(p.get("pip_radius", 0.085))
    depth = float(p.get("pip_depth", 0.02))
    spacing = 0.5 - max(bevel, radius) - radius * 1.2
    template = _pip_template(radius, depth)
    for (axis, sign), count in DIE_FACES.items():
        for u, v in PIP_LAYOUT[count]:
            _add_pip(bm, template, axis, sign, u * spacing, v * spacing)
    return 2


def _pip_template(radius: float, height: float) -> tuple[list[Vector], list[tuple[int, ...]]]:
    """A shallow dome (x, y in the face plane, z = height above it), built once per die.

    The rim sits just above the face so the pip is never hidden inside the body (an inlay).
    """
    segments, rings = 16, (0.5, 1.0)
    verts = [Vector((0.0, 0.0, 0.001 + height))]
    for rho in rings:
        for k in range(segments):
            a = 2 * math.pi * k / segments
            verts.append(
                Vector(
                    (rho * radius * math.cos(a), rho * radius * math.sin(a), 0.001 + height * (1 - rho**2))
                )
            )
    faces: list[tuple[int, ...]] = [(0, 1 + k, 1 + (k + 1) % segments) for k in range(segments)]
    for k in range(segments):
        k2 = (k + 1) % segments
        faces.append((1 + k, 1 + segments + k, 1 + segments + k2, 1 + k2))
    return verts, faces


def _add_pip(
    bm: bmesh.types.BMesh,
    template: tuple[list[Vector], list[tuple[int, ...]]],
    axis: int,
    sign: int,
    u: float,
    v: float,
) -> None:
    """Place one pip on the face (axis, sign) at face coordinates (u, v); material slot 1."""
    other = [a for a in range(3) if a != axis]
    new_verts = []
    for local in template[0]:
        co = [0.0, 0.0, 0.0]
        co[other[0]] = u + local.x
        co[other[1]] = v + local.y
        co[axis] = sign * (0.5 + local.z)
        new_verts.append(bm.verts.new(co))
    for face_indices in template[1]:
        face = bm.faces.new([new_verts[i] for i in (face_indices if sign > 0 else face_indices[::-1])])
        face.material_index = 1
        face.smooth = True


def _fruit(bm: bmesh.types.BMesh, p: dict[str, Any]) -> int:
    bmesh.ops.create_uvsphere(bm, u_segments=32, v_segments=16, radius=0.5)
    elongation = max(float(p.get("elongation", 1.0)), 0.2)
    flatten = max(float(p.get("flatten", 1.0)), 0.1)
    taper = float(p.get("taper", 0.0))
    tip = float(p.get("tip", 0.0))
    wrinkles = float(p.get("wrinkles", 0.0))
    scale = float(p.get("wrinkle_scale", 6.0))
    seed = int(p.get("seed", 0))
    offset = Vector(((seed % 997) * 0.37, (seed % 991) * 0.53, (seed % 983) * 0.71))
    for vert in bm.verts:
        x, y, z = vert.co
        t = x / 0.5  # -1 .. 1 along the long axis
        width = 1.0 - taper * (t + 1) / 2  # pear: narrower towards +X
        width *= 1.0 - tip * max(t, 0.0) ** 3  # pointed end
        vert.co = Vector((x * elongation, y * width, z * width * flatten))
    bm.normal_update()
    if wrinkles > 0:
        for vert in bm.verts:
            n = noise.noise(vert.co * scale + offset) + 0.5 * noise.noise(vert.co * scale * 2.3 + offset)
            vert.co += vert.normal * wrinkles * n
    stem = float(p.get("stem", 0.0))
    if stem > 0:
        tip_x = max(v.co.x for v in bm.verts)
        matrix = _matrix_along_x(Vector((tip_x + stem * 0.4, 0.0, 0.0)))
        bmesh.ops.create_cone(
            bm, cap_ends=True, segments=8, radius1=0.03, radius2=0.02, depth=stem, matrix=matrix
        )
    for face in bm.faces:
        face.smooth = True
    return 1


def _matrix_along_x(location: Vector) -> Any:
    from mathutils import Matrix

    return Matrix.Translation(location) @ Matrix.Rotation(math.pi / 2, 4, "Y")


def _traffic_cone(bm: bmesh.types.BMesh, p: dict[str, Any]) -> int:
    bottom, top = float(p.get("bottom_radius", 0.3)), float(p.get("top_radius", 0.05))
    from mathutils import Matrix

    bmesh.ops.create_cube(bm, size=1.0, matrix=Matrix.Diagonal((0.8, 0.8, 0.04, 1.0)))
    bmesh.ops.create_cone(
        bm,
        cap_ends=True,
        segments=32,
        radius1=bottom,
        radius2=top,
        depth=0.95,
        matrix=Matrix.Translation((0, 0, 0.02 + 0.475)),
    )
    for face in bm.faces:
        z = face.calc_center_median().z
        face.material_index = 1 if 0.45 < z < 0.65 else 0
        face.smooth = abs(face.normal.z) < 0.9
    bmesh.ops.subdivide_edges(
        bm, edges=[e for e in bm.edges if abs(e.verts[0].co.z - e.verts[1].co.z) > 0.5], cuts=8
    )
    for face in bm.faces:
        z = face.calc_center_median().z
        if abs(face.normal.z) < 0.9:
            face.material_index = 1 if 0.5 < z < 0.68 else 0
    return 2


def _inflatable_cube(bm: bmesh.types.BMesh, p: dict[str, Any]) -> int:
    bmesh.ops.create_cube(bm, size=1.0)
    bmesh.ops.subdivide_edges(bm, edges=list(bm.edges), cuts=12, use_grid_fill=True)
    puff = min(max(float(p.get("puff", 0.3)), 0.0), 1.0)
    for vert in bm.verts:
        direction = vert.co.normalized()
        vert.co = vert.co.lerp(direction * 0.5 * 1.1, puff * 0.6)
    for face in bm.faces:
        face.smooth = True
    return 1
