"""Where an image sits in a clip: image index → (clip, frame, camera).

With ``sequence:`` and/or ``rig:`` a sample of the dataset is a clip of F frames seen by C cameras; its
F x C images are consecutive image indices, frame-major (all cameras of frame 0, then of frame 1, ...).
Every image is still drawn, rendered and recorded on its own (counter-based, resumable, shardable): the
clip's scene is drawn from the streams of the clip's number, so all its images share one scene, and each
image evaluates it at its own moment and through its own camera. Without either section every image is a
clip of one frame and one camera, and clip == image index (so older datasets draw the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ClipPosition:
    clip: int
    frame: int
    camera: int


def frames_per_clip(config: Any) -> int:
    sequence = getattr(config, "sequence", None)
    return 1 if sequence is None else sequence.frames


def cameras_per_clip(config: Any) -> int:
    rig = getattr(config, "rig", None)
    return 1 if rig is None else len(rig.camera_names())


def images_per_clip(config: Any) -> int:
    return frames_per_clip(config) * cameras_per_clip(config)


def clip_position(config: Any, index: int) -> ClipPosition:
    """The clip, frame and camera of image ``index``."""
    cameras = cameras_per_clip(config)
    clip, within = divmod(index, frames_per_clip(config) * cameras)
    frame, camera = divmod(within, cameras)
    return ClipPosition(clip, frame, camera)


def image_index(config: Any, clip: int, frame: int, camera: int = 0) -> int:
    """The image index of (clip, frame, camera), the inverse of ``clip_position``."""
    return (clip * frames_per_clip(config) + frame) * cameras_per_clip(config) + camera
