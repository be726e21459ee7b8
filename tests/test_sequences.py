"""sequence: clips along trajectories, stable instance ids, optical flow (vector pass), physics forward."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_config

from simgen.build.frame import render_image
from simgen.clips import clip_position, image_index
from simgen.errors import ConfigError
from simgen.randomizers.sequence import catmull_rom
from simgen.sampling import sample_frame

WIDTH, HEIGHT, FOV, HEIGHT_M, SIDE, FPS = 128, 96, 40.0, 4.0, 0.8, 10.0
FX = WIDTH / 2 / np.tan(np.radians(FOV / 2))


def _clip(objects: dict, camera: dict | None = None, **extra) -> object:
    """A cube under a camera looking straight down (image x = world x, image down = world -y)."""
    return make_config(
        scene={"num_images": 4},
        render={"resolution": [WIDTH, HEIGHT], "samples": 1, "max_bounces": 0},
        camera={"location": [0, 0, HEIGHT_M], "look_at": [0, 0, 0], "up": [0, 1, 0], "fov": FOV},
        lights=[{"type": "sun", "power": 3, "location": [0, 0, 5], "look_at": [0, 0, 0]}],
        objects=[{"shape": "cube", "category": "cube", "size": SIDE, "location": [0, 0, 0]}],
        sequence={"frames": 4, "fps": FPS, "objects": objects, **({"camera": camera} if camera else {})},
        outputs={"flow": True},
        **extra,
    )


def test_images_of_a_clip_share_one_scene_at_their_own_moments() -> None:
    config = _clip({"type": "linear", "velocity": {"uniform": [[-1, -1, 0], [1, 1, 0]]}})
    config = config.model_copy(update={"scene": config.scene.model_copy(update={"num_images": 8})})
    frames = [sample_frame(config, i) for i in range(8)]
    assert [clip_position(config, i).clip for i in range(8)] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert image_index(config, 1, 2) == 6
    first = [f.part("sequence").time for f in frames[:4]]
    assert first == pytest.approx([0.0, 0.1, 0.2, 0.3])
    steps = np.diff([f.objects[0].location for f in frames[:4]], axis=0)
    assert np.allclose(steps, steps[0]) and np.linalg.norm(steps[0]) > 0  # one velocity for the clip
    assert frames[0].objects[0].material == frames[3].objects[0].material  # one scene draw
    assert frames[5].objects[0].location != frames[1].objects[0].location  # the next clip draws anew
    assert len({f.seed for f in frames[:4]}) == 4  # Cycles' noise is the image's own


def test_trajectories_have_their_known_shapes() -> None:
    orbit = sample_frame(_clip({"type": "static"}, {"type": "orbit", "rate": 90}), 2).camera
    assert orbit.location[:2] == pytest.approx((0, 0)) and orbit.location[2] == pytest.approx(HEIGHT_M)
    side = make_config(
        scene={"num_images": 4},
        camera={"location": [0, -4, 1], "look_at": [0, 0, 0]},
        objects=[{"shape": "cube", "category": "c"}],
        sequence={"frames": 4, "fps": 1, "camera": {"type": "orbit", "rate": 90}},
    )
    turned = sample_frame(side, 1).camera  # a quarter turn counter-clockwise: from -y to +x
    assert turned.location == pytest.approx((4, 0, 1), abs=1e-9)
    points = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 2.0]])
    for j, point in enumerate(points):  # the spline passes through its control points at their times
        assert catmull_rom(points, j / 3) == pytest.approx(point)
    spline = _clip({"type": "spline", "points": 4, "offset": {"uniform": [[-1, -1, 0], [1, 1, 0]]}})
    path = np.array([sample_frame(spline, i).objects[0].location for i in range(4)])
    assert np.ptp(path[:, :2], axis=0).max() > 0.1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"scene": {"num_images": 6}}, "not a whole number of clips"),
        ({"outputs": {"flow": True}, "sequence": None}, "outputs.flow needs a sequence"),
        ({"motion": {"velocity": [1, 0, 0]}}, "motion: and sequence: both move the camera"),
        ({"sequence": {"frames": 4, "objects": {"type": "physics"}}}, "needs a physics: section"),
        ({"sequence": {"frames": 4, "camera": {"type": "physics"}}}, "moves objects only"),
    ],
)
def test_clip_configs_that_cannot_work_are_refused(raw: dict, message: str) -> None:
    sections = {
        "scene": {"num_images": 4},
        "objects": [{"shape": "cube", "category": "c"}],
        "sequence": {"frames": 4},
        **raw,
    }
    sections = {k: v for k, v in sections.items() if v is not None}
    with pytest.raises(ConfigError, match=message):
        make_config(**sections)


def _top_face(result) -> np.ndarray:
    """Pixels of the cube's top face, two pixels in from its edges."""
    import cv2

    top = (result.instance_ids == 1) & (np.abs(result.depth - (HEIGHT_M - SIDE / 2)) < 1e-3)
    return cv2.erode(top.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)


