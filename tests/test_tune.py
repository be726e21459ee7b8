"""simgen tune: tunable fields, the gap measure, and a tune that recovers a known shifted field."""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import yaml

from simgen.config import validate_config
from simgen.config.tunable import TuneField, set_tuned_values
from simgen.errors import ConfigError, SimgenError
from simgen.tuning.gap import kid

pytest.importorskip("torch", reason="the gap's feature network needs the eval extra (torch)")


def _scene(**extra) -> dict:
    """Colored cubes on a gray floor, 64 px, with an auto exposure the tuner will be asked to find."""
    return {
        "scene": {"name": "tune-test", "seed": 0, "num_images": 12},
        "render": {"resolution": [64, 64], "samples": 2, "denoise": False, "max_bounces": 1, "threads": 1},
        "camera": {"location": [0, -3, 3], "look_at": [0, 0, 0], "fov": 45},
        "lights": [{"type": "sun", "power": 3, "location": [1, -1, 5], "look_at": [0, 0, 0]}],
        "objects": [
            {"shape": "plane", "size": 8, "material": {"base_color": [0.4, 0.4, 0.4]}},
            {
                "shape": "cube",
                "category": "cube",
                "size": 0.5,
                "count": {"randint": [1, 3]},
                "placement": {"region": "box", "min": [-1, -1, 0], "max": [1, 1, 0], "rest_on": 0},
                "material": {"base_color": {"hsv": [{"uniform": [0, 1]}, 0.8, 0.8]}},
            },
        ],
        **extra,
    }


def test_tune_fields_take_their_centres_until_tuned() -> None:
    raw = _scene(
        postfx={"auto_exposure": 100.0, "noise": 1.0},
        tune=[
            {"field": "postfx.auto_exposure", "value": [80, 220]},
            {"field": "postfx.noise", "uniform": [[0, 2], [2, 6]]},
            {"field": "lights[0].power", "loguniform": [[1, 4], [4, 16]]},
        ],
    )
    set_tuned_values(raw)
    assert raw["postfx"]["auto_exposure"] == 150.0
    assert raw["postfx"]["noise"] == {"uniform": [1.0, 4.0]}
    assert raw["lights"][0]["power"] == {"loguniform": [2.0, 8.0]}  # geometric centres
    set_tuned_values(raw, {"postfx.auto_exposure": 200.0, "postfx.noise:high": 5.0})
    assert raw["postfx"]["auto_exposure"] == 200.0 and raw["postfx"]["noise"] == {"uniform": [1.0, 5.0]}
    validate_config(raw)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"field": "postfx.noise"}, "exactly one of uniform, loguniform, value"),
        ({"field": "postfx.noise", "uniform": [[0, 3], [2, 6]]}, "reach above the high end"),
        ({"field": "lights[0].power", "loguniform": [[0, 4], [4, 16]]}, "must be positive"),
        ({"field": "postfx.noise", "value": [5, 1]}, "low <= high"),
    ],
)
def test_bad_tune_entries_are_named(entry: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_config(_scene(postfx={"noise": 1.0}, tune=[entry]))
    with pytest.raises(ValueError, match=message):
        TuneField.model_validate(entry)


def test_kid_is_near_zero_for_one_distribution_and_large_for_two() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(200, 64)), rng.normal(size=(200, 64))
    shifted = rng.normal(0.5, 1.0, size=(200, 64))
    assert abs(kid(a, b)) < 0.02 < kid(a, shifted)


def _load_study(out: Path):
    """The study ``simgen tune --out OUT`` keeps in OUT/study.db."""
    import optuna

    from simgen.tuning.tuner import STUDY_NAME

    return optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{out / 'study.db'}")


def _build(raw: dict, out: Path, indices: list[int] | None = None) -> Path:
    from simgen.build import build_dataset

    config = validate_config(raw)
    build_dataset(config, out, indices=indices, workers=2, progress=False)
    return out


