"""Optical flow files of clip frames: written by the build, read with ``read_flow``.

``flow/NNNNNN.exr`` (``outputs.flow``) is a float32 EXR with four channels, in pixels of the stored
image, OpenCV axes (u right, v down): ``forward.u``, ``forward.v`` (where the surface point seen at a
pixel is one frame later, minus where it is now) and ``backward.u``, ``backward.v`` (one frame earlier).
Pixels where the camera sees no surface (the world) are NaN. The first frame's backward flow and the last
frame's forward flow point to the poses one frame interval outside the clip (the trajectory or the
simulation carried on).

    from simgen.flow import read_flow
    forward, backward = read_flow("runs/clip/flow/000003.exr")   # each H x W x 2 float32
    target = pixel_xy + forward[y, x]                             # that point in the next frame
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simgen.errors import SimgenError
from simgen.fileio import encode_exr, read_exr_channels

CHANNELS = ("forward.u", "forward.v", "backward.u", "backward.v")


def encode_flow(flow: np.ndarray) -> bytes:
    """H x W x 4 flow (forward u, v, backward u, v) as the bytes of a flow EXR."""
    return encode_exr({name: flow[..., i] for i, name in enumerate(CHANNELS)})


def read_flow(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(forward, backward) flow of one image, each H x W x 2 float32 (u, v) in pixels; NaN: no surface."""
    channels = read_exr_channels(path)
    missing = [name for name in CHANNELS if name not in channels]
    if missing:
        raise SimgenError(f"{path}: not a simgen flow file (no channels {', '.join(missing)})")
    planes = [np.asarray(channels[name], dtype=np.float32) for name in CHANNELS]
    return np.stack(planes[:2], axis=-1), np.stack(planes[2:], axis=-1)


def scaled(flow: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Flow measured on a grid resized by (sx, sy): displacements scale with the pixels."""
    return flow * np.array([sx, sy, sx, sy], dtype=np.float32)
