"""Generate the bundled example images (run: .venv/bin/python assets/make_images.py).

All procedural (numpy + OpenCV), so the project may redistribute them:
- textures/*.png: tileable-ish material images for ``texture: {type: image}``.
- environments/*.hdr: small equirectangular HDR environments for ``world: {type: image}``.
- backplates/*.jpg: cluttered photo-like backgrounds for ``world.backplate``.
- labels/*.png: shipping labels (text lines, a barcode, a colored mark) for the carton generator.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    small = rng.random((cells, cells)).astype(np.float32)
    return cv2.resize(small, shape[::-1], interpolation=cv2.INTER_CUBIC)


def textures(rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = 256
    y, x = np.mgrid[:n, :n].astype(np.float32) / n
    wood = 0.5 + 0.5 * np.sin(40 * (x + 0.08 * smooth_noise(rng, (n, n), 6)))
    wood_rgb = np.stack([0.35 + 0.3 * wood, 0.2 + 0.2 * wood, 0.08 + 0.08 * wood], -1)
    plaid = ((np.sin(2 * np.pi * 8 * x) > 0.6) | (np.sin(2 * np.pi * 8 * y) > 0.6)).astype(np.float32)
    plaid_rgb = np.stack([0.7 - 0.4 * plaid, 0.1 + 0.1 * plaid, 0.15 + 0.5 * plaid], -1)
    dots = (((x * 10) % 1 - 0.5) ** 2 + ((y * 10) % 1 - 0.5) ** 2 < 0.08).astype(np.float32)
    dots_rgb = np.stack([0.9 - 0.8 * dots, 0.85 - 0.2 * dots, 0.2 + 0.6 * dots], -1)
    grain = smooth_noise(rng, (n, n), 32) * 0.6 + smooth_noise(rng, (n, n), 8) * 0.4
    stone_rgb = np.stack([grain * 0.6 + 0.2, grain * 0.6 + 0.2, grain * 0.55 + 0.22], -1)
    return {"wood": wood_rgb, "plaid": plaid_rgb, "dots": dots_rgb, "stone": stone_rgb}


def environment(
    rng: np.random.Generator, sun: tuple[float, float], tint: tuple[float, float, float]
) -> np.ndarray:
    h, w = 256, 512
    v, u = np.mgrid[:h, :w].astype(np.float32)
    elevation = (0.5 - v / h) * np.pi
    sky = np.where(
        elevation[..., None] > 0,
        np.array(tint, np.float32) * (0.4 + 0.6 * np.sin(np.clip(elevation, 0, None)))[..., None],
        np.array([0.25, 0.22, 0.2], np.float32) * (0.5 + 0.5 * smooth_noise(rng, (h, w), 12))[..., None],
    )
    su, sv = sun
    d2 = ((u - su * w) / w) ** 2 + ((v - sv * h) / h) ** 2
    sky = sky + (50.0 * np.exp(-d2 / 0.0004))[..., None]
    return sky.astype(np.float32)


def backplate(rng: np.random.Generator) -> np.ndarray:
    h, w = 480, 640
    img = np.zeros((h, w, 3), np.float32) + rng.uniform(0.2, 0.7, 3).astype(np.float32)
    for _ in range(40):
        color = tuple(float(c) for c in rng.uniform(0, 1, 3))
        center = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if rng.random() < 0.5:
            cv2.circle(img, center, int(rng.integers(10, 80)), color, -1)
        else:
            size = rng.integers(20, 160, 2)
            cv2.rectangle(img, center, (center[0] + int(size[0]), center[1] + int(size[1])), color, -1)
    img = cv2.GaussianBlur(img, (0, 0), 3)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def shipping_label(rng: np.random.Generator, portrait: bool) -> np.ndarray:
    """A white label with a colored mark, gray "text" lines and a barcode (no real text or logos)."""
    h, w = (360, 260) if portrait else (240, 360)
    img = np.full((h, w, 3), 0.96, np.float32)
    cv2.rectangle(img, (4, 4), (w - 5, h - 5), (0.1, 0.1, 0.1), 2)
    mark = tuple(float(c) for c in rng.uniform(0.1, 0.9, 3))
    cv2.rectangle(img, (14, 14), (14 + w // 4, 14 + h // 6), mark, -1)
    y = 24 + h // 6
    while y < h * 0.62:
        length = int(rng.integers(w // 3, w - 40))
        cv2.rectangle(img, (16, y), (16 + length, y + 7), (0.25, 0.25, 0.25), -1)
        y += int(rng.integers(14, 22))
    x, top = 18, int(h * 0.68)
    while x < w - 20:
        bar = int(rng.integers(1, 5))
        if rng.random() < 0.55:
            cv2.rectangle(img, (x, top), (x + bar, h - 18), (0.02, 0.02, 0.02), -1)
        x += bar + 1
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def main() -> None:
    rng = np.random.default_rng(2026)
    (HERE / "textures").mkdir(exist_ok=True)
    for name, rgb in textures(rng).items():
        cv2.imwrite(
            str(HERE / "textures" / f"{name}.png"), (np.clip(rgb, 0, 1) * 255).astype(np.uint8)[:, :, ::-1]
        )
    (HERE / "environments").mkdir(exist_ok=True)
    for name, sun, tint in (
        ("noon", (0.3, 0.15), (0.5, 0.7, 1.0)),
        ("sunset", (0.7, 0.45), (1.0, 0.6, 0.35)),
    ):
        cv2.imwrite(str(HERE / "environments" / f"{name}.hdr"), environment(rng, sun, tint)[:, :, ::-1])
    (HERE / "backplates").mkdir(exist_ok=True)
    for k in range(3):
        cv2.imwrite(
            str(HERE / "backplates" / f"clutter_{k}.jpg"),
            backplate(rng)[:, :, ::-1],
            [cv2.IMWRITE_JPEG_QUALITY, 85],
        )
    (HERE / "labels").mkdir(exist_ok=True)
    label_rng = np.random.default_rng(7)  # its own stream: the images above stay as they were
    for k, portrait in enumerate((False, True, False)):
        cv2.imwrite(str(HERE / "labels" / f"label_{k}.png"), shipping_label(label_rng, portrait)[:, :, ::-1])
    print("wrote", sorted(str(p.relative_to(HERE)) for p in HERE.rglob("*.*") if p.suffix != ".py"))


if __name__ == "__main__":
    main()
