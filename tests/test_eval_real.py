"""The evaluator on the real photo sets in ../shared/data/real (skipped cleanly where they are absent)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from simgen.errors import SimgenError
from simgen.evaluate import toydata
from simgen.evaluate.datasets import annotation_mask, load_coco, match_categories, split_set
from simgen.evaluate.rules import set_stats

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


def _real_set(name: str) -> Path:
    path = REAL / name / "annotations.json"
    if not path.is_file():
        pytest.skip(f"real data set not found at {path} (shared data is not part of the repository)")
    return path


def test_dice_boxes_only_set_loads_and_splits() -> None:
    dice = load_coco(_real_set("dice"), "dice")
    assert len(dice.images) == 200 and dice.num_annotations == 1487
    assert sorted(dice.categories.values()) == sorted(toydata.DICE)
    assert not dice.has_masks
    train, test = split_set(dice, 0.3)
    assert (len(train.images), len(test.images)) == (140, 60)
    stats = set_stats(test, 416)
    assert 15 < stats["box_side_px"]["median"] < 40 and stats["mask_padding_px"] is None


def test_fruits_polygons_decode_to_their_boxes() -> None:
    fruits = load_coco(_real_set("fruits_nuts"), "fruits")
    assert fruits.has_masks and sorted(fruits.categories.values()) == ["date", "fig", "hazelnut"]
    image = fruits.images[0]
    for ann in fruits.annotations[image["id"]]:
        mask = annotation_mask(ann, image["height"], image["width"])
        ys, xs = np.nonzero(mask)
        assert abs(xs.min() - ann["bbox"][0]) <= 2 and abs(ys.min() - ann["bbox"][1]) <= 2
        assert mask.sum() == pytest.approx(ann["area"], rel=0.05)


def test_synthetic_categories_must_map_onto_the_dice(tmp_path: Path) -> None:
    dice = load_coco(_real_set("dice"), "dice")
    shapes = load_coco(toydata.make_dataset(tmp_path / "s", "shapes", 2, 32), "shapes")
    with pytest.raises(SimgenError, match=r"categories \['circle', 'square', 'triangle'\] of set 'shapes'"):
        match_categories(dice, [shapes], {})
    mapping = {"circle": "one", "square": "two", "triangle": "three"}
    with pytest.raises(SimgenError, match=r"test categories \['four', 'five', 'six'\] .* have no training"):
        match_categories(dice, [shapes], mapping)


@pytest.mark.slow
def test_eval_command_on_real_dice(tmp_path: Path) -> None:
    """Tiny end-to-end run on the real dice photos (a few CPU minutes; -m slow)."""
    pytest.importorskip("torch")
    _real_set("dice")
    import argparse

    from simgen.evaluate import cli

    toydata.make_dataset(tmp_path / "syn", "dice", 16, 320)
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(
        [
            "eval",
            "--synthetic",
            str(tmp_path / "syn"),
            "--real-test",
            str(REAL / "dice"),
            "--real-split",
            "0.1",
            "--experiments",
            "synthetic,finetune",
            "--iters",
            "4",
            "--image-size",
            "192",
            "--out",
            str(tmp_path / "out"),
            "--no-progress",
        ]
    )
    assert args.func(args) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["data"]["real_test"]["images"] == 20
    assert {r["name"] for r in report["runs"]} == {"synthetic", "finetune"}
