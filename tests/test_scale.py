"""Million-image bookkeeping: file integrity levels, fanned-out layout, streaming merge and exports.

One tiny tabletop render (4 images) is the template; larger builds are fake builds of it
(tests/fake_build.py: hard links + valid records), which resume, merge and export cannot tell from real.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import xxhash
from conftest import ROOT
from fake_build import fake_build

import simgen.build.layout as layout_module
from simgen.build import build_dataset, merge_dataset
from simgen.build.layout import Layout, record_files, recorded_indices
from simgen.build.records import check_record, read_records, scan_done
from simgen.config import load_config
from simgen.errors import SimgenError
from simgen.writers.bop import bop_files, write_bop
from simgen.writers.coco import build_coco, read_coco
from simgen.writers.coco_stream import write_coco

TEMPLATE_IMAGES = 4


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 4-image tabletop build (96 x 72, 2 samples), every output on."""
    pytest.importorskip("bpy")
    out = tmp_path_factory.mktemp("template") / "ds"
    config = load_config(
        ROOT / "scenes" / "tabletop.yaml",
        [
            "render.resolution=[96,72]",
            "render.samples=2",
            "render.denoise=false",
            f"scene.num_images={TEMPLATE_IMAGES}",
        ],
    )
    build_dataset(config, out, workers=1, progress=False)
    return out


def _copy(template: Path, tmp_path: Path) -> Path:
    out = tmp_path / "ds"
    shutil.copytree(template, out)
    return out


def nothing_to_render(config, pending, on_rendered) -> None:
    assert not pending, f"expected every image to be done, the build wanted to render {pending}"


class Recorder:
    """A runner that renders nothing and remembers what it was asked for."""

    def __init__(self) -> None:
        self.pending: list[int] = []

    def __call__(self, config, pending, on_rendered) -> None:
        self.pending = list(pending)


# -- layout -----------------------------------------------------------------------------------------
def test_small_datasets_keep_the_flat_layout_and_large_ones_fan_out() -> None:
    assert Layout(10_000).file("images", 9_999, "png") == "images/009999.png"
    assert Layout(10_001).file("images", 12_345, "png") == "images/012/012345.png"
    assert Layout(1_000_000).record(Path("d"), 999_999) == Path("d/records/999/999999.json")
    assert Layout(20_000_000).stem(12_345_678) == "12345/12345678"  # the width grows with the set


