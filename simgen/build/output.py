"""The output folder: a usable place to write, and its identity (the config it was built from).

A folder belongs to one config. ``config.hash`` says which one, and so does every record
(``provenance.config_hash``), so deleting that one file does not let another config relabel the
images already there. Two cases may take a folder over with a different config:
- an empty folder;
- a folder whose failed attempt wrote no image (its config files are replaced).
A build that fails before its first image is written removes what it created, so a fixed config can be
rendered into the same ``--out``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import yaml

from simgen.build.layout import first_record
from simgen.config.loader import config_hash, portable_config
from simgen.config.schema import SceneConfig
from simgen.errors import SimgenError
from simgen.fileio import write_text_atomic

CONFIG_FILES = ("config.yaml", "config.hash")


@contextlib.contextmanager
def output_folder(config: SceneConfig, out_dir: Path) -> Iterator[str]:
    """Claim ``out_dir`` for ``config`` (yields its hash); undo the claim if nothing gets written."""
    created = _missing_parents(out_dir)
    claimed = prepare_output(config, out_dir)
    try:
        yield claimed
    except BaseException:
        if first_record(out_dir) is None:
            _unclaim(out_dir, created)
        raise


def prepare_output(config: SceneConfig, out_dir: Path) -> str:
    """Create the folder and save the resolved config; refuse to mix two configs in one folder."""
    digest = config_hash(config)
    owner = folder_config_hash(out_dir)
    has_images = first_record(out_dir) is not None
    if owner is not None and owner != digest and has_images:
        raise SimgenError(
            f"{out_dir}: already holds images rendered from a different config (hash {owner}, now {digest}); "
            "choose another --out, or delete the folder to start again"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    if owner != digest or not (out_dir / "config.hash").is_file():
        write_text_atomic(out_dir / "config.yaml", dataset_config_yaml(config, out_dir))
        write_text_atomic(out_dir / "config.hash", digest + "\n")
    return digest


def dataset_config_yaml(config: SceneConfig, out_dir: Path) -> str:
    """The dataset's config.yaml: the resolved config with asset paths relative to the dataset folder, so
    ``simgen render OUT/config.yaml`` re-renders it wherever the project (dataset and assets) is moved."""
    return yaml.safe_dump(portable_config(config, out_dir), sort_keys=False)


def folder_config_hash(out_dir: Path) -> str | None:
    """Which config a folder belongs to: config.hash, else what its first record says, else None."""
    stamp = out_dir / "config.hash"
    if stamp.is_file():
        return stamp.read_text().strip() or None
    path = first_record(out_dir)
    if path is not None:
        try:
            return json.loads(path.read_text())["provenance"]["config_hash"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
    return None


def _missing_parents(out_dir: Path) -> list[Path]:
    """The folders a build would create, deepest first (to remove them again after a failed start)."""
    missing = [p for p in (out_dir, *out_dir.parents) if not p.exists()]
    return missing


def _unclaim(out_dir: Path, created: list[Path]) -> None:
    """Remove the config files and empty folders a failed start left; never a file it did not write."""
    for name in CONFIG_FILES:
        with contextlib.suppress(FileNotFoundError):
            (out_dir / name).unlink()
    for folder in (p for p in out_dir.iterdir() if p.is_dir()):
        if not any(f.is_file() and not f.name.startswith(".") for f in folder.rglob("*")):
            shutil.rmtree(folder, ignore_errors=True)  # nothing in it but a killed writer's temp files
    for folder in created:
        with contextlib.suppress(OSError):
            folder.rmdir()


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
