"""A clip dataset end to end: COCO video fields and tracks, MOT export, round trip, audit checks, GIF."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import make_config

FRAMES = 3


@pytest.fixture(scope="module")
def clip_dataset(tmp_path_factory: pytest.TempPathFactory, blender) -> Path:
    """Two clips of 3 frames from a stereo rig: two moving cubes over a floor, flow and disparity on."""
    from simgen.build.builder import build_dataset

    config = make_config(
        scene={"num_images": 2 * FRAMES * 2, "seed": 3},
        render={"resolution": [64, 48], "samples": 1},
        camera={"location": [0, -4, 3], "look_at": [0, 0, 0], "fov": 50},
        lights=[{"type": "sun", "power": 3, "location": [1, -1, 5], "look_at": [0, 0, 0]}],
        objects=[
            {"shape": "cube", "category": "a", "size": 0.6, "location": [-0.6, 0, 0.3]},
            {"shape": "sphere", "category": "b", "size": 0.6, "location": [0.6, 0, 0.3]},
            {"shape": "plane", "size": 8},
        ],
        sequence={"frames": FRAMES, "fps": 10, "objects": {"type": "linear", "velocity": [0.3, 0.2, 0]}},
        rig={"stereo": {"baseline": 0.1}},
        outputs={"flow": True, "disparity": True, "boxes_3d": True, "formats": ["mot", "kitti"]},
    )
    out = tmp_path_factory.mktemp("clips") / "ds"
    build_dataset(config, out, workers=1, progress=False)
    return out


@pytest.mark.blender
def test_coco_names_videos_frames_and_tracks(clip_dataset: Path) -> None:
    coco = json.loads((clip_dataset / "annotations.json").read_text())
    assert [(v["clip_id"], v["camera_name"], v["length"]) for v in coco["videos"]] == [
        (0, "left", 3),
        (0, "right", 3),
        (1, "left", 3),
        (1, "right", 3),
    ]
    images = {im["id"]: im for im in coco["images"]}
    assert [(images[i]["video_id"], images[i]["frame_id"]) for i in range(4)] == [
        (0, 0),
        (1, 0),
        (0, 1),
        (1, 1),
    ]
    tracks: dict[int, set[tuple[int, int]]] = {}
    for ann in coco["annotations"]:
        image = images[ann["image_id"]]
        tracks.setdefault(ann["track_id"], set()).add((image["clip_id"], ann["category_id"]))
    assert len(tracks) == 4 and all(len(v) == 1 for v in tracks.values())  # 2 objects x 2 clips, stable


@pytest.mark.blender
def test_mot_sequences_hold_every_frame_with_stable_ids(clip_dataset: Path) -> None:
    sequences = sorted(p.name for p in (clip_dataset / "mot").iterdir())
    assert sequences == ["clip000000-left", "clip000000-right", "clip000001-left", "clip000001-right"]
    rows = [
        line.split(",")
        for line in (clip_dataset / "mot" / sequences[0] / "gt" / "gt.txt").read_text().splitlines()
    ]
    assert sorted({int(r[0]) for r in rows}) == [1, 2, 3] and sorted({int(r[1]) for r in rows}) == [1, 2]
    assert "seqLength=3" in (clip_dataset / "mot" / sequences[0] / "seqinfo.ini").read_text()
    assert len(list((clip_dataset / "mot" / sequences[0] / "img1").iterdir())) == 3
    assert len(list((clip_dataset / "kitti" / "label_2").iterdir())) == 12


@pytest.mark.blender
def test_clip_fields_survive_a_coco_round_trip(clip_dataset: Path) -> None:
    from simgen.writers import open_dataset
    from simgen.writers.coco import build_coco

    labels = open_dataset(clip_dataset)
    again = build_coco(
        labels.records, labels.categories, json.loads((clip_dataset / "annotations.json").read_text())["info"]
    )
    original = json.loads((clip_dataset / "annotations.json").read_text())
    assert again["videos"] == original["videos"]
    assert [a["track_id"] for a in again["annotations"]] == [a["track_id"] for a in original["annotations"]]
    assert [a["box3d"] for a in again["annotations"]] == [a["box3d"] for a in original["annotations"]]


@pytest.mark.blender
def test_the_audit_finds_broken_tracks_and_motion_maps(clip_dataset: Path, tmp_path: Path) -> None:
    from simgen.audit import audit_dataset
    from simgen.fileio import encode_exr
    from simgen.flow import read_flow

    assert audit_dataset(clip_dataset).ok
    broken = tmp_path / "broken"
    shutil.copytree(clip_dataset, broken, symlinks=True)
    coco = json.loads((broken / "annotations.json").read_text())
    first_track = coco["annotations"][0]["track_id"]
    later = next(a for a in coco["annotations"][1:] if a["track_id"] == first_track)
    later["category_id"] = 2 if later["category_id"] == 1 else 1  # the track changes class mid-clip
    (broken / "annotations.json").write_text(json.dumps(coco))
    forward, backward = read_flow(broken / "flow" / "000004.exr")
    forward[10, 10] = np.nan  # a NaN on a surface pixel (the floor fills the view)
    (broken / "flow" / "000004.exr").write_bytes(
        encode_exr(
            {
                "forward.u": forward[..., 0],
                "forward.v": forward[..., 1],
                "backward.u": backward[..., 0],
                "backward.v": backward[..., 1],
            }
        )
    )
    report = audit_dataset(broken)
    checks = {v.check for v in report.violations}
    assert "tracks" in checks and "motion_maps" in checks
    assert "changes category" in report.describe() and "flow/000004.exr" in report.describe()


@pytest.mark.blender
def test_a_clip_preview_is_a_gif_of_its_frames(clip_dataset: Path, tmp_path: Path) -> None:
    from PIL import Image

    from simgen.clip_preview import clip_animation
    from simgen.errors import SimgenError

    path = clip_animation(clip_dataset, tmp_path / "c.gif", clip=1, camera="right", tile_width=64)
    with Image.open(path) as gif:
        assert gif.n_frames == FRAMES and gif.size == (3 * 64, 48)  # labels, flow, disparity
    with pytest.raises(SimgenError, match="--clip 5: no images of that clip"):
        clip_animation(clip_dataset, tmp_path / "x.gif", clip=5)
    with pytest.raises(SimgenError, match="--camera 'middle'"):
        clip_animation(clip_dataset, tmp_path / "x.gif", clip=0, camera="middle")
