"""Config loading and validation: clear errors that name the file, the line and the field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from simgen.config import config_hash, dump_config_yaml, load_config
from simgen.config.loader import apply_override, parse_field_path
from simgen.config.schema import SceneConfig
from simgen.errors import ConfigError, SimgenError

GOOD = """\
scene: {name: t, num_images: 2}
objects:
  - shape: cube
    category: box
    material:
      roughness: {uniform: [0.1, 0.9]}
"""


def write(tmp_path: Path, text: str, name: str = "scene.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str, overrides: list[str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), overrides)
    return str(info.value)


@pytest.mark.parametrize("path", sorted((ROOT / "scenes").rglob("*.yaml")), ids=lambda p: p.name)
def test_every_bundled_scene_validates(path: Path) -> None:
    config = load_config(path)
    assert config.objects and config.category_names()


def test_good_config_loads_with_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.scene.num_images == 2
    assert config.render.resolution == (320, 240)
    assert config.category_names() == ["box"]


def test_unknown_key_names_file_line_and_field(tmp_path: Path) -> None:
    text = GOOD + "    colour: [1, 0, 0]\n"
    msg = problems(tmp_path, text)
    assert "scene.yaml" in msg and "line 7" in msg
    assert "objects[0].colour: unknown key" in msg


def test_wrong_type_says_expected_and_found(tmp_path: Path) -> None:
    msg = problems(tmp_path, GOOD.replace("{uniform: [0.1, 0.9]}", "shiny"))
    assert "objects[0].material.roughness" in msg
    assert "'shiny'" in msg and "line 6" in msg


def test_misspelled_distribution_lists_the_valid_ones(tmp_path: Path) -> None:
    msg = problems(tmp_path, GOOD.replace("uniform", "unifrom"))
    assert "objects[0].material.roughness" in msg and "{uniform: [low, high]}" in msg


def test_bad_distribution_bounds(tmp_path: Path) -> None:
    msg = problems(tmp_path, GOOD.replace("[0.1, 0.9]", "[0.9, 0.1]"))
    assert "objects[0].material.roughness" in msg and "low <= high" in msg


def test_short_vector(tmp_path: Path) -> None:
    msg = problems(tmp_path, GOOD + "    location: [0, 1]\n")
    assert "objects[0].location: expected a 3-vector" in msg


def test_shape_and_mesh_are_exclusive(tmp_path: Path) -> None:
    msg = problems(tmp_path, GOOD.replace("shape: cube", "shape: cube\n    mesh: x.obj"))
    assert "objects[0]" in msg and "exactly one of shape" in msg


def test_unknown_primitive(tmp_path: Path) -> None:
    msg = problems(tmp_path, GOOD.replace("shape: cube", "shape: teapot"))
    assert "objects[0].shape" in msg and "teapot" in msg


def test_missing_mesh_file_names_the_field_and_path(tmp_path: Path) -> None:
    msg = problems(tmp_path, GOOD.replace("shape: cube", "mesh: meshes/nothere.obj"))
    assert "objects[0].mesh: file not found" in msg and "nothere.obj" in msg


def test_invalid_yaml(tmp_path: Path) -> None:
    msg = problems(tmp_path, "scene: {name: [unclosed\n")
    assert "scene.yaml" in msg and "not valid YAML" in msg


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config("/nonexistent/scene.yaml")


def test_no_objects(tmp_path: Path) -> None:
    assert "objects: required field is missing" in problems(tmp_path, "scene: {name: t}\n")


def test_categories_must_cover_objects(tmp_path: Path) -> None:
    msg = problems(tmp_path, "categories: [ball]\n" + GOOD)
    assert "categories" in msg and "box" in msg


def test_focal_length_and_fov_are_exclusive(tmp_path: Path) -> None:
    msg = problems(tmp_path, GOOD + "camera: {focal_length: 35, fov: 40}\n")
    assert "camera" in msg and "either focal_length or fov" in msg


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    text = "scene: {num_images: 0}\nrender: {samples: -1}\nobjects: [{shape: cube, colour: red}]\n"
    msg = problems(tmp_path, text)
    assert "3 problems" in msg
    for field in ("scene.num_images", "render.samples", "objects[0].colour"):
        assert field in msg


def test_overrides_apply_before_validation(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    config = load_config(path, ["render.samples=3", "objects[0].size=0.25", "scene.name=other"])
    assert config.render.samples == 3
    assert config.objects[0].size == 0.25
    assert config.scene.name == "other"
    msg = problems(tmp_path, GOOD, ["render.samples=many"])
    assert "render.samples" in msg


def test_override_errors(tmp_path: Path) -> None:
    assert "no list item objects[5]" in problems(tmp_path, GOOD, ["objects[5].size=1"])
    assert "expected key.path=value" in problems(tmp_path, GOOD, ["render.samples"])


def test_parse_field_path() -> None:
    assert parse_field_path("objects[2].material.roughness") == ["objects", 2, "material", "roughness"]
    assert parse_field_path("objects.2.size") == ["objects", 2, "size"]
    raw: dict = {}
    apply_override(raw, "a.b=[1, 2]")
    assert raw == {"a": {"b": [1, 2]}}


def test_resolved_config_round_trips_and_hash_is_stable(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    again = load_config(write(tmp_path, dump_config_yaml(config), "resolved.yaml"))
    assert again == config
    assert config_hash(again) == config_hash(config)
    changed = load_config(write(tmp_path, GOOD), ["render.samples=5"])
    assert config_hash(changed) != config_hash(config)


def test_json_schema_exports() -> None:
    schema = SceneConfig.model_json_schema()
    assert "objects" in schema["properties"]
    assert json.loads(json.dumps(schema))


def test_cli_validate_reports_errors_without_traceback(tmp_path: Path) -> None:
    bad = write(tmp_path, GOOD.replace("roughness:", "roughnes:"))
    run = subprocess.run(
        [sys.executable, "-m", "simgen.cli", "validate", str(bad)], capture_output=True, text=True
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "objects[0].material.roughnes: unknown key" in run.stderr
    good = write(tmp_path, GOOD, "good.yaml")
    run = subprocess.run(
        [sys.executable, "-m", "simgen.cli", "validate", str(good)], capture_output=True, text=True
    )
    assert run.returncode == 0 and "OK" in run.stderr and "num_images: 2" in run.stdout


def test_cli_schema_is_json() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "simgen.cli", "schema"], capture_output=True, text=True, check=True
    )
    assert "SceneConfig" in json.loads(run.stdout)["title"]


def test_user_errors_share_one_base_class() -> None:
    assert issubclass(ConfigError, SimgenError)


def test_config_reference_doc_is_generated_from_the_schema() -> None:
    from simgen.config.reference import reference_markdown

    doc = ROOT / "docs" / "config-reference.md"
    regenerate = "regenerate it: simgen schema --markdown --out docs/config-reference.md"
    assert doc.read_text() == reference_markdown() + "\n", regenerate
