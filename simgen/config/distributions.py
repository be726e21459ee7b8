"""Values in a scene config are either constants or distributions, sampled per image.

YAML spelling (one key names the distribution):

    roughness: 0.4                                  # constant
    roughness: {uniform: [0.1, 0.9]}                # uniform on [low, high]
    roughness: {normal: [0.5, 0.1], clip: [0, 1]}   # normal(mean, std), optionally truncated by clipping
    power:     {loguniform: [10, 1000]}             # log-uniform on [low, high], both > 0
    count:     {randint: [1, 4]}                    # integer in [low, high], both inclusive
    shape:     {choice: [cube, sphere], weights: [3, 1]}
    location:  [{uniform: [-1, 1]}, 0, 0]           # vectors: a distribution per component ...
    location:  {uniform: [[-1, -1, 0], [1, 1, 0]]}  # ... or one over the whole vector

Every distribution is a small pydantic model with ``sample(rng)``; the sampler (``simgen.sampling``) gives
each field its own random stream, so the schema never touches global random state.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

T = TypeVar("T")

DIST_KEYS = ("uniform", "normal", "loguniform", "randint", "choice")


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def sample(self, rng: np.random.Generator) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


class Uniform(_Dist):
    """Uniform on [low, high] (scalars or equal-length vectors)."""

    uniform: tuple[float, float] | tuple[list[float], list[float]]

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        low, high = (np.atleast_1d(np.asarray(v, dtype=float)) for v in self.uniform)
        if low.shape != high.shape:
            raise ValueError(f"uniform bounds have different lengths: {self.uniform[0]} vs {self.uniform[1]}")
        if np.any(low > high):
            raise ValueError(f"uniform needs low <= high, found {self.uniform}")
        return self

    def sample(self, rng: np.random.Generator) -> float | list[float]:
        low, high = self.uniform
        if isinstance(low, list):
            return [float(v) for v in rng.uniform(low, high)]
        return float(rng.uniform(low, high))


class Normal(_Dist):
    """Normal(mean, std); ``clip: [low, high]`` truncates by resampling (not by clamping)."""

    normal: tuple[float, float]
    clip: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _valid(self) -> Normal:
        if self.normal[1] < 0:
            raise ValueError(f"normal std must be >= 0, found {self.normal[1]}")
        if self.clip is not None and self.clip[0] > self.clip[1]:
            raise ValueError(f"clip needs low <= high, found {self.clip}")
        return self

    def sample(self, rng: np.random.Generator) -> float:
        mean, std = self.normal
        if self.clip is None:
            return float(rng.normal(mean, std))
        low, high = self.clip
        for _ in range(1000):  # rejection sampling keeps the shape of the truncated normal
            value = rng.normal(mean, std)
            if low <= value <= high:
                return float(value)
        return float(np.clip(rng.normal(mean, std), low, high))


class LogUniform(_Dist):
    """Log-uniform on [low, high]: good for scale-like quantities (light power, texture scale)."""

    loguniform: tuple[float, float]

    @model_validator(mode="after")
    def _positive(self) -> LogUniform:
        low, high = self.loguniform
        if low <= 0 or high <= 0 or low > high:
            raise ValueError(f"loguniform needs 0 < low <= high, found {self.loguniform}")
        return self

    def sample(self, rng: np.random.Generator) -> float:
        low, high = np.log(self.loguniform)
        return float(np.exp(rng.uniform(low, high)))


class RandInt(_Dist):
    """Integer in [low, high], both inclusive."""

    randint: tuple[int, int]

    @model_validator(mode="after")
    def _ordered(self) -> RandInt:
        if self.randint[0] > self.randint[1]:
            raise ValueError(f"randint needs low <= high, found {self.randint}")
        return self

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.randint[0], self.randint[1], endpoint=True))


class Choice(_Dist, Generic[T]):
    """One of the listed values, optionally weighted (weights need not sum to 1)."""

    choice: list[T] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights_match(self) -> Choice[T]:
        if self.weights is not None:
            if len(self.weights) != len(self.choice):
                raise ValueError(f"choice has {len(self.choice)} values but {len(self.weights)} weights")
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError(f"choice weights must be >= 0 with a positive sum, found {self.weights}")
        return self

    def sample(self, rng: np.random.Generator) -> T:
        p = None
        if self.weights is not None:
            p = np.asarray(self.weights, dtype=float) / float(sum(self.weights))
        return self.choice[int(rng.choice(len(self.choice), p=p))]


def _tag(value: Any) -> str:
    """Route a raw value to its distribution model by its single distinguishing key."""
    if isinstance(value, _Dist):
        return next(k for k in DIST_KEYS if k in type(value).model_fields)
    if isinstance(value, dict):
        for key in DIST_KEYS:
            if key in value:
                return key
        return "unknown-distribution"
    if isinstance(value, list | tuple):
        return "vector"
    return "const"


_DIST_ERROR = (
    "expected a value or a distribution, one of {uniform: [low, high]}, {normal: [mean, std]}, "
    "{loguniform: [low, high]}, {randint: [low, high]}, {choice: [...]}"
)


def _union(*members: Any) -> Any:
    from typing import Union

    return Union[members]  # noqa: UP007 - members are built at runtime


FloatValue = Annotated[
    _union(
        Annotated[float, Tag("const")],
        Annotated[Uniform, Tag("uniform")],
        Annotated[Normal, Tag("normal")],
        Annotated[LogUniform, Tag("loguniform")],
        Annotated[RandInt, Tag("randint")],
        Annotated[Choice[float], Tag("choice")],
    ),
    Discriminator(_tag, custom_error_type="distribution", custom_error_message=_DIST_ERROR),
]
"""A float field: constant or any scalar distribution."""

IntValue = Annotated[
    _union(
        Annotated[int, Tag("const")],
        Annotated[RandInt, Tag("randint")],
        Annotated[Choice[int], Tag("choice")],
    ),
    Discriminator(
        _tag,
        custom_error_type="distribution",
        custom_error_message="expected an integer, {randint: [low, high]} or {choice: [...]}",
    ),
]
"""An integer field (counts): constant, randint or choice."""

Vec3Value = Annotated[
    _union(
        Annotated[tuple[FloatValue, FloatValue, FloatValue], Tag("vector")],
        Annotated[Uniform, Tag("uniform")],
        Annotated[Choice[tuple[float, float, float]], Tag("choice")],
    ),
    Discriminator(
        _tag,
        custom_error_type="distribution",
        custom_error_message=(
            "expected [x, y, z] (each a value or distribution), {uniform: [[x0,y0,z0], [x1,y1,z1]]} "
            "or {choice: [[x,y,z], ...]}"
        ),
    ),
]
"""A 3-vector: per-component values/distributions, or one distribution over the whole vector."""


def sample_value(value: Any, rng: np.random.Generator) -> Any:
    """Turn a config value (constant, distribution or vector of them) into a concrete value."""
    if isinstance(value, _Dist):
        return value.sample(rng)
    if isinstance(value, tuple | list):
        return [sample_value(v, rng) for v in value]
    return value


def literal_choice(*options: str) -> Any:
    """A string-enum field that may also be a ``choice`` over the enum (e.g. light type)."""
    lit = Literal[options]  # type: ignore[valid-type]
    return Annotated[
        _union(Annotated[lit, Tag("const")], Annotated[Choice[lit], Tag("choice")]),
        Discriminator(
            _tag,
            custom_error_type="distribution",
            custom_error_message=f"expected one of {list(options)} or {{choice: [...]}}",
        ),
    ]
