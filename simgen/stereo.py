"""Disparity of a stereo rig's images, from the rendered depth and the two cameras' known poses.

Disparity is x_left - x_right in pixels: where the surface point a pixel sees projects in the left and in
the right image. It is computed for both images of a pair (at the left image's pixels for the left one, at
the right image's pixels for the right one), so both maps are positive for points in front of the rig.
For a parallel (rectified) rig it equals f * B / Z; a converged rig's disparity is the same correspondence
without rectification (its rows may shift too). Pixels without a surface are NaN.
"""

from __future__ import annotations

import numpy as np

from simgen.spec import CameraSpec


def surface_points(depth: np.ndarray, camera: CameraSpec) -> np.ndarray:
    """H x W x 3 world points of every pixel center at its depth (meters along the optical axis)."""
    height, width = depth.shape
    k_inv = np.linalg.inv(camera.intrinsics())
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    rays = np.stack([u, v, np.ones_like(u)], axis=-1) @ k_inv.T  # z = 1
    cam = rays * depth[..., None]
    c2w = np.linalg.inv(camera.world_to_opencv())
    return cam @ c2w[:3, :3].T + c2w[:3, 3]


def disparity_map(depth: np.ndarray, camera: CameraSpec, other: CameraSpec, left: bool) -> np.ndarray:
    """x_left - x_right at every pixel of ``camera``'s image (``left``: it is the pair's left camera)."""
    height, width = depth.shape
    points = surface_points(depth, camera).reshape(-1, 3)
    here = np.stack(np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5), axis=-1).reshape(-1, 2)
    with np.errstate(divide="ignore", invalid="ignore"):  # pixels without a surface: NaN below
        there = other.project(points)
    shift = (here[:, 0] - there[:, 0]) if left else (there[:, 0] - here[:, 0])
    out = shift.reshape(height, width).astype(np.float32)
    out[depth <= 0] = np.nan
    return out
