"""Binary masks ↔ polygons that rasterize back to exactly the same pixels (COCO and YOLO segmentations).

Coordinates are continuous pixel coordinates (pixel (i, j) spans [i, i+1) x [j, j+1)), the COCO
convention, in which pycocotools fills a pixel when its center lies inside the polygon. Outlines are
traced on a 2x upsampled mask, so every vertex sits a quarter pixel inside or outside a pixel edge: all
pixel centers are at least 0.25 px from the outline and the round trip is exact. Holes (a torus seen
from above) and separate parts are joined into the outline with zero-width bridges, which an even-odd
fill (pycocotools, OpenCV) cancels out, so they survive formats that hold one polygon per instance.
"""

from __future__ import annotations

import cv2
import numpy as np
from pycocotools import mask as mask_utils


def mask_to_polygons(mask: np.ndarray) -> list[list[float]]:
    """COCO polygons ([x0, y0, x1, y1, ...] each), one per connected part with its holes bridged in."""
    up = cv2.resize(mask.astype(np.uint8), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    contours, hierarchy = cv2.findContours(up, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    hierarchy = hierarchy[0]
    rings = [(c.reshape(-1, 2).astype(np.float64) + 0.5) / 2.0 for c in contours]
    polygons = []
    for k, (_, _, _, parent) in enumerate(hierarchy):
        if parent != -1:
            continue
        outline = rings[k]
        child = hierarchy[k][2]
        while child != -1:
            outline = bridge(outline, rings[child])
            child = hierarchy[child][0]
        polygons.append(outline)
    return [_flat(p) for p in polygons if len(p) >= 3]


def bridge(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """One ring from two, joined at their closest vertices by a zero-width cut (there and back)."""
    dist = ((outer[:, None, :] - inner[None, :, :]) ** 2).sum(axis=-1)
    i, j = np.unravel_index(int(np.argmin(dist)), dist.shape)
    inner_loop = np.concatenate([inner[j:], inner[: j + 1]])
    return np.concatenate([outer[: i + 1], inner_loop, outer[i:]])


def join_polygons(polygons: list[list[float]]) -> list[float]:
    """All polygons of an instance as one ring (YOLO segment lines hold a single polygon)."""
    rings = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polygons if len(p) >= 6]
    if not rings:
        return []
    joined = rings[0]
    for ring in rings[1:]:
        joined = bridge(joined, ring)
    return _flat(joined)


def polygons_to_mask(polygons: list[list[float]], height: int, width: int) -> np.ndarray:
    """Rasterize COCO polygons (pycocotools, even-odd per polygon, union over polygons)."""
    polygons = [p for p in polygons if len(p) >= 6]
    if not polygons:
        return np.zeros((height, width), dtype=bool)
    rles = mask_utils.frPyObjects([list(map(float, p)) for p in polygons], height, width)
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


def _flat(ring: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in ring.ravel()]
