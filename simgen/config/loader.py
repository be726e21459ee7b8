"""Load a YAML scene config: parse, apply ``--set`` overrides, validate, resolve asset paths.

Every problem becomes a ``ConfigError`` naming the file, the line (when the YAML has it), the field path
(``objects[2].material.roughness``), what was expected and what was found.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from simgen.config.files import IMAGE_SUFFIXES, list_images
from simgen.config.schema import SceneConfig
from simgen.errors import ConfigError
from simgen.generators import get_generator
from simgen.randomizers.materials import pool_fields

# Tags of the distribution unions: they show up in pydantic's error locations but are not config keys.
_UNION_TAGS = {"const", "vector", "unknown-distribution"}


def load_config(path: str | Path, overrides: list[str] | None = None) -> SceneConfig:
    """Read, override, validate a scene config and check that every referenced file exists."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"file not found: {path}"], source=path)
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"not valid YAML: {exc}"], source=path) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"expected a mapping at the top level, found {type(raw).__name__}"], source=path)
    for override in overrides or []:
        apply_override(raw, override, source=path)
    config = validate_config(raw, source=path, yaml_text=text)
    resolve_asset_paths(config, base_dir=path.parent, source=path)
    return config


def validate_config(
    raw: dict[str, Any], source: str | Path = "<config>", yaml_text: str | None = None
) -> SceneConfig:
    """Validate a raw dict against the schema; pydantic errors become one readable ``ConfigError``."""
    try:
        return SceneConfig.model_validate(raw)
    except ValidationError as exc:
        lines = _yaml_line_index(yaml_text) if yaml_text else {}
        raise ConfigError([_describe(err, lines) for err in exc.errors()], source=source) from None


