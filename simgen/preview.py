"""Contact sheets: images with mask overlays, mask outlines, boxes and category names (OpenCV).

simgen's extra labels are drawn too: a dashed light outline for the amodal mask of occluded or truncated
objects, keypoints (filled = visible, ring = occluded) with their skeleton, ignore regions in gray.

Works on any COCO dataset (RLE or polygon masks, or boxes only), so synthetic and real sets can be
inspected the same way.
"""

from __future__ import annotations

import colorsys
import contextlib
import io
import math
from pathlib import Path

import cv2
import numpy as np
from pycocotools.coco import COCO

from simgen.errors import SimgenError
from simgen.fileio import read_image, write_image_atomic
from simgen.labels import decode_mask
from simgen.writers import coco_data
from simgen.writers.coco import to_rle


def instance_color(k: int) -> tuple[int, int, int]:
    """A distinct, saturated RGB color for the k-th instance (golden-ratio hue steps)."""
    r, g, b = colorsys.hsv_to_rgb((k * 0.618033988749895) % 1.0, 0.85, 1.0)
    return int(255 * r), int(255 * g), int(255 * b)


def coco_index(data: dict) -> COCO:
    """A pycocotools index over a COCO dict (quietly: pycocotools prints progress chatter)."""
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


MASK_MODES = ("fill", "outline", "none")
"""How masks are drawn: tinted and outlined (default), outlined only (the image's own colors stay
exact inside every mask, to judge them), or not at all (boxes and names only)."""


