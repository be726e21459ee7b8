"""The base of every config model (scene sections, randomizer sections, generator parameters)."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class StrictModel(BaseModel):
    """Unknown keys are errors (a misspelt key must not be ignored), defaults are validated too, a number
    must be finite (NaN or infinity would silently make an object or a light vanish), and ``true`` is
    not a number (YAML's ``count: yes`` would otherwise be 1)."""

    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bools_for_numbers(cls, data: Any) -> Any:
        """A boolean given for a number is turned into text the field's own validation rejects, so the
        error points at the field (a model-level error could not)."""
        if not isinstance(data, dict):
            return data
        flagged = {
            name: f"{str(data[name]).lower()} (a boolean, not a number)"
            for name, field in cls.model_fields.items()
            if isinstance(data.get(name), bool) and _numeric(field.annotation)
        }
        return {**data, **flagged} if flagged else data


def _numeric(annotation: Any) -> bool:
    """int or float, also inside ``X | None`` and the number-or-distribution unions."""
    if annotation in (int, float):
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _numeric(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_numeric(a) for a in typing.get_args(annotation) if a is not type(None))
    return False
