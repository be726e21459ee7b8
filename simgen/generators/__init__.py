"""Procedural object generators, one unit per file; ``REGISTRY`` is what the rest of simgen reads.

To add a generator: write ``simgen/generators/<name>.py`` (copy ``inflatable_cube.py``), add it below,
and see docs/extending.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field

from simgen.generators.base import Generator, LabelRule
from simgen.generators.carton import Carton
from simgen.generators.die import Die
from simgen.generators.fruit import Fruit
from simgen.generators.inflatable_cube import InflatableCube
from simgen.generators.traffic_cone import TrafficCone

REGISTRY: dict[str, Generator] = {
    g.name: g for g in (Die(), Fruit(), TrafficCone(), InflatableCube(), Carton())
}
"""Every generator by its ``type`` name, in the order the docs list them."""

RULES: dict[str, LabelRule] = {g.rule.name: g.rule for g in REGISTRY.values() if g.rule is not None}
"""Every label rule (``category_rule:``) by name."""


def get_generator(name: str) -> Generator:
    return REGISTRY[name]


def generator_field() -> Any:
    """The schema type of ``objects[*].generator``: one of the registered generators' Params by ``type``."""
    members = tuple(g.Params for g in REGISTRY.values())
    return Annotated[Union[members], Field(discriminator="type")]  # noqa: UP007 - built at runtime


def rule_categories(rule: str | None) -> list[str]:
    """The categories a label rule can produce ([] for no rule)."""
    return list(RULES[rule].categories) if rule else []