@pytest.mark.blender
def test_the_gap_is_small_for_the_same_scene_and_large_for_another(blender, tmp_path: Path) -> None:
    from simgen.evaluate.datasets import load_coco
    from simgen.tuning.gap import FeatureNet, measure_gap, reference

    net = FeatureNet()
    dark = _scene(postfx={"auto_exposure": 70.0})
    other_seed = {**dark, "scene": {**dark["scene"], "seed": 1}}
    bright = _scene(postfx={"auto_exposure": 210.0})
    sets = {
        name: load_coco(_build(raw, tmp_path / name))
        for name, raw in (("a", dark), ("b", other_seed), ("c", bright))
    }
    ref = reference(sets["a"], net, size=64)
    same, other = measure_gap(sets["b"], ref, net, size=64), measure_gap(sets["c"], ref, net, size=64)
    assert same.total < 0.5 * other.total, (same.to_dict(), other.to_dict())
    assert same.per_metric["gray_median"] < 0.5 < other.per_metric["gray_median"]
    from simgen.cli import main

    main(
        [
            "compare",
            str(tmp_path / "b"),
            str(tmp_path / "a"),
            "--size",
            "64",
            "--gap",
            "--out",
            str(tmp_path / "gap.json"),
        ]
    )  # the same measure from the command line
    reported = json.loads((tmp_path / "gap.json").read_text())["gap"]
    assert reported["total"] == pytest.approx(same.total, rel=1e-6)
    photos = tmp_path / "photos"  # the same "photos" without their labels: a plain folder of images
    photos.mkdir()
    for image in sets["a"].images:
        (photos / Path(image["file_name"]).name).write_bytes(sets["a"].image_path(image).read_bytes())
    main(
        [
            "compare",
            str(tmp_path / "c"),
            str(photos),
            "--size",
            "64",
            "--gap",
            "--out",
            str(tmp_path / "u.json"),
        ]
    )
    unlabelled = json.loads((tmp_path / "u.json").read_text())["gap"]
    assert unlabelled["kid_objects"] is None and "object_size" not in unlabelled["per_metric"]
    assert unlabelled["kid_images"] == pytest.approx(other.kid_images, rel=1e-4)
    assert unlabelled["per_metric"]["gray_median"] == pytest.approx(other.per_metric["gray_median"])


@pytest.mark.blender
def test_tune_recovers_a_shifted_exposure(blender, tmp_path: Path) -> None:
    """Photos rendered with auto exposure 200; the scene to tune starts at the centre of [80, 220]
    (150): the tuned value lands within 20 of the truth, and the outputs are written."""
    from simgen.tuning.tuner import TuneSettings, tune

    real = _build(
        _scene(postfx={"auto_exposure": 200.0}, scene={"name": "real", "seed": 7, "num_images": 12}),
        tmp_path / "real",
    )
    scene = tmp_path / "scene.yaml"
    scene.write_text(
        yaml.safe_dump(
            _scene(
                postfx={"auto_exposure": 100.0}, tune=[{"field": "postfx.auto_exposure", "value": [80, 220]}]
            )
        )
    )
    settings = TuneSettings(
        config=scene,
        real=real,
        out=tmp_path / "tune",
        trials=14,
        images=8,
        size=64,
        samples=2,
        workers=2,
        budget_s=600,
    )
    result = tune(settings)
    assert result["trials"] == 14
    best = yaml.safe_load((tmp_path / "tune" / "best.yaml").read_text())
    assert "tune" not in best and abs(best["postfx"]["auto_exposure"] - 200) < 20, best["postfx"]
    header = (tmp_path / "tune" / "best.yaml").read_text().splitlines()[1]
    assert header.startswith("#   postfx.auto_exposure: 150.0 ->")
    rows = list(csv.DictReader((tmp_path / "tune" / "trials.csv").open()))
    assert len(rows) == 14 and rows[0]["postfx.auto_exposure"] == "150.0"  # trial 0: the untuned scene
    assert (tmp_path / "tune" / "gap.png").stat().st_size > 1000
    again = tune(TuneSettings(**{**settings.__dict__, "trials": 2}))  # resumes the same study
    assert again["resumed_from"] == 14 and again["trials"] == 16
    _check_final_stage(settings, tmp_path / "tune")


