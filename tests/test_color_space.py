"""Colors are sRGB, as a color picker on a photo gives them: '#rrggbb' and {hsv} render as those values.

An emissive patch of strength 1 in a black world, seen under the Standard view transform, shows exactly
its configured color in the 8-bit image (lists [r, g, b] are linear, Blender's own convention)."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest
from conftest import make_config

from simgen.sampling import sample_frame

pytestmark = pytest.mark.blender


def _patch(color, view_transform: str = "Standard"):
    return make_config(
        render={"resolution": [64, 48], "samples": 4, "max_bounces": 0, "view_transform": view_transform},
        camera={"location": [0, 0, 0], "look_at": [0, 1, 0], "fov": 30},
        lights=[],
        world={"color": [0, 0, 0]},
        objects=[
            {
                "shape": "plane",
                "category": "patch",
                "size": 2.0,
                "location": [0, 3, 0],
                "rotation": [90, 0, 0],
                "material": {"base_color": color, "emission": 1.0, "roughness": 1.0},
            }
        ],
    )


def _rendered_color(blender, color, view_transform: str = "Standard") -> np.ndarray:
    config = _patch(color, view_transform)
    result = blender.BlenderBackend(config.render).render(sample_frame(config, 0))
    inside = result.instance_ids == 1
    assert inside.sum() > 0.5 * inside.size, "the patch should fill most of the frame"
    return result.rgb[inside].astype(float).mean(axis=0)


@pytest.mark.parametrize(
    ("color", "expected"),
    [
        ("#cc6633", (0xCC, 0x66, 0x33)),
        ("#3366cc", (0x33, 0x66, 0xCC)),
        ({"hsv": [0.1, 1.0, 1.0]}, tuple(255 * c for c in colorsys.hsv_to_rgb(0.1, 1.0, 1.0))),
        ({"hsv": [0.6, 0.5, 0.8]}, tuple(255 * c for c in colorsys.hsv_to_rgb(0.6, 0.5, 0.8))),
        ([0.2158605, 0.2158605, 0.2158605], (128, 128, 128)),  # a list is linear: 0.2159 is sRGB 128
    ],
)
def test_an_emissive_patch_renders_its_srgb_color(blender, color, expected) -> None:
    assert np.abs(_rendered_color(blender, color) - np.array(expected)).max() <= 2.0


def test_hsv_hue_is_the_hue_on_screen(blender) -> None:
    r, g, b = _rendered_color(blender, {"hsv": [0.1, 1.0, 1.0]}) / 255.0
    hue = colorsys.rgb_to_hsv(r, g, b)[0] * 360
    assert hue == pytest.approx(36.0, abs=1.5)  # 0.1 of the wheel, as in any color picker


# -- image textures: one color rule for diffuse and emission ----------------------------------------------
def _srgb_to_linear(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=float) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb8(v: np.ndarray) -> np.ndarray:
    v = np.clip(v, 0, 1)
    return 255 * np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)


IMAGE_RGB = (200, 120, 60)


def _image_patch(tmp_path, tint=None, base_color=(0.0, 1.0, 0.0), emission=1.0, lights=None):
    import cv2

    path = tmp_path / "solid.png"
    cv2.imwrite(str(path), np.full((16, 16, 3), IMAGE_RGB[::-1], np.uint8))  # OpenCV writes BGR
    texture = {"type": "image", "images": str(path), **({"color": tint} if tint is not None else {})}
    config = _patch(list(base_color))
    obj = config.objects[0].model_dump(exclude_none=True)
    obj["material"] = {
        "base_color": list(base_color),
        "emission": emission,
        "roughness": 1.0,
        "texture": texture,
    }
    raw = config.model_dump(exclude_none=True)
    raw["objects"] = [obj]
    raw["lights"] = lights or []
    from simgen.config import validate_config

    return validate_config(raw)


def _render_mean(blender, config) -> np.ndarray:
    result = blender.BlenderBackend(config.render).render(sample_frame(config, 0))
    return result.rgb[result.instance_ids == 1].astype(float).mean(axis=0)


def test_an_emissive_image_texture_glows_in_the_image_times_its_tint(blender, tmp_path) -> None:
    plain = _render_mean(blender, _image_patch(tmp_path))
    assert np.abs(plain - np.array(IMAGE_RGB)).max() <= 2.0  # the image as it is; base_color unused
    other_base = _render_mean(blender, _image_patch(tmp_path, base_color=(1.0, 0.0, 1.0)))
    assert np.abs(other_base - plain).max() <= 1.0
    tinted = _render_mean(blender, _image_patch(tmp_path, tint="#808080"))
    expected = _linear_to_srgb8(_srgb_to_linear(IMAGE_RGB) * _srgb_to_linear([128, 128, 128]))
    assert np.abs(tinted - expected).max() <= 2.0


def test_a_lit_image_texture_has_the_image_times_tint_as_its_albedo(blender, tmp_path) -> None:
    sun = [{"type": "sun", "power": 1.0, "location": [0, 0, 0], "look_at": [0, 1, 0]}]  # nothing clips
    lit = _render_mean(blender, _image_patch(tmp_path, tint=[1.0, 0.5, 1.0], emission=0.0, lights=sun))
    albedo = _srgb_to_linear(IMAGE_RGB) * np.array([1.0, 0.5, 1.0])
    # what the sun returns: diffuse in the albedo's color plus the BSDF's uncolored specular layer
    model = np.c_[albedo, np.ones(3)]
    (diffuse, specular), *_ = np.linalg.lstsq(model, _srgb_to_linear(lit), rcond=None)
    assert diffuse > 0 and 0 <= specular < 0.2 * diffuse * albedo.max()
    assert model @ [diffuse, specular] == pytest.approx(_srgb_to_linear(lit), rel=0.03)
