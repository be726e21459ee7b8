"""``simgen preview --clip K``: one clip as an animated GIF, every frame with its labels beside it.

Each frame is a row of panels for one camera of the clip: the image with masks, boxes and track ids
(a track keeps its color over the clip), the forward optical flow (hue = direction, brightness =
length, black where no surface), and the disparity (stereo rigs) or the depth. The GIF shows whether
tracks hold, flow follows the motion and disparity grows towards the camera, frame by frame.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from simgen.errors import SimgenError
from simgen.fileio import read_exr_channels, read_image, write_bytes_atomic
from simgen.flow import read_flow
from simgen.preview import _label, coco_index, instance_color
from simgen.writers import coco_data


def flow_colors(flow: np.ndarray, scale: float | None = None) -> np.ndarray:
    """H x W x 2 flow as RGB: hue from the direction, brightness from the length (``scale`` px = full)."""
    valid = np.isfinite(flow).all(axis=-1)
    u, v = np.nan_to_num(flow[..., 0]), np.nan_to_num(flow[..., 1])
    length, angle = cv2.cartToPolar(u.astype(np.float32), v.astype(np.float32), angleInDegrees=True)
    top = scale or max(float(np.percentile(length[valid], 99)) if valid.any() else 1.0, 1e-6)
    hsv = np.zeros((*flow.shape[:2], 3), dtype=np.uint8)
    hsv[..., 0] = (angle / 2).astype(np.uint8)
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(length / top * 255, 0, 255).astype(np.uint8)
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    rgb[~valid] = 0
    return rgb


def value_colors(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """A float map (depth, disparity) through a perceptual colormap; black where not finite or <= 0."""
    valid = np.isfinite(values) & (values > 0)
    scaled = np.clip((np.nan_to_num(values) - low) / max(high - low, 1e-9), 0, 1)
    rgb = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_VIRIDIS)[..., ::-1].copy()
    rgb[~valid] = 0
    return rgb


def _tracks_panel(image: np.ndarray, anns: list[dict[str, Any]], coco: Any) -> np.ndarray:
    canvas = image.copy()
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    for ann in anns:
        color = instance_color(int(ann.get("instance_id", ann["id"])))
        mask = coco.annToMask(ann).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(canvas, contours, -1, color, 1)
        x, y, w, h = (round(v) for v in ann["bbox"])
        cv2.rectangle(canvas, (x, y), (x + w - 1, y + h - 1), color, 1)
        _label(canvas, f"{names.get(ann['category_id'], '?')} #{ann.get('instance_id', '?')}", x, y, color)
        corners = (ann.get("box3d") or {}).get("corners")
        if corners and min(ann["box3d"].get("corners_depth", [1])) > 0:
            points = np.array(corners, dtype=float).reshape(8, 2).round().astype(np.int32)
            for a, b in _BOX_EDGES:
                cv2.line(canvas, tuple(points[a]), tuple(points[b]), color, 1, cv2.LINE_AA)
    return canvas


_BOX_EDGES = [(0, 1), (2, 3), (4, 5), (6, 7), (0, 2), (1, 3), (4, 6), (5, 7), (0, 4), (1, 5), (2, 6), (3, 7)]


def _clip_images(data: dict[str, Any], clip: int, camera: str | None) -> list[dict[str, Any]]:
    images = [im for im in data["images"] if im.get("clip_id") == clip and "frame_id" in im]
    if not images:
        clips = sorted({im["clip_id"] for im in data["images"] if "clip_id" in im})
        hint = f"clips here: {clips[0]}..{clips[-1]}" if clips else "this dataset has no clips (sequence:)"
        raise SimgenError(f"--clip {clip}: no images of that clip ({hint})")
    cameras = sorted({im.get("camera_name", "camera") for im in images})
    wanted = camera or cameras[0]
    if wanted not in cameras:
        raise SimgenError(f"--camera {wanted!r}: the clip's cameras are {', '.join(cameras)}")
    chosen = [im for im in images if im.get("camera_name", "camera") == wanted]
    return sorted(chosen, key=lambda im: im["frame_id"])


def clip_animation(
    dataset: str | Path,
    out: str | Path | None = None,
    clip: int = 0,
    camera: str | None = None,
    tile_width: int = 320,
) -> Path:
    """Write clip ``clip`` (one camera of it) as an animated GIF of labelled frames; returns its path."""
    data, _, root = coco_data(dataset)
    coco = coco_index(data)
    frames = _clip_images(data, clip, camera)
    disparities = [
        read_exr_channels(root / im["disparity_file"])["D"] for im in frames if im.get("disparity_file")
    ]
    depths = [read_exr_channels(root / im["depth_file"])["Z"] for im in frames if im.get("depth_file")]
    maps = disparities or depths
    valid = np.concatenate([m[np.isfinite(m) & (m > 0)] for m in maps]) if maps else np.zeros(1)
    low, high = (np.percentile(valid, 1), np.percentile(valid, 99)) if valid.size > 1 else (0.0, 1.0)
    rows = []
    for k, info in enumerate(frames):
        image = read_image(root / info["file_name"])
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[info["id"]], iscrowd=None))
        panels = [_tracks_panel(image, anns, coco)]
        if info.get("flow_file"):
            panels.append(flow_colors(read_flow(root / info["flow_file"])[0]))
        if maps:
            panels.append(value_colors(maps[k], low, high))
        row = np.concatenate([_fit(p, tile_width) for p in panels], axis=1)
        caption = f"clip {clip} {info.get('camera_name', '')} frame {info['frame_id']}"
        cv2.putText(row, caption, (4, row.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
        rows.append(Image.fromarray(row))
    fps = min((data.get("videos") or [{}])[0].get("fps") or 8, 8)  # slow enough to follow by eye
    path = Path(out) if out else root / f"clip{clip:06d}.gif"
    gif = io.BytesIO()
    rows[0].save(gif, format="GIF", save_all=True, append_images=rows[1:], duration=int(1000 / fps), loop=0)
    write_bytes_atomic(path, gif.getvalue())
    return path


def _fit(panel: np.ndarray, width: int) -> np.ndarray:
    height = round(panel.shape[0] * width / panel.shape[1])
    interpolation = cv2.INTER_NEAREST if width > panel.shape[1] else cv2.INTER_AREA
    return cv2.resize(panel, (width, height), interpolation=interpolation)
