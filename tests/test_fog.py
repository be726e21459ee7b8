"""Fog: drawn like any randomizer, rendered by Cycles as a scattering volume, never touching the labels."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_config

from simgen.randomizers.fog import FogSpec
from simgen.sampling import sample_frame


def patch_scene(fog: dict | None = None, samples: int = 64):
    """An emissive 1 m patch 4 m in front of a camera in a black world: nothing but the fog in between."""
    return make_config(
        render={"resolution": [96, 72], "samples": samples, "max_bounces": 2, "view_transform": "Standard"},
        camera={"location": [0, 0, 0], "look_at": [0, 1, 0], "fov": 40},
        lights=[],
        world={"color": [0, 0, 0]},
        objects=[
            {
                "shape": "plane",
                "category": "patch",
                "size": 1.0,
                "location": [0, 4, 0],
                "rotation": [90, 0, 0],
                "material": {"base_color": [1, 1, 1], "emission": 0.8},
            }
        ],
        **({"fog": fog} if fog else {}),
    )


def test_fog_is_drawn_per_image_and_leaves_other_draws_alone() -> None:
    fogged = patch_scene({"density": {"uniform": [0.1, 0.3]}, "anisotropy": {"uniform": [0, 0.5]}})
    specs = [sample_frame(fogged, i) for i in range(20)]
    parts = [s.part("fog") for s in specs]
    assert all(isinstance(p, FogSpec) for p in parts)
    assert all(0.1 <= p.density <= 0.3 and 0 <= p.anisotropy <= 0.5 for p in parts)
    assert len({p.density for p in parts}) == 20
    clear = sample_frame(patch_scene(), 3)
    assert clear.part("fog") is None and "fog" not in clear.to_dict()
    assert clear.camera == specs[3].camera and clear.objects == specs[3].objects


def _linear(rgb: np.ndarray) -> np.ndarray:
    srgb = rgb.astype(float) / 255.0
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


@pytest.mark.blender
def test_fog_attenuates_by_beer_lambert_and_labels_stay_exact(blender) -> None:
    """Seen through fog of extinction σ over 4 m, the patch keeps exp(-4σ) of its light (a few % more from
    light scattered back into the view); its mask and depth are those of the fog-free render exactly."""
    backend = blender.BlenderBackend(patch_scene().render)
    clear = backend.render(sample_frame(patch_scene(), 0))
    mask = clear.instance_ids == 1
    assert mask.sum() > 500
    for density in (0.05, 0.2):
        fogged = backend.render(sample_frame(patch_scene({"density": density, "color": [1, 1, 1]}), 0))
        kept = _linear(fogged.rgb[mask]).mean() / _linear(clear.rgb[mask]).mean()
        assert np.exp(-4 * density) * 0.98 < kept < np.exp(-4 * density) * 1.10, (density, kept)
        assert np.array_equal(fogged.instance_ids, clear.instance_ids)
        assert np.array_equal(fogged.depth, clear.depth)
        assert "label_pass" in fogged.timings
    after = backend.render(sample_frame(patch_scene(), 0))  # fog gone again: the box is hidden
    assert np.array_equal(after.rgb, clear.rgb)
