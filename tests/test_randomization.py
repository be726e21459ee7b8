"""Domain randomization: distributions, reproducibility, placement, physics, visible variation."""

from __future__ import annotations

import colorsys
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, make_config
from pydantic import TypeAdapter

from simgen.build import build_dataset
from simgen.config import SceneConfig, load_config
from simgen.config.distributions import (
    ColorValue,
    RotationValue,
    kelvin_to_linear,
    sample_color,
    sample_rotation,
)
from simgen.errors import SimgenError
from simgen.fileio import read_image
from simgen.labels import label_frame
from simgen.placement import OrientedBox, boxes_overlap
from simgen.randomizers.postfx import PostFxSpec, apply_postfx
from simgen.sampling import sample_frame
from simgen.spec import euler_xyz_to_matrix


# -- distributions (no Blender) -------------------------------------------------------------------
def test_so3_rotations_are_uniform() -> None:
    value = TypeAdapter(RotationValue).validate_python("so3")
    rng = np.random.default_rng(0)
    z_axes = np.array([euler_xyz_to_matrix(sample_rotation(value, rng))[:, 2] for _ in range(3000)])
    # a uniform rotation sends +Z to a uniform point on the sphere: mean ~0, each coordinate variance 1/3
    assert np.abs(z_axes.mean(axis=0)).max() < 0.05
    assert np.allclose(z_axes.var(axis=0), 1 / 3, atol=0.03)


def test_yaw_keeps_objects_upright() -> None:
    value = TypeAdapter(RotationValue).validate_python({"yaw": {"uniform": [0, 360]}})
    rng = np.random.default_rng(0)
    angles = [sample_rotation(value, rng) for _ in range(200)]
    assert all(a[0] == 0 and a[1] == 0 for a in angles)
    assert np.std([a[2] for a in angles]) > 80


def test_hsv_color_ranges() -> None:
    value = TypeAdapter(ColorValue).validate_python({"hsv": [{"uniform": [0.0, 0.1]}, 1.0, 1.0]})
    rng = np.random.default_rng(0)
    for _ in range(100):
        linear = np.array(sample_color(value, rng))
        srgb = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
        h, s, v = colorsys.rgb_to_hsv(*srgb)
        assert h <= 0.1 + 1e-6 and s == pytest.approx(1.0, abs=1e-6) and v == pytest.approx(1.0, abs=1e-6)


def test_kelvin_is_warm_to_cool() -> None:
    warm, neutral, cool = kelvin_to_linear(2700), kelvin_to_linear(6600), kelvin_to_linear(10000)
    assert warm[0] == 1.0 and warm[2] < 0.3  # candle-like: red dominant, little blue
    assert min(neutral) > 0.85
    assert cool[2] == 1.0 and cool[0] < 1.0


def test_hex_colors() -> None:
    value = TypeAdapter(ColorValue).validate_python("#ff0000")
    assert sample_color(value, np.random.default_rng(0)) == (1.0, 0.0, 0.0)


def test_per_image_values_are_shared_by_instances() -> None:
    config = make_config(
        objects=[
            {
                "shape": "cube",
                "category": "a",
                "count": 4,
                "material": {
                    "roughness": {"uniform": [0, 1], "per": "image"},
                    "metallic": {"uniform": [0, 1]},
                },
            }
        ],
    )
    spec = sample_frame(config, 0)
    assert len({o.material.roughness for o in spec.objects}) == 1
    assert len({o.material.metallic for o in spec.objects}) == 4
    assert sample_frame(config, 1).objects[0].material.roughness != spec.objects[0].material.roughness


def test_a_mixed_light_rig_draws_sun_strength_in_w_per_m2_not_watts() -> None:
    config = make_config(
        light_rig={
            "count": 6,
            "type": {"choice": ["area", "sun"]},
            "power": {"uniform": [400, 800]},
            "sun_strength": {"uniform": [1, 5]},
        },
        objects=[{"shape": "cube", "category": "a"}],
    )
    lights = [light for i in range(10) for light in sample_frame(config, i).lights]
    suns = [light.power for light in lights if light.type == "sun"]
    others = [light.power for light in lights if light.type != "sun"]
    assert suns and others
    assert all(1 <= p <= 5 for p in suns) and all(400 <= p <= 800 for p in others)


