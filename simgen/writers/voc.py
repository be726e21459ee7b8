"""Pascal VOC: one XML file per image (boxes, truncated, occluded, difficult), and a reader.

    voc/
      Annotations/000000.xml       <annotation> with <size> and one <object> per instance
      JPEGImages/000000.png        links to the dataset's images (copies where links are unsupported)
      ImageSets/Main/trainval.txt  every image stem (torchvision's VOCDetection reads this list)
      labels.txt                   category names in id order, so ids survive a round trip

Boxes follow VOC's convention: 1-based pixel indices, ``xmax``/``ymax`` inclusive, so a COCO box
[x, y, w, h] of whole pixels is ``xmin = x + 1``, ``xmax = x + w``. Ignore regions (COCO ``iscrowd``) are
``difficult`` objects, which VOC evaluation leaves out; truncated means cut by the image border.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from simgen.errors import SimgenError
from simgen.fileio import link_image, write_text_atomic
from simgen.labels import ImageRecord, InstanceLabel
from simgen.writers.base import LabelSet, WriteOptions, Writer, by_index
from simgen.writers.yolo import label_stem

IMAGE_SET = "trainval"


class VocWriter(Writer):
    name = "voc"
    summary = "Pascal VOC XML per image: boxes, truncated, occluded, difficult (= ignore regions)"
    default_out = "voc"
    reads = True

    def write(self, labels: LabelSet, out: Path, options: WriteOptions) -> list[Path]:
        names = {c["id"]: c["name"] for c in labels.categories}
        stems = []
        for record in by_index(labels.records):
            stem = label_stem(record.file_name)
            image_name = f"{stem}{Path(record.file_name).suffix}"
            xml = annotation_xml(record, image_name, names)
            write_text_atomic(out / "Annotations" / f"{stem}.xml", xml)
            link_image(labels.root / record.file_name, out / "JPEGImages" / image_name)
            stems.append(stem)
        write_text_atomic(out / "ImageSets" / "Main" / f"{IMAGE_SET}.txt", "".join(f"{s}\n" for s in stems))
        ordered = [c["name"] for c in sorted(labels.categories, key=lambda c: c["id"])]
        write_text_atomic(out / "labels.txt", "".join(f"{n}\n" for n in ordered))
        return [out]

    def claims(self, path: Path) -> bool:
        return path.is_dir() and (path / "Annotations").is_dir() and any((path / "Annotations").glob("*.xml"))

    def read(self, path: Path) -> LabelSet:
        files = sorted((path / "Annotations").glob("*.xml"))
        parsed = [_parse(f) for f in files]
        names = _category_names(path, parsed)
        categories = [{"id": i + 1, "name": n, "supercategory": "object"} for i, n in enumerate(names)]
        ids = {n: i + 1 for i, n in enumerate(names)}
        records = [
            _record(f, info, objects, ids, k)
            for k, (f, (info, objects)) in enumerate(zip(files, parsed, strict=True))
        ]
        records.sort(key=lambda r: r.index)
        return LabelSet(records, categories, path, {"source": f"voc:{path.name}"}, path)


def annotation_xml(record: ImageRecord, image_name: str, names: dict[int, str]) -> str:
    """One image's VOC ``<annotation>`` document."""
    root = ET.Element("annotation")
    _text(root, "folder", "JPEGImages")
    _text(root, "filename", image_name)
    ET.SubElement(ET.SubElement(root, "source"), "database").text = "simgen"
    size = ET.SubElement(root, "size")
    for tag, value in (("width", record.width), ("height", record.height), ("depth", 3)):
        _text(size, tag, value)
    _text(root, "segmented", 0)
    for inst in record.instances:
        root.append(_object(inst, names))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def _object(inst: InstanceLabel, names: dict[int, str]) -> ET.Element:
    obj = ET.Element("object")
    if inst.category_id not in names:
        raise SimgenError(f"instance {inst.instance_id}: category {inst.category_id} is not a known category")
    _text(obj, "name", names[inst.category_id])
    _text(obj, "pose", "Unspecified")
    _text(obj, "truncated", int(bool(inst.truncation)))
    _text(obj, "occluded", int(bool(inst.occluded)))
    _text(obj, "difficult", int(bool(inst.iscrowd)))
    x, y, w, h = inst.bbox
    box = ET.SubElement(obj, "bndbox")
    for tag, value in (("xmin", x + 1), ("ymin", y + 1), ("xmax", x + w), ("ymax", y + h)):
        _text(box, tag, _number(value))
    return obj