@pytest.mark.blender
def test_the_budget_covers_the_final_stage(blender, tmp_path: Path, capsys) -> None:
    """With ``--final 1`` the untuned trial is probed before the search starts, the search then stops in
    time for the other probe (the whole run ends near the budget, not a probe after it), and a budget the
    probes alone use up runs no search, saying why."""
    from simgen.tuning.tuner import PROBE_MARGIN, TuneSettings, tune

    real = _build(_scene(scene={"name": "real", "seed": 7, "num_images": 8}), tmp_path / "real")
    scene = tmp_path / "scene.yaml"
    scene.write_text(yaml.safe_dump(_scene(tune=[{"field": "postfx.auto_exposure", "value": [80, 220]}])))
    probe = {"final": 1, "final_images": 8, "final_size": 64, "final_iters": 4}
    common = {"config": scene, "real": real, "images": 4, "size": 64, "samples": 2, "workers": 2, **probe}
    tune(TuneSettings(out=tmp_path / "a", trials=2, budget_s=600, **common))
    study = _load_study(tmp_path / "a")
    seconds = study.user_attrs["probe:0"]["seconds"]
    waited = (study.trials[1].datetime_start - study.trials[0].datetime_complete).total_seconds()
    assert seconds > 0 and waited >= 0.9 * seconds, (seconds, waited)  # the probe ran between the trials
    rows = list(csv.DictReader((tmp_path / "a" / "final.csv").open()))
    assert rows and all(float(r["seconds"]) > 0 for r in rows)

    trial_seconds = study.trials[0].user_attrs["seconds"]
    budget = 2 * PROBE_MARGIN * seconds + trial_seconds + 20  # both probes with margin, ~20 s of search
    tune(TuneSettings(out=tmp_path / "c", budget_s=budget, **common))
    study = _load_study(tmp_path / "c")
    took = (datetime.now() - study.trials[0].datetime_start).total_seconds()
    assert len(study.trials) > 2 and took < budget + 0.25 * seconds, (took, budget)  # was a probe over it

    result = tune(TuneSettings(out=tmp_path / "b", budget_s=1, **common))
    assert result["trials"] == 1 and result["picked"]["trial"] == 0  # the untuned trial, probed; no search
    assert "leaves no time to search" in capsys.readouterr().err


@pytest.mark.blender
def test_render_makes_the_picks_dataset_inside_the_budget(blender, tmp_path: Path, capsys) -> None:
    """``--render N``: a few images of the untuned scene are timed at its own settings before the search,
    and the search leaves that time (a budget the rendering alone uses up runs no search, saying why);
    OUT/dataset then holds N labelled images of best.yaml's scene at the scene's own resolution, and a
    resumed run that picks another trial says what to do with that dataset."""
    from simgen.tuning.tuner import RENDER_MARGIN, TuneSettings, tune

    real = _build(_scene(scene={"name": "real", "seed": 7, "num_images": 8}), tmp_path / "real")
    scene = tmp_path / "scene.yaml"
    scene.write_text(yaml.safe_dump(_scene(tune=[{"field": "postfx.auto_exposure", "value": [80, 220]}])))
    out = tmp_path / "t"
    common = {"config": scene, "real": real, "out": out, "images": 4, "size": 48, "samples": 2, "workers": 2}
    result = tune(TuneSettings(budget_s=1, render=5, **common))
    err = capsys.readouterr().err
    assert result["trials"] == 1 and "rendering 5 images of the pick" in err and "no time to search" in err
    per_image = _load_study(out).user_attrs["render seconds per image, 2 workers"]
    assert per_image > 0 and result["render_estimate_s"] == pytest.approx(5 * RENDER_MARGIN * per_image)
    assert not (out / "render_timing").exists()
    coco = json.loads((out / "dataset" / "annotations.json").read_text())
    assert len(coco["images"]) == 5 and coco["annotations"]
    assert {(i["width"], i["height"]) for i in coco["images"]} == {(64, 64)}  # not the trials' 48 px
    best = yaml.safe_load((out / "best.yaml").read_text())
    rendered = yaml.safe_load((out / "dataset" / "config.yaml").read_text())
    assert rendered["postfx"]["auto_exposure"] == best["postfx"]["auto_exposure"] == 150.0  # the untuned

    (out / "best.yaml").write_text((out / "best.yaml").read_text().replace("150.0", "190.0"))
    from simgen.tuning.tuner import Tuner

    tuner = Tuner(TuneSettings(budget_s=1, render=5, **common))
    with pytest.raises(SimgenError, match=r"holds images of an earlier pick.*--trials 0"):
        tuner.render_pick(1.0, 1.0)


