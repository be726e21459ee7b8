"""Ablations: each variant differs from the full config in exactly one randomizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from pydantic import TypeAdapter

from simgen.ablation import ablate, applicable_randomizers, randomizer_list
from simgen.config import load_config
from simgen.config.distributions import (
    ColorValue,
    FloatValue,
    IntValue,
    RotationValue,
    Vec3Value,
    center_value,
)
from simgen.config.loader import config_to_dict
from simgen.randomizers import REGISTRY
from simgen.sampling import sample_frame


def center(raw: object, kind: object = FloatValue) -> object:
    return center_value(TypeAdapter(kind).validate_python(raw))


def test_every_distribution_has_a_center() -> None:
    assert center({"uniform": [2, 4], "per": "instance"}) == 3
    assert center({"uniform": [[0, 0, 0], [2, 4, 6]]}, Vec3Value) == [1, 2, 3]
    assert center({"normal": [5, 1], "clip": [0, 3]}) == 3
    assert center({"loguniform": [1, 100]}) == pytest.approx(10)
    assert center({"randint": [1, 4]}, IntValue) == 2
    assert center({"choice": [1.0, 2.0], "weights": [1, 3]}) == 2.0
    assert center([{"uniform": [0, 1]}, 2, 3], Vec3Value) == [0.5, 2, 3]
    assert center("so3", RotationValue) == [0, 0, 0]
    assert center({"yaw": {"uniform": [0, 90]}}, RotationValue) == [0, 0, 45]
    kelvin = TypeAdapter(ColorValue).validate_python({"kelvin": 4000})
    assert center({"kelvin": {"uniform": [3000, 5000]}}, ColorValue) == center_value(kelvin)
    gray = center({"hsv": [{"uniform": [0, 1]}, 0, {"uniform": [0.4, 0.6]}]}, ColorValue)
    assert gray[0] == gray[1] == gray[2] == pytest.approx(0.214, abs=1e-3)  # sRGB 0.5 → linear


def test_ablate_lists_every_registered_randomizer() -> None:
    listing = randomizer_list()
    assert all(f"{name} (" in listing for name in REGISTRY)


def test_each_ablation_touches_only_its_randomizer() -> None:
    config = load_config(ROOT / "scenes" / "randomized.yaml")
    full = config_to_dict(config)
    # randomized.yaml uses every randomizer but fog, motion, sequence and rig (see scenes/demos/fog.yaml,
    # webcam.yaml, stereo_clip.yaml)
    unused = ("fog", "motion", "sequence", "rig")
    assert applicable_randomizers(config) == [name for name in REGISTRY if name not in unused]
    for name, changed_sections in {
        "camera": {"camera"},
        "lighting": {"lights", "light_rig"},
        "world": {"world"},
        "distractors": {"distractors"},
        "materials": {"objects", "distractors"},
        "pose": {"objects", "distractors"},
        "postfx": {"postfx"},
        "physics": {"physics"},
    }.items():
        variant = config_to_dict(ablate(config, name))
        differing = {key for key in full if full[key] != variant[key]}
        assert differing and differing <= changed_sections, (name, differing)


def test_ablated_camera_is_constant_across_images() -> None:
    config = ablate(load_config(ROOT / "scenes" / "randomized.yaml"), "camera")
    cameras = {
        str(sample_frame(config, i, mesh_bounds=lambda p: ((0, 0, 0), (0.5, 0.5, 0.5))).camera)
        for i in range(5)
    }
    assert len(cameras) == 1


def test_ablated_materials_give_every_image_the_same_colors() -> None:
    full = load_config(ROOT / "scenes" / "dice.yaml")
    config = ablate(full, "materials")
    die_entries = sum(1 for entry in full.objects if entry.category_rule is not None)
    bounds = lambda p: ((0, 0, 0), (0.5, 0.5, 0.5))  # noqa: E731
    colors = [
        {o.material.base_color for o in sample_frame(c, i, mesh_bounds=bounds).labelled()}
        for c in (config, full)
        for i in range(3)
    ]
    assert all(len(c) <= die_entries for c in colors[:3])  # one body color per die entry
    assert all(len(c) > die_entries for c in colors[3:])  # the full config varies them per die


def test_ablate_command_line_passes_options_and_eval_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Options after the config (--out, -n, ...) are simgen's; everything after `--` goes to simgen eval."""
    import simgen.ablation
    from simgen.cli import main

    seen: dict[str, object] = {}

    def fake_run_ablation(*args: Any, progress: bool = True, repeats: int = 1) -> dict[str, Any]:
        config, out, real_test, randomizers, eval_args, workers = args
        seen.update(
            repeats=repeats,
            images=config.scene.num_images,
            out=out,
            real_test=real_test,
            eval_args=eval_args,
            workers=workers,
            randomizers=randomizers,
        )
        (out / "ablation.md").parent.mkdir(parents=True, exist_ok=True)
        (out / "ablation.md").write_text("# ok\n")
        return {"rows": [{}]}

    monkeypatch.setattr(simgen.ablation, "run_ablation", fake_run_ablation)
    config = str(ROOT / "scenes" / "randomized.yaml")
    argv = [
        "ablate",
        config,
        "--out",
        str(tmp_path / "a"),
        "--real-test",
        "REAL",
        "-n",
        "5",
        "--workers",
        "2",
        "--randomizers",
        "camera",
        "--repeats",
        "2",
        "--",
        "--real-split",
        "0.3",
        "--iters",
        "80",
    ]
    assert main(argv) == 0
    assert seen == {
        "images": 5,
        "out": tmp_path / "a",
        "real_test": "REAL",
        "workers": 2,
        "eval_args": ["--real-split", "0.3", "--iters", "80"],
        "randomizers": ["camera"],
        "repeats": 2,
    }
    with pytest.raises(SystemExit):
        main(["validate", config, "--", "--iters", "3"])  # only ablate takes pass-through arguments
    with pytest.raises(SystemExit):
        main(["ablate", config, "--out", "o", "--real-test", "R", "--repeats", "0"])


