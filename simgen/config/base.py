"""The base of every config model (scene sections, randomizer sections, generator parameters)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors (a misspelt key must not be ignored), and defaults are validated too."""

    model_config = ConfigDict(extra="forbid", validate_default=True)
