"""texture.size: a world-space pattern size, so tiles keep their size in meters on any object."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import make_config

from simgen.sampling import sample_frame

pytestmark = pytest.mark.blender


def _two_planes(texture: dict):
    """A 1 m and a 2 m plane side by side, checkered black and white, seen straight from above."""
    material = {
        "base_color": [1, 1, 1],
        "emission": 1.0,
        "texture": {"type": "checker", "color": [0, 0, 0], **texture},
    }
    return make_config(
        render={"resolution": [160, 96], "samples": 4, "max_bounces": 0, "view_transform": "Standard"},
        camera={"location": [0.5, 0, 6], "look_at": [0.5, 0, 0], "up": [0, 1, 0], "fov": 40},
        lights=[],
        world={"color": [0, 0, 0]},
        objects=[
            {
                "shape": "plane",
                "category": "small",
                "size": 1.0,
                "location": [-0.9, 0, 0],
                "material": material,
            },
            {"shape": "plane", "category": "big", "size": 2.0, "location": [1.2, 0, 0], "material": material},
        ],
    )


def _squares(line: np.ndarray) -> int:
    """Runs of equal color along a row, after a 5-pixel median (edge anti-aliasing, path-tracing noise)."""
    smooth = cv2.medianBlur(line.astype(np.uint8)[None, :] * 255, 5)[0] > 127
    return 1 + int(np.count_nonzero(smooth[1:] != smooth[:-1]))


def _squares_per_meter(blender, texture: dict) -> list[float]:
    config = _two_planes(texture)
    spec = sample_frame(config, 0)
    result = blender.BlenderBackend(config.render).render(spec)
    out = []
    for obj in spec.labelled():
        mask = result.instance_ids == obj.instance_id
        rows, cols = np.nonzero(mask)
        row = int(rows.min() + 0.3 * (rows.max() - rows.min()))  # inside a row of squares, off their edges
        line = result.rgb[row, cols[rows == row].min() : cols[rows == row].max() + 1, 0] > 127
        out.append(_squares(line) / obj.size)
    return out


def test_a_world_space_size_gives_the_same_squares_per_meter_on_both_planes(blender) -> None:
    small, big = _squares_per_meter(blender, {"size": 0.25})
    assert small == pytest.approx(big, rel=0.25)
    assert small >= 3  # several squares across the small plane: the pattern is really there


def test_scale_repeats_across_the_object_so_the_bigger_plane_gets_bigger_squares(blender) -> None:
    small, big = _squares_per_meter(blender, {"scale": 4.0})
    assert big == pytest.approx(small / 2, rel=0.25)
