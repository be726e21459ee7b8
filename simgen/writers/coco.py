"""COCO writer and reader: ImageRecords ↔ one ``annotations.json``.

RLE masks by default, polygons on request (exact: ``simgen.polygons``). Besides the standard fields
every annotation carries simgen's extra labels (amodal mask/box/area, visibility, truncation, occluded,
ignore, keypoints, pose) and every image its camera, so reading the file back gives the same records:
it is the lossless hub every other format is converted from.

Image ids are the global image index and annotation ids are assigned in index order, so any set of
shards merges into exactly the file a single-process build would have written.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from simgen import __version__
from simgen.errors import SimgenError
from simgen.labels import ImageRecord, InstanceLabel, decode_mask, encode_mask
from simgen.polygons import mask_to_polygons, polygons_to_mask
from simgen.writers.base import LabelSet, MappedRecords, WriteOptions, Writer, by_index

# optional per-annotation fields, written only when set (order = order in the file)
EXTRA_FIELDS = (
    "ignore",
    "visibility",
    "truncation",
    "occluded",
    "amodal_bbox",
    "amodal_area",
    "amodal_segmentation",
    "keypoints",
    "num_keypoints",
    "pose",
    "box3d",
)
TRACK_STRIDE = 65_536  # track_id = clip * TRACK_STRIDE + instance_id (instance ids are 16-bit)


def coco_categories(
    names: list[str], keypoints: dict[str, tuple[list[str], list[list[int]]]] | None = None
) -> list[dict[str, Any]]:
    """Categories with ids 1..N; categories with keypoints get COCO ``keypoints`` and ``skeleton``."""
    out = []
    for i, name in enumerate(names):
        entry: dict[str, Any] = {"id": i + 1, "name": name, "supercategory": "object"}
        if keypoints and name in keypoints:
            entry["keypoints"], entry["skeleton"] = keypoints[name]
        out.append(entry)
    return out


def build_coco(
    records: Iterable[ImageRecord],
    categories: list[str] | list[dict[str, Any]],
    info: dict[str, Any],
    polygons: bool = False,
) -> dict[str, Any]:
    """A COCO dict; ``info`` carries provenance (config hash, seed, scene name).

    Deterministic: no timestamps (they live in manifest.json), so equal inputs give byte-equal files.
    ``categories`` are names (ids 1..N) or ready COCO category dicts. For a file, ``write_coco`` gives
    the same bytes without holding the dataset in memory.
    """
    images, annotations, videos = [], [], {}
    for record in sorted(records, key=lambda r: r.index):
        images.append(image_entry(record))
        for inst in record.instances:
            annotations.append(
                annotation_entry(
                    inst, record.index, len(annotations) + 1, polygons, record_track(record, inst)
                )
            )
        add_video(videos, record)
    data = {**_coco_head(categories, info), "images": images, "annotations": annotations}
    if videos:
        data["videos"] = list(videos.values())
    return data


def add_video(videos: dict[int, dict[str, Any]], record: ImageRecord) -> None:
    """Note a clip image's video (one per clip and camera) in ``videos``, by video id."""
    if record.sequence is None and record.rig is None:
        return
    fields = video_fields(record)
    if fields["video_id"] not in videos:
        videos[fields["video_id"]] = {
            "id": fields["video_id"],
            "clip_id": fields["clip_id"],
            "camera_name": record.rig["name"] if record.rig else "camera",
            "width": record.width,
            "height": record.height,
            "length": record.sequence["frames"] if record.sequence else 1,
            "fps": record.sequence["fps"] if record.sequence else None,
        }


def record_track(record: ImageRecord, inst: InstanceLabel) -> int | None:
    return track_id(record, inst) if record.sequence is not None or record.rig is not None else None


def _coco_head(categories: list[str] | list[dict[str, Any]], info: dict[str, Any]) -> dict[str, Any]:
    cats = [c if isinstance(c, dict) else None for c in categories]
    return {
        "info": {
            "description": f"simgen synthetic dataset: {info.get('scene', '')}",
            "version": __version__,
            "simgen_version": __version__,
            **info,
        },
        "licenses": [],
        "categories": cats if all(cats) else coco_categories(list(categories)),  # type: ignore[arg-type]
    }


