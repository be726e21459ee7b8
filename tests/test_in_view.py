"""camera.min_objects_in_view: images are redrawn until enough labelled objects are in the frame."""

from __future__ import annotations

import pytest
from conftest import make_config

from simgen.errors import SimgenError
from simgen.sampling import objects_in_view, sample_frame

DRAWS = 200


def _scene(**camera):
    return make_config(
        camera={"location": [0, -6, 3], "look_at": [0, 0, 0], "fov": 30, **camera},
        objects=[
            {"shape": "plane", "size": 30},
            {
                "shape": "cube",
                "category": "box",
                "size": 0.3,
                "count": {"randint": [1, 3]},
                "placement": {"min": [-6, -6, 0.15], "max": [6, 6, 0.15]},
            },
        ],
    )


def test_without_the_rule_many_images_show_no_object_and_with_it_none_does() -> None:
    free, ruled = _scene(), _scene(min_objects_in_view=1)
    empty = sum(objects_in_view(sample_frame(free, i)) == 0 for i in range(DRAWS))
    assert empty > DRAWS // 4, "the placement region should reach far outside the view"
    assert all(objects_in_view(sample_frame(ruled, i)) >= 1 for i in range(DRAWS))
    two = _scene(min_objects_in_view=2)
    assert all(objects_in_view(sample_frame(two, i)) >= 2 for i in range(50))


def test_images_that_pass_at_once_are_the_images_drawn_without_the_rule() -> None:
    free, ruled = _scene(), _scene(min_objects_in_view=1)
    for i in range(40):
        spec = sample_frame(free, i)
        if objects_in_view(spec) >= 1:
            assert sample_frame(ruled, i) == spec


def test_objects_in_view_counts_only_centers_inside_the_frame_and_in_front() -> None:
    spec = sample_frame(_scene(), 0)
    spec.objects[1].location = (0.0, 0.0, 0.0)  # the look-at point: in view
    assert objects_in_view(spec) >= 1
    for obj in spec.labelled():
        obj.location = (0.0, -20.0, 3.0)  # behind the camera
    assert objects_in_view(spec) == 0


def test_an_impossible_rule_is_one_clear_error() -> None:
    away = _scene(look_at=[0, -20, 3], min_objects_in_view=1, view_attempts=20)
    with pytest.raises(SimgenError, match=r"camera\.min_objects_in_view: image 0: .* in 20 draws"):
        sample_frame(away, 0)
