"""Known-answer amodal labels on real renders: occlusion, truncation, label policy, multi-part objects."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_config

from simgen.config.schema import LabelPolicy
from simgen.geometry import silhouette
from simgen.labels import decode_mask, label_frame
from simgen.sampling import sample_frame

pytestmark = pytest.mark.blender

CAMERA = {"location": [0, -5, 0], "look_at": [0, 0, 0], "focal_length": 50}
RENDER = {"resolution": [128, 96]}
TARGET = {"shape": "cube", "category": "box", "size": 1.0, "rotation": [0, 0, 45]}  # mirror-symmetric in x
# a vertical wall (unlabelled) in front of the target covering x < 0: exactly the left half in the image
WALL = {"shape": "plane", "size": 2.0, "location": [-1.0, -1.5, 0.0], "rotation": [90, 0, 0]}


def render_labels(blender, objects, policy=None, keypoints=None):
    config = make_config(render=RENDER, camera=CAMERA, objects=objects)
    spec = sample_frame(config, 0)
    backend = blender.BlenderBackend(config.render)
    result = backend.render(spec)
    geometry = backend.object_geometry(spec)
    labels = label_frame(result.instance_ids, result.depth, spec, policy, geometry, keypoints)
    return labels, result, spec, geometry


def test_amodal_silhouette_equals_the_rendered_mask_where_unoccluded(blender) -> None:
    objects = [
        {"shape": s, "category": s, "size": 0.7, "location": [x, 0.3 * k, 0.2], "rotation": [25, 40, 15 * k]}
        for k, (s, x) in enumerate([("cube", -1.1), ("sphere", 0.0), ("torus", 1.1)])
    ]
    labels, result, spec, geometry = render_labels(blender, objects)
    assert len(labels) == 3
    for label in labels:
        rendered = result.instance_ids == label.instance_id
        projected = silhouette(geometry[label.instance_id], spec.camera).mask
        iou = (rendered & projected).sum() / (rendered | projected).sum()
        assert iou > 0.995, f"{label.category}: projected silhouette IoU {iou:.4f} with the render"
        assert label.visibility == 1.0 and label.occluded is False and label.truncation == 0.0
        assert label.amodal_area == label.area and label.amodal_bbox == label.bbox


def test_half_hidden_object_has_full_amodal_and_half_visible_area(blender) -> None:
    alone, *_ = render_labels(blender, [TARGET])
    hidden, *_ = render_labels(blender, [TARGET, WALL])
    full, half = alone[0], hidden[0]
    assert half.amodal_area == pytest.approx(full.area, rel=0.01)
    assert half.area == pytest.approx(full.area / 2, rel=0.04)
    assert half.visibility == pytest.approx(0.5, abs=0.02) and half.occluded is True
    assert half.truncation == 0.0
    assert half.amodal_bbox == pytest.approx(full.bbox, abs=1)
    amodal = decode_mask(half.amodal_segmentation)
    visible = decode_mask(half.segmentation)
    assert not (visible & ~amodal).any(), "the visible mask must lie inside the amodal mask"
    alone_mask = decode_mask(full.segmentation)
    assert (amodal & alone_mask).sum() / (amodal | alone_mask).sum() > 0.99


def test_labelled_occluder_keeps_visible_masks_disjoint(blender) -> None:
    wall = {**WALL, "category": "wall"}
    labels, *_ = render_labels(blender, [TARGET, wall])
    box, front = labels
    assert box.visibility == pytest.approx(0.5, abs=0.02) and front.visibility == 1.0
    assert not (decode_mask(box.segmentation) & decode_mask(front.segmentation)).any()
    assert (decode_mask(box.amodal_segmentation) & decode_mask(front.segmentation)).sum() > 0


def test_object_half_outside_the_frame_has_truncation_one_half(blender) -> None:
    # a plane facing the camera, centered on the right image border (x = 64 px ⇔ 64 / fx * 5 m)
    edge = 64 / (50 / 36 * 128) * 5.0
    plane = {
        "shape": "plane",
        "category": "card",
        "size": 0.8,
        "location": [edge, 0, 0],
        "rotation": [90, 0, 0],
    }
    centered = {**plane, "location": [0, 0, 0]}
    (half,), *_ = render_labels(blender, [plane])
    (whole,), *_ = render_labels(blender, [centered])
    assert half.truncation == pytest.approx(0.5, abs=0.02)
    assert half.area == pytest.approx(whole.area / 2, rel=0.05)
    assert half.visibility == 1.0  # truncation is not occlusion
    x, _, w, _ = half.amodal_bbox
    assert x + w == pytest.approx(128 + whole.bbox[2] / 2, abs=1.5)  # the full box leaves the image


def test_label_policy_drops_or_ignores_barely_visible_objects(blender) -> None:
    strict = LabelPolicy(min_visibility=0.6)
    labels, *_ = render_labels(blender, [TARGET, WALL], policy=strict)
    assert labels == []
    ignoring = LabelPolicy(min_visibility=0.6, below_threshold="ignore")
    (label,), *_ = render_labels(blender, [TARGET, WALL], policy=ignoring)
    assert label.ignore and label.iscrowd == 1
    assert [x.instance_id for x in render_labels(blender, [TARGET, WALL])[0]] == [1]


def test_one_instance_for_a_multi_part_mesh(blender, tmp_path) -> None:
    """An OBJ with two separate parts is one configured object: one annotation, both parts in its masks."""
    path = tmp_path / "two_parts.obj"
    lines = []
    for part, dx in enumerate((-0.6, 0.6)):
        for x in (-0.2, 0.2):
            for y in (-0.2, 0.2):
                for z in (-0.2, 0.2):
                    lines.append(f"v {x + dx} {y} {z}")
        b = part * 8 + 1
        faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
        lines += ["f " + " ".join(str(b + i) for i in face) for face in faces]
    path.write_text("\n".join(lines) + "\n")
    (label,), result, _, geometry = render_labels(blender, [{"mesh": str(path), "category": "pair"}])
    assert label.category == "pair" and len(geometry) == 1
    visible = decode_mask(label.segmentation)
    assert visible.any() and np.array_equal(visible, result.instance_ids == 1)
    cols = np.flatnonzero(visible.any(axis=0))
    assert np.any(np.diff(cols) > 1), "both parts should be visible, separated by a gap"
    assert label.visibility == 1.0


def test_parts_sharing_a_pass_index_merge_into_one_geometry(blender) -> None:
    """Extra Blender objects carrying an instance's pass index (asset parts) join that instance."""
    import bpy

    config = make_config(render=RENDER, camera=CAMERA, objects=[TARGET])
    spec = sample_frame(config, 0)
    backend = blender.BlenderBackend(config.render)
    backend.render(spec)
    single = backend.object_geometry(spec)[1]
    part = bpy.data.objects.new("extra_part", backend.objects[0].data)
    part.pass_index = 1
    part.location = (0.0, 2.0, 0.0)
    backend.scene.collection.objects.link(part)
    merged = backend.object_geometry(spec)[1]
    assert len(merged.triangles) == 2 * len(single.triangles)
    assert np.allclose(merged.model_to_world, single.model_to_world)


