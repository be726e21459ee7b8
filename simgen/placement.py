"""Collision-free placement with oriented bounding boxes (pure numpy, no Blender).

Each instance is approximated by its oriented bounding box (exact for cubes, conservative for every
other shape), so boxes that do not overlap guarantee meshes that do not interpenetrate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Local bounding boxes (center, half extents) of the unit-size primitives built by the backend.
PRIMITIVE_BOUNDS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "cube": ((0, 0, 0), (0.5, 0.5, 0.5)),
    "sphere": ((0, 0, 0), (0.5, 0.5, 0.5)),
    "ico_sphere": ((0, 0, 0), (0.5, 0.5, 0.5)),
    "cylinder": ((0, 0, 0), (0.5, 0.5, 0.5)),
    "cone": ((0, 0, 0), (0.5, 0.5, 0.5)),
    "torus": ((0, 0, 0), (0.5, 0.5, 0.125)),
    "plane": ((0, 0, 0), (0.5, 0.5, 0.0)),
}


@dataclass
class OrientedBox:
    center: np.ndarray  # (3,) world
    axes: np.ndarray  # (3, 3) columns are the box axes (unit vectors)
    half: np.ndarray  # (3,) half extents along the axes

    def lowest_z(self) -> float:
        return float(self.center[2] - np.abs(self.axes[2, :]) @ self.half)

    def corners(self) -> np.ndarray:
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=float)
        return self.center + (signs * self.half) @ self.axes.T


def oriented_box(
    local_center: np.ndarray,
    local_half: np.ndarray,
    rotation: np.ndarray,
    scale: np.ndarray,
    location: np.ndarray,
) -> OrientedBox:
    """World OBB of an object whose local AABB is (center, half), posed by rotation @ diag(scale)."""
    scale = np.asarray(scale, dtype=float)
    return OrientedBox(
        center=np.asarray(location, dtype=float) + rotation @ (scale * np.asarray(local_center, dtype=float)),
        axes=rotation,
        half=np.abs(scale) * np.asarray(local_half, dtype=float),
    )


def boxes_overlap(a: OrientedBox, b: OrientedBox, gap: float = 0.0) -> bool:
    """Separating-axis test for two OBBs; ``gap`` inflates both boxes (minimum clearance)."""
    axes = [a.axes[:, i] for i in range(3)] + [b.axes[:, i] for i in range(3)]
    for i in range(3):
        for j in range(3):
            cross = np.cross(a.axes[:, i], b.axes[:, j])
            if np.linalg.norm(cross) > 1e-9:
                axes.append(cross / np.linalg.norm(cross))
    delta = b.center - a.center
    for axis in axes:
        ra = np.abs(a.axes.T @ axis) @ a.half + gap / 2
        rb = np.abs(b.axes.T @ axis) @ b.half + gap / 2
        if abs(delta @ axis) > ra + rb:
            return False
    return True
