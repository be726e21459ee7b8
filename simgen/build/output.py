"""The output folder's identity: the resolved config it was built from, and its hash."""

from __future__ import annotations

from pathlib import Path

import yaml

from simgen.config.loader import config_hash, dump_config_yaml
from simgen.config.schema import SceneConfig
from simgen.errors import SimgenError
from simgen.fileio import write_text_atomic


def prepare_output(config: SceneConfig, out_dir: Path) -> str:
    """Create the folder and save the resolved config; refuse to mix two configs in one folder."""
    out_dir.mkdir(parents=True, exist_ok=True)
    digest = config_hash(config)
    stamp = out_dir / "config.hash"
    if stamp.exists() and stamp.read_text().strip() != digest:
        raise SimgenError(
            f"{out_dir}: already holds a dataset built from a different config "
            f"(hash {stamp.read_text().strip()}, now {digest}); choose another --out or delete the folder"
        )
    if not stamp.exists():
        write_text_atomic(out_dir / "config.yaml", dump_config_yaml(config))
        write_text_atomic(stamp, digest + "\n")
    return digest


def load_dataset_config(out_dir: Path) -> tuple[SceneConfig, str]:
    """The config and hash a dataset folder was built from; needs no asset files (merge runs anywhere)."""
    from simgen.config.loader import validate_config

    path, stamp = out_dir / "config.yaml", out_dir / "config.hash"
    if not path.is_file() or not stamp.is_file():
        raise SimgenError(f"{out_dir}: not a simgen dataset folder (no config.yaml + config.hash in it)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SimgenError(f"{path}: not valid YAML: {exc}") from None
    return validate_config(raw, source=path), stamp.read_text().strip()
