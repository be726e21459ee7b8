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

Every distribution is a small pydantic model with ``sample(rng)`` and ``center()``; the sampler
(``simgen.streams``) gives each field its own random stream, so the schema never touches global random
state. ``center()`` is the one definition of a distribution's typical value: a randomizer switched off
(``simgen ablate``) and an untuned search range use it.
"""

from __future__ import annotations

import colorsys
import dataclasses
import functools
import math
from typing import Annotated, Any, Generic, Literal, TypeVar

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

T = TypeVar("T")

DIST_KEYS = ("uniform", "normal", "loguniform", "randint", "choice", "hsv", "kelvin", "yaw", "so3")


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    per: Literal["instance", "image"] = Field(
        "instance",
        description="instance: every object instance draws its own value; image: all instances of the "
        "object entry share one draw per image.",
    )

    def sample(self, rng: np.random.Generator) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def center(self) -> Any:  # pragma: no cover - abstract
        """The distribution's typical value, of the same type as a draw."""
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

    def center(self) -> float | list[float]:
        """The midpoint."""
        low, high = self.uniform
        if isinstance(low, list):
            return [(a + b) / 2 for a, b in zip(low, high, strict=True)]
        return (low + high) / 2


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

    def center(self) -> float:
        """The mean, moved into the clip range."""
        mean = self.normal[0]
        return mean if self.clip is None else min(max(mean, self.clip[0]), self.clip[1])


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

    def center(self) -> float:
        """The geometric mean (the midpoint in log space)."""
        return float(np.sqrt(self.loguniform[0] * self.loguniform[1]))


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

    def center(self) -> int:
        """The middle integer (rounded down)."""
        return (self.randint[0] + self.randint[1]) // 2


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

    def center(self) -> T:
        """The most likely option (the first of equally likely ones), itself centered."""
        weights = self.weights or [1.0] * len(self.choice)
        best = max(range(len(weights)), key=lambda i: (weights[i], -i))
        return center_value(self.choice[best])


def srgb_to_linear(c: np.ndarray | float) -> np.ndarray:
    """Display sRGB in [0, 1] → linear RGB (what Blender's shader colors expect)."""
    c = np.asarray(c, dtype=float)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def hex_to_linear(text: str) -> tuple[float, float, float]:
    """'#rrggbb' (as seen on screen, sRGB) → linear RGB."""
    digits = text.lstrip("#")
    if len(digits) != 6 or any(ch not in "0123456789abcdefABCDEF" for ch in digits):
        raise ValueError(f"expected a color like '#ff8800', found {text!r}")
    rgb = srgb_to_linear(np.array([int(digits[i : i + 2], 16) / 255.0 for i in (0, 2, 4)]))
    return (float(rgb[0]), float(rgb[1]), float(rgb[2]))


def kelvin_to_linear(kelvin: float) -> tuple[float, float, float]:
    """Blackbody color temperature → linear RGB scaled so the largest channel is 1.

    Tanner Helland's fit of the CIE blackbody locus (valid 1000–40000 K), in sRGB, then linearized.
    """
    t = float(np.clip(kelvin, 1000.0, 40000.0)) / 100.0
    if t <= 66:
        r = 255.0
        g = 99.4708025861 * np.log(t) - 161.1195681661
        b = 0.0 if t <= 19 else 138.5177312231 * np.log(t - 10) - 305.0447927307
    else:
        r = 329.698727446 * (t - 60) ** -0.1332047592
        g = 288.1221695283 * (t - 60) ** -0.0755148492
        b = 255.0
    rgb = srgb_to_linear(np.clip(np.array([r, g, b]) / 255.0, 0.0, 1.0))
    rgb = rgb / rgb.max()
    return (float(rgb[0]), float(rgb[1]), float(rgb[2]))