def image_entry(record: ImageRecord) -> dict[str, Any]:
    entry = {
        "id": record.index,
        "file_name": record.file_name,
        "width": record.width,
        "height": record.height,
        "seed": record.seed,
        **{f"{kind}_file": path for kind, path in sorted(record.extra_files.items())},
    }
    if record.camera:
        entry["camera"] = record.camera
    if record.sequence is not None or record.rig is not None:
        entry.update(video_fields(record))
    if record.rig is not None:
        entry["camera_name"] = record.rig["name"]
        entry["rig"] = record.rig["cameras"]
    return entry


def video_fields(record: ImageRecord) -> dict[str, Any]:
    """TAO / YouTube-VIS style fields of a clip image: one video per clip and camera."""
    cameras = len(record.rig["cameras"]) if record.rig else 1
    camera = record.rig["camera"] if record.rig else 0
    return {"video_id": record.clip * cameras + camera, "frame_id": record.frame, "clip_id": record.clip}


def track_id(record: ImageRecord, inst: InstanceLabel) -> int:
    """One id per object over its clip, the same in every frame and every camera."""
    return record.clip * TRACK_STRIDE + inst.instance_id


def annotation_entry(
    inst: InstanceLabel, image_id: int, ann_id: int, polygons: bool, track: int | None = None
) -> dict[str, Any]:
    ann: dict[str, Any] = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": inst.category_id,
        "bbox": inst.bbox,
        "area": inst.area,
        "segmentation": _segmentation(inst.segmentation, polygons and not inst.iscrowd),
        "iscrowd": inst.iscrowd,
        "instance_id": inst.instance_id,
    }
    if track is not None:
        ann["track_id"] = track
    for name in EXTRA_FIELDS:
        value = getattr(inst, name)
        unset = (name == "ignore" and not value) or (name == "num_keypoints" and not inst.keypoints)
        if value is None or unset:
            continue
        ann[name] = _segmentation(value, polygons) if name == "amodal_segmentation" else value
    return ann


def _segmentation(rle: dict[str, Any], polygons: bool) -> Any:
    if not rle:
        return []
    return mask_to_polygons(decode_mask(rle)) if polygons else rle


# -- reading --------------------------------------------------------------------------------------
@dataclass
class CocoFile:
    """A COCO json as read from disk: its data and where it is (image file names are relative to its
    folder; for the split form, to the dataset folder above ``annotations/``)."""

    data: dict[str, Any]
    path: Path
    root_dir: Path | None = None

    @property
    def root(self) -> Path:
        return self.root_dir or self.path.parent


PARTS_FORMAT = "simgen-coco-parts/1"
"""``format`` of ``annotations/index.json``, the split form of a large dataset (see coco_stream)."""


COCO_JSON_NAMES = ("annotations.json", "annotations/index.json")
"""Where a dataset folder keeps its COCO json: one file, or the split form's index."""


def coco_json_path(path: str | Path) -> Path:
    """A dataset folder (``annotations.json`` inside) or a COCO json file → the json's path."""
    path = Path(path)
    if path.is_dir():
        for name in COCO_JSON_NAMES:
            if (path / name).is_file():
                return path / name
        raise SimgenError(f"{path}: no annotations.json in this folder (expected a COCO dataset folder)")
    if not path.is_file():
        raise SimgenError(f"{path}: no such dataset folder or COCO json file")
    return path


def read_coco(path: str | Path, references: bool = True) -> CocoFile:
    """The one COCO reader every command uses: a folder or json, parsed and checked for its structure
    (every entry the right type, boxes 4 finite numbers) and, with ``references``, for ids that point
    nowhere or repeat. Problems are listed with their place in the file, e.g. ``annotations[3].bbox``."""
    json_path = coco_json_path(path)
    data = _load_json(json_path)
    if isinstance(data, dict) and data.get("format") == PARTS_FORMAT:
        return _read_parts(json_path, data, references)
    return _checked(json_path, data, references)


def is_parts_index(json_path: Path) -> bool:
    """True for ``annotations/index.json`` of the split form (a small file: read whole)."""
    if json_path.name != "index.json":
        return False
    data = _load_json(json_path)
    return isinstance(data, dict) and data.get("format") == PARTS_FORMAT