def test_the_render_estimate_is_a_long_builds_seconds_per_image() -> None:
    """Timing images spread over the dataset, and the per-image stages' median over the processes that
    render side by side: a slow first image or start-up does not count, nested timings count once."""
    from simgen.tuning.tuner import build_seconds_per_image, spread_indices

    assert spread_indices(300, 8) == [0, 37, 75, 112, 150, 187, 225, 262]
    assert spread_indices(3, 8) == [0, 1, 2]
    stages = [
        {"index": 0, "sync": 1.0, "render": 9.0, "label_write": 1.0, "labels": 0.5, "geometry": 0.2},
        {"index": 37, "sync": 0.5, "render": 3.5},  # 4
        {"index": 75, "render": 5.0, "read": 1.0},  # 6
        {"index": 112, "render": 7.0},  # 7
    ]
    assert build_seconds_per_image(stages, workers=2) == pytest.approx((6.0 + 7.0) / 2 / 2)
    assert build_seconds_per_image(stages[:3], workers=1) == pytest.approx(6.0)
    assert build_seconds_per_image([], workers=2) == 0.0


def test_trials_0_on_a_study_without_trials_is_refused(tmp_path: Path) -> None:
    """``--trials 0`` (only the final stage) on a new study has nothing to probe: one message, not
    Optuna's "no trials are completed yet"."""
    from simgen.tuning.tuner import TuneSettings, tune

    scene, photos = _tune_scene_and_plain_photos(tmp_path)
    with pytest.raises(SimgenError, match="--trials 0 runs only the final stage, but this study has no"):
        tune(TuneSettings(config=scene, real=photos, out=tmp_path / "t", trials=0))


def test_the_final_stage_on_unlabelled_photos_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """Probes score AP against the photos' boxes: without labels every AP would be meaningless, and the
    pick with it; refused before the search (which would run for the whole budget first)."""
    from simgen.tuning.tuner import TuneSettings, tune

    scene, photos = _tune_scene_and_plain_photos(tmp_path)
    with pytest.raises(
        SimgenError, match=r"photos: --final scores .* needs their labels, and they have none"
    ):
        tune(TuneSettings(config=scene, real=photos, out=tmp_path / "t", final=2))
    assert not (tmp_path / "t").exists()


def _tune_scene_and_plain_photos(tmp_path: Path) -> tuple[Path, Path]:
    """A scene with one tune: field, and a folder of 4 flat gray photos without any annotations file."""
    import cv2

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        cv2.imwrite(str(photos / f"{i}.png"), np.full((48, 64, 3), 40 * i, np.uint8))
    scene = tmp_path / "scene.yaml"
    scene.write_text(yaml.safe_dump(_scene(tune=[{"field": "postfx.auto_exposure", "value": [80, 220]}])))
    return scene, photos


