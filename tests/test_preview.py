"""Contact sheets: the mask modes keep or change the image's own pixels as documented."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from simgen.errors import SimgenError
from simgen.evaluate.toydata import make_dataset
from simgen.fileio import read_image
from simgen.labels import decode_mask
from simgen.preview import coco_index, contact_sheet, draw_annotations
from simgen.writers.coco import read_coco, to_rle


def _inside_pixels(tmp_path: Path) -> tuple[np.ndarray, dict, np.ndarray]:
    """A toy image with a round or triangular shape (its outline is not its box), that annotation only,
    and its mask eroded away from outline, box and label."""
    make_dataset(tmp_path, "shapes", num_images=12, size=128, seed=3)
    coco = read_coco(tmp_path)
    ann = next(a for a in coco.data["annotations"] if a["area"] < 0.8 * a["bbox"][2] * a["bbox"][3])
    coco.data["images"] = [im for im in coco.data["images"] if im["id"] == ann["image_id"]]
    coco.data["annotations"] = [ann]
    image = read_image(tmp_path / coco.data["images"][0]["file_name"])
    mask = decode_mask(to_rle(ann["segmentation"], *image.shape[:2])).astype(np.uint8)
    inner = cv2.erode(mask, np.ones((7, 7), np.uint8)) > 0
    y = int(ann["bbox"][1])
    inner[: y + 14, :] = False  # the category name is drawn above the box's top edge
    assert inner.sum() > 20, "the toy shape is too small for this test"
    return image, coco.data, inner


@pytest.mark.parametrize(("mode", "kept"), [("fill", False), ("outline", True), ("none", True)])
def test_mask_modes_keep_or_tint_the_pixels_inside_the_masks(tmp_path: Path, mode: str, kept: bool) -> None:
    image, data, inner = _inside_pixels(tmp_path)
    drawn = draw_annotations(image, coco_index(data), data["images"][0]["id"], masks=mode)
    assert np.array_equal(drawn[inner], image[inner]) is kept


def test_outline_mode_still_draws_the_outline_and_none_does_not(tmp_path: Path) -> None:
    image, data, _ = _inside_pixels(tmp_path)
    index, image_id = coco_index(data), data["images"][0]["id"]
    outline = draw_annotations(image, index, image_id, masks="outline")
    none = draw_annotations(image, index, image_id, masks="none")
    assert (outline != none).any(axis=2).sum() > 20  # the contours differ; boxes and names are the same


def test_an_unknown_mask_mode_is_one_clear_error(tmp_path: Path) -> None:
    make_dataset(tmp_path, "shapes", num_images=1, size=64)
    with pytest.raises(SimgenError, match="--masks 'tint'"):
        contact_sheet(tmp_path, masks="tint")