def coco_parts(path: str | Path, references: bool = True) -> Iterator[CocoFile]:
    """The parts of a split COCO set one at a time (bounded memory), or the one file of a plain one."""
    json_path = coco_json_path(path)
    data = _load_json(json_path)
    if not (isinstance(data, dict) and data.get("format") == PARTS_FORMAT):
        yield _checked(json_path, data, references)
        return
    for entry in _part_entries(json_path, data):
        part = json_path.parent / entry["file"]
        yield replace(_checked(part, _load_json(part), references), root_dir=json_path.parent.parent)


def _part_entries(index: Path, data: dict[str, Any]) -> list[dict[str, Any]]:
    parts = data.get("parts")
    if not (
        isinstance(parts, list) and all(isinstance(p, dict) and isinstance(p.get("file"), str) for p in parts)
    ):
        raise SimgenError(f"{index}: parts: expected a list of {{file, ...}} entries")
    for entry in parts:
        if "/" in entry["file"] or entry["file"].startswith("."):
            raise SimgenError(f"{index}: parts: {entry['file']!r} is not a file name in this folder")
    return parts


def _read_parts(index: Path, data: dict[str, Any], references: bool) -> CocoFile:
    """The split form read whole (every part concatenated): what commands that need all labels use."""
    merged: dict[str, Any] = {"images": [], "annotations": []}
    for part in coco_parts(index, references=False):
        merged.setdefault("info", part.data.get("info", {}))
        merged.setdefault("licenses", part.data.get("licenses", []))
        merged.setdefault("categories", part.data["categories"])
        merged["images"] += part.data["images"]
        merged["annotations"] += part.data["annotations"]
    merged.setdefault("categories", [])
    return replace(_checked(index, merged, references), root_dir=index.parent.parent)


def _load_json(json_path: Path) -> Any:
    try:
        return json.loads(json_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise SimgenError(f"{json_path}: not a readable COCO json ({exc})") from None


def _checked(json_path: Path, data: Any, references: bool) -> CocoFile:
    if not isinstance(data, dict):
        raise SimgenError(f"{json_path}: not a COCO file (the top level is a {type(data).__name__})")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise SimgenError(f"{json_path}: not a COCO file: missing COCO field '{key}' (a list)")
    problems = coco_structure_problems(data, references)
    if problems:
        more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        listed = "\n".join(f"  - {p}" for p in problems[:MAX_LISTED])
        raise SimgenError(f"{json_path}: not a usable COCO file ({len(problems)} problem(s))\n{listed}{more}")
    return CocoFile(data, json_path)


MAX_LISTED = 10


def coco_structure_problems(data: dict[str, Any], references: bool = True) -> list[str]:
    """Where a COCO dict breaks the format: wrong types, malformed boxes or masks, dangling ids."""
    problems: list[str] = []
    category_ids = [_entry_id(c, f"categories[{i}]", problems) for i, c in enumerate(data["categories"])]
    for i, cat in enumerate(data["categories"]):
        if isinstance(cat, dict) and not (isinstance(cat.get("name"), str) and cat["name"]):
            problems.append(
                f"categories[{i}].name: expected a non-empty string, found {_short(cat.get('name'))}"
            )
    image_ids = [_entry_id(im, f"images[{i}]", problems) for i, im in enumerate(data["images"])]
    for i, image in enumerate(data["images"]):
        if isinstance(image, dict):
            _image_problems(image, f"images[{i}]", problems)
    for i, ann in enumerate(data["annotations"]):
        _annotation_problems(ann, f"annotations[{i}]", problems)
    if references:
        problems += _reference_problems(data, set(image_ids), set(category_ids))
        for key, ids in (("images", image_ids), ("categories", category_ids)):
            repeated = sorted({i for i in ids if i is not None and ids.count(i) > 1})
            if repeated:
                problems.append(f"{key}: ids {repeated[:10]} are used more than once")
    return problems


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _entry_id(entry: Any, where: str, problems: list[str]) -> int | None:
    if not isinstance(entry, dict):
        problems.append(f"{where}: expected an object, found {_short(entry)}")
        return None
    if not _is_int(entry.get("id")):
        problems.append(f"{where}.id: expected an integer, found {_short(entry.get('id'))}")
        return None
    return entry["id"]


def _image_problems(image: dict[str, Any], where: str, problems: list[str]) -> None:
    if not (isinstance(image.get("file_name"), str) and image["file_name"]):
        problems.append(
            f"{where}.file_name: expected a non-empty string, found {_short(image.get('file_name'))}"
        )
    for key in ("width", "height"):
        if not (_is_int(image.get(key)) and image[key] > 0):
            problems.append(f"{where}.{key}: expected a positive integer, found {_short(image.get(key))}")


def _annotation_problems(ann: Any, where: str, problems: list[str]) -> None:
    if not isinstance(ann, dict):
        problems.append(f"{where}: expected an object, found {_short(ann)}")
        return
    for key in ("image_id", "category_id"):
        if not _is_int(ann.get(key)):
            problems.append(f"{where}.{key}: expected an integer, found {_short(ann.get(key))}")
    bbox = ann.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)):
        problems.append(
            f"{where}.bbox: expected [x, y, width, height] (4 finite numbers), found {_short(bbox)}"
        )
    elif bbox[2] < 0 or bbox[3] < 0:
        problems.append(f"{where}.bbox: width and height must not be negative, found {bbox}")
    if "area" in ann and not (_is_number(ann["area"]) and ann["area"] >= 0):
        problems.append(f"{where}.area: expected a number >= 0, found {_short(ann['area'])}")
    if "iscrowd" in ann and ann["iscrowd"] not in (0, 1):
        problems.append(f"{where}.iscrowd: expected 0 or 1, found {_short(ann['iscrowd'])}")
    seg = ann.get("segmentation")
    if seg not in (None, [], {}) and not _segmentation_ok(seg):
        expected = "polygons [[x, y, ...], ...] or RLE {size, counts}"
        problems.append(f"{where}.segmentation: expected {expected}, found {_short(seg)}")
    kps = ann.get("keypoints")
    if kps is not None and not (
        isinstance(kps, list) and len(kps) % 3 == 0 and all(_is_number(v) for v in kps)
    ):
        problems.append(f"{where}.keypoints: expected [x, y, v] * K numbers, found {_short(kps)}")


