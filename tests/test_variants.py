"""variants: discrete pose alternatives inside one object entry, one count for the entry."""

from __future__ import annotations

import pytest
from conftest import make_config

from simgen.config import validate_config
from simgen.errors import SimgenError
from simgen.randomizers import REGISTRY
from simgen.sampling import sample_frame


def _scene(**extra):
    return make_config(
        objects=[
            {
                "shape": "cone",
                "category": "cone",
                "count": 2,
                "size": 0.3,
                "placement": {"min": [-1, -1, 0], "max": [1, 1, 0]},
                "variants": [
                    {"weight": 3, "rotation": {"yaw": {"uniform": [0, 360]}}},  # standing
                    {"weight": 1, "rotation": [90, 0, {"uniform": [0, 360]}], "scale": [1, 1, 0.5]},  # lying
                ],
                **extra,
            }
        ]
    )


def test_each_instance_draws_a_variant_by_weight_and_the_count_is_one_draw() -> None:
    config = _scene()
    standing = lying = 0
    for i in range(300):
        spec = sample_frame(config, i)
        assert len(spec.labelled()) == 2
        for obj in spec.labelled():
            if obj.rotation_deg[0] == 0:
                standing += 1
                assert obj.scale == (1.0, 1.0, 1.0)
            else:
                lying += 1
                assert obj.rotation_deg[0] == 90 and obj.scale == (1.0, 1.0, 0.5)
    assert standing + lying == 600
    assert standing / 600 == pytest.approx(0.75, abs=0.06)


def test_pose_off_freezes_the_variants_too() -> None:
    frozen = REGISTRY["pose"].off(_scene())
    angles = {sample_frame(frozen, i).labelled()[0].rotation_deg[2] for i in range(40)}
    assert angles <= {180.0}  # the uniform yaw at its center, in either variant


def test_a_variant_with_a_bad_field_is_named() -> None:
    with pytest.raises(SimgenError, match=r"objects\[0\]\.variants\[1\]\.weight"):
        validate_config(
            {"objects": [{"shape": "cube", "variants": [{"rotation": [0, 0, 0]}, {"weight": -1}]}]}
        )