def test_material_pools_draw_every_member() -> None:
    config = make_config(
        objects=[
            {
                "shape": "cube",
                "category": "a",
                "count": 30,
                "material": {
                    "choice": [{"base_color": [1, 0, 0]}, {"base_color": [0, 0, 1], "metallic": 1.0}]
                },
            }
        ]
    )
    colors = {o.material.base_color for o in sample_frame(config, 0).objects}
    assert colors == {(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)}


def test_switching_a_randomizer_off_leaves_other_draws_unchanged() -> None:
    base = load_config(ROOT / "scenes" / "randomized.yaml")
    no_fx = load_config(ROOT / "scenes" / "randomized.yaml", ["postfx=null"])
    a, b = sample_frame(base, 2, mesh_bounds=_unit_bounds), sample_frame(no_fx, 2, mesh_bounds=_unit_bounds)
    assert b.part("postfx") is None and a.part("postfx") is not None
    assert a.camera == b.camera and a.lights == b.lights and a.objects == b.objects


def _unit_bounds(path: str):
    return ((0.0, 0.0, 0.0), (0.5, 0.5, 0.15))


def test_placement_never_overlaps_over_many_draws() -> None:
    config = make_config(
        objects=[
            {
                "shape": {"choice": ["cube", "torus", "cylinder"]},
                "category": "a",
                "count": 8,
                "size": 0.5,
                "rotation": "so3",
                "placement": {"region": "box", "min": [-1.5, -1.5, 0], "max": [1.5, 1.5, 1]},
            }
        ]
    )
    for index in range(40):
        spec = sample_frame(config, index)
        boxes = [_box(o) for o in spec.objects]
        for a, b in itertools.combinations(boxes, 2):
            assert not boxes_overlap(a, b)


def _box(obj) -> OrientedBox:
    half = {"torus": (0.5, 0.5, 0.125)}.get(obj.shape, (0.5, 0.5, 0.5))
    return OrientedBox(
        np.array(obj.location), euler_xyz_to_matrix(obj.rotation_deg), np.array(half) * obj.size
    )


def test_rest_on_puts_the_lowest_point_on_the_surface() -> None:
    config = make_config(
        objects=[
            {
                "shape": "cube",
                "category": "a",
                "count": 5,
                "size": 0.4,
                "rotation": "so3",
                "placement": {"region": "disc", "radius": 2, "rest_on": 0.25},
            }
        ]
    )
    for obj in sample_frame(config, 0).objects:
        assert _box(obj).lowest_z() == pytest.approx(0.25, abs=1e-9)


def test_impossible_placement_is_a_clear_error() -> None:
    config = make_config(
        objects=[
            {
                "shape": "cube",
                "category": "a",
                "count": 20,
                "size": 1.0,
                "placement": {"region": "box", "min": [0, 0, 0], "max": [1, 1, 0]},
            }
        ],
        layout={"max_tries": 20},
    )
    with pytest.raises(SimgenError, match=r"objects\[0\]: could not place instance \d+ without overlap"):
        sample_frame(config, 0)


def test_postfx_changes_pixels_only_and_is_seeded() -> None:
    rgb = np.full((40, 60, 3), 128, np.uint8)
    params = PostFxSpec(
        noise=5.0,
        blur=1.0,
        jpeg_quality=70,
        vignette=0.5,
        white_balance=(1.1, 1.0, 0.9),
        brightness=0.02,
        contrast=1.1,
        saturation=1.2,
        hue_shift=10.0,
    )
    out = apply_postfx(rgb, params, seed=3)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.array_equal(out, apply_postfx(rgb, params, seed=3))
    assert not np.array_equal(out, apply_postfx(rgb, params, seed=4))
    assert out[0, 0].mean() < out[20, 30].mean()  # vignette darkens corners


def test_auto_exposure_lands_the_median_on_the_target_level() -> None:
    rng = np.random.default_rng(0)
    dark = rng.integers(20, 90, size=(50, 50, 3)).astype(np.uint8)
    out = apply_postfx(dark, PostFxSpec(auto_exposure=180.0), seed=0)
    luminance = out.astype(np.float32) @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    assert abs(float(np.median(luminance)) - 180.0) < 6.0
    # Order of pixels by brightness is kept: exposure is a gain, not a remapping.
    flat_in, flat_out = dark[..., 1].ravel().astype(int), out[..., 1].ravel().astype(int)
    order = np.argsort(flat_in, kind="stable")
    assert np.all(np.diff(flat_out[order]) >= 0)