def test_a_fanned_out_fake_build_resumes_and_merges_with_no_folder_over_the_bucket(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layout_module, "FLAT_LIMIT", 20)
    monkeypatch.setattr(layout_module, "BUCKET", 10)
    n = 45
    config = fake_build(template, tmp_path / "big", n)
    out = tmp_path / "big"
    assert recorded_indices(out) == set(range(n))
    for kind in ("images", "instances", "records"):
        folders = sorted(p for p in (out / kind).iterdir())
        assert [p.name for p in folders] == ["000", "001", "002", "003", "004"]
        assert max(len(list(p.iterdir())) for p in folders) == 10
    summary = build_dataset(config, out, runner=nothing_to_render, progress=False)
    assert summary.skipped == n and summary.coco_path == out / "annotations.json"
    coco = read_coco(out).data
    assert [im["file_name"] for im in coco["images"]][:2] == [
        "images/000/000000.png",
        "images/000/000001.png",
    ]
    assert coco["images"][44]["instances_file"] == "instances/004/000044.png"
    assert all((out / im["file_name"]).is_file() for im in coco["images"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert [im["index"] for im in manifest["images"]] == list(range(n))


# -- integrity levels --------------------------------------------------------------------------------
def _flip_a_byte(path: Path, at: int = -100) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def _levels(out: Path, index: int) -> dict[str, bool]:
    layout = Layout(TEMPLATE_IMAGES)
    return {level: bool(scan_done(out, layout, [index], level)) for level in ("size", "hash", "decode")}


def test_each_integrity_level_catches_what_docs_farm_says(template: Path, tmp_path: Path) -> None:
    out = _copy(template, tmp_path)
    assert _levels(out, 0) == {"size": True, "hash": True, "decode": True}
    (out / "depth" / "000000.exr").unlink()  # missing
    truncated = out / "images" / "000001.png"
    truncated.write_bytes(truncated.read_bytes()[:-10])
    _flip_a_byte(out / "instances" / "000002.png")  # same size, different bytes
    assert _levels(out, 0) == {"size": False, "hash": False, "decode": False}
    assert _levels(out, 1) == {"size": False, "hash": False, "decode": False}
    assert _levels(out, 2) == {"size": True, "hash": False, "decode": False}
    # written wrong in the first place: size and hash match the record, the bytes are not an image
    record_path = out / "records" / "000003.json"
    data = json.loads(record_path.read_text())
    bad = b"not a png at all" * 10
    (out / "semantic" / "000003.png").write_bytes(bad)
    data["files"]["semantic/000003.png"] = {"size": len(bad), "xxh3": xxhash.xxh3_64_hexdigest(bad)}
    record_path.write_text(json.dumps(data))
    assert _levels(out, 3) == {"size": True, "hash": True, "decode": False}
    problems = [check_record(out, out / "records" / f"00000{i}.json", i, "decode")[1] for i in range(4)]
    assert "depth/000000.exr is missing" in problems[0]
    assert "truncated or replaced" in problems[1]
    assert "content differs from the hash" in problems[2]
    assert "does not decode" in problems[3]


def test_a_broken_record_is_not_done(template: Path, tmp_path: Path) -> None:
    out = _copy(template, tmp_path)
    (out / "records" / "000000.json").write_text('{"index": 0, "file_name": ')
    wrong = json.loads((out / "records" / "000001.json").read_text())
    (out / "records" / "000002.json").write_text(json.dumps(wrong))  # image 1's record under image 2
    assert scan_done(out, Layout(TEMPLATE_IMAGES), range(TEMPLATE_IMAGES)) == {1, 3}


def test_records_from_before_sizes_were_stored_are_checked_by_decoding(
    template: Path, tmp_path: Path
) -> None:
    out = _copy(template, tmp_path)
    for index in (0, 1):
        path = out / "records" / f"00000{index}.json"
        data = json.loads(path.read_text())
        del data["files"]
        path.write_text(json.dumps(data))
    image = out / "images" / "000001.png"
    image.write_bytes(image.read_bytes()[:-10])
    assert scan_done(out, Layout(TEMPLATE_IMAGES), range(TEMPLATE_IMAGES)) == {0, 2, 3}


def test_render_verify_re_renders_a_bit_flip_the_default_resume_keeps(template: Path, tmp_path: Path) -> None:
    out = _copy(template, tmp_path)
    config = load_config(out / "config.yaml")
    _flip_a_byte(out / "images" / "000002.png")
    default, verify = Recorder(), Recorder()
    build_dataset(config, out, runner=default, progress=False, merge=False)
    build_dataset(config, out, runner=verify, progress=False, merge=False, verify=True)
    assert default.pending == [] and verify.pending == [2]


def test_audit_deep_names_the_changed_file(template: Path, tmp_path: Path) -> None:
    out = _copy(template, tmp_path)
    _flip_a_byte(out / "normals" / "000001.exr")
    cli = [sys.executable, "-m", "simgen.cli", "audit", str(out)]
    assert subprocess.run(cli, capture_output=True, text=True, timeout=120).returncode == 0
    run = subprocess.run([*cli, "--deep"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "records/000001.json: normals/000001.exr: content differs from the hash" in run.stderr


# -- streaming merge -----------------------------------------------------------------------------------
def test_the_streamed_coco_file_has_the_bytes_of_the_in_memory_one(template: Path, tmp_path: Path) -> None:
    records = [r for r, _ in read_records(template, range(TEMPLATE_IMAGES)).values()]
    categories = read_coco(template).data["categories"]
    info = {"scene": "x", "config_hash": "abc"}
    write_coco(tmp_path / "a.json", records, categories, info)
    expected = json.dumps(build_coco(records, categories, info), separators=(",", ":"))
    assert (tmp_path / "a.json").read_text() == expected
    with pytest.raises(SimgenError, match="out of index order"):
        write_coco(tmp_path / "b.json", records[::-1], categories, info)
    assert not (tmp_path / "b.json").exists() and not list(tmp_path.glob(".b.json*"))


def test_the_streamed_bop_files_have_the_bytes_of_the_in_memory_ones(template: Path, tmp_path: Path) -> None:
    records = [r for r, _ in read_records(template, range(TEMPLATE_IMAGES)).values()]
    write_bop(records, tmp_path)
    for name, data in bop_files(records).items():
        assert (tmp_path / name).read_text() == json.dumps(data, separators=(",", ":")), name
    assert json.loads((tmp_path / "scene_gt.json").read_text())["3"][0]["cam_R_m2c"]


def test_a_merge_that_meets_a_broken_record_publishes_nothing(template: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    config = fake_build(template, out, 12)
    (out / "images" / "000009.png").unlink()  # a hard link to the template's: replace, never write into
    (out / "images" / "000009.png").write_bytes(b"short")
    assert merge_dataset(config, out) is None
    assert not (out / "annotations.json").exists() and not (out / "manifest.json").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no temp file may be left"


def test_a_merge_of_a_partial_build_writes_nothing(template: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    config = fake_build(template, out, 12, stop=11)
    assert merge_dataset(config, out) is None and not (out / "annotations.json").exists()


# -- streaming exports -----------------------------------------------------------------------------------
def _export(dataset: Path, fmt: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    cli = [sys.executable, "-m", "simgen.cli", "export", str(dataset), "--format", fmt, "--out", str(out)]
    return subprocess.run([*cli, *extra], capture_output=True, text=True, timeout=300)


def _merged_fake_build(template: Path, tmp_path: Path, n: int = 10) -> Path:
    """A finished fake build of ``n`` images (merged), to export from."""
    out = tmp_path / "ds"
    fake_build(template, out, n)
    merge_dataset(load_config(out / "config.yaml"), out)
    return out


def test_webdataset_export_round_trips_through_webdataset(template: Path, tmp_path: Path) -> None:
    wds = pytest.importorskip("webdataset")
    out = _merged_fake_build(template, tmp_path)
    run = _export(out, "webdataset", tmp_path / "wds", "--shard-size", "4")
    assert run.returncode == 0, run.stderr
    shards = sorted((tmp_path / "wds").glob("shard-*.tar"))
    assert [p.name for p in shards] == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    coco = read_coco(out).data
    samples = list(wds.WebDataset([str(p) for p in shards], shardshuffle=False))
    assert [s["__key__"] for s in samples] == [f"{i:06d}" for i in range(10)]
    for sample, image in zip(samples, coco["images"], strict=True):
        labels = json.loads(sample["json"])
        assert sample["png"] == (out / image["file_name"]).read_bytes()
        assert sample["instances.png"] == (out / image["instances_file"]).read_bytes()
        theirs = [a for a in coco["annotations"] if a["image_id"] == image["id"]]
        assert [a["bbox"] for a in labels["annotations"]] == [a["bbox"] for a in theirs]
        assert [a["segmentation"] for a in labels["annotations"]] == [a["segmentation"] for a in theirs]
        assert labels["file_name"] == image["file_name"] and labels["categories"] == coco["categories"]


def test_parquet_export_round_trips_through_pyarrow(template: Path, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = _merged_fake_build(template, tmp_path)
    run = _export(out, "parquet", tmp_path / "pq", "--shard-size", "6")
    assert run.returncode == 0, run.stderr
    files = sorted((tmp_path / "pq").glob("*.parquet"))
    assert [p.name for p in files] == ["train-00000-of-00002.parquet", "train-00001-of-00002.parquet"]
    table = pq.read_table(files)
    features = json.loads(table.schema.metadata[b"huggingface"])["info"]["features"]
    assert features["image"] == {"_type": "Image"}  # what makes datasets decode the column as images
    rows = table.to_pylist()
    coco = read_coco(out).data
    assert [r["image_id"] for r in rows] == [im["id"] for im in coco["images"]]
    for row, image in zip(rows, coco["images"], strict=True):
        theirs = [a for a in coco["annotations"] if a["image_id"] == image["id"]]
        assert row["image"]["bytes"] == (out / image["file_name"]).read_bytes()
        assert [o["bbox"] for o in row["objects"]] == [[float(v) for v in a["bbox"]] for a in theirs]
        assert [o["segmentation"] for o in row["objects"]] == [a["segmentation"] for a in theirs]
        assert json.loads(row["labels_json"])["annotations"][0]["bbox"] == theirs[0]["bbox"]


def test_a_failed_export_leaves_the_previous_one(template: Path, tmp_path: Path) -> None:
    out = _copy(template, tmp_path)
    assert _export(out, "webdataset", tmp_path / "wds").returncode == 0
    before = sorted(p.name for p in (tmp_path / "wds").iterdir())
    (out / "images" / "000003.png").unlink()
    (out / "records" / "000003.json").unlink()  # not a finished build now: read from annotations.json
    run = _export(out, "webdataset", tmp_path / "wds")
    assert run.returncode == 1 and "000003.png" in run.stderr and "Traceback" not in run.stderr
    assert sorted(p.name for p in (tmp_path / "wds").iterdir()) == before
    assert not list(tmp_path.glob(".wds*"))


def test_record_files_lists_flat_and_fanned_records(tmp_path: Path) -> None:
    (tmp_path / "records" / "001").mkdir(parents=True)
    for name in ("000001.json", "001/001002.json", ".000003.json.x.tmp", "notes.txt"):
        (tmp_path / "records" / name).write_text("{}")
    assert sorted(record_files(tmp_path)) == [1, 1002]


# -- the split COCO form ---------------------------------------------------------------------------------
def test_the_split_coco_form_concatenates_to_annotations_json_and_every_reader_takes_it(
    template: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ds"
    config = fake_build(template, out, 11)
    config.outputs.coco_parts = 4
    assert merge_dataset(config, out) is not None
    index = json.loads((out / "annotations" / "index.json").read_text())
    assert [(p["file"], p["first_image"], p["last_image"]) for p in index["parts"]] == [
        ("part-00000.json", 0, 3),
        ("part-00001.json", 4, 7),
        ("part-00002.json", 8, 10),
    ]
    whole = read_coco(out).data
    parts = [json.loads((out / "annotations" / p["file"]).read_text()) for p in index["parts"]]
    assert [im for p in parts for im in p["images"]] == whole["images"]
    assert [a for p in parts for a in p["annotations"]] == whole["annotations"]  # ids continue across parts
    (out / "annotations.json").unlink()  # only the split form left: every command reads it
    split = read_coco(out)
    assert split.data["annotations"] == whole["annotations"] and split.root == out
    cli = [sys.executable, "-m", "simgen.cli"]
    audit = subprocess.run([*cli, "audit", str(out)], capture_output=True, text=True, timeout=300)
    assert audit.returncode == 0 and "audited 11 image(s)" in audit.stdout, audit.stderr
    stats = subprocess.run(
        [*cli, "stats", str(out / "annotations" / "index.json")], capture_output=True, text=True
    )
    assert stats.returncode == 0, stats.stderr
    run = _export(out / "annotations" / "index.json", "yolo", tmp_path / "yolo")
    assert run.returncode == 0, run.stderr
    assert len(list((tmp_path / "yolo" / "detect" / "labels").glob("*.txt"))) == 11


def test_large_datasets_get_the_split_form_by_default() -> None:
    from simgen.config.schema import Outputs

    assert Outputs().parts_size(100_000) == 0 and Outputs().parts_size(100_001) == 100_000
    assert Outputs(coco_parts=0).parts_size(10**6) == 0 and Outputs(coco_parts=500).parts_size(10) == 500


def test_an_older_flat_folder_over_the_limit_resumes_and_merges_in_place(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder built before large datasets fanned out (flat names, more images than FLAT_LIMIT) keeps
    its flat names: nothing is rendered again, the merge finds every image, new images are named flat."""
    from simgen.build.frame import RenderedImage
    from simgen.build.layout import folder_layout

    n = 12
    config = fake_build(template, tmp_path / "old", n, stop=n - 1)  # flat: 12 <= FLAT_LIMIT here
    out = tmp_path / "old"
    monkeypatch.setattr(layout_module, "FLAT_LIMIT", 8)  # now this count fans out
    assert Layout(n).fanned and not folder_layout(out, n).fanned
    recorder = Recorder()
    build_dataset(config, out, runner=recorder, progress=False, merge=False)
    assert recorder.pending == [n - 1]  # the 11 done images stay done

    def render_the_last(config, pending, on_rendered) -> None:
        source = json.loads((template / "records" / "000000.json").read_text())
        fanned = Layout(n)
        files = {
            fanned.file(k, n - 1, v.rsplit(".", 1)[1]): (template / v).read_bytes()
            for k, v in source["extra_files"].items()
        }
        files[fanned.file("images", n - 1, "png")] = (template / source["file_name"]).read_bytes()
        record = json.loads(json.dumps(source))
        record.pop("files"), record.pop("provenance")
        from simgen.labels import ImageRecord

        image = ImageRecord.from_dict(
            {
                **record,
                "index": n - 1,
                "file_name": fanned.file("images", n - 1, "png"),
                "extra_files": {
                    k: fanned.file(k, n - 1, v.rsplit(".", 1)[1]) for k, v in source["extra_files"].items()
                },
            }
        )
        on_rendered(RenderedImage(image, files, {}))

    summary = build_dataset(config, out, runner=render_the_last, progress=False)
    assert summary.rendered == 1 and summary.coco_path is not None
    assert (out / "images" / "000011.png").is_file() and not (out / "images" / "000").exists()
    assert [im["file_name"] for im in read_coco(out).data["images"]][-1] == "images/000011.png"
