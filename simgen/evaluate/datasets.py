"""Reading user COCO sets (synthetic or real), matching their categories, splitting them. No torch here.

A set is either a directory holding ``annotations.json`` (simgen's output layout) or a COCO json file;
``file_name`` is relative to the json's folder (where no labels are needed, :func:`load_photos` also takes
a plain folder of photos). Annotations may have no ``segmentation`` (boxes only),
polygons, or RLE (compressed or not). Every problem is a :class:`SimgenError` naming the file and field.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simgen.errors import SimgenError
from simgen.writers.coco import COCO_JSON_NAMES, read_coco

IGNORE = ("-", "")  # --category-map NAME=- drops a training category


class DatasetError(SimgenError):
    """A COCO set that cannot be used as given."""


@dataclass
class CocoSet:
    """One COCO set in memory: images, annotations grouped by image, category names."""

    name: str
    json_path: Path
    images: list[dict[str, Any]]
    annotations: dict[int, list[dict[str, Any]]]
    categories: dict[int, str]  # COCO category id -> name
    root_dir: Path | None = None  # where file names start (the split form: above annotations/)

    @property
    def root(self) -> Path:
        return self.root_dir or self.json_path.parent

    @property
    def num_annotations(self) -> int:
        return sum(len(a) for a in self.annotations.values())

    @property
    def has_masks(self) -> bool:
        """True when every non-crowd annotation has a segmentation (so Mask R-CNN / segm AP make sense)."""
        anns = [a for group in self.annotations.values() for a in group if not a.get("iscrowd", 0)]
        return bool(anns) and all(a.get("segmentation") for a in anns)

    def image_path(self, image: dict[str, Any]) -> Path:
        return self.root / image["file_name"]

    def subset(self, image_ids: list[int], name: str) -> CocoSet:
        """The same set restricted to ``image_ids`` (order kept as given)."""
        by_id = {im["id"]: im for im in self.images}
        return CocoSet(
            name,
            self.json_path,
            [by_id[i] for i in image_ids],
            {i: self.annotations.get(i, []) for i in image_ids},
            dict(self.categories),
            self.root_dir,
        )

    def to_coco(self) -> dict[str, Any]:
        """A COCO dict (as pycocotools wants it) for exactly this set's images; fills ``area``/``iscrowd``."""
        annotations = []
        for image in self.images:
            for ann in self.annotations.get(image["id"], []):
                ann = dict(ann)
                ann.setdefault("iscrowd", 0)
                ann.setdefault("area", float(ann["bbox"][2] * ann["bbox"][3]))
                annotations.append(ann)
        categories = [{"id": i, "name": n} for i, n in sorted(self.categories.items())]
        return {
            "images": [dict(im) for im in self.images],
            "annotations": annotations,
            "categories": categories,
        }


def load_coco(path: str | Path, name: str | None = None, check_files: bool = True) -> CocoSet:
    """Load and validate a COCO set; ``name`` labels it in reports (default: folder name)."""
    try:
        coco = read_coco(path)
    except SimgenError as exc:
        raise DatasetError(str(exc)) from None
    json_path, data = coco.path, coco.data
    categories = _parse_categories(json_path, data["categories"])
    images = _parse_images(json_path, data["images"])
    annotations = _parse_annotations(
        json_path, data["annotations"], {im["id"]: im for im in images}, categories
    )
    root = coco.root
    coco_set = CocoSet(name or root.name, json_path, images, annotations, categories, root)
    if check_files:
        _check_image_files(coco_set)
    return coco_set


PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def load_photos(path: str | Path, name: str | None = None) -> CocoSet:
    """A COCO set, or a plain folder of photos without any labels (what ``simgen tune`` and
    ``simgen compare`` accept as the real side: the image statistics and the whole-image KID need no
    labels, and a team often has photos before it has annotations)."""
    path = Path(path)
    has_json = any((path / n).is_file() for n in COCO_JSON_NAMES)
    if not path.is_dir() or has_json:
        return load_coco(path, name)
    return unlabelled_photos(path, name)


def unlabelled_photos(folder: Path, name: str | None = None) -> CocoSet:
    """The photos directly in ``folder`` as a CocoSet with no categories and no annotations."""
    from simgen.fileio import image_size

    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
    if not files:
        raise DatasetError(
            f"{folder}: neither annotations.json nor photos ({', '.join(PHOTO_SUFFIXES)}) in this folder"
        )
    images = []
    for image_id, file in enumerate(files, start=1):
        size = image_size(file)
        if size is None:
            raise DatasetError(f"{file}: not a readable image (corrupt or truncated?)")
        images.append({"id": image_id, "file_name": file.name, "width": size[0], "height": size[1]})
    return CocoSet(name or folder.name, folder, images, {}, {}, folder)


