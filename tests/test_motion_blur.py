"""Directional motion blur (postfx.motion_blur / motion_angle): known streaks from a point of light."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_config

import simgen.config  # noqa: F401 - the randomizers import after the config package
from simgen.randomizers.postfx import PostFxSpec, apply_postfx
from simgen.sampling import sample_frame


def _linear(img: np.ndarray) -> np.ndarray:
    srgb = img.astype(float) / 255.0
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _streak(length: float, angle: float) -> np.ndarray:
    """A white pixel on black, blurred; returns linear light of the red channel."""
    image = np.zeros((41, 41, 3), np.uint8)
    image[20, 20] = 255
    return _linear(apply_postfx(image, PostFxSpec(motion_blur=length, motion_angle=angle), seed=0)[..., 0])


def test_a_horizontal_streak_spreads_a_point_evenly_over_its_length() -> None:
    light = _streak(9, 0)
    lit = np.argwhere(light > 1e-6)
    assert set(lit[:, 0]) == {20} and sorted(lit[:, 1]) == list(range(16, 25))
    assert light[20, 16:25] == pytest.approx(np.full(9, 1 / 9), abs=0.004)  # 8-bit rounding


def test_a_vertical_streak_and_the_light_it_keeps() -> None:
    light = _streak(5, 90)
    assert sorted(np.argwhere(light > 1e-6)[:, 0]) == list(range(18, 23))
    assert light.sum() == pytest.approx(1.0, abs=0.02)  # blur moves light, it does not add or remove it


@pytest.mark.parametrize("angle", [30.0, 120.0, 165.0])
def test_the_streak_points_along_the_angle_and_has_the_length(angle: float) -> None:
    light = _streak(15, angle)
    rows, cols = np.nonzero(light > 1e-6)
    w = light[rows, cols]
    x, y = cols - np.average(cols, weights=w), -(rows - np.average(rows, weights=w))  # y up
    cov = np.cov(np.stack([x, y]), aweights=w)
    values, vectors = np.linalg.eigh(cov)
    main = vectors[:, 1]
    found = np.degrees(np.arctan2(main[1], main[0])) % 180
    assert min(abs(found - angle), 180 - abs(found - angle)) < 3.0
    assert np.sqrt(12 * values[1]) == pytest.approx(15, rel=0.1)  # a uniform segment of length L


def test_motion_blur_is_drawn_per_image_and_absent_from_records_when_off() -> None:
    objects = [{"shape": "cube", "category": "c"}]
    off = make_config(objects=objects, postfx={"noise": 2})
    assert "motion_blur" not in sample_frame(off, 0).to_dict()["postfx"]
    on = make_config(objects=objects, postfx={"motion_blur": {"uniform": [2, 12]}})
    drawn = [sample_frame(on, i).part("postfx") for i in range(30)]
    assert all(2 <= d.motion_blur <= 12 and 0 <= d.motion_angle <= 180 for d in drawn)
    assert len({round(d.motion_angle, 6) for d in drawn}) == 30
