"""Known-answer geometry: rendered labels against analytic pinhole projections."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
from conftest import make_config

from simgen.labels import label_frame
from simgen.sampling import sample_frame
from simgen.spec import euler_xyz_to_matrix

pytestmark = pytest.mark.blender


def cube_corners(center: tuple[float, float, float], size: float, rotation_deg: tuple[float, float, float]):
    offsets = np.array(list(itertools.product([-0.5, 0.5], repeat=3))) * size
    return offsets @ euler_xyz_to_matrix(rotation_deg).T + np.asarray(center)


@pytest.mark.parametrize(
    ("center", "size", "rotation", "camera"),
    [
        (
            (0.3, 0.0, 0.2),
            1.0,
            (0.0, 0.0, 30.0),
            {"location": [0, -5, 0], "look_at": [0, 0, 0], "focal_length": 50},
        ),
        (
            (-0.4, 0.5, 0.0),
            0.8,
            (20.0, 35.0, 10.0),
            {"location": [3, -4, 2], "look_at": [0, 0, 0], "fov": 40},
        ),
        ((0.0, 0.0, 0.5), 0.5, (0.0, 0.0, 0.0), {"location": [0, -3, 3], "look_at": [0, 0, 0], "roll": 15}),
    ],
)
def test_cube_bbox_matches_analytic_projection(blender, center, size, rotation, camera) -> None:
    config = make_config(
        render={"resolution": [128, 96]},
        camera=camera,
        objects=[
            {
                "shape": "cube",
                "category": "box",
                "size": size,
                "location": list(center),
                "rotation": list(rotation),
            }
        ],
    )
    spec = sample_frame(config, 0)
    backend = blender.BlenderBackend(config.render)
    result = backend.render(spec)
    labels = label_frame(result.instance_ids, None, spec)
    assert len(labels) == 1
    x, y, w, h = labels[0].bbox

    uv = spec.camera.project(cube_corners(center, size, rotation))
    # A pixel is labelled when its sample hits the cube, so the mask edges sit within a pixel of the
    # projected silhouette's extremes.
    assert abs(x - uv[:, 0].min()) <= 1.0
    assert abs(y - uv[:, 1].min()) <= 1.0
    assert abs((x + w) - uv[:, 0].max()) <= 1.0
    assert abs((y + h) - uv[:, 1].max()) <= 1.0

    mask = result.instance_ids == labels[0].instance_id
    assert labels[0].area == int(mask.sum())
    hull_area = cv2.contourArea(cv2.convexHull(uv.astype(np.float32)))
    assert labels[0].area == pytest.approx(hull_area, rel=0.05)


@pytest.mark.parametrize(("size", "scale"), [(1.0, (1.0, 1.0, 2.0)), (0.5, (3.0, 1.0, 1.0))])
def test_size_comes_first_then_scale(blender, size, scale) -> None:
    """``size`` sets the unscaled object's largest extent, then ``scale`` multiplies each axis: a size-1
    cube with scale [1, 1, 2] is 1 x 1 x 2 m (the order the reference states)."""
    camera = {"location": [0, -6, 0.5], "look_at": [0, 0, 0.5], "focal_length": 35}
    cube = {"shape": "cube", "category": "box", "size": size, "scale": list(scale), "location": [0, 0, 0.5]}
    config = make_config(render={"resolution": [128, 128]}, camera=camera, objects=[cube])
    spec = sample_frame(config, 0)
    result = blender.BlenderBackend(config.render).render(spec)
    (label,) = label_frame(result.instance_ids, None, spec)
    corners = np.array(list(itertools.product([-0.5, 0.5], repeat=3))) * size * np.array(scale) + [0, 0, 0.5]
    uv = spec.camera.project(corners)
    w, h = label.bbox[2:]
    assert abs(w - (uv[:, 0].max() - uv[:, 0].min())) <= 1.5
    assert abs(h - (uv[:, 1].max() - uv[:, 1].min())) <= 1.5


def test_depth_is_distance_along_optical_axis(blender) -> None:
    """A wall 7 m in front of the camera has depth 7 at the center and at the corners."""
    config = make_config(
        camera={"location": [0, -5, 0], "look_at": [0, 0, 0], "focal_length": 20},
        objects=[
            {"shape": "plane", "category": "wall", "size": 40, "location": [0, 2, 0], "rotation": [90, 0, 0]}
        ],
    )
    result = blender.BlenderBackend(config.render).render(sample_frame(config, 0))
    assert result.depth.dtype == np.float32
    assert np.allclose(result.depth, 7.0, atol=1e-3)


def test_background_has_id_zero_and_depth_zero(blender) -> None:
    config = make_config(
        camera={"location": [0, -5, 0], "look_at": [0, 0, 0]},
        objects=[{"shape": "sphere", "category": "ball", "size": 0.5}],
    )
    result = blender.BlenderBackend(config.render).render(sample_frame(config, 0))
    background = result.instance_ids == 0
    assert background[0, 0] and background.mean() > 0.8
    assert np.all(result.depth[background] == 0)
    assert np.all(np.abs(result.depth[~background] - 5.0) < 0.3)


def test_output_size_stretches_pixels_and_the_labels_with_them(blender) -> None:
    """render.output_size [128, 128] from a 128 x 96 render: non-square pixels, as a 4:3 webcam frame
    stretched to a square. The stored image is 128 x 128; the cube's box matches the projection through
    the anamorphic K (fy = fx * 128/96), and equals the unstretched render's box scaled in y."""
    from simgen.build.frame import render_image

    cube = {
        "shape": "cube",
        "category": "box",
        "size": 0.8,
        "location": [0.3, 0, 0.2],
        "rotation": [0, 0, 25],
    }
    camera = {"location": [0.5, -4, 1.5], "look_at": [0, 0, 0], "focal_length": 40}
    boxes = {}
    for name, render in (("plain", {"resolution": [128, 96]}), ("stretched", {"output_size": [128, 128]})):
        config = make_config(render={"resolution": [128, 96], **render}, camera=camera, objects=[cube])
        backend = blender.BlenderBackend(config.render)
        image = render_image(backend, config, 0)
        (inst,) = image.record.instances
        boxes[name] = np.array(inst.bbox, dtype=float)
        assert (image.record.width, image.record.height) == tuple(config.render.output_size or [128, 96])
        spec = sample_frame(config, 0)
        uv = spec.camera.project(cube_corners((0.3, 0, 0.2), 0.8, (0, 0, 25)))
        x, y, w, h = boxes[name]
        assert abs(x - uv[:, 0].min()) <= 1.5 and abs(x + w - uv[:, 0].max()) <= 1.5
        assert abs(y - uv[:, 1].min()) <= 1.5 and abs(y + h - uv[:, 1].max()) <= 1.5
        k = np.array(image.record.camera["K"])
        assert k[1, 1] / k[0, 0] == pytest.approx(1.0 if name == "plain" else 128 / 96)
    scale = np.array([1.0, 128 / 96, 1.0, 128 / 96])
    assert np.abs(boxes["stretched"] - boxes["plain"] * scale).max() <= 1.5
