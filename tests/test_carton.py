"""The carton generator: a box of known size in meters gives a known box in the image, and its label
image is printed the right way up on the chosen face."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from conftest import make_config
from test_textures import QUADRANTS, quadrant_image, quadrant_samples

from simgen.generators import get_generator
from simgen.labels import label_frame
from simgen.sampling import sample_frame
from simgen.spec import euler_xyz_to_matrix

CARTON = {"type": "carton", "width": 0.5, "depth": 0.3, "height": 0.2, "bevel": 0.0, "tape_width": 0}


def carton_scene(generator: dict, rotation: tuple[float, float, float] = (0, 0, 0), **camera):
    return make_config(
        render={"resolution": [128, 96], "samples": 8, "view_transform": "Standard", "max_bounces": 1},
        camera=camera or {"location": [0.3, -2, 1.2], "look_at": [0, 0, 0], "focal_length": 40},
        lights=[],
        world={"color": [1, 1, 1], "strength": 1.0},
        objects=[{"generator": generator, "category": "parcel", "rotation": list(rotation)}],
    )


def test_a_carton_keeps_its_size_in_meters_unless_size_is_given() -> None:
    spec = sample_frame(carton_scene(CARTON), 0)
    assert spec.objects[0].size == pytest.approx(0.5)
    drawn = spec.objects[0].generator
    _, half = get_generator("carton").local_bounds(drawn)
    assert np.allclose(np.multiply(half, 2 * spec.objects[0].size), [0.5, 0.3, 0.2])
    sized = carton_scene(CARTON)
    sized.objects[0].size = 1.0
    assert sample_frame(sized, 0).objects[0].size == 1.0


@pytest.mark.blender
@pytest.mark.parametrize("rotation", [(0, 0, 0), (0, 0, 35), (10, -20, 60)])
def test_carton_box_matches_the_analytic_projection(blender, rotation) -> None:
    config = carton_scene(CARTON, rotation)
    spec = sample_frame(config, 0)
    result = blender.BlenderBackend(config.render).render(spec)
    (label,) = label_frame(result.instance_ids, None, spec)
    corners = np.array(list(itertools.product([-0.25, 0.25], [-0.15, 0.15], [-0.1, 0.1])))
    uv = spec.camera.project(corners @ euler_xyz_to_matrix(rotation).T)
    x, y, w, h = label.bbox
    assert abs(x - uv[:, 0].min()) <= 1 and abs(x + w - uv[:, 0].max()) <= 1
    assert abs(y - uv[:, 1].min()) <= 1 and abs(y + h - uv[:, 1].max()) <= 1


@pytest.mark.blender
@pytest.mark.parametrize("face", ["-y", "+x", "+z"])
def test_the_label_is_printed_upright_on_its_face(blender, tmp_path: Path, face: str) -> None:
    """Seen head-on (side faces with +z up, the top with +y up), the label shows the image's top-left
    quadrant at its top left."""
    image = quadrant_image(tmp_path / "label.png")
    views = {
        "-y": {"location": [0, -3, 0], "look_at": [0, 0, 0], "fov": 20},
        "+x": {"location": [3, 0, 0], "look_at": [0, 0, 0], "fov": 20},
        "+z": {"location": [0, 0, 3], "look_at": [0, 0, 0], "up": [0, 1, 0], "fov": 20},
    }
    generator = {**CARTON, "label": str(image), "label_face": face, "label_size": 0.9}
    config = carton_scene(generator, **views[face])
    config.objects[0].material.base_color = (0.05, 0.05, 0.05)  # dark cardboard: the label stands out
    result = blender.BlenderBackend(config.render).render(sample_frame(config, 0))
    rgb = result.rgb.astype(int)
    bright = (rgb.max(axis=2) - rgb.min(axis=2) > 60) & (result.instance_ids == 1)  # the colored label
    ys, xs = np.nonzero(bright)
    assert np.ptp(ys) > 10 and np.ptp(xs) > 10, "no label visible"
    seen = quadrant_samples(result.rgb, bright)
    for name, rgb in seen.items():
        assert np.corrcoef(rgb.astype(float), np.array(QUADRANTS[name], float))[0, 1] > 0.9, (face, name, rgb)