def _parse_categories(json_path: Path, raw: list[Any]) -> dict[int, str]:
    categories: dict[int, str] = {}
    for i, cat in enumerate(raw):
        if (
            not isinstance(cat, dict)
            or not isinstance(cat.get("id"), int)
            or not isinstance(cat.get("name"), str)
        ):
            raise DatasetError(f"{json_path}: categories[{i}] needs an integer 'id' and a string 'name'")
        categories[cat["id"]] = cat["name"]
    if len(set(categories.values())) != len(categories):
        raise DatasetError(f"{json_path}: category names are not unique: {sorted(categories.values())}")
    if not categories:
        raise DatasetError(f"{json_path}: 'categories' is empty")
    return categories


def _parse_images(json_path: Path, raw: list[Any]) -> list[dict[str, Any]]:
    for i, image in enumerate(raw):
        missing = [
            k for k in ("id", "file_name", "width", "height") if not isinstance(image, dict) or k not in image
        ]
        if missing:
            raise DatasetError(f"{json_path}: images[{i}] is missing {', '.join(missing)}")
    ids = [im["id"] for im in raw]
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{json_path}: duplicate image ids")
    if not raw:
        raise DatasetError(f"{json_path}: 'images' is empty")
    return list(raw)


def _parse_annotations(
    json_path: Path, raw: list[Any], images: dict[int, dict[str, Any]], categories: dict[int, str]
) -> dict[int, list[dict[str, Any]]]:
    """Annotations grouped by image; every box must have an area and overlap its image.

    ``read_coco`` has checked the structure and the ids already; a box the detector cannot train on or
    be scored against (zero width, outside the image) is refused here, before any training starts. A
    box that only reaches past the border (loose labelling) is kept: the data loader clips it.
    """
    by_image: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for i, ann in enumerate(raw):
        x, y, w, h = ann["bbox"]
        image = images[ann["image_id"]]
        where = f"{json_path}: annotations[{i}].bbox {ann['bbox']}"
        if w <= 0 or h <= 0:
            raise DatasetError(f"{where}: a box needs a positive width and height")
        if x >= image["width"] or y >= image["height"] or x + w <= 0 or y + h <= 0:
            raise DatasetError(
                f"{where} lies outside its {image['width']}x{image['height']} image (id {image['id']})"
            )
        by_image[ann["image_id"]].append(ann)
    for index, ann in enumerate(a for group in by_image.values() for a in group):
        ann.setdefault("id", index + 1)
    return dict(by_image)


def _check_image_files(coco_set: CocoSet) -> None:
    """Every image file exists, decodes, and has the size its entry declares."""
    missing = [im["file_name"] for im in coco_set.images if not coco_set.image_path(im).is_file()]
    if missing:
        raise DatasetError(
            f"{coco_set.json_path}: {len(missing)} image file(s) not found relative to "
            f"{coco_set.root}, e.g. {missing[:3]}"
        )
    from simgen.fileio import image_size

    for image in coco_set.images:
        path = coco_set.image_path(image)
        size = image_size(path)
        if size is None:
            raise DatasetError(
                f"{coco_set.json_path}: images[id={image['id']}]: {path} is not a readable image"
            )
        if size != (image["width"], image["height"]):
            raise DatasetError(
                f"{coco_set.json_path}: images[id={image['id']}] declares {image['width']}x{image['height']} "
                f"but {path.name} is {size[0]}x{size[1]}"
            )


# --- categories ------------------------------------------------------------------------------------------


@dataclass
class CategoryMatch:
    """The evaluation label space: the test set's categories; label ``i + 1`` is ``names[i]``."""

    names: list[str]
    test_ids: list[int]  # the test set's COCO category id for each label
    labels: dict[str, dict[int, int]] = field(default_factory=dict)  # set name -> {category id: label}
    uncovered: dict[str, list[str]] = field(default_factory=dict)  # set name -> test names it lacks

    def label_map(self, coco_set: CocoSet) -> dict[int, int]:
        return self.labels[coco_set.name]


def parse_category_map(items: list[str] | dict[str, str] | None) -> dict[str, str]:
    """``["cube=one", "ball=-"]`` (CLI) or a dict (experiment file) -> {training name: test name}."""
    if not items:
        return {}
    if isinstance(items, dict):
        return {str(k): str(v) for k, v in items.items()}
    mapping: dict[str, str] = {}
    for item in items:
        source, sep, target = item.partition("=")
        if not sep or not source:
            raise SimgenError(
                f"--category-map {item!r}: expected TRAINING_NAME=TEST_NAME (or NAME=- to drop)"
            )
        mapping[source.strip()] = target.strip()
    return mapping


