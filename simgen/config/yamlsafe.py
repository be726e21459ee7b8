"""Reading YAML that may be hostile: bounded size, bounded alias expansion, no duplicate keys, no tags.

A config is parsed in two steps. The YAML is composed into its node graph, where aliases are shared
nodes. The graph is checked first, then turned into Python data. The checks run on the graph:
- its size with every alias expanded, counted per node, so an alias bomb (the "billion laughs") is
  refused in milliseconds instead of being built in gigabytes;
- recursive aliases;
- duplicate keys. YAML lets the last one win silently, which hides a typo or a bad merge.
PyYAML's safe constructor refuses ``!!python/...`` tags. Limits come from the environment, so that
they can be raised without editing code: ``SIMGEN_MAX_CONFIG_BYTES`` (4 MiB) and
``SIMGEN_MAX_CONFIG_NODES`` (200,000).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

try:  # the C parser is ~10x faster on large files
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

DEFAULT_MAX_BYTES = 4 * 2**20
DEFAULT_MAX_NODES = 200_000


class YamlProblem(ValueError):
    """A YAML document simgen refuses; the message says where and why."""


def max_bytes() -> int:
    return int(os.environ.get("SIMGEN_MAX_CONFIG_BYTES", DEFAULT_MAX_BYTES))


def max_nodes() -> int:
    return int(os.environ.get("SIMGEN_MAX_CONFIG_NODES", DEFAULT_MAX_NODES))


def read_config_text(path: Path) -> str:
    """The text of a config file: bounded in size, UTF-8, not binary."""
    size = path.stat().st_size
    if size > max_bytes():
        raise YamlProblem(
            f"the file is {size / 2**20:.1f} MiB, more than the {max_bytes() / 2**20:.0f} MiB a scene config "
            "may be (SIMGEN_MAX_CONFIG_BYTES raises the limit)"
        )
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise YamlProblem("this is a binary file, not a YAML text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlProblem(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save the file as UTF-8"
        ) from None


def load_yaml(text: str) -> Any:
    """Parse one YAML document with the checks above; ``YamlProblem`` or ``yaml.YAMLError`` on failure."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check(root: yaml.Node) -> None:
    """Expanded node count (aliases counted at every use), recursion and duplicate keys."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    limit = max_nodes()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in in_progress:
            raise YamlProblem(f"line {node.start_mark.line + 1}: an alias refers to itself (recursive YAML)")
        in_progress.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            _no_duplicate_keys(node)
            total += sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        in_progress.discard(key)
        sizes[key] = total
        if total > limit:
            raise YamlProblem(
                f"line {node.start_mark.line + 1}: the document expands to more than {limit:,} values "
                "(aliases repeated inside aliases?); SIMGEN_MAX_CONFIG_NODES raises the limit"
            )
        return total

    size(root)


def _no_duplicate_keys(node: yaml.MappingNode) -> None:
    seen: dict[str, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        name, line = key.value, key.start_mark.line + 1
        if key.tag == "tag:yaml.org,2002:merge":
            continue
        if name in seen:
            raise YamlProblem(f"line {line}: duplicate key {name!r} (first given on line {seen[name]})")
        seen[name] = line
