"""Pascal VOC writer and reader: XML per image, 1-based inclusive boxes, a lossless box round trip."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from labelkit import CATEGORIES, HEIGHT, WIDTH, write_dataset

from simgen.cli import main
from simgen.errors import SimgenError
from simgen.writers import export, open_dataset


def box_key(inst) -> tuple:
    return (inst.category_id, tuple(inst.bbox), inst.iscrowd)


def test_voc_xml_follows_the_voc_conventions(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    labels = open_dataset(tmp_path)
    (folder,) = export(labels, "voc", tmp_path / "voc")
    root = ET.parse(folder / "Annotations" / "000000.xml").getroot()
    assert root.findtext("filename") == "000000.png"
    assert (int(root.findtext("size/width")), int(root.findtext("size/height"))) == (WIDTH, HEIGHT)
    first = labels.records[0].instances[0]  # the box: COCO [3, 4, 19, 16] → VOC 4..22 x 5..20
    obj = root.findall("object")[0]
    x, y, w, h = first.bbox
    assert obj.findtext("name") == "box"
    assert [int(obj.findtext(f"bndbox/{t}")) for t in ("xmin", "ymin", "xmax", "ymax")] == [
        x + 1,
        y + 1,
        x + w,
        y + h,
    ]
    assert obj.findtext("occluded") == "1" and obj.findtext("difficult") == "0"
    speck = root.findall("object")[3]  # the 1-pixel ignore region
    assert speck.findtext("difficult") == "1"
    assert (folder / "ImageSets" / "Main" / "trainval.txt").read_text().split() == [
        "000000",
        "000001",
        "000002",
    ]
    assert (folder / "JPEGImages" / "000000.png").resolve() == (tmp_path / "images" / "000000.png").resolve()
    assert (folder / "labels.txt").read_text().split() == [c["name"] for c in CATEGORIES]


def test_voc_round_trip_keeps_classes_boxes_and_ignore_regions(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    labels = open_dataset(tmp_path)
    (folder,) = export(labels, "voc", tmp_path / "voc")
    back = open_dataset(folder)
    assert [c["name"] for c in back.categories] == [c["name"] for c in CATEGORIES]
    assert [r.index for r in back.records] == [r.index for r in labels.records]
    for original, restored in zip(labels.records, back.records, strict=True):
        assert (restored.width, restored.height) == (original.width, original.height)
        assert sorted(map(box_key, restored.instances)) == sorted(map(box_key, original.instances))
    assert main(["stats", str(folder), "--out", str(tmp_path / "s")]) == 0  # any command reads VOC
    assert main(["export", str(folder), "--format", "coco", "--out", str(tmp_path / "again.json")]) == 0
    assert main(["audit", str(tmp_path / "again.json")]) == 0


def test_broken_voc_files_name_the_file_and_the_element(tmp_path: Path) -> None:
    (tmp_path / "Annotations").mkdir()
    bad = tmp_path / "Annotations" / "a.xml"
    bad.write_text("<annotation><filename>a.png</filename><size><width>10</width></size></annotation>")
    with pytest.raises(SimgenError, match=r"a\.xml: <size/height> is missing"):
        open_dataset(tmp_path)
    bad.write_text("<annotation><filename>a")
    with pytest.raises(SimgenError, match=r"a\.xml: not a readable Pascal VOC XML file"):
        open_dataset(tmp_path)


@pytest.mark.blender
def test_a_build_writes_the_formats_listed_in_outputs(tmp_path: Path) -> None:
    pytest.importorskip("bpy")
    from conftest import ROOT

    from simgen.build import build_dataset
    from simgen.config import load_config

    config = load_config(
        ROOT / "scenes" / "demos" / "formats.yaml",
        ["scene.num_images=2", "render.resolution=[64,48]", "render.samples=1", "render.denoise=false"],
    )
    build_dataset(config, tmp_path, progress=False)
    coco, voc = open_dataset(tmp_path), open_dataset(tmp_path / "voc")
    for a, b in zip(coco.records, voc.records, strict=True):
        assert sorted(map(box_key, a.instances)) == sorted(map(box_key, b.instances))
    assert (tmp_path / "yolo" / "detect" / "data.yaml").is_file() and (
        tmp_path / "bop" / "scene_gt.json"
    ).is_file()