def draw_annotations(
    image: np.ndarray, coco: COCO, image_id: int, scale: int = 1, masks: str = "fill"
) -> np.ndarray:
    """RGB image with each annotation's mask tinted and outlined (``masks``), boxed and named."""
    canvas = (
        cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST) if scale > 1 else image
    )
    canvas = canvas.copy()
    overlay = canvas.copy()
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id], iscrowd=None))
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    for k, ann in enumerate(anns):
        color = instance_color(k)
        if ann.get("segmentation") and masks != "none":
            mask = coco.annToMask(ann).astype(np.uint8)
            if scale > 1:
                mask = cv2.resize(mask, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
            if masks == "fill":
                overlay[mask > 0] = color
            contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(canvas, contours, -1, color, 1)
            cv2.drawContours(overlay, contours, -1, color, 1)
    if masks == "fill":
        canvas = cv2.addWeighted(overlay, 0.45, canvas, 0.55, 0)
    info = coco.loadImgs([image_id])[0]
    skeletons = {c["id"]: c.get("skeleton", []) for c in coco.loadCats(coco.getCatIds())}
    for k, ann in enumerate(anns):
        color = (160, 160, 160) if ann.get("iscrowd") else instance_color(k)
        _draw_amodal(canvas, ann, info["height"], info["width"], scale, color)
        x, y, w, h = (v * scale for v in ann["bbox"])
        cv2.rectangle(canvas, (int(x), int(y)), (math.ceil(x + w) - 1, math.ceil(y + h) - 1), color, 1)
        name = names.get(ann["category_id"], str(ann["category_id"]))
        _label(canvas, name + (" (ignore)" if ann.get("iscrowd") else ""), int(x), int(y), color)
        skeleton = skeletons.get(ann["category_id"], [])
        _draw_keypoints(canvas, ann.get("keypoints") or [], skeleton, scale, color)
    return canvas


def _draw_amodal(
    canvas: np.ndarray, ann: dict, height: int, width: int, scale: int, color: tuple[int, int, int]
) -> None:
    """Dashed outline of the amodal mask, drawn only where the object is occluded or truncated."""
    if not ann.get("amodal_segmentation") or not (ann.get("occluded") or ann.get("truncation")):
        return
    mask = decode_mask(to_rle(ann["amodal_segmentation"], height, width)).astype(np.uint8)
    if scale > 1:
        mask = cv2.resize(mask, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    light = tuple(int(c + (255 - c) * 0.6) for c in color)
    for contour in contours:
        points = contour.reshape(-1, 2)
        for i in range(0, len(points), 8):  # 4 px on, 4 px off
            dash = points[i : i + 5]
            if len(dash) > 1:
                cv2.polylines(canvas, [dash.reshape(-1, 1, 2)], False, light, 1)


def _draw_keypoints(
    canvas: np.ndarray, kps: list[float], skeleton: list[list[int]], scale: int, color: tuple[int, int, int]
) -> None:
    """Skeleton lines, then keypoints: filled dot = visible (v=2), ring = occluded (v=1)."""
    points = [(kps[i] * scale, kps[i + 1] * scale, kps[i + 2]) for i in range(0, len(kps) - 2, 3)]
    for a, b in skeleton:
        if 0 < a <= len(points) and 0 < b <= len(points) and points[a - 1][2] and points[b - 1][2]:
            pa, pb = points[a - 1], points[b - 1]
            cv2.line(canvas, (int(pa[0]), int(pa[1])), (int(pb[0]), int(pb[1])), color, 1, cv2.LINE_AA)
    radius = max(2, scale + 1)
    for x, y, v in points:
        if v == 2:
            cv2.circle(canvas, (int(x), int(y)), radius, (255, 255, 255), -1, cv2.LINE_AA)
            cv2.circle(canvas, (int(x), int(y)), radius, color, 1, cv2.LINE_AA)
        elif v == 1:
            cv2.circle(canvas, (int(x), int(y)), radius, (0, 0, 0), 1, cv2.LINE_AA)


def _label(canvas: np.ndarray, text: str, x: int, y: int, color: tuple[int, int, int]) -> None:
    font, size, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1
    (tw, th), base = cv2.getTextSize(text, font, size, thick)
    y0 = max(y - th - base - 1, 0)
    cv2.rectangle(canvas, (x, y0), (x + tw + 2, y0 + th + base + 1), color, -1)
    cv2.putText(canvas, text, (x + 1, y0 + th), font, size, (0, 0, 0), thick, cv2.LINE_AA)


def contact_sheet(
    dataset: str | Path,
    out: str | Path | None = None,
    max_images: int = 16,
    tile_width: int = 320,
    masks: str = "fill",
) -> Path:
    """Write a grid of annotated images from a COCO dataset; returns the PNG path."""
    if masks not in MASK_MODES:
        raise SimgenError(f"--masks {masks!r}: expected one of {', '.join(MASK_MODES)}")
    data, source, root = coco_data(dataset)
    coco = coco_index(data)
    image_ids = sorted(coco.getImgIds())[:max_images]
    if not image_ids:
        raise SimgenError(f"{source}: the dataset has no images")
    tiles = []
    for image_id in image_ids:
        info = coco.loadImgs([image_id])[0]
        image = read_image(root / info["file_name"])
        scale = max(1, round(tile_width / image.shape[1]))
        tile = draw_annotations(image, coco, image_id, scale, masks)
        tile = cv2.resize(
            tile,
            (tile_width, round(tile.shape[0] * tile_width / tile.shape[1])),
            interpolation=cv2.INTER_AREA,
        )
        cv2.putText(
            tile,
            info["file_name"].split("/")[-1],
            (4, tile.shape[0] - 6),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        tiles.append(tile)
    sheet = _grid(tiles)
    out_path = Path(out) if out else root / "preview.png"
    write_image_atomic(out_path, sheet)
    return out_path


def _grid(tiles: list[np.ndarray], gap: int = 4) -> np.ndarray:
    cols = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    th = max(t.shape[0] for t in tiles)
    tw = max(t.shape[1] for t in tiles)
    sheet = np.full((rows * (th + gap) + gap, cols * (tw + gap) + gap, 3), 32, dtype=np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        y, x = gap + r * (th + gap), gap + c * (tw + gap)
        sheet[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
    return sheet
