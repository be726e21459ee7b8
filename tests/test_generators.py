"""Procedural objects and pose-derived labels: a die's category is the face pointing up."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import make_config

from simgen.config.distributions import matrix_to_euler_xyz
from simgen.generators.die import die_face_up
from simgen.sampling import sample_frame
from simgen.spec import euler_xyz_to_matrix

# rotations (XYZ Euler degrees) that bring each face of the die to the top
FACE_UP_ROTATIONS = {
    1: (0, 0, 0),
    6: (180, 0, 0),
    2: (0, -90, 0),
    5: (0, 90, 0),
    3: (90, 0, 0),
    4: (-90, 0, 0),
}


@pytest.mark.parametrize(("face", "rotation"), FACE_UP_ROTATIONS.items())
def test_die_face_up_rule(face: int, rotation) -> None:
    assert die_face_up(rotation) == face
    tilted = (rotation[0] + 12, rotation[1] - 9, rotation[2] + 133)  # resting slightly tilted, any heading
    assert die_face_up(tilted) == face


def test_opposite_faces_sum_to_seven() -> None:
    flip = euler_xyz_to_matrix((180, 0, 0))  # turn the die upside down about the world X axis
    for face, rotation in FACE_UP_ROTATIONS.items():
        flipped = matrix_to_euler_xyz(flip @ euler_xyz_to_matrix(rotation))
        assert face + die_face_up(tuple(flipped)) == 7


def die_config(rotation, yaw: float = 0.0):
    return make_config(
        render={"resolution": [128, 128], "samples": 4, "view_transform": "Standard"},
        camera={"location": [0, 0, 3], "look_at": [0, 0, 0], "fov": 25, "up": [0, 1, 0]},
        lights=[{"type": "sun", "location": [0, 0, 5], "power": 3.0}],
        world={"color": [0.5, 0.5, 0.5], "strength": 1.0},
        objects=[
            {
                "generator": {"type": "die", "pip_color": "#000000", "pip_radius": 0.09},
                "category_rule": "die_face_up",
                "size": 1.0,
                "rotation": [rotation[0], rotation[1], rotation[2] + yaw],
                "material": {"base_color": [0.9, 0.9, 0.9], "roughness": 0.8},
            }
        ],
    )


@pytest.mark.blender
@pytest.mark.parametrize("face", [1, 2, 3, 4, 5, 6])
def test_rendered_pips_on_top_match_the_label(blender, face: int) -> None:
    """Count the dark pips seen from straight above: it must equal the category's number."""
    config = die_config(FACE_UP_ROTATIONS[face], yaw=17.0)
    spec = sample_frame(config, 0)
    assert spec.objects[0].category == ["one", "two", "three", "four", "five", "six"][face - 1]
    result = blender.BlenderBackend(config.render).render(spec)
    die = result.instance_ids == 1
    gray = result.rgb.mean(axis=2)
    body = np.median(gray[die])
    dark = ((gray < 0.6 * body) & die).astype(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(dark)
    pips = [s for s in stats[1:] if s[cv2.CC_STAT_AREA] >= 20]
    assert len(pips) == face


@pytest.mark.blender
def test_generators_build_unit_size_meshes(blender) -> None:
    for generator in (
        {"type": "die"},
        {"type": "fruit", "elongation": 1.6, "wrinkles": 0.03, "stem": 0.2},
        {"type": "traffic_cone"},
        {"type": "inflatable_cube", "puff": 0.5},
    ):
        config = make_config(
            camera={"location": [0, -4, 0], "look_at": [0, 0, 0]},
            objects=[{"generator": generator, "category": "thing", "size": 1.0}],
        )
        backend = blender.BlenderBackend(config.render)
        spec = sample_frame(config, 0)
        backend.apply(spec)
        obj = backend.objects[0]
        corners = np.array([obj.matrix_world @ __import__("mathutils").Vector(c) for c in obj.bound_box])
        assert np.ptp(corners, axis=0).max() == pytest.approx(1.0, abs=1e-3), generator
        assert len(backend.render(spec).instance_ids.nonzero()[0]) > 100


GENERATOR_PARAMS = [
    {"type": "die", "bevel": 0.2, "pip_depth": 0.03},
    {"type": "fruit", "elongation": 2.1, "flatten": 0.6, "taper": 0.4, "tip": 0.5},
    {"type": "fruit", "elongation": 1.3, "wrinkles": 0.05, "wrinkle_scale": 9, "stem": 0.25},
    {"type": "traffic_cone", "bottom_radius": 0.3},
    {"type": "traffic_cone", "bottom_radius": 0.48, "top_radius": 0.02},
    {"type": "traffic_cone", "base_side": 0, "stripe_width": 0},
    {"type": "traffic_cone", "wall": 0.03, "base_side": 1.0},
    {"type": "inflatable_cube", "puff": 0.9},
    {"type": "carton", "width": 0.6, "depth": 0.25, "height": 0.3, "bevel": 0.02},
    {"type": "carton", "width": 0.2, "depth": 0.4, "height": 0.15, "tape_width": 0.05},
]


@pytest.mark.blender
@pytest.mark.parametrize("params", GENERATOR_PARAMS, ids=lambda p: p["type"])
def test_generator_bounds_contain_the_built_mesh_tightly(blender, params: dict) -> None:
    """Placement keeps instances apart with the generator's declared bounds, built without Blender: they
    must contain the real mesh (no overlaps) and be no more than 8 % larger (no wasted room)."""
    from simgen.generators import get_generator
    from simgen.streams import Sampler

    config = make_config(objects=[{"generator": params, "category": "thing"}])
    generator = get_generator(params["type"])
    drawn, _ = generator.sample(config.objects[0].generator, Sampler(0, 0), "objects[0]#0")
    center, half = generator.local_bounds(drawn)
    mesh = blender.build_generator_mesh(drawn)
    co = np.array([v.co[:] for v in mesh.vertices])
    lo, hi = co.min(axis=0), co.max(axis=0)
    assert np.all(lo >= np.subtract(center, half) - 1e-6) and np.all(hi <= np.add(center, half) + 1e-6)
    assert np.all(np.add(half, half) <= (hi - lo) * 1.08 + 1e-3), (half, (hi - lo) / 2)


@pytest.mark.blender
def test_traffic_cone_variants_build_what_their_parameters_say(blender) -> None:
    """No stripe: no face in the stripe slot; no base: nothing below the cone; hollow: a second (inner)
    surface, so a ray up the axis from below meets the inside of the wall, not a bottom cap."""
    from simgen.generators import get_generator
    from simgen.streams import Sampler

    def build(**params):
        config = make_config(objects=[{"generator": {"type": "traffic_cone", **params}, "category": "c"}])
        drawn, _ = get_generator("traffic_cone").sample(config.objects[0].generator, Sampler(0, 0), "o#0")
        return blender.build_generator_mesh(drawn)

    def stripe_faces(mesh) -> int:
        return sum(p.material_index == 1 for p in mesh.polygons)

    solid, plain, bare, hollow = (
        build(),
        build(stripe_width=0),
        build(base_side=0),
        build(wall=0.03, base_side=0),
    )
    assert stripe_faces(solid) > 0 and stripe_faces(plain) == 0
    z = np.array([v.co.z for v in bare.vertices])
    x = np.array([v.co.x for v in bare.vertices])
    assert np.ptp(x[z <= z.min() + 1e-6]) == pytest.approx(np.ptp(x), rel=0.02)  # widest at its foot: no base
    caps = [p for p in hollow.polygons if abs(p.normal.z) > 0.99 and len(p.vertices) > 8]
    assert not caps, "a hollow cone has no bottom or top cap"
    radii = np.hypot([v.co.x for v in hollow.vertices], [v.co.y for v in hollow.vertices])
    hz = np.array([v.co.z for v in hollow.vertices])
    foot = radii[hz <= hz.min() + 0.05]
    assert foot.min() > 0.1  # no cap's center vertex: open at the bottom
    assert 0.01 < foot.max() - foot.min() < 0.08  # an outer and an inner ring, a wall apart
