"""Silhouette geometry without Blender: pixel-center rule, near-plane clipping, truncation, pose."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from simgen.geometry import (
    Canvas,
    ObjectGeometry,
    decompose,
    keypoint_visibility,
    keypoints_camera,
    object_pose,
    rasterize,
    silhouette,
)
from simgen.spec import CameraSpec, euler_xyz_to_matrix


def camera(width: int = 128, height: int = 96, **kw) -> CameraSpec:
    args = {"location": (0.0, -5.0, 0.0), "look_at": (0.0, 0.0, 0.0), "roll_deg": 0.0}
    args |= {"focal_length_mm": 50.0, "sensor_width_mm": 36.0, "resolution": (width, height)} | kw
    return CameraSpec(**args)


def quad(corners: np.ndarray) -> ObjectGeometry:
    """Two triangles spanning four world points (in order around the quad)."""
    return ObjectGeometry(np.asarray(corners, float), np.array([[0, 1, 2], [0, 2, 3]]), np.eye(4))


def image_plane_rect(cam: CameraSpec, x0: float, y0: float, x1: float, y1: float, depth: float = 5.0):
    """A world rectangle facing the camera whose projection is the pixel rectangle [x0, x1] x [y0, y1]."""
    k = cam.intrinsics()
    fx, cx, cy = k[0, 0], k[0, 2], k[1, 2]
    # camera at y=-5 looking +y: image x → world x, image y (down) → world -z, depth → y
    pts = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    return quad(np.array([[(u - cx) / fx * depth, depth - 5.0, -(v - cy) / fx * depth] for u, v in pts]))


def test_pixel_center_rule_on_an_axis_aligned_rectangle() -> None:
    mask, depth = rasterize(
        np.array([[[10.2, 5.0], [20.7, 5.0], [20.7, 9.4]], [[10.2, 5.0], [20.7, 9.4], [10.2, 9.4]]]),
        np.full((2, 3), 0.5),
        Canvas(0, 0, 32, 16),
    )
    expected = np.zeros((16, 32), bool)
    expected[5:9, 10:21] = True  # column centers 10.5..20.5 lie in [10.2, 20.7], rows 5.5..8.5 in [5, 9.4]
    assert np.array_equal(mask, expected)
    assert np.allclose(depth[mask], 2.0) and np.isinf(depth[~mask]).all()


def test_projected_rectangle_matches_its_pixel_bounds() -> None:
    cam = camera()
    sil = silhouette(image_plane_rect(cam, 30.0, 20.0, 70.0, 60.0), cam)
    assert sil.bbox == [30, 20, 40, 40] and int(sil.mask.sum()) == 1600
    assert sil.truncation == 0.0
    assert np.allclose(sil.depth[sil.mask], 5.0, atol=1e-9)


@pytest.mark.parametrize(
    ("rect", "expected"),
    [
        ((64.0, 0.0, 192.0, 96.0), 0.5),  # half outside on the right: full-resolution canvas
        ((-64.0, -96.0, 64.0, 192.0), 0.8333),  # 2x3 image areas, 1/6 inside
        ((64.0, -96.0, 371.2, 192.0), 0.9306),  # 7.2 image areas: measured on a coarser canvas
    ],
)
def test_truncation_of_rectangles_leaving_the_frame(rect, expected) -> None:
    cam = camera()
    sil = silhouette(image_plane_rect(cam, *rect), cam)
    assert sil.truncation == pytest.approx(expected, abs=0.01)
    x0, y0, x1, y1 = rect
    assert sil.bbox[0] == pytest.approx(x0, abs=2) and sil.bbox[0] + sil.bbox[2] == pytest.approx(x1, abs=2)
    inside = np.zeros((96, 128), bool)
    inside[max(int(y0), 0) : min(int(y1), 96), max(int(x0), 0) : min(int(x1), 128)] = True
    assert np.array_equal(sil.mask, inside)


def test_triangles_behind_the_camera_are_clipped_not_mirrored() -> None:
    """A huge floor below a level camera covers the image below the horizon and nothing above it."""
    cam = camera(location=(0.0, 0.0, 1.0), look_at=(0.0, 10.0, 1.0), clip_end=1e5)
    floor = quad(np.array([[-1e3, -1e3, 0], [1e3, -1e3, 0], [1e3, 1e3, 0], [-1e3, 1e3, 0]], float))
    sil = silhouette(floor, cam)
    rows = sil.mask.any(axis=1)
    assert not rows[:48].any(), "floor pixels above the horizon: points behind the camera were projected"
    assert sil.mask[49:].all(), "the floor must cover every pixel below the horizon"
    assert sil.truncation > 0.9  # the floor extends far beyond the frame (measured within the guard band)


def test_object_entirely_behind_the_camera_has_no_silhouette() -> None:
    cam = camera()
    sil = silhouette(image_plane_rect(cam, 10, 10, 50, 50, depth=-3.0), cam)
    assert not sil.mask.any() and sil.full_area == 0.0


def test_pose_decomposition_and_reprojection() -> None:
    rot = euler_xyz_to_matrix((20.0, -35.0, 70.0))
    scale = np.array([0.5, 1.5, 2.0])
    model = np.eye(4)
    model[:3, :3] = rot @ np.diag(scale)
    model[:3, 3] = (0.3, 0.4, -0.2)
    r, t, s = decompose(model)
    assert np.allclose(r, rot) and np.allclose(s, scale) and np.allclose(t, model[:3, 3])

    cam = camera(location=(3.0, -4.0, 2.0))
    local = np.array(list(itertools.product((-0.5, 0.5), repeat=3)))
    geo = ObjectGeometry(local @ model[:3, :3].T + model[:3, 3], np.zeros((0, 3), int), model)
    pose = object_pose(geo, cam)
    r_m2c, t_m2c = np.array(pose["R"]).reshape(3, 3), np.array(pose["t"])
    cam_points = (local * pose["scale"]) @ r_m2c.T + t_m2c
    uv = cam_points @ cam.intrinsics().T
    assert np.allclose(uv[:, :2] / uv[:, 2:], cam.project(geo.vertices), atol=1e-6)


def test_keypoint_flags_from_depth() -> None:
    cam = camera()
    geo = ObjectGeometry(np.zeros((0, 3)), np.zeros((0, 3), int), np.eye(4))
    points = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [-0.5, 0.0, 0.2], [50.0, 0.0, 0.0], [0, -6, 0]])
    uv, z = keypoints_camera(points, geo, cam)
    assert np.allclose(uv[0], [64, 48]) and z[0] == pytest.approx(5.0)
    depth = np.zeros((96, 128), np.float32)
    depth[:, :64] = 3.0  # a surface 2 m in front of the keypoints on the left half
    depth[:, 64:] = 5.0  # the keypoints' own surface on the right half
    flags = keypoint_visibility(uv, z, depth, cam, relative_tolerance=0.01)
    # center: on the boundary, one neighbour shows its own surface → visible; right: visible;
    # left: hidden behind the nearer surface; far right: outside the image; behind the camera: 0
    assert flags.tolist() == [2, 2, 1, 0, 0]