def _check_final_stage(settings, out: Path) -> None:
    """``--trials 0 --final 2`` on the finished study: the untuned trial and the two best by gap are
    probed with a short detector, best.yaml is the best of them by probe AP50, and a rerun reuses them."""
    import dataclasses

    import simgen.tuning.probe
    from simgen.tuning.tuner import tune

    gaps = {int(r["trial"]): float(r["gap"]) for r in csv.DictReader((out / "trials.csv").open()) if r["gap"]}
    final = dataclasses.replace(settings, trials=0, final=2, final_images=8, final_size=64, final_iters=8)
    result = tune(final)
    rows = list(csv.DictReader((out / "final.csv").open()))
    expected = [0, *(t for t in sorted(gaps, key=gaps.get)[:2] if t != 0)]
    assert [int(r["trial"]) for r in rows] == sorted(expected)
    assert all(0.0 <= float(r["AP50"]) <= 1.0 for r in rows)
    picked = max(rows, key=lambda r: (float(r["AP50"]), -float(r["gap"])))
    assert result["picked"]["trial"] == int(picked["trial"])
    header = (out / "best.yaml").read_text().splitlines()[0]
    assert f"trial {picked['trial']}: best probe AP50" in header, header

    def no_more_probes(*args, **kwargs):
        raise AssertionError("a finished probe was run again")

    original, simgen.tuning.probe.probe = simgen.tuning.probe.probe, no_more_probes
    try:
        assert tune(final)["picked"] == result["picked"]  # resumed: every candidate's probe is stored
    finally:
        simgen.tuning.probe.probe = original


def test_spearman_of_the_gap_study_has_known_answers() -> None:
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("bench_gap_vs_ap", ROOT / "bench" / "bench_gap_vs_ap.py")
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    assert study.ranks([3, 1, 2, 2]).tolist() == [3.0, 0.0, 1.5, 1.5]
    assert study.spearman([1, 2, 3, 4], [10, 20, 30, 45]) == pytest.approx(1.0)
    assert study.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert study.spearman([1, 2], [2, 1]) is None and study.spearman([1, 1, 1], [1, 2, 3]) is None
    rows = [  # AP falls as the total gap grows; the stats part ranks them the other way
        {"AP50": 0.9, "gap": {"total": 1.0, "stats": 0.5}, "per_metric": {"gray_median": 0.1, "x": 0.2}},
        {"AP50": 0.6, "gap": {"total": 2.0, "stats": 0.3}, "per_metric": {"gray_median": 0.2}},
        {"AP50": 0.3, "gap": {"total": 3.0, "stats": 0.1}, "per_metric": {"gray_median": 0.3}},
    ]
    corr = study.correlations(rows)
    assert corr["total"] == pytest.approx(1.0) and corr["stats"] == pytest.approx(-1.0)
    assert corr["figure:gray_median"] == pytest.approx(1.0) and "figure:x" not in corr


