"""Tiny procedural COCO datasets drawn with OpenCV, in the same layout simgen's renderer writes.

Why: tests, the benchmark and the documented example need a synthetic set that exists without Blender.
``shapes`` is an easy set (colored primitives on plain backgrounds) a working detector must learn in a few
CPU minutes; ``dice`` is a crude top-down dice imitation used as the synthetic side of the real dice set.

Usage: ``python -m simgen.evaluate.toydata {shapes,dice} OUT_DIR -n 200``
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as mask_utils

SHAPES = ("circle", "square", "triangle")
DICE = ("one", "two", "three", "four", "five", "six")
# Pip positions on a unit face ([-1, 1] coordinates) for each dice value.
PIPS: dict[int, list[tuple[float, float]]] = {
    1: [(0, 0)],
    2: [(-0.5, -0.5), (0.5, 0.5)],
    3: [(-0.5, -0.5), (0, 0), (0.5, 0.5)],
    4: [(-0.5, -0.5), (0.5, -0.5), (-0.5, 0.5), (0.5, 0.5)],
    5: [(-0.5, -0.5), (0.5, -0.5), (0, 0), (-0.5, 0.5), (0.5, 0.5)],
    6: [(-0.5, -0.55), (0.5, -0.55), (-0.5, 0), (0.5, 0), (-0.5, 0.55), (0.5, 0.55)],
}


def encode_mask(mask: np.ndarray) -> dict[str, Any]:
    """Compressed RLE with a JSON-safe ``counts`` string, as simgen's COCO writer stores masks."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def _random_color(rng: np.random.Generator, low: int = 0, high: int = 256) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(low, high, 3))  # type: ignore[return-value]


def _free_spot(
    rng: np.random.Generator, taken: np.ndarray, half: int, margin: int = 2
) -> tuple[int, int] | None:
    """A centre whose square of radius ``half`` does not overlap already drawn objects."""
    h, w = taken.shape
    for _ in range(30):
        cx, cy = int(rng.integers(half + 1, w - half - 1)), int(rng.integers(half + 1, h - half - 1))
        y0, y1, x0, x1 = cy - half - margin, cy + half + margin, cx - half - margin, cx + half + margin
        if not taken[max(0, y0) : y1, max(0, x0) : x1].any():
            return cx, cy
    return None


