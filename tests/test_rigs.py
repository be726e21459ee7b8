"""rig: stereo pairs and N-camera rigs; disparity; every camera's K and [R|t] in the records."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_config

from simgen.build.frame import render_image
from simgen.errors import ConfigError
from simgen.sampling import sample_frame
from simgen.spec import euler_xyz_to_matrix

WIDTH, HEIGHT, FOV = 128, 96, 50.0
FX = WIDTH / 2 / np.tan(np.radians(FOV / 2))
POINTS = [(0.0, 3.0, 0.0), (0.5, 3.5, 0.3), (-0.6, 2.6, -0.25), (0.2, 4.0, -0.4)]


def _markers(rig: dict, **extra) -> object:
    """Small glowing spheres at known points in front of a rig at the origin looking along +y."""
    return make_config(
        scene={"num_images": len(rig.get("cameras", [1, 2]))},
        render={"resolution": [WIDTH, HEIGHT], "samples": 1, "max_bounces": 0},
        camera={"location": [0, 0, 0], "look_at": [0, 1, 0], "fov": FOV},
        lights=[],
        world={"color": [0, 0, 0]},
        objects=[
            {
                "shape": "sphere",
                "category": f"p{k}",
                "size": 0.05,
                "location": list(p),
                "material": {"base_color": [1, 1, 1], "emission": 1.0},
            }
            for k, p in enumerate(POINTS)
        ],
        rig=rig,
        **extra,
    )


def test_a_stereo_pair_is_two_images_of_one_instant() -> None:
    config = _markers({"stereo": {"baseline": 0.2}})
    left, right = sample_frame(config, 0), sample_frame(config, 1)
    assert left.objects == right.objects and left.part("rig").names == ["left", "right"]
    offset = np.subtract(right.camera.location, left.camera.location)
    assert offset == pytest.approx((0.2, 0.0, 0.0))  # the baseline along the rig's x (image right)
    assert np.allclose(left.camera.rotation_camera_to_world(), right.camera.rotation_camera_to_world())
    converged = _markers({"stereo": {"baseline": 0.2, "convergence": 10}})
    axes = [sample_frame(converged, i).camera.rotation_camera_to_world()[:, 2] for i in (0, 1)]
    assert np.degrees(np.arccos(np.clip(axes[0] @ axes[1], -1, 1))) == pytest.approx(10)


@pytest.mark.parametrize(
    ("rig", "outputs", "message"),
    [
        ({"stereo": {}, "cameras": [{"name": "a"}]}, {}, "either stereo or cameras"),
        ({"cameras": [{"name": "a"}, {"name": "a"}]}, {}, "duplicate names"),
        ({"cameras": [{"name": "a"}, {"name": "b"}]}, {"disparity": True}, "needs a stereo rig"),
    ],
)
def test_rigs_that_cannot_work_are_refused(rig: dict, outputs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_config(
            scene={"num_images": 2}, objects=[{"shape": "cube", "category": "c"}], rig=rig, outputs=outputs
        )


def _centroids(result, count: int) -> dict[int, np.ndarray]:
    out = {}
    for k in range(1, count + 1):
        ys, xs = np.nonzero(result.instance_ids == k)
        if len(xs):
            out[k] = np.array([xs.mean() + 0.5, ys.mean() + 0.5])
    return out


@pytest.mark.blender
def test_every_camera_sees_a_point_where_its_stored_k_and_rt_project_it(blender) -> None:
    """Three cameras turned and shifted on a rig: each marker's image centroid in each camera is the
    projection of its 3D point with that camera's K and world->camera [R|t] from the record (0.5 px)."""
    rig = {
        "cameras": [
            {"name": "center"},
            {"name": "right", "offset": [0.4, 0.0, 0.0], "rotation": [0, -8, 0]},
            {"name": "low", "offset": [0.0, 0.3, 0.1], "rotation": [6, 0, 3], "fov": 60},
        ]
    }
    config = _markers(rig)
    views = sample_frame(config, 0).part("rig").cameras
    center, right = (np.linalg.inv(c.world_to_opencv()) for c in views[:2])  # camera -> world
    relative = center[:3, :3].T @ right[:3, :3]
    assert relative == pytest.approx(euler_xyz_to_matrix((0, -8, 0)), abs=1e-9)  # the mount's turn
    assert center[:3, :3].T @ (right[:3, 3] - center[:3, 3]) == pytest.approx((0.4, 0, 0))  # and offset
    backend = blender.BlenderBackend(config.render)
    try:
        for index in range(3):
            rendered = render_image(backend, config, index)
            record = rendered.record
            assert record.rig["name"] == rig["cameras"][index]["name"]
            view = record.rig["cameras"][index]
            assert (
                view["K"] == record.camera["K"]
                and view["world_to_camera"] == record.camera["world_to_camera"]
            )
            k, w2c = np.array(view["K"]), np.array(view["world_to_camera"])
            result = backend.render(sample_frame(config, index))
            seen = _centroids(result, len(POINTS))
            assert len(seen) >= 3
            for instance, centroid in seen.items():
                cam = w2c[:3, :3] @ POINTS[instance - 1] + w2c[:3, 3]
                projected = (k @ cam)[:2] / cam[2]
                assert np.abs(centroid - projected).max() < 0.5, (index, instance, centroid, projected)
    finally:
        backend.close()


@pytest.mark.blender
def test_disparity_on_a_fronto_parallel_plane_is_f_b_over_z(blender) -> None:
    """A wall 3 m ahead of a 0.25 m stereo pair: both disparity maps are f * B / Z on every wall pixel
    (within 0.5 px), and a marker's left and right image positions differ by its own f * B / Z."""
    baseline, distance = 0.25, 3.0
    config = make_config(
        scene={"num_images": 2},
        render={"resolution": [WIDTH, HEIGHT], "samples": 1, "max_bounces": 0},
        camera={"location": [0, 0, 0], "look_at": [0, 1, 0], "fov": FOV},
        lights=[],
        world={"color": [0, 0, 0]},
        objects=[
            {
                "shape": "plane",
                "size": 20,
                "location": [0, distance, 0],
                "rotation": [90, 0, 0],
                "material": {"base_color": [0.2, 0.2, 0.2], "emission": 0.3},
            },
            {
                "shape": "sphere",
                "category": "marker",
                "size": 0.06,
                "location": [0.1, 2.0, 0.05],
                "material": {"base_color": [1, 1, 1], "emission": 1.0},
            },
        ],
        rig={"stereo": {"baseline": baseline}},
        outputs={"disparity": True},
    )
    from simgen.build.frame import stereo_disparity

    backend = blender.BlenderBackend(config.render)
    try:
        results = [backend.render(sample_frame(config, i)) for i in (0, 1)]
        for index, result in enumerate(results):
            disparity = stereo_disparity(result.depth, sample_frame(config, index))
            wall = (result.instance_ids == 0) & (result.depth > 0)
            assert wall.sum() > 1000
            assert np.abs(disparity[wall] - FX * baseline / distance).max() < 0.5
        left, right = (_centroids(r, 1)[1] for r in results)
        assert left[0] - right[0] == pytest.approx(FX * baseline / 2.0, abs=0.5)
        assert left[1] == pytest.approx(right[1], abs=0.2)
    finally:
        backend.close()
