"""Domain randomizers, one unit per file; ``REGISTRY`` is what the rest of simgen reads.

The order is the order a frame is drawn in (distractors before materials and pose, which then draw the
distractors' materials and poses too; sequence moves the drawn poses and camera to the image's moment,
then rig puts the image's camera on the rig) and the order the docs list them. To add a randomizer: write
``simgen/randomizers/<name>.py`` (copy ``fog.py``), add it below, and see docs/extending.md.
"""

from __future__ import annotations

from simgen.config.base import StrictModel
from simgen.randomizers.base import Randomizer
from simgen.randomizers.camera import CameraRandomizer
from simgen.randomizers.distractors import DistractorsRandomizer
from simgen.randomizers.fog import FogRandomizer
from simgen.randomizers.lighting import LightingRandomizer
from simgen.randomizers.materials import MaterialsRandomizer
from simgen.randomizers.motion import MotionRandomizer
from simgen.randomizers.physics import PhysicsRandomizer
from simgen.randomizers.pose import PoseRandomizer
from simgen.randomizers.postfx import PostFxRandomizer
from simgen.randomizers.rig import RigRandomizer
from simgen.randomizers.sequence import SequenceRandomizer
from simgen.randomizers.world import WorldRandomizer

REGISTRY: dict[str, Randomizer] = {
    r.name: r
    for r in (
        CameraRandomizer(),
        LightingRandomizer(),
        WorldRandomizer(),
        DistractorsRandomizer(),
        MaterialsRandomizer(),
        PoseRandomizer(),
        PostFxRandomizer(),
        PhysicsRandomizer(),
        FogRandomizer(),
        MotionRandomizer(),
        SequenceRandomizer(),
        RigRandomizer(),
    )
}


def get_randomizer(name: str) -> Randomizer:
    if name not in REGISTRY:
        raise KeyError(f"unknown randomizer {name!r}; choose from {', '.join(REGISTRY)}")
    return REGISTRY[name]


def section_models() -> list[type[StrictModel]]:
    """The config sections the randomizers add to SceneConfig, in registry order."""
    return [r.SECTIONS for r in REGISTRY.values() if r.SECTIONS is not None]