def draw_shapes(rng: np.random.Generator, image: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """1-3 non-overlapping colored primitives on a plain background; returns (category index, mask)."""
    h, w = image.shape[:2]
    image[:] = _random_color(rng, 0, 256)
    taken = np.zeros((h, w), np.uint8)
    objects = []
    for _ in range(int(rng.integers(1, 4))):
        half = int(rng.integers(h // 10, h // 5))
        spot = _free_spot(rng, taken, half)
        if spot is None:
            continue
        cx, cy = spot
        kind = int(rng.integers(0, len(SHAPES)))
        mask = np.zeros((h, w), np.uint8)
        if kind == 0:
            cv2.circle(mask, (cx, cy), half, 1, -1)
        elif kind == 1:
            cv2.rectangle(mask, (cx - half, cy - half), (cx + half, cy + half), 1, -1)
        else:
            pts = np.array([(cx, cy - half), (cx - half, cy + half), (cx + half, cy + half)], np.int32)
            cv2.fillPoly(mask, [pts], 1)
        color = np.array(_random_color(rng), np.uint8)
        while np.abs(color.astype(int) - image[cy, cx].astype(int)).sum() < 120:  # keep objects visible
            color = np.array(_random_color(rng), np.uint8)
        image[mask > 0] = color
        taken |= mask
        objects.append((kind, mask))
    return objects


def _dice_background(rng: np.random.Generator, image: np.ndarray) -> None:
    """Light paper with a brightness gradient, sometimes a grey tray, plus sensor noise."""
    h, w = image.shape[:2]
    base = rng.uniform(170, 240)
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    gradient = base + rng.uniform(-25, 25) * gx / w + rng.uniform(-25, 25) * gy / h
    image[:] = np.clip(gradient, 0, 255)[..., None].astype(np.uint8)
    if rng.random() < 0.4:
        x0, y0 = int(rng.integers(0, w // 4)), int(rng.integers(0, h // 4))
        x1, y1 = int(rng.integers(3 * w // 4, w)), int(rng.integers(h // 2, h))
        cv2.rectangle(image, (x0, y0), (x1, y1), _random_color(rng, 20, 60), 8)
        cv2.rectangle(image, (x0 + 8, y0 + 8), (x1 - 8, y1 - 8), (int(base * 0.8),) * 3, -1)


def draw_dice(rng: np.random.Generator, image: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """3-15 dice seen from above: colored rounded squares with pips, soft shadows, random rotation."""
    h, w = image.shape[:2]
    _dice_background(rng, image)
    taken = np.zeros((h, w), np.uint8)
    objects = []
    scale = w / 640
    for _ in range(int(rng.integers(3, 16))):
        half = int(rng.uniform(14, 24) * scale)
        spot = _free_spot(rng, taken, int(half * 1.45))
        if spot is None:
            continue
        value = int(rng.integers(1, 7))
        angle = rng.uniform(0, math.pi / 2)
        rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        corners = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], float) * 0.92
        poly = (corners @ rot.T * half + spot).astype(np.int32)
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [poly], 1)
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))  # rounded corners
        shadow = cv2.GaussianBlur(np.roll(mask, (3, 3), (0, 1)).astype(np.float32), (0, 0), 3 * scale + 1)
        image[:] = (image * (1 - 0.35 * shadow[..., None])).astype(np.uint8)
        body = np.array(_random_color(rng), np.float32)
        shade = 0.75 + 0.25 * cv2.GaussianBlur(mask.astype(np.float32), (0, 0), half / 4)  # darker edges
        image[mask > 0] = np.clip(body * shade[mask > 0][:, None], 0, 255).astype(np.uint8)
        pip_color = (20, 20, 20) if body.mean() > 110 else (235, 235, 235)
        for px, py in PIPS[value]:
            centre = (np.array([px, py]) @ rot.T * half * 0.9 + spot).astype(int)
            cv2.circle(
                image, (int(centre[0]), int(centre[1])), max(2, int(half * 0.2)), pip_color, -1, cv2.LINE_AA
            )
        taken |= mask
        objects.append((value - 1, mask))
    image[:] = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.0))
    noise = rng.normal(0, 3, image.shape)
    image[:] = np.clip(image + noise, 0, 255).astype(np.uint8)
    return objects


def make_dataset(
    out: str | Path,
    kind: str = "shapes",
    num_images: int = 64,
    size: int = 128,
    seed: int = 0,
    boxes_only: bool = False,
) -> Path:
    """Write ``OUT/images/*.png`` + ``OUT/annotations.json``; returns the json path."""
    drawer, names = {"shapes": (draw_shapes, SHAPES), "dice": (draw_dice, DICE)}[kind]
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for index in range(num_images):
        rng = np.random.default_rng([seed, index])
        image = np.zeros((size, size, 3), np.uint8)
        objects = drawer(rng, image)
        file_name = f"images/{index:06d}.png"
        cv2.imwrite(str(out / file_name), image[..., ::-1])
        images.append({"id": index, "file_name": file_name, "width": size, "height": size})
        for category, mask in objects:
            ys, xs = np.nonzero(mask)
            bbox = [
                float(xs.min()),
                float(ys.min()),
                float(xs.max() - xs.min() + 1),
                float(ys.max() - ys.min() + 1),
            ]
            annotation = {
                "id": len(annotations) + 1,
                "image_id": index,
                "category_id": category + 1,
                "bbox": bbox,
                "area": float(mask.sum()),
                "iscrowd": 0,
            }
            if not boxes_only:
                annotation["segmentation"] = encode_mask(mask)
            annotations.append(annotation)
    coco = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": n, "supercategory": kind} for i, n in enumerate(names)],
    }
    path = out / "annotations.json"
    path.write_text(json.dumps(coco))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simgen.evaluate.toydata", description=__doc__.split("\n")[0]
    )
    parser.add_argument("kind", choices=["shapes", "dice"])
    parser.add_argument("out")
    parser.add_argument("-n", "--num-images", type=int, default=64)
    parser.add_argument("--size", type=int, help="image side in px (default: 128 shapes, 640 dice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--boxes-only", action="store_true", help="write no segmentation")
    args = parser.parse_args(argv)
    size = args.size or (128 if args.kind == "shapes" else 640)
    path = make_dataset(args.out, args.kind, args.num_images, size, args.seed, args.boxes_only)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
