"""Generate the bundled example meshes (run: .venv/bin/python assets/make_assets.py).

Everything in assets/meshes is made here, procedurally, so the project may redistribute it:
- star.{obj,ply,stl,glb}: a six-pointed star prism, 1 m across, 0.3 m thick, exported in every
  supported format (the loaders are tested on the same geometry).
- dumbbell.glb: two spheres and a bar as three separate glTF nodes (one configured object must still
  become one labelled instance).
"""

from __future__ import annotations

import math
from pathlib import Path

import bpy  # isort: split

import bmesh

HERE = Path(__file__).resolve().parent / "meshes"


def star_mesh(
    points: int = 6, outer: float = 0.5, inner: float = 0.25, thickness: float = 0.3
) -> bpy.types.Mesh:
    bm = bmesh.new()
    ring = []
    for k in range(2 * points):
        r = outer if k % 2 == 0 else inner
        a = math.pi * k / points
        ring.append(bm.verts.new((r * math.cos(a), r * math.sin(a), -thickness / 2)))
    face = bm.faces.new(ring)
    ext = bmesh.ops.extrude_face_region(bm, geom=[face])
    top = [v for v in ext["geom"] if isinstance(v, bmesh.types.BMVert)]
    bmesh.ops.translate(bm, verts=top, vec=(0, 0, thickness))
    bmesh.ops.recalc_face_normals(bm, faces=bm.faces[:])
    mesh = bpy.data.meshes.new("star")
    bm.to_mesh(mesh)
    bm.free()
    return mesh


def only(objects: list[bpy.types.Object]) -> None:
    for obj in bpy.context.scene.objects:
        obj.select_set(obj in objects)
    bpy.context.view_layer.objects.active = objects[0]


def main() -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    HERE.mkdir(parents=True, exist_ok=True)
    scene = bpy.context.scene
    star = bpy.data.objects.new("star", star_mesh())
    scene.collection.objects.link(star)
    only([star])
    bpy.ops.wm.obj_export(
        filepath=str(HERE / "star.obj"), export_selected_objects=True, export_materials=False
    )
    bpy.ops.wm.ply_export(filepath=str(HERE / "star.ply"), export_selected_objects=True, ascii_format=True)
    bpy.ops.wm.stl_export(filepath=str(HERE / "star.stl"), export_selected_objects=True, ascii_format=True)
    bpy.ops.export_scene.gltf(filepath=str(HERE / "star.glb"), use_selection=True, export_format="GLB")
    bpy.data.objects.remove(star)

    parts = []
    for name, x in (("left", -0.4), ("right", 0.4)):
        bm = bmesh.new()
        bmesh.ops.create_uvsphere(bm, u_segments=24, v_segments=12, radius=0.2)
        mesh = bpy.data.meshes.new(name)
        bm.to_mesh(mesh)
        bm.free()
        obj = bpy.data.objects.new(name, mesh)
        obj.location = (x, 0, 0)
        parts.append(obj)
    bm = bmesh.new()
    bmesh.ops.create_cone(bm, cap_ends=True, segments=16, radius1=0.06, radius2=0.06, depth=0.8)
    mesh = bpy.data.meshes.new("bar")
    bm.to_mesh(mesh)
    bm.free()
    bar = bpy.data.objects.new("bar", mesh)
    bar.rotation_euler = (0, math.pi / 2, 0)
    parts.append(bar)
    for obj in parts:
        scene.collection.objects.link(obj)
    only(parts)
    bpy.ops.export_scene.gltf(filepath=str(HERE / "dumbbell.glb"), use_selection=True, export_format="GLB")
    print("wrote", sorted(p.name for p in HERE.iterdir()))


if __name__ == "__main__":
    main()
