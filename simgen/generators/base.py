"""What a procedural object generator is: typed parameters, a mesh builder, its bounds, a label rule.

The shape is Infinigen's asset factory: a generator is a small class whose parameters are drawn per
instance (every one may be a distribution), and whose ``build`` turns one draw into a mesh. A generator
declares

- ``Params``: its config model (``generator: {type: <name>, ...}``); geometry parameters are numbers,
  the colored parts are material slots named in ``material_slots`` and colored by ``slot_colors``;
- ``Drawn``: the dataclass of one draw (saved in each record's spec);
- ``local_bounds(drawn)``: the mesh's local bounding box, so placement can keep instances apart without
  building the mesh (no Blender needed to sample a frame);
- ``build(bm, drawn)``: the mesh, with bmesh; it runs inside the Blender back-end (bmesh is imported
  there, never at module level), which then centers the mesh and scales its largest extent to 1;
- ``rule``: optionally a label rule, a category that follows from the final pose (die_face_up).

Material slot 0 is the object's own ``material``; slot k > 0 is ``material_slots[k]``, a plain material
in the color drawn for it. The generator registry (``simgen.generators.REGISTRY``) is read by the schema,
the sampler, the back-end and the docs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from simgen.config.base import StrictModel
from simgen.spec import Bounds, MaterialSpec
from simgen.streams import Sampler

if TYPE_CHECKING:
    import bmesh

UNIT_BOUNDS: Bounds = ((0.0, 0.0, 0.0), (0.5, 0.5, 0.5))


class GeneratorParams(StrictModel):
    """Config of one generator; subclasses declare ``type: Literal["<name>"]`` and their parameters."""


@dataclass
class DrawnParams:
    """One draw of a generator's parameters; subclasses add a field per parameter."""

    type: str
    seed: int  # per instance: noise offsets etc. (fruit wrinkles)


@dataclass(frozen=True)
class LabelRule:
    """A category computed from an object's final pose (after physics), never from a config entry."""

    name: str
    generator: str  # the generator whose geometry defines the rule
    categories: tuple[str, ...]
    category_of: Callable[[tuple[float, float, float]], str]  # XYZ Euler degrees → category name
    description: str


class Generator:
    """A procedural object. Subclasses set the class attributes and implement ``build``."""

    name: ClassVar[str]
    summary: ClassVar[str]
    Params: ClassVar[type[GeneratorParams]]
    Drawn: ClassVar[type[DrawnParams]]
    material_slots: ClassVar[tuple[str, ...]] = ("body",)
    slot_colors: ClassVar[dict[str, str]] = {}  # slot name → the color parameter that colors it
    geometry_params: ClassVar[tuple[str, ...]] = ()  # drawn values that change the mesh
    file_params: ClassVar[tuple[str, ...]] = ()  # image file-or-folder parameters (one file per instance)
    choice_params: ClassVar[tuple[str, ...]] = ()  # parameters that are names (or a choice of names)
    rule: ClassVar[LabelRule | None] = None

    def sample(self, params: GeneratorParams, streams: Sampler, path: str) -> tuple[Any, list[MaterialSpec]]:
        """One draw of every parameter, and the materials of slots 1.. in slot order."""
        values: dict[str, Any] = {
            "type": self.name,
            "seed": streams.index_of(f"{path}.generator.seed", 2**31),
        }
        for name in type(params).model_fields:
            if name != "type":
                values[name] = self._draw(name, getattr(params, name), streams, f"{path}.generator.{name}")
        drawn = self.Drawn(**values)
        return drawn, self.slot_materials(drawn)

    def _draw(self, name: str, value: Any, streams: Sampler, where: str) -> Any:
        if name in self.slot_colors.values():
            return streams.color(where, value)
        if name in self.file_params:
            from simgen.config.files import list_images

            files = list_images(value) if value else []
            return str(files[streams.index_of(where, len(files))]) if files else None
        if name in self.choice_params:
            return str(streams.value(where, value))
        return streams.float(where, value)

    def slot_materials(self, drawn: Any) -> list[MaterialSpec]:
        """Materials of slots 1..: a plain material in each slot's drawn color (override for images)."""
        return [
            MaterialSpec.plain(getattr(drawn, self.slot_colors[slot])) for slot in self.material_slots[1:]
        ]

    def natural_size(self, drawn: Any) -> float:
        """The instance's largest extent in meters when the config gives no ``size`` (default 1 m)."""
        return 1.0

    def geometry_key(self, drawn: Any) -> tuple[Any, ...]:
        """What identifies the mesh of a draw (instances with equal keys share one mesh)."""
        values = (getattr(drawn, p) for p in self.geometry_params)
        return (self.name, *(v if isinstance(v, str) or v is None else round(float(v), 6) for v in values))

    def local_bounds(self, drawn: Any) -> Bounds:
        """(center, half extents) of the built mesh after the back-end normalized it (largest extent 1).

        The default fits meshes that are as wide as they are deep and tall (a die, a cushion); others
        return ``normalized_bounds`` of their own extents, so a flat or long shape gets a tight box.
        """
        return UNIT_BOUNDS

    def slot(self, name: str) -> int:
        """The material index of a named slot (for ``build``)."""
        return self.material_slots.index(name)

    def build(self, bm: bmesh.types.BMesh, drawn: Any) -> None:  # pragma: no cover - abstract
        """Fill ``bm`` with the mesh of one draw; faces carry the material index of their slot."""
        raise NotImplementedError


def normalized_bounds(extents: Any) -> Bounds:
    """Local bounds of a mesh with these (x, y, z) extents once it is centered and its largest extent is 1."""
    size = np.asarray(extents, dtype=float)
    half = size / (2.0 * max(float(size.max()), 1e-12))
    return ((0.0, 0.0, 0.0), (float(half[0]), float(half[1]), float(half[2])))
