"""What a backend hands back for one frame: plain numpy arrays (importable without Blender)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RenderResult:
    """Per-pixel outputs of one render, all H x W and pixel-aligned.

    rgb: uint8 H x W x 3 (RGB order, display-referred through the configured view transform).
    instance_ids: uint16 H x W; 0 = background or unlabelled, k = ObjectSpec.instance_id k.
    depth: float32 H x W; meters along the optical axis, 0 where nothing was hit.
    normals: float32 H x W x 3 world-space unit normals (zeros on background), or None.
    flow: optical flow to the next and previous frames of a clip (outputs.flow), or None.
    timings: seconds spent per phase ("sync", "render", "read").
    """

    rgb: np.ndarray
    instance_ids: np.ndarray
    depth: np.ndarray
    normals: np.ndarray | None = None
    flow: np.ndarray | None = None  # H x W x 4 float32: forward u, v then backward u, v (px); NaN: no surface
    timings: dict[str, float] = field(default_factory=dict)