class HSV(_Dist):
    """A color drawn in HSV (display space; saturation and value in [0, 1], hue wraps around 1)."""

    hsv: tuple[Any, Any, Any]

    @field_validator("hsv")
    @classmethod
    def _components(cls, value: tuple[Any, Any, Any]) -> tuple[Any, ...]:
        hue, saturation, brightness = (_as_float_value(c) for c in value)
        for name, component in (("saturation", saturation), ("value", brightness)):
            try:
                Range(0.0, 1.0)(component)
            except ValueError as exc:
                raise ValueError(f"hsv {name}: {exc}") from None
        return (hue, saturation, brightness)

    def sample(self, rng: np.random.Generator) -> list[float]:
        h, s, v = (float(sample_value(c, rng)) for c in self.hsv)
        return _hsv_to_linear(h, s, v)

    def center(self) -> list[float]:
        """The color at the center of each channel's range."""
        h, s, v = (float(center_value(c)) for c in self.hsv)
        return _hsv_to_linear(h, s, v)


def _hsv_to_linear(h: float, s: float, v: float) -> list[float]:
    rgb = colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1)))
    return [float(x) for x in srgb_to_linear(np.array(rgb))]


class Kelvin(_Dist):
    """A light color as a blackbody temperature in Kelvin (value or distribution)."""

    kelvin: Any

    @field_validator("kelvin")
    @classmethod
    def _value(cls, value: Any) -> Any:
        return Range(1000.0, 40000.0)(_as_float_value(value))

    def sample(self, rng: np.random.Generator) -> list[float]:
        return list(kelvin_to_linear(float(sample_value(self.kelvin, rng))))

    def center(self) -> list[float]:
        return list(kelvin_to_linear(float(center_value(self.kelvin))))


def _as_float_value(raw: Any) -> Any:
    return _FLOAT_ADAPTER().validate_python(raw)


@functools.cache
def _FLOAT_ADAPTER() -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(FloatValue, config=ConfigDict(allow_inf_nan=False))


class Yaw(_Dist):
    """Upright with a random heading: rotation about +Z only (degrees)."""

    yaw: Any

    @field_validator("yaw")
    @classmethod
    def _value(cls, value: Any) -> Any:
        return _as_float_value(value)

    def sample(self, rng: np.random.Generator) -> list[float]:
        return [0.0, 0.0, float(sample_value(self.yaw, rng))]

    def center(self) -> list[float]:
        """Upright at the middle heading."""
        return [0.0, 0.0, float(center_value(self.yaw))]


class SO3(_Dist):
    """A uniformly random 3D rotation (Haar measure), returned as XYZ Euler degrees."""

    so3: Literal[True] = True

    def sample(self, rng: np.random.Generator) -> list[float]:
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        return [float(a) for a in matrix_to_euler_xyz(quaternion_to_matrix(q))]

    def center(self) -> list[float]:
        """No rotation."""
        return [0.0, 0.0, 0.0]


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def matrix_to_euler_xyz(m: np.ndarray) -> np.ndarray:
    """Inverse of R = Rz @ Ry @ Rx (Blender's XYZ Euler), in degrees."""
    y = np.arcsin(np.clip(-m[2, 0], -1.0, 1.0))
    if abs(m[2, 0]) < 0.999999:
        x = np.arctan2(m[2, 1], m[2, 2])
        z = np.arctan2(m[1, 0], m[0, 0])
    else:  # gimbal lock: fold all of the remaining rotation into x
        x = np.arctan2(-m[1, 2], m[1, 1])
        z = 0.0
    return np.rad2deg([x, y, z])


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
    if isinstance(value, str) and value.startswith("#"):
        return "hex"
    if value == "so3":
        return "so3"
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


def center_value(value: Any) -> Any:
    """The typical value of a config value: constants stay, distributions give ``center()``, vectors
    of distributions are centered per component."""
    if isinstance(value, _Dist):
        return value.center()
    if value == "so3":
        return [0.0, 0.0, 0.0]
    if isinstance(value, tuple | list):
        return [center_value(v) for v in value]
    return value


