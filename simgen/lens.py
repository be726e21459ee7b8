"""Lens distortion (OpenCV's Brown-Conrady and fisheye models), applied to the render and every label.

Cycles renders a pinhole image; a distorted camera is rendered as a larger pinhole *canvas* with the same
focal length in pixels (``canvas``), big enough that every pixel of the distorted image has its ray on
it. Each distorted pixel's ray is found with ``cv2.undistortPoints`` (``cv2.fisheye.undistortPoints``),
and all per-pixel maps are resampled through that one map: RGB bilinear, instance ids, depth, normals and
flow nearest (so every label pixel is a rendered one). Masks and boxes then come from the distorted
instance map like any other image's; amodal silhouettes are rasterized on the canvas and resampled the
same way; keypoints, 3D-box corners and projections go through ``cv2.projectPoints`` with the stored
coefficients. The record's ``camera`` holds K and ``distortion`` = {model, coefficients in OpenCV order}.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from simgen.errors import SimgenError

if TYPE_CHECKING:
    from simgen.backend.result import RenderResult
    from simgen.spec import CameraSpec

MAX_CANVAS_SCALE = 4.0  # a canvas wider or taller than this many images means the lens is too wide
ROUND_TRIP_PX = 0.05  # undistort → distort must come back to the pixel: otherwise the model folds


@dataclass(frozen=True)
class Distortion:
    """Coefficients in OpenCV's order: brown (k1, k2, p1, p2, k3), fisheye (k1, k2, k3, k4)."""

    model: str  # brown | fisheye
    coefficients: tuple[float, ...]

    def array(self) -> np.ndarray:
        return np.asarray(self.coefficients, dtype=np.float64)


def project_normalized(points_cam: np.ndarray, k_matrix: np.ndarray, lens: Distortion) -> np.ndarray:
    """N x 3 camera-space points (z > 0) → N x 2 distorted pixels (OpenCV's projectPoints)."""
    pts = np.ascontiguousarray(points_cam, dtype=np.float64).reshape(-1, 1, 3)
    if len(pts) == 0:
        return np.zeros((0, 2))
    zero = np.zeros(3)
    if lens.model == "fisheye":
        out, _ = cv2.fisheye.projectPoints(pts, zero, zero, k_matrix, lens.array())
    else:
        out, _ = cv2.projectPoints(pts, zero, zero, k_matrix, lens.array())
    return out.reshape(-1, 2)


def undistort_pixels(pixels: np.ndarray, k_matrix: np.ndarray, lens: Distortion) -> np.ndarray:
    """N x 2 distorted pixels → N x 2 normalized pinhole coordinates (x/z, y/z)."""
    pts = np.ascontiguousarray(pixels, dtype=np.float64).reshape(-1, 1, 2)
    if lens.model == "fisheye":
        out = cv2.fisheye.undistortPoints(pts, k_matrix, lens.array())
    else:
        criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-10)
        out = cv2.undistortPointsIter(pts, k_matrix, lens.array(), None, None, criteria)
    return out.reshape(-1, 2)


def _border(width: int, height: int) -> np.ndarray:
    xs, ys = np.arange(width + 1, dtype=float), np.arange(height + 1, dtype=float)
    return np.concatenate(
        [
            np.c_[xs, np.zeros_like(xs)],
            np.c_[xs, np.full_like(xs, height)],
            np.c_[np.zeros_like(ys), ys],
            np.c_[np.full_like(ys, width), ys],
        ]
    )


def canvas(camera: CameraSpec) -> CameraSpec:
    """The pinhole camera the back-end renders for a distorted ``camera``: the same focal length in
    pixels and optical axis, widened by whole pixels on each side until it holds every distorted ray."""
    lens = camera.distortion
    if lens is None:
        return camera
    width, height = camera.image_size
    k_matrix = camera.intrinsics()
    border = _border(width, height)
    rays = undistort_pixels(border, k_matrix, lens)
    back = project_normalized(np.c_[rays, np.ones(len(rays))], k_matrix, lens)
    if not np.all(np.isfinite(rays)) or np.abs(back - border).max() > ROUND_TRIP_PX:
        raise SimgenError(
            f"camera.distortion: the {lens.model} coefficients {list(lens.coefficients)} fold the image near "
            "its border (no one-to-one lens model there); use smaller coefficients"
        )
    fx, fy = k_matrix[0, 0], k_matrix[1, 1]
    half_w = max(np.abs(rays[:, 0]).max() * fx, width / 2)
    half_h = max(np.abs(rays[:, 1]).max() * fy, height / 2)
    margin_x, margin_y = math.ceil(half_w - width / 2) + 1, math.ceil(half_h - height / 2) + 1
    size = (width + 2 * margin_x, height + 2 * margin_y)
    if size[0] > MAX_CANVAS_SCALE * width or size[1] > MAX_CANVAS_SCALE * height:
        raise SimgenError(
            f"camera.distortion: this lens sees {size[0] / width:.1f} x {size[1] / height:.1f} times "
            "a pinhole image's field of view, more than a pinhole render can hold "
            f"(at most {MAX_CANVAS_SCALE:g} x); "
            "lower the field of view or the distortion"
        )
    scale = size[0] / width
    return replace(
        camera,
        resolution=size,
        sensor_width_mm=camera.sensor_width_mm * scale,
        output_resolution=None,
        distortion=None,
    )


