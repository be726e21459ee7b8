"""camera.distortion: OpenCV Brown-Conrady and fisheye lenses, applied to the render and every label."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import make_config

from simgen.build.frame import render_image
from simgen.errors import ConfigError, SimgenError
from simgen.labels import decode_mask
from simgen.lens import canvas, through_lens
from simgen.sampling import sample_frame

WIDTH, HEIGHT = 160, 120
LENSES = {
    "brown": {"model": "brown", "k1": -0.28, "k2": 0.08, "p1": 0.002, "p2": -0.003},
    "fisheye": {"model": "fisheye", "k1": 0.05, "k2": -0.02, "k3": 0.01},
}
# markers spread over the view, out to the corners where the distortion is largest
GRID = [
    (x, 3.0 + 0.3 * ((i + j) % 3), z)
    for i, x in enumerate((-1.4, -0.7, 0.0, 0.7, 1.4))
    for j, z in enumerate((-1.0, 0.0, 1.0))
]


def _markers(lens: dict, **extra) -> object:
    return make_config(
        scene={"num_images": 1},
        render={"resolution": [WIDTH, HEIGHT], "samples": 1, "max_bounces": 0},
        camera={"location": [0, 0, 0], "look_at": [0, 1, 0], "fov": 75, "distortion": lens},
        lights=[],
        world={"color": [0, 0, 0]},
        objects=[
            {
                "shape": "sphere",
                "category": "marker",
                "size": 0.06,
                "location": list(p),
                "material": {"base_color": [1, 1, 1], "emission": 1.0},
            }
            for p in GRID
        ],
        keypoints={"marker": [{"name": "center", "position": [0, 0, 0]}]},
        **extra,
    )


def _opencv(config, points: np.ndarray, model: str) -> np.ndarray:
    """cv2.projectPoints of world points with the record's own K, [R|t] and coefficients."""
    spec = sample_frame(config, 0)
    w2c = spec.camera.world_to_opencv()
    rvec, _ = cv2.Rodrigues(w2c[:3, :3])
    args = (
        points.reshape(-1, 1, 3),
        rvec,
        w2c[:3, 3],
        spec.camera.intrinsics(),
        spec.camera.distortion.array(),
    )
    out, _ = cv2.fisheye.projectPoints(*args) if model == "fisheye" else cv2.projectPoints(*args)
    return out.reshape(-1, 2)


@pytest.mark.blender
@pytest.mark.parametrize("model", ["brown", "fisheye"])
def test_markers_and_their_labels_land_where_opencv_projects_them(blender, model: str) -> None:
    """Each marker's mask centroid in the distorted image is cv2.projectPoints of its center (0.5 px);
    its keypoint is that projection; its box is the tight box of its (distorted) mask."""
    config = _markers(LENSES[model])
    expected = _opencv(config, np.array(GRID), model)
    backend = blender.BlenderBackend(config.render)
    try:
        record = render_image(backend, config, 0).record
    finally:
        backend.close()
    assert len(record.instances) == len(GRID)
    assert record.camera["distortion"]["model"] == model
    for inst in record.instances:
        mask = decode_mask(inst.segmentation)
        ys, xs = np.nonzero(mask)
        centroid = np.array([xs.mean() + 0.5, ys.mean() + 0.5])
        target = expected[inst.instance_id - 1]
        assert np.abs(centroid - target).max() < 0.5, (inst.instance_id, centroid, target)
        assert inst.keypoints[:2] == pytest.approx(target, abs=1e-3)
        assert inst.bbox == [int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1]
        amodal = decode_mask(inst.amodal_segmentation)
        assert (amodal == mask).all()  # nothing hides a marker: the resampled silhouette is the mask


def test_the_canvas_holds_every_ray_and_keeps_the_focal_length() -> None:
    spec = sample_frame(_markers(LENSES["brown"]), 0)
    wide = canvas(spec.camera)
    assert wide.intrinsics()[0, 0] == pytest.approx(spec.camera.intrinsics()[0, 0])
    assert wide.resolution[0] > WIDTH and wide.resolution[1] > HEIGHT  # barrel: the corners see further
    assert (wide.resolution[0] - WIDTH) % 2 == 0 and wide.distortion is None


@pytest.mark.parametrize(
    ("lens", "message"),
    [
        ({"model": "fisheye", "p1": 0.01}, "p1 not used by the fisheye model"),
        ({"model": "brown", "k4": 0.01}, "k4 not used by the brown model"),
    ],
)
def test_coefficients_of_the_other_model_are_refused(lens: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _markers(lens)


def test_a_lens_that_folds_the_image_is_refused_with_the_field_named() -> None:
    spec = sample_frame(_markers({"model": "brown", "k1": 2.5, "k2": -4.0}), 0)
    with pytest.raises(SimgenError, match=r"camera\.distortion: the brown"):
        canvas(spec.camera)


@pytest.mark.blender
def test_flow_through_the_lens_follows_each_surface_point(blender) -> None:
    """A cube moving 0.05 m per frame to the right under a barrel lens: at every pixel of it, the
    pixel + forward flow is where cv2.projectPoints puts that pixel's surface point a frame later."""
    lens = LENSES["brown"]
    config = make_config(
        scene={"num_images": 2},
        render={"resolution": [WIDTH, HEIGHT], "samples": 1, "max_bounces": 0},
        camera={"location": [0, 0, 0], "look_at": [0, 1, 0], "fov": 75, "distortion": lens},
        lights=[{"type": "sun", "power": 3, "location": [0, -3, 5], "look_at": [0, 0, 0]}],
        objects=[{"shape": "cube", "category": "c", "size": 0.5, "location": [-1.2, 3.0, 0.6]}],
        sequence={"frames": 2, "fps": 10, "objects": {"type": "linear", "velocity": [0.5, 0, 0]}},
        outputs={"flow": True},
    )
    spec = sample_frame(config, 0)
    backend = blender.BlenderBackend(config.render)
    try:
        result = through_lens(backend.render(spec), spec.camera)
    finally:
        backend.close()
    forward, depth, ids = result.flow[..., :2], result.depth, result.instance_ids
    inner = cv2.erode((ids == 1).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    ys, xs = np.nonzero(inner)
    assert len(xs) > 50
    k, coefficients = spec.camera.intrinsics(), spec.camera.distortion.array()
    pixels = np.c_[xs + 0.5, ys + 0.5]
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-10)
    rays = cv2.undistortPointsIter(pixels.reshape(-1, 1, 2), k, coefficients, None, None, criteria)
    rays = rays.reshape(-1, 2)
    points = np.c_[rays, np.ones(len(rays))] * depth[ys, xs][:, None]
    moved = points + np.array([0.05, 0.0, 0.0])  # world +x is camera +x here
    target, _ = cv2.projectPoints(moved.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), k, coefficients)
    error = np.abs(pixels + forward[ys, xs] - target.reshape(-1, 2))
    assert np.median(error) < 0.1 and error.max() < 0.5, error.max()
