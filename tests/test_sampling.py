"""Sampling is a pure function of (config, seed, index) and distributions respect their bounds."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_config
from pydantic import TypeAdapter, ValidationError

from simgen.config.distributions import FloatValue, IntValue, Vec3Value, sample_value
from simgen.sampling import image_seed, sample_frame

RNG_DRAWS = 4000


def draws(raw, adapter=FloatValue, n: int = RNG_DRAWS) -> np.ndarray:
    value = TypeAdapter(adapter).validate_python(raw)
    rng = np.random.default_rng(0)
    return np.array([sample_value(value, rng) for _ in range(n)], dtype=float)


def test_uniform_bounds_and_moments() -> None:
    x = draws({"uniform": [2.0, 4.0]})
    assert x.min() >= 2.0 and x.max() <= 4.0
    assert x.mean() == pytest.approx(3.0, abs=0.05)
    assert x.var() == pytest.approx(4 / 12, rel=0.1)


def test_normal_moments_and_truncation() -> None:
    x = draws({"normal": [1.0, 0.5]})
    assert x.mean() == pytest.approx(1.0, abs=0.05) and x.std() == pytest.approx(0.5, rel=0.1)
    t = draws({"normal": [0.0, 1.0], "clip": [-0.5, 2.0]})
    assert t.min() >= -0.5 and t.max() <= 2.0


def test_loguniform_is_uniform_in_log_space() -> None:
    x = draws({"loguniform": [1.0, 100.0]})
    assert x.min() >= 1.0 and x.max() <= 100.0
    assert np.log10(x).mean() == pytest.approx(1.0, abs=0.05)


def test_randint_inclusive() -> None:
    x = draws({"randint": [1, 3]}, IntValue)
    assert set(np.unique(x)) == {1, 2, 3}


def test_weighted_choice_frequencies() -> None:
    x = draws({"choice": [1.0, 2.0], "weights": [3, 1]})
    assert (x == 1.0).mean() == pytest.approx(0.75, abs=0.03)


def test_vector_forms() -> None:
    per_component = TypeAdapter(Vec3Value).validate_python([{"uniform": [0, 1]}, 5, 6])
    whole = TypeAdapter(Vec3Value).validate_python({"uniform": [[0, 0, 0], [1, 2, 3]]})
    rng = np.random.default_rng(1)
    a = sample_value(per_component, rng)
    b = sample_value(whole, rng)
    assert 0 <= a[0] <= 1 and a[1:] == [5, 6]
    assert all(0 <= v <= hi for v, hi in zip(b, [1, 2, 3], strict=True))


@pytest.mark.parametrize(
    "raw",
    [
        {"uniform": [1]},
        {"normal": [0, -1]},
        {"loguniform": [0, 1]},
        {"choice": []},
        {"choice": [1], "weights": [1, 2]},
    ],
)
def test_invalid_distributions_are_rejected(raw) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(FloatValue).validate_python(raw)


def random_config():
    return make_config(
        scene={"seed": 5},
        camera={"location": [{"uniform": [-1, 1]}, -5, 2], "focal_length": {"uniform": [20, 50]}},
        objects=[
            {
                "shape": {"choice": ["cube", "sphere"]},
                "category": "a",
                "count": {"randint": [1, 4]},
                "location": {"uniform": [[-1, -1, 0], [1, 1, 0]]},
                "material": {"base_color": {"uniform": [[0, 0, 0], [1, 1, 1]]}},
            }
        ],
    )


def test_same_seed_and_index_give_the_same_spec() -> None:
    config = random_config()
    assert sample_frame(config, 3).to_dict() == sample_frame(config, 3).to_dict()


def test_image_i_does_not_depend_on_other_images() -> None:
    config = random_config()
    alone = sample_frame(config, 7).to_dict()
    for i in range(7):
        sample_frame(config, i)
    assert sample_frame(config, 7).to_dict() == alone


def test_different_indices_and_seeds_differ() -> None:
    config = random_config()
    specs = [sample_frame(config, i).to_dict() for i in range(20)]
    assert len({str(s["camera"]) for s in specs}) == 20
    assert sample_frame(config, 0, dataset_seed=6).to_dict() != specs[0]
    assert len({image_seed(5, i) for i in range(1000)}) == 1000


def test_instances_get_unique_ids_and_categories() -> None:
    config = make_config(
        objects=[
            {"shape": "plane"},
            {"shape": "cube", "category": "a", "count": 3},
            {"shape": "sphere", "category": "b", "count": 2},
        ],
    )
    spec = sample_frame(config, 0)
    assert [o.instance_id for o in spec.objects] == [0, 1, 2, 3, 4, 5]
    assert [o.category_id for o in spec.objects] == [0, 1, 1, 1, 2, 2]


def test_fov_becomes_focal_length() -> None:
    config = make_config(camera={"fov": 90.0}, objects=[{"shape": "cube"}])
    cam = sample_frame(config, 0).camera
    assert cam.focal_length_mm == pytest.approx(18.0)
    assert cam.intrinsics()[0, 0] == pytest.approx(cam.resolution[0] / 2)