_GRID_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # one entry: the current frame's camera


def remap_grid(camera: CameraSpec, render: CameraSpec) -> tuple[np.ndarray, np.ndarray]:
    """(map_x, map_y) float32 for cv2.remap: where each distorted pixel center lies on the canvas
    (cached for the last camera: the render and every object's silhouette use the same one)."""
    assert camera.distortion is not None
    key = (camera.intrinsics().tobytes(), camera.image_size, camera.distortion, render.resolution)
    if key not in _GRID_CACHE:
        _GRID_CACHE.clear()
        _GRID_CACHE[key] = _grid(camera, render)
    return _GRID_CACHE[key]


def _grid(camera: CameraSpec, render: CameraSpec) -> tuple[np.ndarray, np.ndarray]:
    assert camera.distortion is not None
    width, height = camera.image_size
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    rays = undistort_pixels(np.c_[u.ravel(), v.ravel()], camera.intrinsics(), camera.distortion)
    k_canvas = render.intrinsics()
    map_x = rays[:, 0] * k_canvas[0, 0] + k_canvas[0, 2] - 0.5
    map_y = rays[:, 1] * k_canvas[1, 1] + k_canvas[1, 2] - 0.5
    return map_x.reshape(height, width).astype(np.float32), map_y.reshape(height, width).astype(np.float32)


def resample(image: np.ndarray, grid: tuple[np.ndarray, np.ndarray], smooth: bool) -> np.ndarray:
    """A canvas map seen through the lens; ``smooth``: bilinear (RGB), else nearest (labels)."""
    interpolation = cv2.INTER_LINEAR if smooth else cv2.INTER_NEAREST
    if image.dtype == bool:
        return cv2.remap(image.astype(np.uint8), *grid, interpolation, borderValue=0).astype(bool)
    if image.ndim == 3 and image.shape[2] > 4:
        planes = [cv2.remap(image[..., i], *grid, interpolation) for i in range(image.shape[2])]
        return np.stack(planes, axis=-1)
    return cv2.remap(image, *grid, interpolation, borderMode=cv2.BORDER_REPLICATE)


def distorted_flow(
    flow: np.ndarray, grid: tuple[np.ndarray, np.ndarray], camera: CameraSpec, render: CameraSpec
) -> np.ndarray:
    """Canvas flow (H' x W' x 4) → flow of the distorted image: the surface point a pixel shows (the one
    at the nearest canvas pixel's center, as for every label) is followed on the canvas, and its start
    and end are both taken through the lens."""
    assert camera.distortion is not None
    sampled = resample(flow, grid, smooth=False)
    canvas_start = np.floor(np.stack([grid[0].ravel(), grid[1].ravel()], axis=-1) + 0.5) + 0.5
    k_canvas, k_image = render.intrinsics(), camera.intrinsics()

    def through_lens(canvas_points: np.ndarray) -> np.ndarray:
        rays = (canvas_points - k_canvas[:2, 2]) / np.diag(k_canvas)[:2]
        return project_normalized(np.c_[rays, np.ones(len(rays))], k_image, camera.distortion)

    start = through_lens(canvas_start)
    out = np.full_like(sampled, np.nan)
    for offset in (0, 2):
        end = canvas_start + sampled.reshape(-1, 4)[:, offset : offset + 2]
        out.reshape(-1, 4)[:, offset : offset + 2] = through_lens(end) - start
    out[~np.isfinite(sampled)] = np.nan
    return out


def footprint(camera: CameraSpec, render: CameraSpec) -> np.ndarray:
    """The canvas pixels the distorted image sees (inside the rays of its border), as a bool mask.

    The border's rays are walked by their angle about the optical center (the outline of a one-to-one
    lens is star-shaped about it) and filled as one polygon."""
    assert camera.distortion is not None
    width, height = camera.image_size
    rays = undistort_pixels(_border(width, height), camera.intrinsics(), camera.distortion)
    k_canvas = render.intrinsics()
    outline = rays * np.diag(k_canvas)[:2] + k_canvas[:2, 2]
    angle = np.arctan2(outline[:, 1] - k_canvas[1, 2], outline[:, 0] - k_canvas[0, 2])
    polygon = np.round(outline[np.argsort(angle)]).astype(np.int32)
    out = np.zeros((render.resolution[1], render.resolution[0]), dtype=np.uint8)
    cv2.fillPoly(out, [polygon], 1)
    return out.astype(bool)


def through_lens(result: RenderResult, camera: CameraSpec) -> RenderResult:
    """A canvas render (``canvas(camera)``) resampled into the distorted image, every map alike."""
    if camera.distortion is None:
        return result
    render = canvas(camera)
    grid = remap_grid(camera, render)
    flow = None if result.flow is None else distorted_flow(result.flow, grid, camera, render)
    return replace(
        result,
        rgb=resample(result.rgb, grid, smooth=True),
        instance_ids=resample(result.instance_ids, grid, smooth=False),
        depth=resample(result.depth, grid, smooth=False),
        normals=None if result.normals is None else resample(result.normals, grid, smooth=False),
        flow=flow,
    )