def test_auto_white_balance_neutralizes_a_color_cast() -> None:
    warm = np.zeros((30, 30, 3), np.uint8)
    warm[:] = (200, 160, 110)  # tungsten-lit gray card
    half = apply_postfx(warm, PostFxSpec(auto_white_balance=0.5), seed=0)[0, 0].astype(int)
    full = apply_postfx(warm, PostFxSpec(auto_white_balance=1.0), seed=0)[0, 0].astype(int)
    assert abs(full[0] - full[2]) <= 1 and abs(full[1] - 160) <= 1  # neutral, green kept
    assert full[0] < half[0] < 200 and 110 < half[2] < full[2]  # strength blends
    assert np.array_equal(apply_postfx(warm, PostFxSpec(auto_white_balance=0.0), seed=0), warm)


# -- with Blender -------------------------------------------------------------------------------------
pytest_blender = pytest.mark.blender


def lit_cube_scene(**overrides):
    sections = {
        "scene": {"num_images": 6},
        "camera": {"location": [0, -4, 2], "look_at": [0, 0, 0.3]},
        "lights": [{"type": "point", "location": [2, -2, 3], "power": 300.0}],
        "world": {"color": [0.05, 0.05, 0.05]},
        "objects": [
            {"shape": "plane", "size": 6, "physics": "passive"},
            {
                "shape": "cube",
                "category": "box",
                "size": 0.8,
                "location": [0, 0, 0.4],
                "material": {"base_color": [0.7, 0.2, 0.2]},
            },
        ],
    }
    sections.update(overrides)
    return make_config(**sections)


def _render_many(blender, config, n: int):
    backend = blender.BlenderBackend(config.render)
    return [backend.render(sample_frame(config, i, mesh_bounds=backend.mesh_bounds)) for i in range(n)]


@pytest_blender
def test_light_randomization_is_visible_and_off_means_off(blender) -> None:
    fixed = lit_cube_scene()
    random = lit_cube_scene(
        lights=[{"type": "point", "location": [2, -2, 3], "power": {"loguniform": [30, 3000]}}]
    )
    brightness_fixed = [r.rgb.mean() for r in _render_many(blender, fixed, 5)]
    brightness_random = [r.rgb.mean() for r in _render_many(blender, random, 5)]
    assert np.std(brightness_random) > 10
    assert np.std(brightness_fixed) < 0.5


@pytest_blender
def test_material_randomization_is_visible(blender) -> None:
    colored = lit_cube_scene()
    colored.objects[1] = type(colored.objects[1]).model_validate(
        {
            "shape": "cube",
            "category": "box",
            "size": 0.8,
            "location": [0, 0, 0.4],
            "material": {"base_color": {"hsv": [{"uniform": [0, 1]}, 0.9, 0.8]}},
        }
    )
    hues = []
    for result in _render_many(blender, colored, 6):
        mask = result.instance_ids == 1
        r, g, b = result.rgb[mask].mean(axis=0) / 255
        hues.append(colorsys.rgb_to_hsv(r, g, b)[0])
    assert np.ptp(hues) > 0.3


@pytest_blender
def test_physics_settles_objects_on_the_support(blender) -> None:
    import bpy

    config = make_config(
        camera={"location": [0, -5, 3], "look_at": [0, 0, 0]},
        physics={"frames": 60},
        objects=[
            {"shape": "plane", "size": 8, "physics": "passive"},
            {
                "shape": {"choice": ["cube", "cylinder", "ico_sphere"]},
                "category": "thing",
                "count": 4,
                "size": 0.5,
                "rotation": "so3",
                "placement": {"region": "disc", "radius": 1.2, "rest_on": 0.3},
            },
        ],
    )
    backend = blender.BlenderBackend(config.render)
    spec = sample_frame(config, 0, mesh_bounds=backend.mesh_bounds)
    start = [o.location for o in spec.objects]
    backend.apply(spec)
    objects = [o for o in bpy.context.scene.objects if o.type == "MESH" and o.pass_index > 0]
    assert len(objects) == 4
    for obj, ospec, before in zip(objects, spec.labelled(), start[1:], strict=True):
        lowest = min((obj.matrix_world @ v.co).z for v in obj.data.vertices)
        assert lowest == pytest.approx(0.0, abs=0.02), f"{obj.name} rests at z={lowest:.3f}, not on the table"
        assert ospec.location != before, "the spec records the settled pose"
        assert np.allclose(obj.matrix_world.to_translation(), ospec.location, atol=1e-5)
    _assert_no_interpenetration(objects)