def test_glass_is_labelled_where_it_is_the_first_surface_and_hides_what_is_behind(blender) -> None:
    """Transmissive objects follow the first-surface rule: objects seen through them count as occluded."""
    glass = {
        "shape": "sphere",
        "category": "glass",
        "size": 0.8,
        "location": [0, -1.5, 0],
        "material": {"transmission": 1.0, "roughness": 0.0},
    }
    (alone,), *_ = render_labels(blender, [TARGET])
    (box, sphere), *_ = render_labels(blender, [TARGET, glass])
    assert sphere.visibility == 1.0 and sphere.area > 500
    assert box.occluded and box.visibility < 0.6
    assert box.amodal_area == pytest.approx(alone.area, rel=0.01)


def test_reflections_are_not_labelled(blender) -> None:
    """An emissive cube's mirror image shows in the RGB but carries the mirror's id, not the cube's."""
    cube = {
        "shape": "cube",
        "category": "box",
        "size": 0.5,
        "location": [-0.9, -1.5, 0],
        "material": {"base_color": [1, 0, 0], "emission": 5.0},
    }
    mirror = {
        "shape": "plane",
        "category": "mirror",
        "size": 6,
        "location": [0, 1.5, 0],
        "rotation": [90, 0, 0],
        "material": {"base_color": [1, 1, 1], "metallic": 1.0, "roughness": 0.0},
    }
    config = make_config(
        render={**RENDER, "samples": 4, "view_transform": "Standard"},
        camera=CAMERA,
        lights=[],
        world={"color": [0, 0, 0], "strength": 0},
        objects=[cube, mirror],
    )
    spec = sample_frame(config, 0)
    backend = blender.BlenderBackend(config.render)
    result = backend.render(spec)
    box, _ = label_frame(result.instance_ids, result.depth, spec, None, backend.object_geometry(spec))
    red = (result.rgb[:, :, 0] > 100) & (result.rgb[:, :, 1] < 60)
    reflection = red & (result.instance_ids != 1)
    assert reflection.sum() > 20, "the test scene should show the cube's reflection"
    assert np.all(result.instance_ids[reflection] == 2)
    assert box.visibility == 1.0
    direct = silhouette(backend.object_geometry(spec)[1], spec.camera).mask
    assert not (decode_mask(box.segmentation) & ~direct).any(), "cube labels outside its own silhouette"
