"""The dry draw: sample the first frames of a scene without Blender, as render would, and check them.

The schema checks every field on its own. Some problems only show up when values are drawn together,
and without this step they would first appear mid-build, with half a dataset on disk:
- objects that find no room without overlap;
- a camera that sits on its own look-at point;
- a light that sits on the point it aims at;
- a frame with more instances than the limits allow;
- a scene that nothing lights (black images that would still carry labels);
- a camera that sees none of the labelled objects;
- a lens distortion that folds the image or is too wide for a pinhole render.
``load_config`` runs this on the first ``DRY_FRAMES`` images (mesh bounds come from the files,
through trimesh). ``simgen validate`` therefore reports these problems, and ``render`` reports them
before it writes anything.
"""

from __future__ import annotations

import numpy as np

from simgen.config.assets import mesh_file_bounds
from simgen.config.schema import SceneConfig
from simgen.errors import ConfigError, SimgenError
from simgen.spec import Bounds, FrameSpec, look_at_rotation

DRY_FRAMES = 8


def check_frames(config: SceneConfig, frames: int = DRY_FRAMES) -> None:
    """Draw the first ``frames`` images; raise one ConfigError listing what render would fail on."""
    from simgen.sampling import sample_frame

    problems: list[str] = []
    seen_any = False
    count = min(frames, config.scene.num_images)
    for index in range(count):
        try:
            spec = sample_frame(config, index, mesh_bounds=_file_bounds)
        except (SimgenError, ValueError) as exc:
            problems.append(f"image {index}: {exc}")
            break
        problems += [f"image {index}: {p}" for p in _frame_problems(spec, config)]
        seen_any = seen_any or _sees_a_labelled_object(spec)
        if problems:
            break
    if not problems and count and config.category_names() and not seen_any:
        problems.append(
            f"the camera sees none of the labelled objects in the first {count} image(s): check camera "
            "(location, look_at, focal_length / fov, clip_end) against where the objects are placed"
        )
    if problems:
        raise ConfigError(problems, source=config.source or "<config>")


def _file_bounds(path: str) -> Bounds:
    bounds = mesh_file_bounds(path)
    if bounds is None:
        raise SimgenError(f"{path}: holds no mesh geometry")
    return bounds


def _frame_problems(spec: FrameSpec, config: SceneConfig) -> list[str]:
    problems = []
    camera = spec.camera
    try:
        camera.rotation_camera_to_world()
    except ValueError:
        problems.append(f"camera: drew location {_fmt(camera.location)} equal to its look-at point")
    for k, light in enumerate(spec.lights):
        if light.type == "point":
            continue
        try:
            look_at_rotation(np.asarray(light.location), np.asarray(light.look_at))
        except ValueError:
            problems.append(
                f"light {k} ({light.type}): drew location {_fmt(light.location)} equal to its look_at"
            )
    if not _lit(spec):
        problems.append(
            "nothing lights the scene (every light's power, the world's strength and every emission are 0): "
            "the images would be black but still labelled"
        )
    if camera.distortion is not None:
        from simgen.lens import canvas

        try:
            canvas(camera)  # the lens must be one-to-one and fit a pinhole render
        except SimgenError as exc:
            problems.append(str(exc))
    if len(spec.objects) > config.limits.max_instances:
        problems.append(
            f"{len(spec.objects):,} object instances, above limits.max_instances "
            f"({config.limits.max_instances:,})"
        )
    return problems


def _lit(spec: FrameSpec) -> bool:
    emitters = (m for o in spec.objects for m in (o.material, *o.extra_materials) if m is not None)
    return (
        any(light.power > 0 for light in spec.lights)
        or spec.world.strength > 0
        or any(m.emission > 0 for m in emitters)
        or spec.world.backplate is not None
    )


def _sees_a_labelled_object(spec: FrameSpec) -> bool:
    """True if some labelled instance's center, widened by its size, projects into the image."""
    camera = spec.camera
    try:
        world_to_camera = camera.world_to_opencv()
    except ValueError:
        return False
    width, height = camera.image_size
    fx = camera.intrinsics()[0, 0]
    for obj in spec.labelled():
        point = world_to_camera @ np.array([*obj.location, 1.0])
        z = point[2]
        if not camera.clip_start < z < camera.clip_end:
            continue
        radius = fx * (obj.size or 1.0) * max(obj.scale) / (2 * z)
        u, v = fx * point[0] / z + width / 2, fx * point[1] / z + height / 2
        if -radius < u < width + radius and -radius < v < height + radius:
            return True
    return False


def _fmt(vector: tuple[float, float, float]) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in vector) + "]"
