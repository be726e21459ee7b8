"""The base of every config model (scene sections, randomizer sections, generator parameters)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors (a misspelt key must not be ignored), defaults are validated too, and a
    number must be finite (NaN or infinity would silently make an object or a light vanish)."""

    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)
