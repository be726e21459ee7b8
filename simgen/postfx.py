"""Image post-effects (sensor noise, blur, JPEG, color/white balance, vignetting) with numpy/OpenCV.

They change pixel values only, never geometry, so every label stays pixel-aligned. The effect
parameters are drawn per image by the sampler (``FrameSpec.postfx``); the noise pattern comes from the
image seed, so an image re-rendered alone gets the same noise.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np


def apply_postfx(rgb: np.ndarray, params: dict[str, Any] | None, seed: int) -> np.ndarray:
    """Return a new uint8 H x W x 3 image with the effects applied in a fixed, physical order.

    Order: optics (vignette, blur) → color (white balance, brightness/contrast, saturation, hue)
    → sensor noise → JPEG compression.
    """
    if not params:
        return rgb
    img = rgb.astype(np.float32) / 255.0
    img = vignette(img, float(params.get("vignette", 0.0)))
    sigma = float(params.get("blur", 0.0))
    if sigma > 0:
        img = cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma)
    img = img * np.asarray(params.get("white_balance", (1, 1, 1)), dtype=np.float32)
    img = (img - 0.5) * float(params.get("contrast", 1.0)) + 0.5 + float(params.get("brightness", 0.0))
    img = adjust_saturation_hue(
        np.clip(img, 0, 1), float(params.get("saturation", 1.0)), float(params.get("hue_shift", 0.0))
    )
    noise = float(params.get("noise", 0.0))
    if noise > 0:
        rng = np.random.default_rng(seed)
        img = img + rng.normal(0.0, noise / 255.0, size=img.shape).astype(np.float32)
    out = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
    quality = params.get("jpeg_quality")
    if quality is not None:
        out = jpeg_roundtrip(out, int(quality))
    return out


def vignette(img: np.ndarray, strength: float) -> np.ndarray:
    """Darken towards the corners with a cos⁴-like radial falloff (0 = none, 1 = black corners)."""
    if strength <= 0:
        return img
    h, w = img.shape[:2]
    y, x = np.ogrid[:h, :w]
    r = np.hypot((x - (w - 1) / 2) / (w / 2), (y - (h - 1) / 2) / (h / 2)) / np.sqrt(2)
    falloff = 1.0 - np.clip(strength, 0, 1) * r**2
    return img * falloff[..., None].astype(np.float32)


def adjust_saturation_hue(img: np.ndarray, saturation: float, hue_shift_deg: float) -> np.ndarray:
    if saturation == 1.0 and hue_shift_deg == 0.0:
        return img
    hsv = cv2.cvtColor(img.astype(np.float32), cv2.COLOR_RGB2HSV)  # H in degrees for float input
    hsv[..., 0] = (hsv[..., 0] + hue_shift_deg) % 360.0
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 1)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    params = [cv2.IMWRITE_JPEG_QUALITY, int(np.clip(quality, 1, 100))]
    ok, data = cv2.imencode(".jpg", rgb[:, :, ::-1], params)
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 RGB
        return rgb
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1].copy()