def match_categories(test: CocoSet, train_sets: list[CocoSet], mapping: dict[str, str]) -> CategoryMatch:
    """Map every training category onto a test category by name (or ``mapping``), or fail saying which.

    Fails when a training category has no test counterpart (a silent drop would hide a labelling
    mistake), when a mapping names nothing, and when a test category gets no training category at all.
    """
    names = [test.categories[i] for i in sorted(test.categories)]
    label_of = {name: i + 1 for i, name in enumerate(names)}
    match = CategoryMatch(names, sorted(test.categories))
    match.labels[test.name] = {cid: label_of[n] for cid, n in test.categories.items()}
    known = {n for s in train_sets for n in s.categories.values()}
    unused = sorted(set(mapping) - known)
    if unused:
        raise SimgenError(
            f"--category-map: no training set has a category named {', '.join(map(repr, unused))} "
            f"(training categories: {', '.join(sorted(known))})"
        )
    for train in train_sets:
        labels, unmapped = {}, []
        for cid, name in train.categories.items():
            target = mapping.get(name, name)
            if target in IGNORE:
                continue
            if target not in label_of:
                unmapped.append(name)
                continue
            labels[cid] = label_of[target]
        if unmapped:
            raise SimgenError(_unmapped_message(train, test, unmapped, mapping))
        match.labels[train.name] = labels
    for train in train_sets:
        covered_here = set(match.labels[train.name].values())
        match.uncovered[train.name] = [n for n in names if label_of[n] not in covered_here]
    train_covered = {label for t in train_sets for label in match.labels[t.name].values()}
    uncovered = [n for n in names if label_of[n] not in train_covered]
    if train_sets and uncovered:
        raise SimgenError(
            f"test categories {uncovered} (from {test.json_path}) have no training category in "
            f"{', '.join(str(t.json_path) for t in train_sets)}; add them to a training set or map one "
            f"with --category-map TRAINING_NAME=TEST_NAME"
        )
    return match


def _unmapped_message(train: CocoSet, test: CocoSet, unmapped: list[str], mapping: dict[str, str]) -> str:
    hints = []
    lower = {n.lower(): n for n in test.categories.values()}
    for name in unmapped:
        target = mapping.get(name, name)
        if target.lower() in lower:
            hints.append(f"--category-map {name}={lower[target.lower()]}")
    hint = f" (did you mean {' '.join(hints)}?)" if hints else ""
    return (
        f"{train.json_path}: categories {unmapped} of set '{train.name}' do not exist in the test set "
        f"{test.json_path} (categories: {', '.join(test.categories.values())}); map them with "
        f"--category-map TRAINING_NAME=TEST_NAME or drop them with --category-map NAME=-{hint}"
    )


# --- splitting ------------------------------------------------------------------------------------------


def _stable_key(image: dict[str, Any]) -> str:
    return hashlib.sha1(str(image["file_name"]).encode()).hexdigest()


def split_set(coco_set: CocoSet, test_fraction: float) -> tuple[CocoSet, CocoSet]:
    """Deterministic (train, test) split by hashed file name: same files, same split, any machine/order."""
    if not 0.0 < test_fraction < 1.0:
        raise SimgenError(f"--real-split {test_fraction}: must be a fraction strictly between 0 and 1")
    ordered = sorted(coco_set.images, key=_stable_key)
    n_test = max(1, round(len(ordered) * test_fraction))
    if n_test >= len(ordered):
        raise SimgenError(
            f"{coco_set.json_path}: {len(ordered)} images are too few to hold back {test_fraction}"
        )
    test_ids = sorted(im["id"] for im in ordered[:n_test])
    train_ids = sorted(im["id"] for im in ordered[n_test:])
    return coco_set.subset(train_ids, f"{coco_set.name}-train"), coco_set.subset(
        test_ids, f"{coco_set.name}-test"
    )


def nested_subset(coco_set: CocoSet, n: int) -> CocoSet:
    """The first ``n`` images in hashed order, so smaller subsets are contained in larger ones."""
    ordered = sorted(coco_set.images, key=_stable_key)[:n]
    return coco_set.subset(sorted(im["id"] for im in ordered), f"{coco_set.name}[{n}]")


# --- annotation geometry (shared by the training data and the annotation-rule report) ---------------------


def annotation_mask(ann: dict[str, Any], height: int, width: int) -> np.ndarray | None:
    """Decode a polygon / RLE segmentation to a uint8 mask, or None when the annotation has none."""
    from pycocotools import mask as mask_utils

    seg = ann.get("segmentation")
    if not seg:
        return None
    if isinstance(seg, list):  # polygons
        rles = mask_utils.frPyObjects([p for p in seg if len(p) >= 6], height, width)
        if not rles:
            return None
        rle = mask_utils.merge(rles)
    elif isinstance(seg.get("counts"), list):  # uncompressed RLE
        rle = mask_utils.frPyObjects(seg, height, width)
    else:
        rle = {
            "size": seg["size"],
            "counts": seg["counts"].encode() if isinstance(seg["counts"], str) else seg["counts"],
        }
    return mask_utils.decode(rle).astype(np.uint8)
