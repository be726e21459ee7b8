"""postfx: a phone camera's look on the rendered 8-bit image (numpy/OpenCV; labels stay aligned).

postfx:
  auto_exposure: {uniform: [160, 195]}      # phone auto exposure: median luminance to this 8-bit level
  auto_white_balance: {uniform: [0.7, 1.0]}
  noise: {uniform: [0, 6]}                  # sensor noise std, 8-bit levels
  blur: {choice: [0, 0, 0.7]}
  jpeg_quality: {randint: [60, 100]}

The effects change pixel values only, never geometry, so every label stays pixel-aligned. The noise
pattern comes from the image seed, so an image re-rendered alone gets the same noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from pydantic import Field

from simgen.config.base import StrictModel
from simgen.config.distributions import (
    FloatValue,
    IntValue,
    Vec3Value,
    _as_float_value,
    nonnegative,
    ranged,
    srgb_to_linear,
)
from simgen.randomizers.base import FrameDraw, Randomizer
from simgen.spec import Vec3

if TYPE_CHECKING:
    from simgen.spec import FrameSpec


class PostEffects(StrictModel):
    """Camera/sensor effects on the rendered 8-bit image (labels stay pixel-aligned)."""

    noise: nonnegative(FloatValue) = Field(0.0, description="Gaussian sensor noise std, in 8-bit levels.")
    blur: nonnegative(FloatValue) = Field(0.0, description="Gaussian blur sigma, pixels.")
    motion_blur: ranged(FloatValue, 0, 200) | None = Field(
        None,
        description="Directional (linear) motion blur: the streak length in pixels, as a handheld or "
        "moving webcam makes it (averaged in linear light). Unset or 0: off.",
    )
    motion_angle: FloatValue | None = Field(
        None,
        description="Direction of the motion blur in degrees (0 = horizontal, 90 = vertical); default: "
        "uniformly random in [0, 180).",
    )
    jpeg_quality: ranged(IntValue, 1, 100) | None = Field(
        None, description="Re-encode as JPEG at this quality (artifacts)."
    )
    brightness: ranged(FloatValue, -1, 1) = Field(0.0, description="Added to all channels, of full scale.")
    contrast: nonnegative(FloatValue) = Field(1.0, description="Multiplies deviations from mid-gray.")
    saturation: nonnegative(FloatValue) = 1.0
    hue_shift: FloatValue = Field(0.0, description="Degrees.")
    white_balance: nonnegative(Vec3Value) = Field((1.0, 1.0, 1.0), description="Per-channel RGB gains.")
    vignette: ranged(FloatValue, 0, 1) = Field(
        0.0, description="Corner darkening, 0 (none) to 1 (black corners)."
    )
    auto_white_balance: ranged(FloatValue, 0, 1) = Field(
        0.0,
        description="Gray-world auto white balance, as a phone camera does: 0 (off) to 1 (the image's "
        "mean color becomes neutral). Applied before white_balance, which then adds a residual cast.",
    )
    auto_exposure: ranged(FloatValue, 1, 254) | None = Field(
        None,
        description="Auto exposure, as a phone camera does: scale the image in linear light so its "
        "median luminance becomes this 8-bit level (e.g. 180). None = off.",
    )


RANDOM_ANGLE = _as_float_value({"uniform": [0.0, 180.0]})


class PostFxSections(StrictModel):
    postfx: PostEffects | None = None


@dataclass
class PostFxSpec:
    """One image's drawn effects; the defaults change nothing, the optional effects are None when off."""

    noise: float = 0.0
    blur: float = 0.0
    motion_blur: float = 0.0
    motion_angle: float = 0.0
    jpeg_quality: int | None = None
    brightness: float = 0.0
    contrast: float = 1.0
    saturation: float = 1.0
    hue_shift: float = 0.0
    vignette: float = 0.0
    auto_white_balance: float = 0.0
    auto_exposure: float | None = None
    white_balance: Vec3 = (1.0, 1.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        """The record's form: effects that are off are left out."""
        out = {k: v for k, v in asdict(self).items() if v is not None}
        if not self.motion_blur:
            del out["motion_blur"], out["motion_angle"]
        return out


class PostFxRandomizer(Randomizer):
    name = "postfx"
    summary = (
        "a phone camera's auto white balance and auto exposure, sensor noise, blur, JPEG quality, "
        "brightness/contrast/saturation/hue, white balance, vignetting (numpy/OpenCV, labels stay aligned)"
    )
    config_keys = "`postfx:`"
    demo = "scenes/demos/postfx.yaml"
    SECTIONS = PostFxSections
    off_mode = "remove"

    def sample(self, draw: FrameDraw) -> None:
        fx, s = draw.config.postfx, draw.streams
        if fx is None:
            return

        def optional(name: str, value: Any, kind: type) -> Any:
            return None if value is None else kind(s.value(f"postfx.{name}", value))

        draw.parts[self.name] = PostFxSpec(
            **{
                name: s.float(f"postfx.{name}", getattr(fx, name))
                for name in ("noise", "blur", "brightness", "contrast", "saturation", "hue_shift")
            },
            jpeg_quality=optional("jpeg_quality", fx.jpeg_quality, int),
            motion_blur=s.float("postfx.motion_blur", fx.motion_blur or 0.0),
            motion_angle=s.float(
                "postfx.motion_angle", RANDOM_ANGLE if fx.motion_angle is None else fx.motion_angle
            )
            if fx.motion_blur
            else 0.0,
            vignette=s.float("postfx.vignette", fx.vignette),
            auto_white_balance=s.float("postfx.auto_white_balance", fx.auto_white_balance),
            auto_exposure=optional("auto_exposure", fx.auto_exposure, float),
            white_balance=s.vec3("postfx.white_balance", fx.white_balance),
        )

    def apply_image(self, rgb: np.ndarray, spec: FrameSpec) -> np.ndarray:
        params = spec.part(self.name)
        return rgb if params is None else apply_postfx(rgb, params, spec.seed)


def apply_postfx(rgb: np.ndarray, fx: PostFxSpec, seed: int) -> np.ndarray:
    """Return a new uint8 H x W x 3 image with the effects applied in a fixed, physical order.

    Order: optics (vignette, blur, motion blur) → camera pipeline (auto white balance, auto exposure) → color
    (white balance, brightness/contrast, saturation, hue) → sensor noise → JPEG compression.
    """
    img = rgb.astype(np.float32) / 255.0
    img = vignette(img, fx.vignette)
    if fx.blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), sigmaX=fx.blur, sigmaY=fx.blur)
    if fx.motion_blur > 0:
        img = linear_to_srgb(cv2.filter2D(srgb_to_linear(img).astype(np.float32), -1, motion_kernel(fx)))
    img = camera_pipeline(img, fx.auto_white_balance, fx.auto_exposure)
    img = img * np.asarray(fx.white_balance, dtype=np.float32)
    img = (img - 0.5) * fx.contrast + 0.5 + fx.brightness
    img = adjust_saturation_hue(np.clip(img, 0, 1), fx.saturation, fx.hue_shift)
    if fx.noise > 0:
        rng = np.random.default_rng(seed)
        img = img + rng.normal(0.0, fx.noise / 255.0, size=img.shape).astype(np.float32)
    out = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
    if fx.jpeg_quality is not None:
        out = jpeg_roundtrip(out, fx.jpeg_quality)
    return out


def motion_kernel(fx: PostFxSpec) -> np.ndarray:
    """A streak of ``motion_blur`` pixels at ``motion_angle`` through the kernel's center, summing to 1.

    Points spaced 1/32 pixel along the segment are binned on an 8x finer grid and area-summed, so a
    horizontal or vertical streak of length L covers exactly L pixels equally and any angle is smooth."""
    length = max(1.0, fx.motion_blur)
    size = int(np.ceil(length)) | 1
    fine = 8
    t = (np.arange(int(length * 32)) + 0.5) / 32 - length / 2
    center = (size - 1) / 2
    angle = np.radians(fx.motion_angle)
    x = center + t * np.cos(angle)
    y = center - t * np.sin(angle)  # image rows grow downwards: 90 degrees points up
    cols = np.clip(np.floor((x + 0.5) * fine), 0, size * fine - 1).astype(int)
    rows = np.clip(np.floor((y + 0.5) * fine), 0, size * fine - 1).astype(int)
    grid = np.zeros((size * fine, size * fine), np.float32)
    np.add.at(grid, (rows, cols), 1.0)
    kernel = grid.reshape(size, fine, size, fine).sum(axis=(1, 3))
    return kernel / kernel.sum()


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