def test_repeats_move_render_and_training_seeds_and_report_consistency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Repeat k renders with scene.seed + k into its own folder and trains with --seed k; the summary
    averages the repeats and says whether each delta kept its sign."""
    import simgen.ablation
    import simgen.build

    config = load_config(ROOT / "scenes" / "randomized.yaml")
    built: dict[str, int] = {}
    # AP50 per (variant, repeat): camera helps in one repeat and hurts in the other; pose hurts in both
    ap50 = {
        ("all", 0): 0.50,
        ("no_camera", 0): 0.55,
        ("no_pose", 0): 0.10,
        ("all", 1): 0.40,
        ("no_camera", 1): 0.30,
        ("no_pose", 1): 0.20,
    }
    trained: list[list[str]] = []

    def fake_build(variant_config: Any, data_dir: Path, **_: Any) -> None:
        built[data_dir.name] = variant_config.scene.seed

    def fake_evaluate(data_dir: Path, eval_dir: Path, real_test: str, args: list[str]) -> dict[str, Any]:
        trained.append(args)
        variant, _, repeat = data_dir.name.partition("-r")
        return {"AP50": ap50[(variant, int(repeat or 0))], "AP": 0.1, "AP75": 0.1, "train_seconds": 1.0}

    monkeypatch.setattr(simgen.build, "build_dataset", fake_build)
    monkeypatch.setattr(simgen.ablation, "_evaluate", fake_evaluate)
    summary = simgen.ablation.run_ablation(
        config, tmp_path, "REAL", ["camera", "pose"], ["--iters", "5"], progress=False, repeats=2
    )
    seed = config.scene.seed
    assert built == {
        "all": seed,
        "no_camera": seed,
        "no_pose": seed,
        "all-r1": seed + 1,
        "no_camera-r1": seed + 1,
        "no_pose-r1": seed + 1,
    }
    assert trained[0] == ["--iters", "5", "--no-progress"]
    assert trained[-1] == ["--iters", "5", "--no-progress", "--seed", "1"]
    rows = {row["variant"]: row for row in summary["rows"]}
    assert rows["no_camera"]["delta_AP50_per_repeat"] == [0.05, -0.1]
    assert rows["no_camera"]["delta_AP50"] == pytest.approx(-0.025)
    assert rows["no_camera"]["consistent"] is False
    assert rows["no_pose"]["delta_AP50"] == pytest.approx(-0.3)
    assert rows["no_pose"]["consistent"] is True
    assert rows["no_pose"]["beyond_noise"] is True  # |-0.3| > the full config's spread of 0.1
    assert rows["all"]["AP50"] == pytest.approx(0.45)
    markdown = (tmp_path / "ablation.md").read_text()
    assert "moved by 0.100 AP50 between repeats" in markdown
    assert "| no_pose | 0.150 | -0.300 | -0.400, -0.200 | 0.100 | +0.000 | **yes** |" in markdown
    assert "| no_camera | 0.425 | -0.025 | +0.050, -0.100 | 0.100 | +0.000 | no (sign changes) |" in markdown


def test_a_delta_that_keeps_its_sign_but_is_smaller_than_the_spread_is_noise() -> None:
    from simgen.ablation import combine_repeats

    repeat_0 = [{"variant": "all", "AP50": 0.50, "delta_AP50": 0.0}, {"variant": "no_x", "delta_AP50": -0.02}]
    repeat_1 = [{"variant": "all", "AP50": 0.44, "delta_AP50": 0.0}, {"variant": "no_x", "delta_AP50": -0.03}]
    no_x = combine_repeats([repeat_0, repeat_1])[1]
    assert no_x["consistent"] is True
    assert no_x["beyond_noise"] is False
    repeat_1[0]["AP50"] = 0.49  # the full config now varies by 0.01 only: the same delta is beyond it
    assert combine_repeats([repeat_0, repeat_1])[1]["beyond_noise"] is True


def test_training_seed_of_a_repeat_builds_on_the_one_given() -> None:
    from simgen.ablation import _with_seed

    assert _with_seed(["--seed", "5", "--iters", "9"], 0) == ["--seed", "5", "--iters", "9"]
    assert _with_seed(["--seed", "5"], 2)[-2:] == ["--seed", "7"]
    assert _with_seed(["--seed=3"], 1)[-2:] == ["--seed", "4"]
    with pytest.raises(ValueError, match="repeats"):
        import simgen.ablation

        simgen.ablation.run_ablation(
            load_config(ROOT / "scenes" / "randomized.yaml"), Path("x"), "R", repeats=0
        )
