"""Generate the config reference (Markdown tables) from the schema itself, so the docs stay true.

simgen schema --markdown > docs/config-reference.md
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from simgen.config import distributions as d
from simgen.config import schema as s

_NAMED_TYPES: list[tuple[Any, str]] = [
    (d.FloatValue, "number or distribution"),
    (d.IntValue, "integer or distribution"),
    (d.Vec3Value, "[x, y, z] or distribution"),
    (d.ColorValue, "color (RGB, #hex, hsv, kelvin, ranges)"),
    (d.RotationValue, "rotation (Euler degrees, yaw, so3)"),
    (s.MaterialValue, "Material or pool {choice: [...]}"),
]


def _type_name(annotation: Any) -> str:
    for known, name in _NAMED_TYPES:
        if annotation is known or annotation is typing.get_args(known)[0]:
            return name
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        args = tuple(typing.get_args(a)[0] if typing.get_origin(a) is typing.Annotated else a for a in args)
        plain = [a for a in args if a is not type(None) and not _is_distribution(a)]
        dists = [a for a in args if _is_distribution(a)]
        names = [_type_name(a) for a in plain]
        if dists:
            names.append("{choice: [...]}" if all(issubclass(a, d.Choice) for a in dists) else "distribution")
        optional = " (optional)" if type(None) in args else ""
        return " or ".join(names) + optional
    if origin is typing.Literal:
        return " / ".join(str(a) for a in args)
    if origin is typing.Annotated:
        return _literal_choice_name(args) or _type_name(args[0])
    if origin in (list, tuple):
        inner = ", ".join(_type_name(a) for a in args if a is not Ellipsis)
        return f"[{inner}]" if origin is tuple else f"list of {inner}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return getattr(annotation, "__name__", str(annotation))


def _is_distribution(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, d._Dist)


def _literal_choice_name(args: tuple[Any, ...]) -> str | None:
    """Name for ``literal_choice(...)`` unions: 'a / b / c or choice'."""
    union = args[0]
    for member in typing.get_args(union):
        inner = typing.get_args(member)
        if inner and typing.get_origin(inner[0]) is typing.Literal:
            return " / ".join(str(a) for a in typing.get_args(inner[0])) + " (or choice)"
    return None


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        try:
            value = field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "—"
        if isinstance(value, list) and value and isinstance(value[0], BaseModel):
            return f"{len(value)} × {type(value[0]).__name__} with defaults"
        return "(defaults)" if isinstance(value, BaseModel) else f"`{value}`"
    if field.default is PydanticUndefined:
        return "required"
    value = field.default
    if isinstance(value, BaseModel):
        return "`" + str(value.model_dump(exclude_defaults=True)) + "`"
    return f"`{value}`"


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.append(model)
        for field in model.model_fields.values():
            for candidate in _nested_models(field.annotation):
                visit(candidate)

    visit(root)
    return seen


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    found = []
    is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    if is_model and not _is_distribution(annotation):
        found.append(annotation)
    for arg in typing.get_args(annotation):
        found += _nested_models(arg)
    return found


def reference_markdown() -> str:
    """One table per config section, in the order a config file reads."""
    lines = [
        "# Scene config reference",
        "",
        "Generated from the schema by `simgen schema --markdown`; do not edit by hand.",
        "Every *number or distribution* field takes a constant or one of `{uniform: [lo, hi]}`, "
        "`{normal: [mean, std], clip: [lo, hi]}`, `{loguniform: [lo, hi]}`, `{randint: [lo, hi]}`, "
        "`{choice: [...], weights: [...]}`; add `per: image` to share one draw among all instances of an "
        "object entry. Colors are linear RGB in [0, 1], or `'#rrggbb'`, `{hsv: [h, s, v]}`, `{kelvin: K}`. "
        "Rotations are XYZ Euler degrees, `{yaw: angle}` or `so3`.",
        "",
    ]
    for model in _models(s.SceneConfig):
        lines += [f"## {model.__name__}", ""]
        doc = (model.__doc__ or "").strip()
        if doc:
            lines += [" ".join(doc.split()), ""]
        lines += ["| field | type | default | description |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            desc = (field.description or "").replace("|", "\\|")
            type_name = _type_name(field.annotation).replace("|", "\\|")
            lines.append(f"| `{name}` | {type_name} | {_default(field).replace('|', '/')} | {desc} |")
        lines.append("")
    return "\n".join(lines)
