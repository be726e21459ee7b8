"""Dataset builds: CLI end to end, resume, corrupt files, mesh formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, make_config

from simgen.build import build_dataset, load_record, merge_dataset
from simgen.errors import SimgenError
from simgen.labels import label_frame
from simgen.sampling import sample_frame

pytestmark = pytest.mark.blender

TABLETOP = ROOT / "scenes" / "tabletop.yaml"
TINY = ["--set", "render.resolution=[96,72]", "--set", "render.samples=2", "--set", "render.denoise=false"]


def simgen(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "simgen.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_cli_render_then_preview(tmp_path: Path) -> None:
    pytest.importorskip("bpy")
    out = tmp_path / "ds"
    run = simgen("render", str(TABLETOP), "--out", str(out), "-n", "3", "--no-progress", *TINY)
    assert run.returncode == 0, run.stderr
    assert (
        "3 image(s) rendered" in run.stdout
        and "instance(s) labelled" in run.stdout
        and "s/image" in run.stdout
    )
    coco = json.loads((out / "annotations.json").read_text())
    assert len(coco["images"]) == 3 and coco["annotations"]
    assert coco["info"]["config_hash"] and coco["info"]["simgen_version"]
    assert [c["name"] for c in coco["categories"]] == ["cube", "ball", "ring", "cone", "star"]
    assert (out / "config.yaml").is_file() and (out / "manifest.json").is_file()
    assert "render.samples" not in (out / "config.yaml").read_text()  # resolved YAML, not the CLI strings
    assert "samples: 2" in (out / "config.yaml").read_text()
    run = simgen("preview", str(out))
    assert run.returncode == 0, run.stderr
    assert (out / "preview.png").stat().st_size > 1000


def test_cli_render_bad_config_is_one_clear_line(tmp_path: Path) -> None:
    run = simgen("render", str(TABLETOP), "--out", str(tmp_path / "x"), "--set", "objects[1].size=big")
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "tabletop.yaml" in run.stderr and "objects[1].size" in run.stderr
    assert not (tmp_path / "x").exists(), "a bad config must not leave a half-made dataset"


def small_config(n: int = 4):
    return make_config(
        scene={"num_images": n, "seed": 2},
        camera={"location": [0, -4, 2], "look_at": [0, 0, 0]},
        objects=[
            {
                "shape": "cube",
                "category": "box",
                "size": 0.8,
                "location": {"uniform": [[-1, -1, 0], [1, 1, 0]]},
            }
        ],
    )


def test_resume_skips_done_images_and_rerenders_truncated_ones(tmp_path: Path) -> None:
    pytest.importorskip("bpy")
    config = small_config(4)
    first = build_dataset(config, tmp_path, indices=[0, 1], progress=False)
    assert first.rendered == 2 and first.coco_path is None  # not all images yet: no COCO written
    assert not (tmp_path / "annotations.json").exists()
    image = tmp_path / "images" / "000001.png"
    image.write_bytes(image.read_bytes()[: image.stat().st_size // 2])  # a truncated file
    assert load_record(tmp_path, 1) is None
    second = build_dataset(config, tmp_path, progress=False)
    assert (second.skipped, second.rendered) == (1, 3)
    assert second.coco_path is not None
    reference = build_dataset(config, tmp_path / "ref", progress=False)
    assert (tmp_path / "annotations.json").read_bytes() == (reference.coco_path or Path()).read_bytes()


def test_output_folder_refuses_a_different_config(tmp_path: Path) -> None:
    pytest.importorskip("bpy")
    build_dataset(small_config(1), tmp_path, progress=False)
    other = small_config(1)
    other.render.samples = 3
    with pytest.raises(SimgenError, match="different config"):
        build_dataset(other, tmp_path, progress=False)


def test_merge_needs_every_image(tmp_path: Path) -> None:
    pytest.importorskip("bpy")
    config = small_config(2)
    build_dataset(config, tmp_path, indices=[1], progress=False, merge=False)
    assert merge_dataset(config, tmp_path) is None
    build_dataset(config, tmp_path, indices=[0], progress=False, merge=False)
    assert merge_dataset(config, tmp_path) == tmp_path / "annotations.json"


@pytest.mark.parametrize("suffix", ["obj", "ply", "stl", "glb"])
def test_mesh_formats_give_the_same_silhouette(blender, suffix: str) -> None:
    boxes = {}
    for fmt in ("ply", suffix):
        config = make_config(
            camera={"location": [0, 0, 4], "look_at": [0, 0, 0]},
            objects=[
                {"mesh": str(ROOT / "assets" / "meshes" / f"star.{fmt}"), "category": "star", "size": 1.0}
            ],
        )
        spec = sample_frame(config, 0)
        labels = label_frame(blender.BlenderBackend(config.render).render(spec).instance_ids, None, spec)
        assert len(labels) == 1
        boxes[fmt] = np.array(labels[0].bbox)
    assert np.abs(boxes["ply"] - boxes[suffix]).max() <= 1


def test_multi_part_mesh_is_one_instance(blender) -> None:
    config = make_config(
        camera={"location": [0, -3, 0], "look_at": [0, 0, 0]},
        objects=[
            {"mesh": str(ROOT / "assets" / "meshes" / "dumbbell.glb"), "category": "dumbbell", "size": 1.5}
        ],
    )
    spec = sample_frame(config, 0)
    result = blender.BlenderBackend(config.render).render(spec)
    labels = label_frame(result.instance_ids, None, spec)
    assert len(labels) == 1
    _, _, w, h = labels[0].bbox
    assert w > 2 * h, "both bells and the bar belong to the one instance"