def _text(parent: ET.Element, tag: str, value: Any) -> None:
    ET.SubElement(parent, tag).text = str(value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


# -- reading --------------------------------------------------------------------------------------
def _parse(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(image info, objects) of one XML file; a clear error naming the file and the element."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise SimgenError(f"{path}: not a readable Pascal VOC XML file ({exc})") from None
    info = {
        "filename": _find(root, "filename", path),
        "width": _int(root, "size/width", path),
        "height": _int(root, "size/height", path),
    }
    objects = []
    for k, obj in enumerate(root.findall("object")):
        where = f"{path}: object {k + 1}"
        box = [_float(obj, f"bndbox/{t}", where) for t in ("xmin", "ymin", "xmax", "ymax")]
        if box[2] < box[0] or box[3] < box[1]:
            raise SimgenError(f"{where}: bndbox has xmax < xmin or ymax < ymin ({box})")
        objects.append(
            {
                "name": _find(obj, "name", where),
                "box": box,
                "difficult": obj.findtext("difficult", "0").strip() == "1",
                "truncated": obj.findtext("truncated", "0").strip() == "1",
                "occluded": obj.findtext("occluded", "0").strip() == "1",
            }
        )
    return info, objects


def _find(node: ET.Element, tag: str, where: Any) -> str:
    text = node.findtext(tag)
    if text is None or not text.strip():
        raise SimgenError(f"{where}: <{tag}> is missing or empty")
    return text.strip()


def _float(node: ET.Element, tag: str, where: Any) -> float:
    text = _find(node, tag, where)
    try:
        return float(text)
    except ValueError:
        raise SimgenError(f"{where}: <{tag}> is not a number ({text!r})") from None


def _int(node: ET.Element, tag: str, where: Any) -> int:
    value = _float(node, tag, where)
    if not value.is_integer() or value < 1:
        raise SimgenError(f"{where}: <{tag}> must be a positive whole number, found {value}")
    return int(value)


def _category_names(folder: Path, parsed: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> list[str]:
    """labels.txt when there is one (ids as written), else every name in sorted order."""
    found = sorted({obj["name"] for _, objects in parsed for obj in objects})
    listed = folder / "labels.txt"
    if not listed.is_file():
        return found
    names = [line.strip() for line in listed.read_text().splitlines() if line.strip()]
    unknown = sorted(set(found) - set(names))
    if unknown:
        raise SimgenError(f"{listed}: objects are named {unknown}, which this file does not list")
    return names


def _record(
    path: Path, info: dict[str, Any], objects: list[dict[str, Any]], ids: dict[str, int], position: int
) -> ImageRecord:
    stem = path.stem
    record = ImageRecord(
        index=int(stem) if stem.isdigit() else position,
        seed=0,
        width=info["width"],
        height=info["height"],
        file_name=os.path.join("JPEGImages", info["filename"]),
    )
    for k, obj in enumerate(objects):
        xmin, ymin, xmax, ymax = obj["box"]
        bbox = [_whole(xmin - 1), _whole(ymin - 1), _whole(xmax - xmin + 1), _whole(ymax - ymin + 1)]
        record.instances.append(
            InstanceLabel(
                instance_id=k + 1,
                category_id=ids[obj["name"]],
                category=obj["name"],
                bbox=bbox,
                area=round(bbox[2] * bbox[3]),
                segmentation={},
                iscrowd=int(obj["difficult"]),
                ignore=obj["difficult"],
                occluded=obj["occluded"],
            )
        )
    return record


def _whole(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 2)
