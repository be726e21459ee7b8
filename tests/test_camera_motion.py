"""motion: Cycles camera motion blur streaks the image by the camera's travel; labels stay at mid-shutter."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_config

from simgen.sampling import sample_frame

FOV, WIDTH, DISTANCE, SIDE = 30.0, 128, 4.0, 0.3


def _scene(motion: dict | None):
    return make_config(
        render={"resolution": [WIDTH, 64], "samples": 256, "max_bounces": 0, "view_transform": "Standard"},
        camera={"location": [0, 0, 0], "look_at": [0, 1, 0], "fov": FOV},
        lights=[],
        world={"color": [0, 0, 0]},
        objects=[
            {
                "shape": "plane",
                "category": "patch",
                "size": SIDE,
                "location": [0, DISTANCE, 0],
                "rotation": [90, 0, 0],
                "material": {"base_color": [1, 1, 1], "emission": 1.0},
            }
        ],
        **({"motion": motion} if motion else {}),
    )


def test_motion_is_drawn_per_image_and_off_without_the_section() -> None:
    assert sample_frame(_scene(None), 0).part("motion") is None
    drawn = [sample_frame(_scene({"velocity": {"uniform": [[-1, 0, 0], [1, 0, 0]]}}), i) for i in range(10)]
    assert len({d.part("motion").velocity[0] for d in drawn}) == 10
    assert "motion" not in sample_frame(_scene(None), 0).to_dict()


@pytest.mark.blender
def test_the_streak_is_the_camera_travel_and_the_box_is_at_mid_shutter(blender) -> None:
    """A 0.3 m patch 4 m ahead; the camera moves 2 m/s sideways for 0.05 s (0.1 m): the patch smears over
    0.1 m more in the image, centered where it is at mid-shutter, and its label box is the still box."""
    fx = WIDTH / 2 / np.tan(np.radians(FOV / 2))
    still_px, travel_px = SIDE * fx / DISTANCE, 0.1 * fx / DISTANCE
    backend = blender.BlenderBackend(_scene(None).render)

    def extent(config) -> tuple[np.ndarray, np.ndarray]:
        result = backend.render(sample_frame(config, 0))
        row = result.rgb[32, :, 0].astype(float)
        lit = np.nonzero(row > 8)[0]
        ids = np.nonzero(result.instance_ids[32] == 1)[0]
        return np.array([lit.min(), lit.max() + 1]), np.array([ids.min(), ids.max() + 1])

    still_rgb, still_ids = extent(_scene(None))
    moving_rgb, moving_ids = extent(_scene({"velocity": [2, 0, 0], "shutter": 0.05}))
    assert np.diff(still_ids)[0] == pytest.approx(still_px, abs=1.0)
    assert np.diff(moving_rgb)[0] - np.diff(still_rgb)[0] == pytest.approx(travel_px, abs=1.5)  # the streak
    assert moving_rgb.mean() == pytest.approx(still_rgb.mean(), abs=1.0)  # centered at mid-shutter
    assert np.array_equal(moving_ids, still_ids)  # labels: the pose at mid-shutter, unblurred
    again_rgb, _ = extent(_scene(None))  # the next image without motion is sharp again
    assert np.array_equal(again_rgb, still_rgb)