def _dropped_cubes(physics: dict) -> SceneConfig:
    return make_config(
        scene={"num_images": 1},
        camera={"location": [0, -5, 3], "look_at": [0, 0, 0]},
        physics=physics,
        objects=[
            {"shape": "plane", "size": 8, "physics": "passive"},
            {
                "shape": "cube",
                "category": "thing",
                "count": 3,
                "size": 0.5,
                "rotation": "so3",
                "placement": {"region": "disc", "radius": 1.2, "rest_on": 0.3},
            },
        ],
    )


def _tilt_deg(rotation_deg) -> float:
    """Angle between the world +Z and the nearest of the object's axes: 0 for a cube lying flat."""
    rows = euler_xyz_to_matrix(rotation_deg)
    return float(np.degrees(np.arccos(min(1.0, np.max(np.abs(rows[2]))))))


@pytest_blender
def test_physics_reports_objects_still_moving(blender, tmp_path: Path) -> None:
    """Five frames after the drop the cubes are in the air: the record and the build say so."""
    config = _dropped_cubes({"frames": 5})
    backend = blender.BlenderBackend(config.render)
    spec = sample_frame(config, 0, mesh_bounds=backend.mesh_bounds)
    backend.apply(spec)
    assert spec.part("physics").simulated_frames == 5
    assert spec.part("physics").still_moving == 3
    summary = build_dataset(config, tmp_path, progress=False)
    assert summary.unsettled_images == 1
    assert "still falling or tipping" in summary.describe()
    record = json.loads((tmp_path / "records" / "000000.json").read_text())
    assert record["spec"]["physics"]["still_moving"] == 3


@pytest_blender
def test_physics_runs_on_until_objects_rest_flat(blender) -> None:
    """With max_frames the simulation goes on past `frames` until the cubes lie still, flat on a face."""
    config = _dropped_cubes({"frames": 5, "max_frames": 600})
    backend = blender.BlenderBackend(config.render)
    spec = sample_frame(config, 0, mesh_bounds=backend.mesh_bounds)
    backend.apply(spec)
    assert 5 < spec.part("physics").simulated_frames <= 600
    assert spec.part("physics").still_moving == 0
    tilts = [_tilt_deg(o.rotation_deg) for o in spec.labelled()]
    assert max(tilts) < 3.0, f"cubes not lying flat: tilts {tilts}"


def test_max_frames_below_frames_is_rejected() -> None:
    with pytest.raises(SimgenError, match="max_frames"):
        make_config(physics={"frames": 100, "max_frames": 50}, objects=[{"shape": "cube"}])


def _assert_no_interpenetration(objects) -> None:
    from mathutils.bvhtree import BVHTree

    trees = []
    for obj in objects:
        verts = [obj.matrix_world @ v.co for v in obj.data.vertices]
        trees.append(BVHTree.FromPolygons(verts, [p.vertices[:] for p in obj.data.polygons]))
    for (a, ta), (b, tb) in itertools.combinations(zip(objects, trees, strict=True), 2):
        assert not ta.overlap(tb), f"{a.name} and {b.name} interpenetrate"


@pytest_blender
def test_placed_meshes_never_interpenetrate(blender) -> None:
    import bpy

    config = make_config(
        objects=[
            {
                "shape": {"choice": ["cube", "torus", "cone", "sphere"]},
                "category": "a",
                "count": 6,
                "size": 0.6,
                "rotation": "so3",
                "placement": {"region": "box", "min": [-1, -1, 0], "max": [1, 1, 1]},
            }
        ]
    )
    backend = blender.BlenderBackend(config.render)
    for index in range(15):
        backend.apply(sample_frame(config, index, mesh_bounds=backend.mesh_bounds))
        bpy.context.view_layer.update()
        _assert_no_interpenetration([o for o in bpy.context.scene.objects if o.type == "MESH"])