@pytest.mark.blender
def test_gap_study_runs_end_to_end_and_resumes(blender, tmp_path: Path) -> None:
    """bench_gap_vs_ap.py on photos rendered from the cube scene: two configs measured (gap parts,
    probe AP50, Spearman), the JSON and plot written, and a rerun reuses both rows."""
    import subprocess
    import sys

    from conftest import ROOT

    photos = _build(_scene(postfx={"auto_exposure": 150.0}), tmp_path / "photos")
    for name, exposure in (("same", 150.0), ("dark", 60.0)):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(_scene(postfx={"auto_exposure": exposure})))
    study = {
        "real": str(photos),
        "configs": [{"name": n, "config": str(tmp_path / f"{n}.yaml")} for n in ("same", "dark")],
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))
    command = [sys.executable, str(ROOT / "bench" / "bench_gap_vs_ap.py"), str(tmp_path / "study.yaml")]
    command += ["--out", str(tmp_path / "out"), "--images", "6", "--size", "64", "--iters", "4"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads((tmp_path / "out" / "gap_vs_ap.json").read_text())
    rows = {r["name"]: r for r in result["configs"]}
    assert rows["same"]["gap"]["total"] < rows["dark"]["gap"]["total"]
    assert all(0 <= r["AP50"] <= 1 for r in rows.values()) and "total" in result["spearman"]
    assert (tmp_path / "out" / "gap_vs_ap.png").stat().st_size > 1000
    assert "| same |" in (tmp_path / "out" / "gap_vs_ap.md").read_text()
    assert not (tmp_path / "out" / "probes" / "same").exists()  # renders and checkpoints removed
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "training" not in again.stdout  # both rows reused


def test_boxes_scaled_grows_a_copy_and_leaves_the_renders_alone(tmp_path: Path) -> None:
    """The gap grows the renders' boxes by the photos' rule; the renders a probe then trains on (with the
    same rule as --synthetic-box-scale) must keep their tight boxes, or the rule is applied twice."""
    from simgen.evaluate.datasets import CocoSet
    from simgen.tuning.gap import boxes_scaled

    images = [{"id": 1, "file_name": "a.png", "width": 100, "height": 100}]
    renders = CocoSet("r", tmp_path / "a.json", images, {1: [{"id": 1, "bbox": [40, 40, 10, 20]}]}, {1: "c"})
    grown = boxes_scaled(renders, 1.5)
    assert grown.annotations[1][0]["bbox"] == pytest.approx([37.5, 35.0, 15.0, 30.0])
    assert renders.annotations[1][0]["bbox"] == [40, 40, 10, 20]
    assert boxes_scaled(renders, 1.0) is renders


def test_tune_refuses_configs_without_a_tune_section_and_unmatched_photos(tmp_path: Path) -> None:
    from simgen.tuning.tuner import TuneSettings, parse_budget, tune

    scene = tmp_path / "scene.yaml"
    scene.write_text(yaml.safe_dump(_scene()))
    with pytest.raises(SimgenError, match="no tune: section"):
        tune(TuneSettings(config=scene, real=tmp_path, out=tmp_path / "o"))
    assert parse_budget("45m") == 2700 and parse_budget("1h") == 3600 and parse_budget("90") == 90
    with pytest.raises(SimgenError, match="--budget"):
        parse_budget("soon")
    import cv2

    photos = tmp_path / "photos"
    (photos / "images").mkdir(parents=True)
    coco = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "dog"}]}
    for i in range(4):
        cv2.imwrite(str(photos / "images" / f"{i}.png"), np.full((32, 32, 3), 100, np.uint8))
        coco["images"].append({"id": i, "file_name": f"images/{i}.png", "width": 32, "height": 32})
        coco["annotations"].append(
            {"id": i + 1, "image_id": i, "category_id": 1, "bbox": [4, 4, 8, 8], "area": 64, "iscrowd": 0}
        )
    (photos / "annotations.json").write_text(json.dumps(coco))
    scene.write_text(
        yaml.safe_dump(_scene(postfx={"noise": 1.0}, tune=[{"field": "postfx.noise", "value": [0, 2]}]))
    )
    with pytest.raises(SimgenError, match=r"share no name with the scene's \['cube'\]"):
        tune(TuneSettings(config=scene, real=photos, out=tmp_path / "o"))


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.parametrize(
    "option, message",
    [
        ({"images": 1}, "--images 1: at least 4"),
        ({"size": 8}, "--size 8: at least 32 px"),
        ({"final_size": 16}, "--final-size 16"),
        ({"box_scale": 0.0}, "--box-scale 0.0: must lie strictly between 0.5 and 2.0"),
        ({"box_scale": float("nan")}, "--box-scale nan"),
        ({"workers": -1}, "--workers -1"),
        ({"seed": -1}, "--seed -1: must lie in 0 .. 2**32 - 1"),
        ({"budget_s": float("inf")}, "--budget must be finite"),
        ({"device": "tpu"}, "--device 'tpu': choose auto, cpu or cuda"),
        pytest.param(
            {"device": "cuda"},
            "--device cuda: no CUDA device is available",
            marks=pytest.mark.skipif(_has_cuda(), reason="this machine has a CUDA device"),
        ),
    ],
)
def test_tune_settings_that_cannot_work_are_refused_before_any_render(
    tmp_path: Path, option: dict, message: str
) -> None:
    """Found by hand: --images 1 failed inside trial 0 with 'image indices [1] are outside 0..0' and an
    Optuna warning; --size 8 and --box-scale 0 started a study; --device cuda without a GPU was an
    internal error after the output folder was made. Each is now one message naming the option,
    and nothing is written (the config and photos are not even read)."""
    from simgen.tuning.tuner import TuneSettings, tune

    out = tmp_path / "o"
    with pytest.raises(SimgenError, match=re.escape(message)):
        tune(TuneSettings(config=tmp_path / "missing.yaml", real=tmp_path, out=out, **option))
    assert not out.exists()


