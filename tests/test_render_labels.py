"""Masks against RGB, COCO output against the instance map, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import make_config
from pycocotools.coco import COCO

from simgen.build import build_dataset
from simgen.fileio import read_image
from simgen.labels import decode_mask
from simgen.sampling import sample_frame

pytestmark = pytest.mark.blender

# Distinct, saturated colors for flat emissive objects (linear RGB == sRGB at the primaries).
COLORS = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, 0, 1), (0, 1, 1)]


def emissive_scene(num_images: int = 1):
    objects = []
    for k, color in enumerate(COLORS):
        objects.append(
            {
                "shape": ["cube", "sphere", "torus", "cone", "cylinder", "ico_sphere"][k],
                "category": f"c{k}",
                "size": 0.9,
                "location": [{"uniform": [-1.6, 1.6]}, {"uniform": [-1.0, 1.0]}, {"uniform": [-0.8, 0.8]}],
                "rotation": [{"uniform": [0, 90]}, {"uniform": [0, 90]}, {"uniform": [0, 90]}],
                "material": {"base_color": list(color), "emission": 1.0, "roughness": 1.0},
            }
        )
    return make_config(
        scene={"num_images": num_images, "seed": 3},
        render={"resolution": [128, 96], "samples": 8, "view_transform": "Standard"},
        camera={"location": [0, -6, 0], "look_at": [0, 0, 0], "focal_length": 35},
        lights=[],
        world={"color": [0, 0, 0], "strength": 0},
        objects=objects,
    )


def test_mask_agrees_with_rgb_pixel_for_pixel(blender) -> None:
    """Color k ⇔ label k everywhere except anti-aliased pixels on an id boundary."""
    config = emissive_scene()
    backend = blender.BlenderBackend(config.render)
    for index in range(3):
        spec = sample_frame(config, index)
        result = backend.render(spec)
        ids = result.instance_ids.astype(int)
        palette = np.array([(0, 0, 0), *COLORS], dtype=float) * 255
        distances = np.linalg.norm(result.rgb[:, :, None, :].astype(float) - palette[None, None], axis=-1)
        nearest = distances.argmin(axis=-1)
        pure = distances.min(axis=-1) < 40  # the pixel is clearly one object's color (not an edge blend)
        interior = _interior(ids)
        assert (ids > 0).sum() > 500, "objects should cover part of the image"
        # every interior pixel's color is its label's color ...
        assert np.array_equal(nearest[interior], ids[interior])
        # ... and every pixel showing a pure object color carries that object's label, edges included
        disagree = pure & (nearest != ids)
        assert disagree.sum() <= 0.002 * ids.size, f"{disagree.sum()} pure-colored pixels mislabelled"


def _interior(ids: np.ndarray) -> np.ndarray:
    """Pixels whose 8 neighbours all carry the same id (so no anti-aliasing can touch them)."""
    padded = np.pad(ids, 1, mode="edge")
    same = np.ones_like(ids, dtype=bool)
    h, w = ids.shape
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            same &= padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] == ids
    return same


def test_coco_loads_and_every_rle_decodes_to_the_instance_map(tmp_path) -> None:
    pytest.importorskip("bpy")
    config = emissive_scene(num_images=3)
    build_dataset(config, tmp_path, progress=False)
    coco = COCO(str(tmp_path / "annotations.json"))
    assert len(coco.getImgIds()) == 3
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == [f"c{k}" for k in range(6)]
    for image in coco.loadImgs(coco.getImgIds()):
        ids = read_image(tmp_path / image["instances_file"], unchanged=True)
        assert ids.dtype == np.uint16 and ids.shape == (image["height"], image["width"])
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
        assert {a["instance_id"] for a in anns} == set(np.unique(ids)) - {0}
        for ann in anns:
            mask = decode_mask(ann["segmentation"])
            assert np.array_equal(mask, ids == ann["instance_id"])
            assert np.array_equal(coco.annToMask(ann).astype(bool), mask)
            rows, cols = np.nonzero(mask)
            x, y, w, h = ann["bbox"]
            assert (x, y, x + w - 1, y + h - 1) == (cols.min(), rows.min(), cols.max(), rows.max())
            assert ann["area"] == mask.sum()
        semantic = read_image(tmp_path / image["semantic_file"], unchanged=True)
        for ann in anns:
            assert np.all(semantic[ids == ann["instance_id"]] == ann["category_id"])


def lit_scene(num_images: int):
    return make_config(
        scene={"num_images": num_images, "seed": 11},
        camera={"location": [0, -5, 3], "look_at": [0, 0, 0]},
        lights=[{"type": "area", "location": [1, -2, 4], "power": {"uniform": [200, 800]}, "radius": 1}],
        objects=[
            {"shape": "plane", "size": 8, "material": {"texture": {"type": "checker", "scale": 3}}},
            {
                "shape": {"choice": ["cube", "torus", "cone"]},
                "category": "thing",
                "count": 3,
                "size": 0.7,
                "location": {"uniform": [[-1.5, -1.5, 0.35], [1.5, 1.5, 0.35]]},
                "material": {
                    "base_color": {"uniform": [[0, 0, 0], [1, 1, 1]]},
                    "texture": {"type": "noise", "scale": 8},
                },
            },
        ],
    )


def test_same_seed_gives_identical_annotations_and_pixels(tmp_path) -> None:
    """Labels are always identical; pixels too (documented exceptions: denoising, emissive meshes)."""
    pytest.importorskip("bpy")
    config = lit_scene(num_images=3)
    build_dataset(config, tmp_path / "a", progress=False)
    build_dataset(config, tmp_path / "b", progress=False)
    a = (tmp_path / "a" / "annotations.json").read_bytes()
    b = (tmp_path / "b" / "annotations.json").read_bytes()
    assert a == b
    for image in json.loads(a)["images"]:
        for key in ("file_name", "instances_file", "semantic_file"):
            pixels_a = read_image(tmp_path / "a" / image[key], unchanged=True)
            pixels_b = read_image(tmp_path / "b" / image[key], unchanged=True)
            assert np.array_equal(pixels_a, pixels_b), f"{image[key]} differs between two identical builds"


def test_emissive_scene_labels_are_deterministic(tmp_path) -> None:
    pytest.importorskip("bpy")
    config = emissive_scene(num_images=2)
    build_dataset(config, tmp_path / "a", progress=False)
    build_dataset(config, tmp_path / "b", progress=False)
    assert (tmp_path / "a" / "annotations.json").read_bytes() == (
        tmp_path / "b" / "annotations.json"
    ).read_bytes()


def test_different_seed_changes_the_dataset(tmp_path) -> None:
    pytest.importorskip("bpy")
    config = emissive_scene(num_images=1)
    build_dataset(config, tmp_path / "a", progress=False)
    config.scene.seed = 4
    build_dataset(config, tmp_path / "b", progress=False)
    a = json.loads((tmp_path / "a" / "annotations.json").read_text())
    b = json.loads((tmp_path / "b" / "annotations.json").read_text())
    assert [x["bbox"] for x in a["annotations"]] != [x["bbox"] for x in b["annotations"]]
