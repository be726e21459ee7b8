"""From a rendered instance-id map to COCO-style instance labels (numpy + pycocotools, no Blender).

Every label is derived from the one instance-id map that came out of the same render as the RGB, so
masks, boxes and areas agree with each other and with the image by construction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from simgen.spec import FrameSpec


@dataclass
class InstanceLabel:
    """One visible instance. ``bbox`` is COCO [x, y, w, h] in pixels, tight around the mask."""

    instance_id: int
    category_id: int
    category: str
    bbox: list[int]
    area: int
    segmentation: dict[str, Any]  # COCO RLE with ``counts`` as str
    iscrowd: int = 0


@dataclass
class ImageRecord:
    """Everything written about one image: where its files are, its labels and the spec that made it."""

    index: int
    seed: int
    width: int
    height: int
    file_name: str
    instances: list[InstanceLabel] = field(default_factory=list)
    extra_files: dict[str, str] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageRecord:
        data = dict(data)
        data["instances"] = [InstanceLabel(**inst) for inst in data.get("instances", [])]
        return cls(**data)


def encode_mask(mask: np.ndarray) -> dict[str, Any]:
    """Binary H x W mask → COCO RLE (JSON-ready: ``counts`` decoded to str)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def decode_mask(rle: dict[str, Any]) -> np.ndarray:
    """COCO RLE (``counts`` str or bytes) → bool H x W mask."""
    counts = rle["counts"]
    rle = {"size": rle["size"], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    return mask_utils.decode(rle).astype(bool)


def tight_bbox(mask: np.ndarray) -> list[int]:
    """COCO [x, y, w, h] of the smallest pixel rectangle containing every True pixel."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return [0, 0, 0, 0]
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]


def label_instances(
    instance_ids: np.ndarray, spec: FrameSpec, min_visible_pixels: int = 1
) -> list[InstanceLabel]:
    """One label per labelled object with at least ``min_visible_pixels`` visible pixels, in id order."""
    counts = np.bincount(instance_ids.ravel(), minlength=1)
    labels = []
    for obj in spec.labelled():
        area = int(counts[obj.instance_id]) if obj.instance_id < counts.size else 0
        if area < min_visible_pixels:
            continue
        mask = instance_ids == obj.instance_id
        labels.append(
            InstanceLabel(
                instance_id=obj.instance_id,
                category_id=obj.category_id,
                category=obj.category or "",
                bbox=tight_bbox(mask),
                area=area,
                segmentation=encode_mask(mask),
            )
        )
    return labels


def semantic_map(instance_ids: np.ndarray, spec: FrameSpec) -> np.ndarray:
    """uint16 H x W category-id map (0 = background/unlabelled) from the instance-id map."""
    lut = np.zeros(max([o.instance_id for o in spec.objects] + [0]) + 1, dtype=np.uint16)
    for obj in spec.labelled():
        lut[obj.instance_id] = obj.category_id
    return lut[instance_ids]