@pytest.mark.blender
@pytest.mark.parametrize("mover", ["cube", "camera"])
def test_flow_is_the_analytic_image_displacement(blender, mover: str) -> None:
    """A cube (or the camera) moving by a known world offset per frame: forward and backward flow on the
    cube's top face equal the pinhole displacement f * d / Z within 0.5 px, in every frame."""
    velocity = [0.6, 0.3, 0.0]
    if mover == "cube":
        config = _clip({"type": "linear", "velocity": velocity})
        expected = np.array([velocity[0], -velocity[1]]) / FPS * FX / (HEIGHT_M - SIDE / 2)
    else:
        config = _clip({"type": "static"}, {"type": "linear", "velocity": velocity})
        expected = -np.array([velocity[0], -velocity[1]]) / FPS * FX / (HEIGHT_M - SIDE / 2)
    backend = blender.BlenderBackend(config.render)
    try:
        for index in range(4):
            result = backend.render(sample_frame(config, index))
            face = _top_face(result)
            assert face.sum() > 100
            forward, backward = result.flow[..., :2][face], result.flow[..., 2:][face]
            assert np.abs(forward - expected).max() < 0.5, (index, np.median(forward, axis=0), expected)
            assert np.abs(backward + expected).max() < 0.5
            assert np.isnan(result.flow[result.depth == 0]).all()
    finally:
        backend.close()


@pytest.mark.blender
def test_a_clip_frame_rendered_alone_equals_the_same_frame_of_the_whole_clip(blender) -> None:
    """Objects falling by rigid-body physics run forward: frame 2 from a fresh process state equals
    frame 2 rendered after frames 0 and 1, pixels, instance ids, flow and labels alike, and instance ids
    (tracks) stay those of the clip."""
    config = make_config(
        scene={"num_images": 4},
        render={"resolution": [96, 72], "samples": 2},
        camera={"location": [0, -3, 2.5], "look_at": [0, 0, 0.3], "fov": 50},
        lights=[{"type": "sun", "power": 3, "location": [1, -1, 5], "look_at": [0, 0, 0]}],
        objects=[
            {
                "shape": "cube",
                "category": "box",
                "size": 0.3,
                "count": 3,
                "rotation": "so3",
                "placement": {"region": "box", "min": [-0.6, -0.6, 0.6], "max": [0.6, 0.6, 1.2]},
            },
            {"shape": "plane", "size": 6, "physics": "passive"},
        ],
        physics={"drop_height": 0.0},
        sequence={"frames": 4, "fps": 30, "objects": {"type": "physics"}, "physics_start": 2},
        outputs={"flow": True},
    )
    backend = blender.BlenderBackend(config.render)
    clip = [render_image(backend, config, i) for i in range(4)]
    backend.close()
    alone = blender.BlenderBackend(config.render)
    again = render_image(alone, config, 2)
    alone.close()
    assert again.files == clip[2].files  # every encoded file: RGB, ids, depth, normals, flow
    assert again.record.instances == clip[2].record.instances
    heights = [[o["location"][2] for o in c.record.spec["objects"][:3]] for c in clip]
    assert all(np.diff(np.array(heights), axis=0).ravel() < 0)  # falling, frame after frame
    tracks = [{i.instance_id: i.category for i in c.record.instances} for c in clip]
    assert all(t == tracks[0] for t in tracks) and len(tracks[0]) == 3


@pytest.mark.blender
def test_motion_blur_streaks_along_the_motion_and_labels_stay_at_mid_shutter(blender) -> None:
    """A glowing 0.3 m patch 4 m ahead moving 2 m/s sideways, shutter half of a 0.1 s frame: its streak
    is 0.1 m longer in the image, centered where it is at the frame's moment, and its label box is the
    box without blur."""
    fov, width, distance = 30.0, 128, 4.0
    fx = width / 2 / np.tan(np.radians(fov / 2))

    def scene(blur: bool):
        return make_config(
            scene={"num_images": 2},
            render={
                "resolution": [width, 64],
                "samples": 128,
                "max_bounces": 0,
                "view_transform": "Standard",
            },
            camera={"location": [0, 0, 0], "look_at": [0, 1, 0], "fov": fov},
            lights=[],
            world={"color": [0, 0, 0]},
            objects=[
                {
                    "shape": "plane",
                    "category": "patch",
                    "size": 0.3,
                    "location": [0, distance, 0],
                    "rotation": [90, 0, 0],
                    "material": {"base_color": [1, 1, 1], "emission": 1.0},
                }
            ],
            sequence={
                "frames": 2,
                "fps": 10,
                "objects": {"type": "linear", "velocity": [2, 0, 0]},
                **({"motion_blur": {"shutter": 0.5}} if blur else {}),
            },
        )

    backend = blender.BlenderBackend(scene(False).render)
    try:
        spans = {}
        for blur in (False, True):
            result = backend.render(sample_frame(scene(blur), 1))
            lit = np.nonzero(result.rgb[32, :, 0] > 8)[0]
            ids = np.nonzero(result.instance_ids[32] == 1)[0]
            spans[blur] = (np.array([lit.min(), lit.max() + 1]), np.array([ids.min(), ids.max() + 1]))
    finally:
        backend.close()
    (still_rgb, still_ids), (blur_rgb, blur_ids) = spans[False], spans[True]
    assert np.diff(blur_rgb)[0] - np.diff(still_rgb)[0] == pytest.approx(0.1 * fx / distance, abs=1.5)
    assert blur_rgb.mean() == pytest.approx(still_rgb.mean(), abs=1.0)
    assert np.array_equal(blur_ids, still_ids)