@pytest_blender
def test_distractors_occlude_but_are_never_labelled(blender, tmp_path: Path) -> None:
    target = {"shape": "cube", "category": "box", "size": 0.8, "location": [0, 0, 0]}
    occluder = {
        "count": 1,
        "shape": "sphere",
        "size": 0.7,
        "rotation": [0, 0, 0],
        "placement": {
            "region": "box",
            "min": [0.25, -1.5, 0],
            "max": [0.25, -1.5, 0],
            "avoid_overlap": False,
        },
    }
    camera = {"location": [0, -5, 0], "look_at": [0, 0, 0]}
    clear = make_config(camera=camera, objects=[target])
    cluttered = make_config(scene={"num_images": 1}, camera=camera, objects=[target], distractors=occluder)
    spec_clear, spec_cluttered = sample_frame(clear, 0), sample_frame(cluttered, 0)
    assert [o.distractor for o in spec_cluttered.objects] == [False, True]
    backend = blender.BlenderBackend(clear.render)
    area_clear = label_frame(backend.render(spec_clear).instance_ids, None, spec_clear)[0].area
    labels = label_frame(backend.render(spec_cluttered).instance_ids, None, spec_cluttered)
    assert [x.category for x in labels] == ["box"]
    assert labels[0].area < 0.8 * area_clear
    build_dataset(cluttered, tmp_path, progress=False)
    coco = json.loads((tmp_path / "annotations.json").read_text())
    assert {a["category_id"] for a in coco["annotations"]} == {1} and len(coco["annotations"]) == 1


@pytest_blender
def test_rerendering_one_image_alone_reproduces_it(tmp_path: Path) -> None:
    pytest.importorskip("bpy")
    config = load_config(
        ROOT / "scenes" / "randomized.yaml",
        [
            "render.resolution=[96,72]",
            "render.samples=2",
            "render.denoise=false",
            "scene.num_images=3",
            "camera.dof=null",
            "physics.frames=20",
        ],
    )
    build_dataset(config, tmp_path / "all", progress=False)
    build_dataset(config, tmp_path / "one", indices=[2], progress=False, merge=False)
    full = json.loads((tmp_path / "all" / "records" / "000002.json").read_text())
    alone = json.loads((tmp_path / "one" / "records" / "000002.json").read_text())
    assert full["spec"] == alone["spec"] and full["instances"] == alone["instances"]
    assert np.array_equal(
        read_image(tmp_path / "all" / full["file_name"]), read_image(tmp_path / "one" / alone["file_name"])
    )


@pytest_blender
def test_every_world_type_renders(blender) -> None:
    for world in (
        {"type": "gradient"},
        {"type": "sky"},
        {"type": "image", "images": str(ROOT / "assets" / "environments")},
        {"type": "color", "backplate": str(ROOT / "assets" / "backplates" / "clutter_0.jpg")},
    ):
        config = make_config(
            world=world,
            render={"view_transform": "Standard"},
            camera={"location": [0, -4, 0.5], "look_at": [0, 0, 0.5]},
            objects=[{"shape": "cube", "category": "a", "size": 0.5}],
        )
        result = blender.BlenderBackend(config.render).render(sample_frame(config, 0))
        background = result.rgb[result.instance_ids == 0]
        assert background.std() > 3 or world["type"] == "gradient", f"{world} background looks flat"
        assert background.mean() > 5, f"{world} background is black"


@pytest_blender
def test_angular_damping_stops_a_ball_rolling_down_a_slope(blender) -> None:
    """A ball dropped on a 10 deg slope rolls away; with angular_damping 0.9 (fabric) it gets far less far."""

    def travelled(damping: float) -> float:
        config = make_config(
            scene={"num_images": 1},
            camera={"location": [0, -5, 3], "look_at": [0, 0, 0]},
            physics={"frames": 48, "angular_damping": damping, "friction": 0.8},
            objects=[
                {"shape": "plane", "size": 20, "physics": "passive", "rotation": [10, 0, 0]},
                {
                    "shape": "ico_sphere",
                    "category": "ball",
                    "size": 0.4,
                    "placement": {"region": "disc", "radius": 0.001, "rest_on": 0.3},
                },
            ],
        )
        backend = blender.BlenderBackend(config.render)
        spec = sample_frame(config, 0, mesh_bounds=backend.mesh_bounds)
        start = np.array(spec.objects[1].location)
        backend.apply(spec)
        return float(np.linalg.norm(np.array(spec.objects[1].location)[:2] - start[:2]))

    rolling, damped = travelled(0.1), travelled(0.9)
    assert rolling > 0.4, f"the ball should roll down the slope (moved {rolling:.2f} m)"
    assert damped < 0.5 * rolling, f"damping 0.9 moved {damped:.2f} m against {rolling:.2f} m at 0.1"