def freeze(value: Any) -> Any:
    """``value`` with every distribution inside it (models, lists, pools) replaced by its center.

    What a randomizer that is switched off leaves behind: the same config, nothing left to draw.
    """
    if isinstance(value, _Dist):
        center = value.center()
        return tuple(center) if isinstance(center, list) else freeze(center)  # vectors are tuples
    if isinstance(value, BaseModel):
        return value.model_copy(update={name: freeze(v) for name, v in value})
    if value == "so3":
        return (0.0, 0.0, 0.0)
    if isinstance(value, tuple | list):
        return type(value)(freeze(v) for v in value)
    if isinstance(value, dict):
        return {k: freeze(v) for k, v in value.items()}
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


ColorValue = Annotated[
    _union(
        Annotated[tuple[FloatValue, FloatValue, FloatValue], Tag("vector")],
        Annotated[str, Tag("hex")],
        Annotated[Uniform, Tag("uniform")],
        Annotated[Choice[tuple[float, float, float] | str], Tag("choice")],
        Annotated[HSV, Tag("hsv")],
        Annotated[Kelvin, Tag("kelvin")],
    ),
    Discriminator(
        _tag,
        custom_error_type="distribution",
        custom_error_message=(
            "expected a linear RGB color [r, g, b] (each a value or distribution), '#rrggbb', "
            "{uniform: [[r,g,b], [r,g,b]]}, {choice: [...]}, {hsv: [h, s, v]} or {kelvin: K}"
        ),
    ),
    AfterValidator(lambda value: _color_in_range(value)),
]
"""A color: linear RGB triple, sRGB hex string, RGB/HSV ranges, choice, or blackbody temperature."""


def _color_in_range(value: Any) -> Any:
    """RGB components (and every draw of them) in [0, 1]; hex strings well formed."""
    options = value.choice if isinstance(value, Choice) else [value]
    for option in options:
        if isinstance(option, str):
            hex_to_linear(option)  # raises a ValueError that says what a hex color looks like
        elif not isinstance(option, HSV | Kelvin):
            for lo, hi in value_ranges(option) or []:
                if lo < 0.0 or hi > 1.0:
                    raise ValueError(
                        f"color components must be in [0, 1] (linear RGB), found values in [{lo:g}, {hi:g}]"
                    )
    return value


RotationValue = Annotated[
    _union(
        Annotated[tuple[FloatValue, FloatValue, FloatValue], Tag("vector")],
        Annotated[Uniform, Tag("uniform")],
        Annotated[Choice[tuple[float, float, float]], Tag("choice")],
        Annotated[Yaw, Tag("yaw")],
        Annotated[Literal["so3"], Tag("so3")],
        Annotated[SO3, Tag("so3-dict")],
    ),
    Discriminator(
        lambda v: "so3-dict" if isinstance(v, dict | SO3) and _tag(v) == "so3" else _tag(v),
        custom_error_type="distribution",
        custom_error_message=(
            "expected XYZ Euler degrees [x, y, z] (each a value or distribution), {yaw: value} "
            "(upright, random heading) or so3 (uniformly random rotation)"
        ),
    ),
]
"""A rotation: Euler ranges, upright-with-yaw, or uniformly random (SO(3))."""


def sample_color(value: Any, rng: np.random.Generator) -> tuple[float, float, float]:
    """A concrete linear RGB color from any ColorValue."""
    drawn = sample_value(value, rng)
    if isinstance(drawn, str):
        return hex_to_linear(drawn)
    return (float(drawn[0]), float(drawn[1]), float(drawn[2]))


def sample_rotation(value: Any, rng: np.random.Generator) -> tuple[float, float, float]:
    """Concrete XYZ Euler degrees from any RotationValue."""
    drawn = SO3().sample(rng) if value == "so3" else sample_value(value, rng)
    return (float(drawn[0]), float(drawn[1]), float(drawn[2]))