def _segmentation_ok(seg: Any) -> bool:
    if isinstance(seg, list):
        return all(
            isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 and all(_is_number(v) for v in p)
            for p in seg
        )
    if isinstance(seg, dict):
        size, counts = seg.get("size"), seg.get("counts")
        size_ok = isinstance(size, list) and len(size) == 2 and all(_is_int(v) and v >= 0 for v in size)
        return size_ok and (
            isinstance(counts, str) or (isinstance(counts, list) and all(_is_int(v) for v in counts))
        )
    return False


def _reference_problems(
    data: dict[str, Any], image_ids: set[int | None], category_ids: set[int | None]
) -> list[str]:
    problems = []
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict):
            continue
        if _is_int(ann.get("image_id")) and ann["image_id"] not in image_ids:
            problems.append(f"annotations[{i}].image_id: {ann['image_id']} is not the id of any image")
        if _is_int(ann.get("category_id")) and ann["category_id"] not in category_ids:
            problems.append(
                f"annotations[{i}].category_id: {ann['category_id']} is not the id of any category"
            )
    return problems


class CocoWriter(Writer):
    """annotations.json: every label simgen has (RLE masks, or polygons for ``coco-polygons``)."""

    summary = "COCO json: boxes, RLE masks, amodal masks, visibility, keypoints, pose, camera (lossless)"
    name = "coco"
    default_out = "annotations.json"
    reads = True
    polygons = False

    def write(self, labels: LabelSet, out: Path, options: WriteOptions) -> list[Path]:
        if labels.source is not None and out.resolve() == labels.source.resolve():
            raise SimgenError(f"{out}: refusing to overwrite the labels being converted; pass --out")
        records = rebased(labels.records, labels.root, out.parent)
        from simgen.writers.coco_stream import write_coco

        write_coco(out, by_index(records), labels.categories, labels.info, self.polygons)
        return [out]

    def claims(self, path: Path) -> bool:
        return path.suffix.lower() == ".json" or (path / "annotations.json").is_file()

    def read(self, path: Path) -> LabelSet:
        coco = read_coco(path)
        info = {k: v for k, v in coco.data.get("info", {}).items() if k not in ("description", "version")}
        return LabelSet(records_from_coco(coco.data), coco.data["categories"], coco.root, info, coco.path)