def resolve_asset_paths(config: SceneConfig, base_dir: Path, source: str | Path) -> None:
    """Make every referenced file absolute (relative to the config file) and fail early if missing."""
    problems: list[str] = []

    def resolve(value: str | None, field: str, folder_ok: bool = False) -> str | None:
        if value is None:
            return None
        path = Path(value) if Path(value).is_absolute() else (base_dir / value).resolve()
        if folder_ok and path.is_dir():
            if not list_images(path):
                problems.append(f"{field}: folder {value!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        elif not path.is_file():
            problems.append(f"{field}: file not found: {value!r} (looked at {path})")
        return str(path)

    def resolve_textures(value: Any, field: str) -> None:
        for where, material in pool_fields(value, field):
            if material.texture is not None:
                material.texture.images = resolve(material.texture.images, f"{where}.texture.images", True)

    for i, obj in enumerate(config.objects):
        obj.mesh = resolve(obj.mesh, f"objects[{i}].mesh")
        resolve_textures(obj.material, f"objects[{i}].material")
        if obj.generator is not None:
            for name in get_generator(obj.generator.type).file_params:
                where = f"objects[{i}].generator.{name}"
                setattr(obj.generator, name, resolve(getattr(obj.generator, name), where, True))
    config.world.images = resolve(config.world.images, "world.images", True)
    config.world.backplate = resolve(config.world.backplate, "world.backplate", True)
    if config.distractors is not None:
        d = config.distractors
        d.meshes = [resolve(m, f"distractors.meshes[{k}]") or m for k, m in enumerate(d.meshes)]
        resolve_textures(d.material, "distractors.material")
    if problems:
        raise ConfigError(problems, source=source)


def apply_override(raw: dict[str, Any], override: str, source: str | Path = "<config>") -> None:
    """Apply ``a.b[2].c=value`` (value parsed as YAML) to the raw config dict, creating mappings as needed."""
    if "=" not in override:
        raise ConfigError([f"--set {override!r}: expected key.path=value"], source=source)
    key, value_text = override.split("=", 1)
    parts = parse_field_path(key)
    if not parts:
        raise ConfigError([f"--set {override!r}: empty key path"], source=source)
    value = yaml.safe_load(value_text) if value_text.strip() else None
    node: Any = raw
    for depth, part in enumerate(parts[:-1]):
        node = _descend(node, part, parts[: depth + 1], override, source)
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or not -len(node) <= last < len(node):
            raise ConfigError([f"--set {override!r}: no list item {format_field_path(parts)}"], source=source)
        node[last] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(
            [f"--set {override!r}: {format_field_path(parts[:-1])} is not a mapping"], source=source
        )


def _descend(node: Any, part: str | int, path: list[str | int], override: str, source: str | Path) -> Any:
    if isinstance(part, int):
        if isinstance(node, list) and -len(node) <= part < len(node):
            return node[part]
        raise ConfigError([f"--set {override!r}: no list item {format_field_path(path)}"], source=source)
    if not isinstance(node, dict):
        raise ConfigError(
            [f"--set {override!r}: {format_field_path(path[:-1])} is not a mapping"], source=source
        )
    return node.setdefault(part, {})


def parse_field_path(key: str) -> list[str | int]:
    """``objects[2].material.roughness`` or ``objects.2.material.roughness`` → ['objects', 2, ...]."""
    parts: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+", key.strip()):
        parts.append(int(token) if re.fullmatch(r"-?\d+", token) else token)
    return parts


def format_field_path(loc: list[str | int] | tuple[str | int, ...]) -> str:
    """['objects', 2, 'material'] → ``objects[2].material``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _clean_loc(loc: tuple[Any, ...]) -> list[str | int]:
    """Drop union-branch tags and doubled distribution keys from a pydantic error location."""
    cleaned: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and (part in _UNION_TAGS or part.startswith(("function-", "tagged-union"))):
            continue
        if cleaned and part == cleaned[-1] and isinstance(part, str):
            continue
        cleaned.append(part)
    return cleaned


def _describe(err: dict[str, Any], lines: dict[tuple[str | int, ...], int]) -> str:
    loc = _clean_loc(err["loc"])
    where = format_field_path(loc)
    line = _nearest_line(tuple(loc), lines)
    prefix = f"line {line}: {where}" if line else where
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        return f"{prefix}: unknown key (check the spelling; `simgen schema` lists every key)"
    if err["type"] == "missing" and loc and isinstance(loc[-1], int):
        where = format_field_path(loc[:-1])
        line = _nearest_line(tuple(loc[:-1]), lines)
        at = f"line {line}: {where}" if line else where
        return f"{at}: expected a 3-vector [x, y, z], found {err.get('input')!r}"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    found = err.get("input")
    if err["type"] == "missing":
        return f"{prefix}: required field is missing"
    return f"{prefix}: {msg} (found {found!r})"


def _nearest_line(loc: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def _yaml_line_index(text: str) -> dict[tuple[str | int, ...], int]:
    """Map every field path in the YAML document to its 1-based line number."""
    index: dict[tuple[str | int, ...], int] = {}
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return index

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        index[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, key.value)
                index[child] = key.start_mark.line + 1
                walk(value, child)
                index[child] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    if root is not None:
        walk(root, ())
    return index


def config_to_dict(config: SceneConfig) -> dict[str, Any]:
    """The fully resolved config (defaults filled in) as plain JSON-compatible data."""
    return config.model_dump(mode="json")


def config_hash(config: SceneConfig) -> str:
    """A stable short hash of the resolved config (identifies which config produced a dataset).

    Mesh files enter by content, not by path, so the same config and assets hash the same on any machine.
    """
    data = config_to_dict(config)
    for obj in data["objects"]:
        if obj.get("mesh"):
            obj["mesh"] = "sha256:" + _file_sha256(Path(obj["mesh"]))
    if data.get("distractors"):
        data["distractors"]["meshes"] = [
            "sha256:" + _file_sha256(Path(m)) for m in data["distractors"]["meshes"]
        ]
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dump_config_yaml(config: SceneConfig) -> str:
    """The resolved config as YAML, loadable again by ``load_config``."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)
