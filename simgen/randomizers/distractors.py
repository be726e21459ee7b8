"""distractors: unlabelled clutter that occludes and confuses, but is never annotated.

distractors:
  count: {randint: [2, 5]}
  size: {uniform: [0.15, 0.4]}
  placement: {region: disc, radius: 2.2, rest_on: 0.2}
  # shape, meshes, rotation, material: see the reference; materials are random by default

Distractor instances are added after the configured objects, so they are placed around them, get
random materials from the materials randomizer and drop with physics like any placed object.
"""

from __future__ import annotations

from pydantic import Field

from simgen.config.base import StrictModel
from simgen.config.distributions import FloatValue, IntValue, RotationValue, literal_choice, positive, ranged
from simgen.randomizers.base import FrameDraw, InstanceDraw, Randomizer
from simgen.randomizers.materials import Material, MaterialValue
from simgen.randomizers.pose import Placement
from simgen.spec import ObjectSpec

PRIMITIVES = ("cube", "sphere", "ico_sphere", "cylinder", "cone", "torus", "plane")
MAX_INSTANCES = 10_000  # per entry and image: more is a typo (and would take hours to place)


def random_material() -> Material:
    """Any hue, most saturations and values, any roughness, a random procedural pattern."""
    return Material.model_validate(
        {
            "base_color": {"hsv": [{"uniform": [0, 1]}, {"uniform": [0.2, 1]}, {"uniform": [0.2, 1]}]},
            "roughness": {"uniform": [0.1, 1.0]},
            "texture": {
                "type": {"choice": ["noise", "checker", "voronoi", "wave", "brick", "magic"]},
                "color": {"uniform": [[0, 0, 0], [1, 1, 1]]},
                "scale": {"loguniform": [1, 30]},
            },
        }
    )


class Distractors(StrictModel):
    """Unlabelled clutter: random shapes with random materials that occlude but are never annotated."""

    count: ranged(IntValue, 0, MAX_INSTANCES) = Field(0, description="Distractors per image.")
    shape: literal_choice(*PRIMITIVES) = Field(  # type: ignore[valid-type]
        {"choice": ["cube", "sphere", "ico_sphere", "cylinder", "cone", "torus"]}
    )
    meshes: list[str] = Field(default_factory=list, description="Mesh files used instead of shapes.")
    size: positive(FloatValue) = Field(0.3, description="Largest extent in meters, before any scale.")
    placement: Placement = Field(default_factory=Placement)
    rotation: RotationValue = "so3"
    material: MaterialValue = Field(
        default_factory=random_material,
        description="Default: a new random material for every distractor (any hue, saturation and value "
        "0.2-1, roughness 0.1-1, one random procedural pattern of noise, checker, voronoi, wave, brick or "
        "magic at a random scale). Give a material or a pool to override.",
    )


class DistractorsSections(StrictModel):
    distractors: Distractors | None = None


class DistractorsRandomizer(Randomizer):
    name = "distractors"
    summary = (
        "unlabelled random shapes or meshes with random materials that occlude and clutter but are "
        "never annotated"
    )
    config_keys = "`distractors:`"
    demo = "scenes/demos/distractors.yaml"
    SECTIONS = DistractorsSections
    off_mode = "remove"

    def sample(self, draw: FrameDraw) -> None:
        d, s = draw.config.distractors, draw.streams
        if d is None:
            return
        for k in range(int(s.value("distractors.count", d.count))):
            p = f"distractors#{k}"
            mesh = d.meshes[s.index_of(f"{p}.mesh", len(d.meshes))] if d.meshes else None
            spec = ObjectSpec(
                name=f"distractor.{k}",
                instance_id=0,
                category=None,
                category_id=0,
                shape=None if mesh else str(s.value(f"{p}.shape", d.shape)),
                mesh=mesh,
                size=None,
                location=(0.0, 0.0, 0.0),
                rotation_deg=(0.0, 0.0, 0.0),
                scale=(1.0, 1.0, 1.0),
                material=None,  # type: ignore[arg-type]  # drawn by the materials randomizer
                physics="active",
                distractor=True,
            )
            draw.instances.append(
                InstanceDraw(
                    path=p,
                    spec=spec,
                    material=d.material,
                    size=d.size,
                    location=(0.0, 0.0, 0.0),
                    rotation=d.rotation,
                    scale=(1.0, 1.0, 1.0),
                    placement=d.placement,
                )
            )