def test_an_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    from simgen.tuning.tuner import TuneSettings, tune

    afile = tmp_path / "study.txt"
    afile.write_text("x")
    with pytest.raises(SimgenError, match=r"study\.txt is a file, not a folder"):
        tune(TuneSettings(config=tmp_path / "missing.yaml", real=tmp_path, out=afile))


def test_a_study_resumes_only_with_the_scene_photos_and_trial_settings_it_was_made_with(
    tmp_path: Path,
) -> None:
    """Found by hand: rerunning into the same --out with other tune bounds added a trial to the old study
    and kept an old trial, outside the new bounds, as best.yaml. Each of scene, photos and trial settings
    is now part of the study's setup; a change is refused naming what changed, and nothing is added."""
    import cv2

    from simgen.tuning.tuner import Tuner, TuneSettings

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        cv2.imwrite(str(photos / f"{i}.png"), np.full((32, 32, 3), 60 * i, np.uint8))
    scene = tmp_path / "scene.yaml"
    tuned = [{"field": "postfx.noise", "value": [0, 2]}]
    scene.write_text(yaml.safe_dump(_scene(postfx={"noise": 1.0}, tune=tuned)))
    out = tmp_path / "out"
    settings = TuneSettings(config=scene, real=photos, out=out, size=64, images=4)
    Tuner(settings)
    Tuner(TuneSettings(**{**settings.__dict__, "seed": 3, "budget_s": 60.0}))  # harmless changes resume
    with pytest.raises(SimgenError, match=r"study.db: this study was made with another --size; "):
        Tuner(TuneSettings(**{**settings.__dict__, "size": 96}))
    (photos / "4.png").write_bytes((photos / "0.png").read_bytes())
    with pytest.raises(SimgenError, match="made with another photos;"):
        Tuner(settings)
    (photos / "4.png").unlink()
    scene.write_text(yaml.safe_dump(_scene(postfx={"noise": 1.0}, tune=[{**tuned[0], "value": [0, 4]}])))
    with pytest.raises(SimgenError, match="made with another scene;"):
        Tuner(settings)
    study = _load_study(out)
    assert study.trials == []


def test_best_yaml_rebases_relative_asset_paths_to_its_own_folder(tmp_path: Path) -> None:
    """best.yaml is written to OUT, not next to the tuned scene: a relative texture folder must still
    name the same files from there (it did not: rendering best.yaml failed with 'file not found')."""
    from simgen.config import load_config
    from simgen.tuning.tuner import best_config_text, rebased_asset_paths

    textures = Path(__file__).resolve().parents[1] / "assets" / "textures"
    scene_dir, out = tmp_path / "scenes", tmp_path / "runs" / "tune"
    scene_dir.mkdir()
    out.mkdir(parents=True)
    raw = _scene(postfx={"noise": 1.0}, tune=[{"field": "postfx.noise", "value": [0, 4]}])
    raw["objects"][0]["material"] = {"texture": {"type": "image", "images": "../textures"}}
    (tmp_path / "textures").symlink_to(textures)
    entries = [TuneField.model_validate(e) for e in raw["tune"]]
    paths = rebased_asset_paths(raw, scene_dir / "s.yaml", out)
    text = best_config_text(raw, entries, {"postfx.noise": 2.5}, "test", paths)
    (out / "best.yaml").write_text(text)
    written = yaml.safe_load(text)["objects"][0]["material"]["texture"]["images"]
    assert written == "../../textures"
    config = load_config(out / "best.yaml")
    assert Path(config.objects[0].material.texture.images) == tmp_path / "textures"
    assert config.postfx.noise == 2.5
