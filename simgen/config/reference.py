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
from simgen.randomizers.materials import MaterialValue

_NAMED_TYPES: list[tuple[Any, str]] = [
    (d.FloatValue, "number or distribution"),
    (d.IntValue, "integer or distribution"),
    (d.Vec3Value, "[x, y, z] or distribution"),
    (d.ColorValue, "color (RGB, #hex, hsv, kelvin, ranges)"),
    (d.RotationValue, "rotation (Euler degrees, yaw, so3)"),
    (MaterialValue, "Material or pool {choice: [...]}"),
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


def _range(field: FieldInfo) -> str:
    """The field's Range ("[0, 1]", ">= 0") from its validators, also inside ``X | None``."""
    found: list[d.Range] = []

    def visit(item: Any) -> None:
        func = getattr(item, "func", None)
        if isinstance(func, d.Range):
            found.append(func)
        if typing.get_origin(item) is typing.Annotated:
            for meta in typing.get_args(item)[1:]:
                visit(meta)
        for arg in typing.get_args(item) if typing.get_origin(item) is not typing.Annotated else ():
            visit(arg)

    for meta in field.metadata:
        visit(meta)
    visit(field.annotation)
    if found:
        return f"range {found[0].describe()}"
    limits = [
        (symbol, getattr(m, attr)) for m in field.metadata for attr, symbol in _BOUNDS if hasattr(m, attr)
    ]
    return ", ".join(f"{symbol} {value:g}" for symbol, value in limits)


_BOUNDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))  # pydantic Field(ge=..., ...) constraints


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
        "object entry. Rotations are XYZ Euler degrees, `{yaw: angle}` or `so3`.",
        "",
        "**Colors.** `'#rrggbb'` and `{hsv: [h, s, v]}` are sRGB, what a color picker reads off a photo "
        "(hue 0.1 is 36 degrees on screen); a list `[r, g, b]` in [0, 1] is linear RGB, Blender's own "
        "convention (`[0.216, 0.216, 0.216]` is sRGB 128); `{kelvin: K}` is a blackbody light color. With "
        "`render.view_transform: Standard` an emissive patch of strength 1 renders exactly its color "
        "(tests/test_color_space.py); AgX, the default, is a camera-like tone curve that compresses bright "
        "colors and shifts saturated hues, so pick Standard when matching colors measured on photos.",
        "",
    ]
    lines += _registry_sections()
    for model in _models(s.SceneConfig):
        lines += [f"## {model.__name__}", ""]
        doc = (model.__doc__ or "").strip()
        if doc:
            lines += [" ".join(doc.split()), ""]
        lines += ["| field | type | default | description |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            desc = (field.description or "").replace("|", "\\|")
            type_name = _type_name(field.annotation).replace("|", "\\|")
            bounds = _range(field)
            if bounds:
                type_name += f", {bounds}"
            lines.append(f"| `{name}` | {type_name} | {_default(field).replace('|', '/')} | {desc} |")
        lines.append("")
    return "\n".join(lines)


def _registry_sections() -> list[str]:
    """The units behind the schema: randomizers, generators, label rules and label formats."""
    from simgen.generators import REGISTRY as GENERATORS
    from simgen.generators import RULES
    from simgen.randomizers import REGISTRY as RANDOMIZERS
    from simgen.writers import REGISTRY as WRITERS

    lines = ["## Randomizers", "", "| randomizer | config | what varies | off (`simgen ablate`) | demo |"]
    lines.append("|---|---|---|---|---|")
    for r in RANDOMIZERS.values():
        lines.append(f"| {r.name} | {r.config_keys} | {r.summary} | {r.off_summary()} | `{r.demo or ''}` |")
    lines += [
        "",
        "## Generators",
        "",
        "`objects[*].generator: {type: NAME, ...}`; parameters under each model below.",
        "",
    ]
    lines += ["| type | what it builds | material slots | label rule |", "|---|---|---|---|"]
    for g in GENERATORS.values():
        slots = ", ".join(
            f"{slot} (`{g.slot_colors[slot]}`)" if slot in g.slot_colors else slot
            for slot in g.material_slots
        )
        rule = g.rule.name if g.rule else ""
        lines.append(f"| `{g.name}` | {g.summary} | {slots} | {rule} |")
    lines += [
        "",
        "Label rules (`category_rule:`): " + "; ".join(f"`{r.description}`" for r in RULES.values()),
        "",
    ]
    lines += ["## Label formats", "", "`simgen export --format NAME` and `outputs.formats: [NAME, ...]`.", ""]
    lines += ["| format | what it holds | default folder | reads back |", "|---|---|---|---|"]
    for w in WRITERS.values():
        lines.append(f"| `{w.name}` | {w.summary} | `{w.default_out}` | {'yes' if w.reads else ''} |")
    return [*lines, ""]


README_BLOCKS = {
    "randomizers": lambda: _table(
        ["randomizer", "config", "what varies"],
        [[r.name, r.config_keys, r.summary] for r in _randomizers()],
    ),
    "generators": lambda: _table(
        ["generator", "parameters"], [[f"`{g.name}`", g.summary] for g in _generators()]
    ),
}
"""README.md blocks generated from the registries, between ``<!-- NAME:start/end -->`` markers."""


def _randomizers() -> list[Any]:
    from simgen.randomizers import REGISTRY

    return list(REGISTRY.values())


def _generators() -> list[Any]:
    from simgen.generators import REGISTRY

    return list(REGISTRY.values())


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def readme_with_blocks(text: str) -> str:
    """README text with every generated block brought up to date."""
    for name, make in README_BLOCKS.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        head, found, rest = text.partition(start)
        if not found:
            raise ValueError(f"README has no {start} marker")
        _, found, tail = rest.partition(end)
        if not found:
            raise ValueError(f"README has no {end} marker")
        text = f"{head}{start}\n{make()}\n{end}{tail}"
    return text


if __name__ == "__main__":  # python -m simgen.config.reference README.md: regenerate its tables
    import sys
    from pathlib import Path

    readme = Path(sys.argv[1])
    readme.write_text(readme_with_blocks(readme.read_text()))
