"""A dataset's identity and labels do not depend on where the project lives or on one deletable file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT

from simgen.build import build_dataset
from simgen.config import config_hash, load_config
from simgen.errors import SimgenError

TINY = ["scene.num_images=2", "render.resolution=[64,48]", "render.samples=1", "render.denoise=false"]


def copy_project(target: Path) -> Path:
    """scenes/ and assets/ side by side under ``target`` (the relative layout of the repository)."""
    shutil.copytree(ROOT / "scenes", target / "scenes")
    shutil.copytree(ROOT / "assets", target / "assets", ignore=shutil.ignore_patterns("*.py"))
    return target


def test_the_config_hash_follows_asset_contents_not_paths(tmp_path: Path) -> None:
    here = load_config(ROOT / "scenes" / "randomized.yaml")
    moved = load_config(copy_project(tmp_path / "moved") / "scenes" / "randomized.yaml")
    assert config_hash(moved) == config_hash(here)
    textures = tmp_path / "moved" / "assets" / "textures"
    shutil.copyfile(textures / "dots.png", textures / "wood.png")  # same path, other content
    assert config_hash(load_config(tmp_path / "moved" / "scenes" / "randomized.yaml")) != config_hash(here)


@pytest.mark.blender
def test_a_moved_project_renders_byte_identical_labels(tmp_path: Path) -> None:
    pytest.importorskip("bpy")
    outs = []
    for name in ("first", "second"):
        project = copy_project(tmp_path / name / "deeper" if name == "second" else tmp_path / name)
        config = load_config(project / "scenes" / "tabletop.yaml", TINY)
        build_dataset(config, project / "out", progress=False)
        outs.append(project / "out")
    first, second = outs
    assert (first / "annotations.json").read_bytes() == (second / "annotations.json").read_bytes()
    for record in sorted((first / "records").glob("*.json")):
        a, b = json.loads(record.read_text()), json.loads((second / "records" / record.name).read_text())
        assert a["spec"] == b["spec"] and a["instances"] == b["instances"]
        assert a["spec"]["objects"][5]["mesh"] == "../assets/meshes/star.ply"  # relative to the scene file
    manifests = [json.loads((o / "manifest.json").read_text())["config"] for o in outs]
    assert manifests[0] == manifests[1]
    assert (first / "config.yaml").read_text() == (second / "config.yaml").read_text()


@pytest.mark.blender
def test_deleting_config_hash_does_not_let_another_config_relabel_the_images(tmp_path: Path) -> None:
    pytest.importorskip("bpy")
    config = load_config(ROOT / "scenes" / "tabletop.yaml", TINY)
    build_dataset(config, tmp_path, progress=False)
    (tmp_path / "config.hash").unlink()
    other = load_config(ROOT / "scenes" / "tabletop.yaml", [*TINY, "scene.seed=99"])
    with pytest.raises(SimgenError, match="different config"):
        build_dataset(other, tmp_path, progress=False)
    assert build_dataset(config, tmp_path, progress=False).skipped == 2  # the owner resumes as before


def test_a_failed_start_leaves_nothing_and_a_fixed_config_can_take_the_folder(tmp_path: Path) -> None:
    """The worker cannot start (an unknown back-end): nothing is left behind; the next config is taken."""
    import os

    out = tmp_path / "new" / "ds"
    config = load_config(ROOT / "scenes" / "tabletop.yaml", TINY)
    os.environ["SIMGEN_BACKEND"] = "no_such_module:Nothing"
    try:
        with pytest.raises(SimgenError, match="cannot be loaded"):
            build_dataset(config, out, progress=False)
    finally:
        del os.environ["SIMGEN_BACKEND"]
    assert not (tmp_path / "new").exists(), "a failed start must not leave folders or config files"
    out.mkdir(parents=True)
    (out / "config.yaml").write_text("stale\n")
    (out / "config.hash").write_text("0123456789abcdef\n")  # what a failed attempt of another config left
    from simgen.build.output import prepare_output

    assert prepare_output(config, out) == config_hash(config)
    assert (out / "config.hash").read_text().strip() == config_hash(config)
