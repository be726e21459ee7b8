"""Tunable fields: the ``tune:`` section of a scene config and how a tuner's values become config values.

    tune:
      - {field: camera.location[2], uniform: [[2.5, 4.5], [4.5, 8.0]]}   # low in [2.5, 4.5], high in [4.5, 8]
      - {field: light_rig.power, loguniform: [[20, 200], [200, 2000]]}
      - {field: postfx.auto_exposure, uniform: [[80, 150], [150, 220]]}
      - {field: postfx.noise, value: [0, 4]}                             # one number in [0, 4]

Each entry names a config field (the path ``--set`` takes) and the box the tuner searches: the two ends of
a ``uniform`` or ``loguniform`` distribution, each within its own bounds, or a constant ``value``. The
field's value in the file is replaced: an untuned config (``simgen render``, ``validate``) uses the
centre of each bound (the geometric centre for loguniform), so it renders as the generic scene it
describes; ``simgen tune`` writes the best values found as a normal config without the ``tune:`` section.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from simgen.config.base import StrictModel

Interval = tuple[float, float]


class TuneField(StrictModel):
    """One field the tuner may set, and the bounds it searches."""

    field: str = Field(min_length=1, description="Config field path, as --set takes it (e.g. camera.fov).")
    uniform: tuple[Interval, Interval] | None = Field(
        None, description="Bounds of the low end and of the high end of a uniform distribution."
    )
    loguniform: tuple[Interval, Interval] | None = Field(
        None, description="Bounds of the two ends of a loguniform distribution (positive)."
    )
    value: Interval | None = Field(None, description="Bounds of a constant.")

    @model_validator(mode="after")
    def _one_kind(self) -> TuneField:
        kinds = [k for k in ("uniform", "loguniform", "value") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"give exactly one of uniform, loguniform, value (found {kinds or 'none'})")
        for name, (lo, hi) in self.bounds():
            if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
                raise ValueError(f"{name} bounds [{lo}, {hi}] must be finite with low <= high")
            if self.loguniform is not None and lo <= 0:
                raise ValueError(f"loguniform bounds must be positive (found {lo})")
        ends = self.uniform or self.loguniform
        if ends is not None and ends[0][1] > ends[1][0]:
            raise ValueError(
                f"the low end's bounds {list(ends[0])} reach above the high end's {list(ends[1])}: "
                "every drawn low must stay at or below every drawn high"
            )
        return self

    @property
    def kind(self) -> str:
        return "value" if self.value is not None else ("loguniform" if self.loguniform else "uniform")

    @property
    def log(self) -> bool:
        return self.loguniform is not None

    def bounds(self) -> list[tuple[str, Interval]]:
        """(parameter name, bounds) of every number the tuner chooses for this field."""
        if self.value is not None:
            return [(self.field, self.value)]
        low, high = self.uniform or self.loguniform  # type: ignore[misc]
        return [(f"{self.field}:low", low), (f"{self.field}:high", high)]

    def center(self) -> dict[str, float]:
        """Each parameter at the centre of its bounds (geometric for loguniform)."""
        if self.log:
            return {name: math.sqrt(lo * hi) for name, (lo, hi) in self.bounds()}
        return {name: (lo + hi) / 2 for name, (lo, hi) in self.bounds()}

    def config_value(self, parameters: dict[str, float]) -> Any:
        """The value written at ``field`` for the tuner's ``parameters`` (by parameter name)."""
        numbers = [round(float(parameters[name]), 6) for name, _ in self.bounds()]
        if self.value is not None:
            return numbers[0]
        return {self.kind: numbers}


def tune_entries(raw: dict[str, Any]) -> list[TuneField] | None:
    """The ``tune:`` entries of a raw config, or None when there are none or they do not validate (the
    schema then reports them, naming ``tune[i]``)."""
    entries = raw.get("tune")
    if not isinstance(entries, list) or not entries:
        return None
    try:
        return [TuneField.model_validate(e) for e in entries]
    except ValueError:
        return None


def set_tuned_values(
    raw: dict[str, Any], parameters: dict[str, float] | None = None, source: str | Path = "<config>"
) -> None:
    """Write every tuned field of ``raw`` in place: the given parameters, else the centre of each bound."""
    from simgen.config.loader import set_field

    for entry in tune_entries(raw) or []:
        values = {**entry.center(), **{k: v for k, v in (parameters or {}).items() if k in entry.center()}}
        where = f"tune: field {entry.field!r}"
        set_field(raw, entry.field, entry.config_value(values), where=where, source=source)