def rebased(records: Sequence[ImageRecord], root: Path, folder: Path) -> Sequence[ImageRecord]:
    """Records whose file paths, relative to ``root``, are made relative to ``folder`` (the json's)."""
    if root.resolve() == folder.resolve():
        return records
    start = folder.resolve()

    def move(name: str) -> str:
        return os.path.relpath((root / name).resolve(), start)

    def one(r: ImageRecord) -> ImageRecord:
        return replace(
            r, file_name=move(r.file_name), extra_files={k: move(v) for k, v in r.extra_files.items()}
        )

    return MappedRecords(records, one)


class CocoPolygonsWriter(CocoWriter):
    name = "coco-polygons"
    summary = "COCO json with polygon segmentations (exact, holes bridged) instead of RLE"
    default_out = "annotations_polygons.json"
    polygons = True

    def claims(self, path: Path) -> bool:
        return False  # read as plain COCO


def records_from_coco(data: dict[str, Any]) -> list[ImageRecord]:
    """ImageRecords from a COCO dict (simgen's or any other); polygons become RLE masks."""
    names = {c["id"]: c["name"] for c in data["categories"]}
    videos = {v.get("id"): v for v in data.get("videos", []) if isinstance(v, dict)}
    records: dict[int, ImageRecord] = {}
    for image in data["images"]:
        records[image["id"]] = ImageRecord(
            index=image["id"],
            seed=image.get("seed", 0),
            width=image["width"],
            height=image["height"],
            file_name=image["file_name"],
            extra_files={k[: -len("_file")]: v for k, v in image.items() if k.endswith("_file")},
            camera=image.get("camera", {}),
        )
        _clip_fields(records[image["id"]], image, videos)
    for k, ann in enumerate(data["annotations"]):
        record = records[ann["image_id"]]
        inst = InstanceLabel(
            instance_id=ann.get("instance_id", k + 1),
            category_id=ann["category_id"],
            category=names.get(ann["category_id"], ""),
            bbox=list(ann["bbox"]),
            area=ann["area"],
            segmentation=to_rle(ann.get("segmentation"), record.height, record.width),
            iscrowd=int(ann.get("iscrowd", 0)),
        )
        for name in EXTRA_FIELDS:
            if name in ann:
                value = ann[name]
                if name == "amodal_segmentation":
                    value = to_rle(value, record.height, record.width)
                setattr(inst, name, bool(value) if name in ("ignore", "occluded") else value)
        record.instances.append(inst)
    return [records[i] for i in sorted(records)]


def _clip_fields(record: ImageRecord, image: dict[str, Any], videos: dict[Any, dict[str, Any]]) -> None:
    """A clip image's sequence and rig fields, back from simgen's (or a TAO-like) COCO image entry."""
    if "frame_id" not in image:
        return
    video = videos.get(image.get("video_id"), {})
    record.sequence = {
        "clip": image.get("clip_id", image.get("video_id", 0)),
        "frame": image["frame_id"],
        "frames": video.get("length"),
        "fps": video.get("fps"),
    }
    if "rig" in image:
        names = [c.get("name") for c in image["rig"]]
        name = image.get("camera_name")
        record.rig = {
            "camera": names.index(name) if name in names else 0,
            "name": name,
            "cameras": image["rig"],
        }


def to_rle(segmentation: Any, height: int, width: int) -> dict[str, Any]:
    """COCO segmentation in any form (RLE, uncompressed RLE, polygons, none) → compressed RLE or {}."""
    if not segmentation:
        return {}
    if isinstance(segmentation, list):
        return encode_mask(polygons_to_mask(segmentation, height, width))
    if isinstance(segmentation.get("counts"), list):  # uncompressed RLE
        from pycocotools import mask as mask_utils

        rle = mask_utils.frPyObjects(segmentation, height, width)
        return encode_mask(mask_utils.decode(rle).astype(bool))
    return {"size": list(segmentation["size"]), "counts": segmentation["counts"]}
