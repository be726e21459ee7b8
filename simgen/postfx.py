"""Image post-effects (sensor noise, blur, JPEG, color/white balance, vignetting) with numpy/OpenCV.

They change pixel values only, never geometry, so every label stays pixel-aligned. The effect
parameters are drawn per image by the sampler (``FrameSpec.postfx``); the noise pattern comes from the
image seed, so an image re-rendered alone gets the same noise.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from simgen.config.distributions import srgb_to_linear


def apply_postfx(rgb: np.ndarray, params: dict[str, Any] | None, seed: int) -> np.ndarray:
    """Return a new uint8 H x W x 3 image with the effects applied in a fixed, physical order.

    Order: optics (vignette, blur) → camera pipeline (auto white balance, auto exposure) → color
    (white balance, brightness/contrast, saturation, hue) → sensor noise → JPEG compression.
    """
    if not params:
        return rgb
    img = rgb.astype(np.float32) / 255.0
    img = vignette(img, float(params.get("vignette", 0.0)))
    sigma = float(params.get("blur", 0.0))
    if sigma > 0:
        img = cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma)
    img = camera_pipeline(img, float(params.get("auto_white_balance", 0.0)), params.get("auto_exposure"))
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


def linear_to_srgb(img: np.ndarray) -> np.ndarray:
    img = np.clip(img, 0.0, 1.0)
    return np.where(img <= 0.0031308, img * 12.92, 1.055 * img ** (1 / 2.4) - 0.055).astype(np.float32)


def camera_pipeline(img: np.ndarray, white_balance_strength: float, exposure_level: Any) -> np.ndarray:
    """A phone's auto white balance, then auto exposure, both in linear light (one round trip)."""
    if white_balance_strength <= 0 and exposure_level is None:
        return img
    linear = srgb_to_linear(img).astype(np.float32)
    if white_balance_strength > 0:
        linear = np.clip(linear * gray_world_gains(linear, white_balance_strength), 0.0, 1.0)
    if exposure_level is not None:
        linear = linear * exposure_gain(linear, float(exposure_level))
    return linear_to_srgb(linear)


def gray_world_gains(linear: np.ndarray, strength: float) -> np.ndarray:
    """Per-channel gains towards equal channel means: gray-world auto white balance.

    ``strength`` blends from no correction (0) to full gray-world (1); the green channel keeps gain 1,
    so the correction moves color, not brightness.
    """
    means = linear.reshape(-1, 3).mean(axis=0) + 1e-6
    return ((means[1] / means) ** float(np.clip(strength, 0.0, 1.0))).astype(np.float32)


def exposure_gain(linear: np.ndarray, target_level: float) -> float:
    """The gain that puts the median luminance on ``target_level`` (8-bit): a phone's auto exposure.

    Overexposed renders cannot be recovered (clipped pixels stay flat), so scenes should light on the
    dark side and let this bring them up, as a camera's metering does.
    """
    luminance = linear @ np.asarray([0.2126, 0.7152, 0.0722], dtype=np.float32)
    target = float(srgb_to_linear(np.clip(target_level, 1.0, 254.0) / 255.0))
    return target / max(float(np.median(luminance)), 1e-4)


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