# -- ranges: what a field may be, for every value a distribution can draw ------------------------------
Interval = tuple[float, float]


def value_ranges(value: Any) -> list[Interval] | None:
    """Per component, the interval every draw of ``value`` lies in (None where it cannot be bounded
    statically: hex strings, hsv and kelvin colors, which are checked by their own rules)."""
    if isinstance(value, bool):
        return [(float(value), float(value))]
    if isinstance(value, int | float):
        return [(float(value), float(value))]
    if isinstance(value, Uniform):
        low, high = value.uniform
        if isinstance(low, list):
            return [(float(a), float(b)) for a, b in zip(low, high, strict=True)]
        return [(float(low), float(high))]
    if isinstance(value, Normal):
        return [value.clip if value.clip is not None else (-math.inf, math.inf)]
    if isinstance(value, LogUniform):
        return [value.loguniform]
    if isinstance(value, RandInt):
        return [(float(value.randint[0]), float(value.randint[1]))]
    if isinstance(value, Choice):
        options = [value_ranges(o) for o in value.choice]
        if any(o is None for o in options) or len({len(o) for o in options}) != 1:  # type: ignore[arg-type]
            return None
        return [
            (min(o[i][0] for o in options), max(o[i][1] for o in options)) for i in range(len(options[0]))
        ]  # type: ignore[index]
    if isinstance(value, tuple | list) and value and not isinstance(value[0], BaseModel):
        parts = [value_ranges(v) for v in value]
        if any(p is None or len(p) != 1 for p in parts):
            return None
        return [p[0] for p in parts]  # type: ignore[index]
    return None


@dataclasses.dataclass(frozen=True)
class Range:
    """The values a number field (or every component of a vector field) may take, draws included.

    ``Annotated[FloatValue, Range(0, 1)]``: a constant must lie in [0, 1], and so must every value a
    distribution can draw (a normal distribution needs ``clip:`` inside the range). Bounds are
    inclusive unless ``open_low`` / ``open_high``.
    """

    low: float = -math.inf
    high: float = math.inf
    open_low: bool = False
    open_high: bool = False

    def describe(self) -> str:
        if self.high == math.inf:
            return f"{'>' if self.open_low else '>='} {self.low:g}"
        if self.low == -math.inf:
            return f"{'<' if self.open_high else '<='} {self.high:g}"
        return f"{'(' if self.open_low else '['}{self.low:g}, {self.high:g}{')' if self.open_high else ']'}"

    def _inside(self, lo: float, hi: float) -> bool:
        above = lo > self.low if self.open_low else lo >= self.low
        below = hi < self.high if self.open_high else hi <= self.high
        return above and below

    def __call__(self, value: Any) -> Any:
        ranges = value_ranges(value)
        for lo, hi in ranges or []:
            if not self._inside(lo, hi):
                raise ValueError(self._message(value, lo, hi))
        return value

    def _message(self, value: Any, lo: float, hi: float) -> str:
        bounds = self.describe()
        need = f"must be in {bounds}" if bounds[0] in "[(" else f"must be {bounds}"
        if isinstance(value, Normal) and value.clip is None:
            return f"{need}, but a normal distribution draws any value: add clip"
        if lo == hi:
            return need
        return f"{need}, but this distribution can draw values in [{lo:g}, {hi:g}]"


def ranged(kind: Any, low: float = -math.inf, high: float = math.inf, **bounds: bool) -> Any:
    """``kind`` (FloatValue, IntValue, Vec3Value, ...) restricted to a Range: ``ranged(FloatValue, 0, 1)``."""
    return Annotated[kind, AfterValidator(Range(low, high, **bounds))]


def positive(kind: Any) -> Any:
    """Strictly above zero (sizes, distances, scales, focal lengths)."""
    return ranged(kind, 0.0, open_low=True)


def nonnegative(kind: Any) -> Any:
    """Zero or more (powers, counts, strengths, noise)."""
    return ranged(kind, 0.0)
