"""Keypoints and 6D pose on real renders against an analytic pinhole camera."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import make_config

from simgen.labels import BBOX_CORNER_NAMES, label_frame
from simgen.sampling import sample_frame
from simgen.spec import euler_xyz_to_matrix

pytestmark = pytest.mark.blender

CUBE = {
    "shape": "cube",
    "category": "box",
    "size": 0.8,
    "location": [0.2, 0.1, 0.1],
    "rotation": [15, 25, 40],
}
CAMERA = {"location": [2.5, -4.0, 2.0], "look_at": [0, 0, 0], "focal_length": 40}


def render(blender, objects, camera=CAMERA, keypoints=None, resolution=(128, 96)):
    config = make_config(
        render={"resolution": list(resolution)}, camera=camera, objects=objects, keypoints=keypoints or {}
    )
    spec = sample_frame(config, 0)
    backend = blender.BlenderBackend(config.render)
    result = backend.render(spec)
    geometry = backend.object_geometry(spec)
    return label_frame(
        result.instance_ids, result.depth, spec, config.labels, geometry, config.keypoints
    ), spec


def cube_world_corners(obj: dict) -> np.ndarray:
    local = np.array(list(itertools.product((-0.5, 0.5), repeat=3))) * obj["size"]
    return local @ euler_xyz_to_matrix(obj["rotation"]).T + np.asarray(obj["location"], float)


def analytic_corner_visibility(obj: dict, eye: np.ndarray) -> list[bool]:
    """A corner of a convex box is seen iff one of its three faces faces the camera."""
    rot = euler_xyz_to_matrix(obj["rotation"])
    center = np.asarray(obj["location"], float)
    out = []
    for bits in itertools.product((0, 1), repeat=3):
        faces = [rot[:, axis] * (1 if b else -1) for axis, b in enumerate(bits)]
        out.append(any(n @ (eye - (center + n * obj["size"] / 2)) > 0 for n in faces))
    return out


def test_box_corner_keypoints_match_the_pinhole_projection(blender) -> None:
    (label,), spec = render(blender, [CUBE], keypoints={"box": "bbox_corners"})
    kps = np.array(label.keypoints).reshape(-1, 3)
    assert len(kps) == len(BBOX_CORNER_NAMES) == 8
    expected_uv = spec.camera.project(cube_world_corners(CUBE))
    assert np.abs(kps[:, :2] - expected_uv).max() <= 1.0
    expected_flags = [
        2 if seen else 1 for seen in analytic_corner_visibility(CUBE, np.array(CAMERA["location"]))
    ]
    assert kps[:, 2].astype(int).tolist() == expected_flags
    assert expected_flags.count(1) == 1  # a general view hides exactly one corner
    assert label.num_keypoints == 8


def test_named_keypoints_hidden_by_the_object_another_object_or_outside_the_image(blender) -> None:
    points = {"corner": [-0.5, -0.5, 0.5], "front": [0, -0.5, 0], "back": [0, 0.5, 0], "far_away": [40, 0, 0]}
    keypoints = {"box": [{"name": k, "position": v} for k, v in points.items()]}
    camera = {"location": [0, -5, 0], "look_at": [0, 0, 0], "focal_length": 50}
    cube = {"shape": "cube", "category": "box", "size": 1.0}
    # an unlabelled wall in front hides the lower half of the cube's front face, center included
    wall = {"shape": "cube", "size": 1.0, "scale": [2, 0.02, 0.5], "location": [0, -1.5, -0.2]}
    (label,), spec = render(blender, [cube, wall], camera=camera, keypoints=keypoints)
    kps = np.array(label.keypoints).reshape(-1, 3)
    uv = spec.camera.project(np.array(list(points.values())[:3], float))
    assert np.abs(kps[:3, :2] - uv).max() <= 1.0
    # corner: visible; front: behind the wall; back: behind the cube's own front face; far_away: outside
    assert kps[:, 2].astype(int).tolist() == [2, 1, 1, 0]
    assert kps[3].tolist() == [0, 0, 0]  # COCO: not in the image → x = y = v = 0
    (unhidden,), _ = render(blender, [cube], camera=camera, keypoints=keypoints)
    assert unhidden.keypoints[2::3] == [2, 2, 1, 0]


def test_pose_and_intrinsics_reproject_the_3d_box_onto_the_2d_box(blender) -> None:
    stretched = {**CUBE, "scale": [1.0, 0.5, 1.6], "category": "box"}
    (label,), spec = render(blender, [stretched], resolution=(160, 120))
    rot, t = np.array(label.pose["R"]).reshape(3, 3), np.array(label.pose["t"])
    assert np.allclose(rot @ rot.T, np.eye(3), atol=1e-9) and np.linalg.det(rot) == pytest.approx(1.0)
    assert label.pose["scale"] == pytest.approx([0.8, 0.4, 1.28])
    corners = np.array(list(itertools.product((-0.5, 0.5), repeat=3)))  # the unit cube's local box
    cam = (corners * label.pose["scale"]) @ rot.T + t
    uvw = cam @ spec.camera.intrinsics().T
    uv = uvw[:, :2] / uvw[:, 2:]
    x, y, w, h = label.bbox
    assert label.visibility == 1.0 and label.amodal_bbox == label.bbox
    assert abs(uv[:, 0].min() - x) <= 1 and abs(uv[:, 0].max() - (x + w)) <= 1
    assert abs(uv[:, 1].min() - y) <= 1 and abs(uv[:, 1].max() - (y + h)) <= 1
