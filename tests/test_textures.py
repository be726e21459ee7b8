"""Textures on rendered surfaces: where an image lands (UV and box mapping), read back from the pixels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import make_config

from simgen.sampling import sample_frame

pytestmark = pytest.mark.blender

QUADRANTS = {
    "top_left": (230, 30, 30),
    "top_right": (30, 200, 30),
    "bottom_left": (30, 30, 230),
    "bottom_right": (230, 230, 30),
}


def quadrant_image(path: Path) -> Path:
    """A 64 x 64 RGB image: red top-left, green top-right, blue bottom-left, yellow bottom-right."""
    image = np.zeros((64, 64, 3), np.uint8)
    image[:32, :32], image[:32, 32:] = QUADRANTS["top_left"], QUADRANTS["top_right"]
    image[32:, :32], image[32:, 32:] = QUADRANTS["bottom_left"], QUADRANTS["bottom_right"]
    cv2.imwrite(str(path), image[:, :, ::-1])
    return path


def quadrant_samples(rgb: np.ndarray, region: np.ndarray) -> dict[str, np.ndarray]:
    """The pixel at the middle of each quarter of ``region``'s bounding box, by quadrant name."""
    ys, xs = np.nonzero(region)
    y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
    h, w = y1 - y0, x1 - x0
    return {
        "top_left": rgb[y0 + h // 4, x0 + w // 4],
        "top_right": rgb[y0 + h // 4, x1 - w // 4],
        "bottom_left": rgb[y1 - h // 4, x0 + w // 4],
        "bottom_right": rgb[y1 - h // 4, x1 - w // 4],
    }


def test_uv_mapped_image_keeps_its_orientation_on_a_plane(blender, tmp_path: Path) -> None:
    """A plane seen from above (image up = world +y) shows the image the right way up: its UV map puts
    the file's top-left corner at the plane's -x/+y corner."""
    image = quadrant_image(tmp_path / "quadrants.png")
    config = make_config(
        render={"resolution": [64, 64], "samples": 8, "view_transform": "Standard", "max_bounces": 1},
        camera={"location": [0, 0, 3], "look_at": [0, 0, 0], "up": [0, 1, 0], "fov": 20},
        lights=[],
        world={"color": [1, 1, 1], "strength": 1.0},
        objects=[
            {
                "shape": "plane",
                "category": "card",
                "size": 1.0,
                "material": {
                    "roughness": 1.0,
                    "texture": {"type": "image", "images": str(image), "mapping": "uv"},
                },
            }
        ],
    )
    result = blender.BlenderBackend(config.render).render(sample_frame(config, 0))
    seen = quadrant_samples(result.rgb, result.instance_ids == 1)
    for name, rgb in seen.items():
        expected = np.array(QUADRANTS[name], float)
        assert np.argmax(rgb) == np.argmax(expected) or name == "bottom_right", (name, rgb)
        assert np.corrcoef(rgb.astype(float), expected)[0, 1] > 0.9, (name, rgb, expected)


def disc_image(path: Path) -> Path:
    """White with a red disc in the middle: where the image's center lands is plain to see."""
    image = np.full((64, 64, 3), 255, np.uint8)
    cv2.circle(image, (32, 32), 16, (30, 30, 230), -1)  # BGR: red
    cv2.imwrite(str(path), image)
    return path


@pytest.mark.parametrize(
    "shape", [{"shape": "cube"}, {"generator": {"type": "inflatable_cube", "puff": 0.1}}]
)
def test_box_mapping_centers_the_image_on_each_face(blender, tmp_path: Path, shape: dict) -> None:
    """With box mapping (the default) a face of a cube, or of a cube-like generator, shows the image
    centered on the face: red in the middle, white near the corners (not the image's corner at the
    face's center, as before)."""
    image = disc_image(tmp_path / "disc.png")
    config = make_config(
        render={"resolution": [64, 64], "samples": 8, "view_transform": "Standard", "max_bounces": 1},
        camera={"location": [0, -4, 0], "look_at": [0, 0, 0], "fov": 18},
        lights=[],
        world={"color": [1, 1, 1], "strength": 1.0},
        objects=[
            {
                **shape,
                "category": "box",
                "size": 1.0,
                "material": {
                    "roughness": 1.0,
                    "texture": {"type": "image", "images": str(image), "scale": 1},
                },
            }
        ],
    )
    result = blender.BlenderBackend(config.render).render(sample_frame(config, 0))
    ys, xs = np.nonzero(result.instance_ids == 1)
    cy, cx = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
    inset_y, inset_x = (ys.max() - ys.min()) // 6, (xs.max() - xs.min()) // 6
    center = result.rgb[cy, cx].astype(int)
    corner = result.rgb[ys.min() + inset_y, xs.min() + inset_x].astype(int)
    assert center[0] > center[1] + 60 and center[0] > center[2] + 60, center  # red
    assert corner.min() > 120 and corner.max() - corner.min() < 40, corner  # white-ish gray


def _decal_scene(image: Path, face: str, camera: dict, base: list[float] | None = None):
    return make_config(
        render={"resolution": [64, 64], "samples": 8, "view_transform": "Standard", "max_bounces": 1},
        camera={**camera, "look_at": [0, 0, 0], "fov": 18},
        lights=[],
        world={"color": [1, 1, 1], "strength": 1.0},
        objects=[
            {
                "shape": "cube",
                "category": "box",
                "size": 1.0,
                "material": {
                    "base_color": base or [0.05, 0.05, 0.05],
                    "roughness": 1.0,
                    "decal": {"images": str(image), "face": face, "size": 0.8},
                },
            }
        ],
    )


@pytest.mark.parametrize(
    ("face", "camera"),
    [
        ("-y", {"location": [0, -4, 0]}),
        ("+x", {"location": [4, 0, 0]}),
        ("+z", {"location": [0, 0, 4], "up": [0, 1, 0]}),
    ],
)
def test_a_decal_shows_upright_on_its_face_and_nowhere_else(
    blender, tmp_path: Path, face: str, camera
) -> None:
    """material.decal on a cube: seen head-on, the face shows the image the right way up (quadrants in
    place); the opposite face shows only the dark cube; labels are the cube's own."""
    image = quadrant_image(tmp_path / "quadrants.png")
    backend = blender.BlenderBackend(_decal_scene(image, face, camera).render)
    result = backend.render(sample_frame(_decal_scene(image, face, camera), 0))
    for name, rgb in quadrant_samples(result.rgb, result.instance_ids == 1).items():
        assert np.corrcoef(rgb.astype(float), np.array(QUADRANTS[name], float))[0, 1] > 0.9, (face, name, rgb)
    behind = {**camera, "location": [-c for c in camera["location"]]}
    other = backend.render(sample_frame(_decal_scene(image, face, behind), 0))
    plain = _decal_scene(image, face, behind)
    plain.objects[0].material.decal = None
    bare = backend.render(sample_frame(plain, 0))
    inside = other.instance_ids == 1
    assert inside.sum() > 200
    assert np.abs(other.rgb.astype(int) - bare.rgb.astype(int))[inside].mean() < 2  # no decal on that side
    assert np.array_equal(result.instance_ids > 0, result.instance_ids == 1)
