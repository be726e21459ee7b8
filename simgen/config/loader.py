"""Load a YAML scene config: parse, apply ``--set`` overrides, validate, resolve asset paths.

Every problem becomes a ``ConfigError`` naming the file, the line (when the YAML has it), the field path
(``objects[2].material.roughness``), what was expected and what was found.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from simgen.config.assets import folder_problems, mesh_problem
from simgen.config.files import IMAGE_SUFFIXES, list_images
from simgen.config.schema import SceneConfig
from simgen.config.yamlsafe import YamlProblem, load_yaml, read_config_text
from simgen.errors import ConfigError
from simgen.generators import get_generator
from simgen.randomizers.materials import pool_fields

# Tags of the distribution unions: they show up in pydantic's error locations but are not config keys.
_UNION_TAGS = {"const", "vector", "unknown-distribution"}


def load_config(path: str | Path, overrides: list[str] | None = None, dry_run: bool = True) -> SceneConfig:
    """Read, override and validate a scene config, check every asset file, and (``dry_run``) draw the
    first frames without Blender (``simgen.validation``): whatever render would reject at its start."""
    path = Path(path)
    raw, text = read_raw_config(path, overrides)
    config = validate_config(raw, source=path, yaml_text=text).with_source(path)
    resolve_asset_paths(config, base_dir=path.parent, source=path)
    if dry_run:
        from simgen.validation import check_frames

        check_frames(config)
    return config


def read_raw_config(path: Path, overrides: list[str] | None = None) -> tuple[dict[str, Any], str]:
    """The config file as a raw dict (tuned fields at their centres, ``--set`` overrides applied, not yet
    validated) and its text; a file that is missing or not a YAML mapping is a ``ConfigError``."""
    if not path.is_file():
        what = "is a folder, not a config file" if path.is_dir() else "file not found"
        raise ConfigError([f"{what}: {path}"], source=path)
    try:
        text = read_config_text(path)
        raw = load_yaml(text)
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc.strerror or exc}"], source=path) from None
    except YamlProblem as exc:
        raise ConfigError([str(exc)], source=path) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"not valid YAML: {_yaml_message(exc)}"], source=path) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"expected a mapping at the top level, found {type(raw).__name__}"], source=path)
    from simgen.config.tunable import set_tuned_values

    set_tuned_values(raw, source=path)  # tunable fields at their bounds' centres; --set may override
    for override in overrides or []:
        apply_override(raw, override, source=path)
    return raw, text


def config_payload(config: SceneConfig) -> dict[str, Any]:
    """What a worker process needs to rebuild the config (the resolved values and where they came from)."""
    return {"config": config_to_dict(config), "source": str(config.source) if config.source else None}


def config_from_payload(payload: dict[str, Any]) -> SceneConfig:
    return SceneConfig.model_validate(payload["config"]).with_source(payload.get("source"))


def validate_config(
    raw: dict[str, Any], source: str | Path = "<config>", yaml_text: str | None = None
) -> SceneConfig:
    """Validate a raw dict against the schema; pydantic errors become one readable ``ConfigError``."""
    try:
        return SceneConfig.model_validate(raw)
    except ValidationError as exc:
        lines = _yaml_line_index(yaml_text) if yaml_text else {}
        raise ConfigError([_describe(err, lines) for err in exc.errors()], source=source) from None


def resolve_asset_paths(
    config: SceneConfig, base_dir: Path, source: str | Path, relative: dict[str, str] | None = None
) -> None:
    """Make every referenced file absolute (relative to the config file) and check that it is usable:
    present, and an image that decodes or a mesh that holds triangles. Every problem is listed at once.
    ``relative``, when given, receives each field (``--set`` path) that named a relative path, and the
    absolute file it names (so a copy of the config written elsewhere can be rebased).

    Symlinks are kept as links (not resolved): DVC and git-annex store assets as links to files without
    a suffix, and the importer is chosen by the suffix of the path in the config.
    """
    problems: list[str] = []

    def resolve(value: str | None, field: str, kind: str) -> str | None:
        if value is None:
            return None
        if not value.strip():
            problems.append(f"{field}: an empty path")
            return value
        path = Path(os.path.abspath(value if Path(value).is_absolute() else base_dir / value))
        if relative is not None and not Path(value).is_absolute():
            relative[field] = str(path)
        if kind == "images" and path.is_dir():
            if not list_images(path):
                problems.append(f"{field}: folder {value!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
            problems.extend(folder_problems(path, field))
        elif not path.is_file():
            problems.append(f"{field}: file not found: {value!r} (looked at {path})")
        elif kind == "images":
            problems.extend(folder_problems(path, field))
        elif reason := mesh_problem(path):
            problems.append(f"{field}: {value!r} {reason}")
        return str(path)

    def resolve_textures(value: Any, field: str) -> None:
        for where, material in pool_fields(value, field):
            if material.texture is not None:
                material.texture.images = resolve(
                    material.texture.images, f"{where}.texture.images", "images"
                )
            if material.decal is not None:
                material.decal.images = resolve(material.decal.images, f"{where}.decal.images", "images")

    for i, obj in enumerate(config.objects):
        obj.mesh = resolve(obj.mesh, f"objects[{i}].mesh", "mesh")
        resolve_textures(obj.material, f"objects[{i}].material")
        if obj.generator is not None:
            for name in get_generator(obj.generator.type).file_params:
                where = f"objects[{i}].generator.{name}"
                setattr(obj.generator, name, resolve(getattr(obj.generator, name), where, "images"))
    config.world.images = resolve(config.world.images, "world.images", "images")
    config.world.backplate = resolve(config.world.backplate, "world.backplate", "images")
    if config.distractors is not None:
        d = config.distractors
        d.meshes = [resolve(m, f"distractors.meshes[{k}]", "mesh") or m for k, m in enumerate(d.meshes)]
        resolve_textures(d.material, "distractors.material")
    if problems:
        raise ConfigError(problems, source=source)


def apply_override(raw: dict[str, Any], override: str, source: str | Path = "<config>") -> None:
    """Apply ``a.b[2].c=value`` (value parsed as YAML) to the raw config dict, creating mappings as needed."""
    if "=" not in override:
        raise ConfigError([f"--set {override!r}: expected key.path=value"], source=source)
    key, value_text = override.split("=", 1)
    try:
        value = load_yaml(value_text) if value_text.strip() else None
    except (YamlProblem, yaml.YAMLError) as exc:
        reason = exc if isinstance(exc, YamlProblem) else _yaml_message(exc)
        raise ConfigError(
            [f"--set {override!r}: the value is not valid YAML ({reason})"], source=source
        ) from None
    set_field(raw, key, value, where=f"--set {override!r}", source=source)


def set_field(raw: dict[str, Any], key: str, value: Any, where: str, source: str | Path = "<config>") -> None:
    """Set the field at path ``key`` (``a.b[2].c``) of a raw config to ``value``; ``where`` names the
    request in errors (a --set flag, a tune entry)."""
    parts = parse_field_path(key)
    if not parts:
        raise ConfigError([f"{where}: empty key path"], source=source)
    node: Any = raw
    for depth, part in enumerate(parts[:-1]):
        node = _descend(node, part, parts[: depth + 1], where, source)
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or not -len(node) <= last < len(node):
            raise ConfigError([f"{where}: no list item {format_field_path(parts)}"], source=source)
        node[last] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError([f"{where}: {format_field_path(parts[:-1])} is not a mapping"], source=source)


def _descend(node: Any, part: str | int, path: list[str | int], where: str, source: str | Path) -> Any:
    if isinstance(part, int):
        if isinstance(node, list) and -len(node) <= part < len(node):
            return node[part]
        raise ConfigError([f"{where}: no list item {format_field_path(path)}"], source=source)
    if not isinstance(node, dict):
        raise ConfigError([f"{where}: {format_field_path(path[:-1])} is not a mapping"], source=source)
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


def _yaml_message(exc: yaml.YAMLError) -> str:
    """PyYAML's message in one line, with the line number it found the problem on."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + " ".join(str(problem).split())


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
        return f"{at}: expected a 3-vector [x, y, z], found {_short(err.get('input'))}"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    found = err.get("input")
    if err["type"] == "missing":
        return f"{prefix}: required field is missing"
    return f"{prefix}: {msg} (found {_short(found)})"


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
    """A stable short hash of the resolved config: which config, with which assets, made a dataset.

    Asset files enter by content, not by path (an image folder by its images' names and contents), so
    the same scene and assets hash the same in any folder and on any machine. Unset optional sections
    are left out, so a simgen release that adds a section does not change the hash of existing configs;
    so are the ``limits``, which guard a build but do not change what it renders.
    """
    data = _assets_by_content(config.model_dump(mode="json", exclude_none=True, exclude={"limits"}))
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _assets_by_content(value: Any) -> Any:
    """Every absolute path to an existing file or folder replaced by a digest of what it holds."""
    if isinstance(value, dict):
        return {k: _assets_by_content(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_assets_by_content(v) for v in value]
    if isinstance(value, str) and os.path.isabs(value):
        path = Path(value)
        if path.is_file():
            return "sha256:" + _file_sha256(path)
        if path.is_dir():
            listing = [f"{p.name}:{_file_sha256(p)}" for p in list_images(path)]
            return "sha256:" + hashlib.sha256("\n".join(listing).encode()).hexdigest()
    return value


def _file_sha256(path: Path) -> str:
    stat = path.stat()
    return _sha256_of(str(path), stat.st_size, stat.st_mtime_ns)


@functools.cache
def _sha256_of(path: str, size: int, mtime: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def portable_config(config: SceneConfig, root: Path) -> dict[str, Any]:
    """The resolved config with asset paths relative to ``root`` (a dataset folder)."""

    def rel(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: rel(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rel(v) for v in value]
        if isinstance(value, str) and os.path.isabs(value) and os.path.exists(value):
            return os.path.relpath(value, os.path.abspath(root))
        return value

    return rel(config_to_dict(config))


def dump_config_yaml(config: SceneConfig) -> str:
    """The resolved config as YAML, loadable again by ``load_config``."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)
