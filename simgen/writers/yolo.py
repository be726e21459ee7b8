"""YOLO (Ultralytics) txt labels + data.yaml: detect, segment and pose, and a reader for all three.

One folder per task (Ultralytics finds ``labels/X.txt`` by replacing ``images`` with ``labels`` in an
image's path): ``images/`` (links to the dataset's images), ``labels/`` (one line per instance, coordinates
normalized to [0, 1]) and ``data.yaml`` (no ``path`` key, so it resolves relative to itself).

YOLO has no crowd/ignore flag: ignore annotations go to ``ignore/X.txt`` in the same format, which
trainers do not read and ``read_yolo`` restores as ``iscrowd=1``. Segment lines hold one polygon per
instance; parts and holes are joined with zero-width bridges (``simgen.polygons``), so masks come back
pixel-exact. A ``simgen:`` block in data.yaml keeps category ids, keypoint names, image ids and sizes
so the reader restores them; plain YOLO folders without it are read too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from simgen.errors import SimgenError
from simgen.fileio import link_image, write_text_atomic
from simgen.labels import ImageRecord, InstanceLabel, decode_mask, encode_mask, tight_bbox
from simgen.polygons import join_polygons, mask_to_polygons, polygons_to_mask
from simgen.writers.base import LabelSet, WriteOptions, Writer, by_index

TASKS = ("detect", "segment", "pose")
DIGITS = 6


def label_stem(file_name: str) -> str:
    """A flat, unique label file stem for an image path ('images/a/b.png' → 'a__b')."""
    rel = file_name[len("images/") :] if file_name.startswith("images/") else file_name
    return os.path.splitext(rel)[0].replace("/", "__")


def num_keypoints(categories: list[dict[str, Any]]) -> int:
    return max((len(c.get("keypoints", [])) for c in categories), default=0)


def write_yolo(
    records: list[ImageRecord],
    categories: list[dict[str, Any]],
    out_dir: str | Path,
    task: str,
    image_root: str | Path | None = None,
) -> Path:
    """Write one YOLO task folder; images are linked (copied where links are unsupported)."""
    if task not in TASKS:
        raise SimgenError(f"--task {task!r}: expected one of {', '.join(TASKS)}")
    out = Path(out_dir)
    cats = sorted(categories, key=lambda c: c["id"])
    class_of = {c["id"]: k for k, c in enumerate(cats)}
    kpts = num_keypoints(cats)
    if task == "pose" and kpts == 0:
        raise SimgenError(f"{out}: task pose needs categories with keypoints (config: keypoints)")
    meta_images = {}
    for record in by_index(records):
        stem = label_stem(record.file_name)
        lines: dict[bool, list[str]] = {False: [], True: []}
        for inst in record.instances:
            line = _line(inst, task, record, class_of, kpts)
            lines[bool(inst.iscrowd)].append(line)
        write_text_atomic(out / "labels" / f"{stem}.txt", "".join(f"{x}\n" for x in lines[False]))
        if lines[True]:
            write_text_atomic(out / "ignore" / f"{stem}.txt", "".join(f"{x}\n" for x in lines[True]))
        if image_root is not None:
            link_image(
                Path(image_root) / record.file_name, out / "images" / f"{stem}{Path(record.file_name).suffix}"
            )
        meta_images[stem] = {"id": record.index, "width": record.width, "height": record.height}
    write_text_atomic(out / "data.yaml", _data_yaml(cats, task, kpts, meta_images))
    return out


def _line(inst: InstanceLabel, task: str, record: ImageRecord, class_of: dict[int, int], kpts: int) -> str:
    if inst.category_id not in class_of:
        raise SimgenError(f"{record.file_name}: category_id {inst.category_id} is not a known category")
    w, h = record.width, record.height
    values: list[float] = []
    if task == "segment":
        if not inst.segmentation:
            raise SimgenError(f"{record.file_name}: instance {inst.instance_id} has no mask for task segment")
        ring = np.asarray(join_polygons(mask_to_polygons(decode_mask(inst.segmentation))))
        values = (ring.reshape(-1, 2) / [w, h]).ravel().tolist()
    else:
        x, y, bw, bh = inst.bbox
        values = [(x + bw / 2) / w, (y + bh / 2) / h, bw / w, bh / h]
    if task == "pose":
        points = list(inst.keypoints or [])
        points += [0.0] * (3 * kpts - len(points))
        for k in range(kpts):
            px, py, v = points[3 * k : 3 * k + 3]
            values += [px / w, py / h] if v else [0.0, 0.0]
            values.append(float(v))
    text = " ".join(_num(v) for v in values)
    return f"{class_of[inst.category_id]} {text}"


def _num(v: float) -> str:
    text = f"{v:.{DIGITS}f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _data_yaml(cats: list[dict[str, Any]], task: str, kpts: int, images: dict[str, Any]) -> str:
    data: dict[str, Any] = {
        "train": "images",
        "val": "images",
        "nc": len(cats),
        "names": {k: c["name"] for k, c in enumerate(cats)},
    }
    if task == "pose":
        data["kpt_shape"] = [kpts, 3]
        data["flip_idx"] = list(range(kpts))  # no left/right pairs are known: flipping keeps the order
    data["simgen"] = {"task": task, "categories": cats, "images": images}
    header = f"# YOLO {task} labels written by simgen; ignore/ holds iscrowd (ignore) regions\n"
    return header + yaml.safe_dump(data, sort_keys=False)


class YoloWriter(Writer):
    name = "yolo"
    summary = (
        "Ultralytics YOLO txt + data.yaml, one folder per task (detect, segment, pose); ignore/ keeps crowd"
    )
    default_out = "yolo"
    reads = True

    def write(self, labels: LabelSet, out: Path, options: WriteOptions) -> list[Path]:
        tasks = _tasks(options.task, labels.categories)
        return [write_yolo(labels.records, labels.categories, out / t, t, labels.root) for t in tasks]

    def claims(self, path: Path) -> bool:
        return path.is_dir() and (path / "data.yaml").is_file() and not (path / "annotations.json").is_file()

    def read(self, path: Path) -> LabelSet:
        records, categories = read_yolo(path)
        return LabelSet(records, categories, path, {"source": f"yolo:{path.name}"}, path)


def _tasks(task: str, categories: list[dict[str, Any]]) -> list[str]:
    if task == "all":
        return [t for t in TASKS if t != "pose" or num_keypoints(categories) > 0]
    if task not in TASKS:
        raise SimgenError(f"--task {task!r}: expected all or one of {', '.join(TASKS)}")
    return [task]


# -- reading --------------------------------------------------------------------------------------
def read_yolo(folder: str | Path) -> tuple[list[ImageRecord], list[dict[str, Any]]]:
    """Records (image ids, sizes and categories from data.yaml's simgen block when present) + categories."""
    folder = Path(folder)
    yaml_path = folder / "data.yaml"
    try:
        data = yaml.safe_load(yaml_path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SimgenError(f"{yaml_path}: not a readable YOLO data.yaml ({exc})") from None
    meta = data.get("simgen") or {}
    cats = meta.get("categories") or _categories_from_names(data.get("names", {}), yaml_path)
    kpt_shape = data.get("kpt_shape")
    kpts = int(kpt_shape[0]) if kpt_shape else 0
    images = {p.stem: p for p in sorted((folder / "images").glob("*")) if p.suffix}
    stems = sorted({p.stem for p in (folder / "labels").glob("*.txt")} | set(images))
    records = []
    for position, stem in enumerate(stems):
        info = (meta.get("images") or {}).get(stem) or _image_info(images.get(stem), position, yaml_path)
        image = images.get(stem)
        record = ImageRecord(
            index=int(info["id"]),
            seed=0,
            width=int(info["width"]),
            height=int(info["height"]),
            file_name=f"images/{image.name}" if image else f"images/{stem}.png",
        )
        for crowd, sub in ((0, "labels"), (1, "ignore")):
            path = folder / sub / f"{stem}.txt"
            if path.is_file():
                for n, line in enumerate(path.read_text().splitlines()):
                    if line.strip():
                        where = f"{path}:{n + 1}"
                        inst = _parse(line, record, cats, kpts, meta.get("task"), crowd, where)
                        record.instances.append(inst)
        for k, inst in enumerate(record.instances):
            inst.instance_id = k + 1
        records.append(record)
    return sorted(records, key=lambda r: r.index), cats


def _categories_from_names(names: Any, yaml_path: Path) -> list[dict[str, Any]]:
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise SimgenError(f"{yaml_path}: 'names' must list the class names")
    return [{"id": int(k) + 1, "name": str(v), "supercategory": "object"} for k, v in sorted(names.items())]


def _image_info(image: Path | None, position: int, yaml_path: Path) -> dict[str, int]:
    pixels = cv2.imread(str(image), cv2.IMREAD_UNCHANGED) if image is not None else None
    if pixels is None:
        raise SimgenError(f"{yaml_path.parent}: image for labels #{position} is missing or unreadable")
    stem = image.stem if image is not None else ""
    return {
        "id": int(stem) if stem.isdigit() else position,
        "width": pixels.shape[1],
        "height": pixels.shape[0],
    }


def _parse(
    line: str,
    record: ImageRecord,
    cats: list[dict[str, Any]],
    kpts: int,
    task: str | None,
    crowd: int,
    where: str,
) -> InstanceLabel:
    """One label line; the task comes from data.yaml's simgen block, else from the number count."""
    tokens = line.split()
    try:
        cls, values = int(tokens[0]), [float(t) for t in tokens[1:]]
    except (ValueError, IndexError):
        raise SimgenError(f"{where}: not a YOLO label line: {line!r}") from None
    if not 0 <= cls < len(cats):
        raise SimgenError(f"{where}: class {cls} is not in data.yaml names (0..{len(cats) - 1})")
    w, h = record.width, record.height
    inst = InstanceLabel(
        instance_id=0,
        category_id=cats[cls]["id"],
        category=cats[cls]["name"],
        bbox=[0, 0, 0, 0],
        area=0,
        segmentation={},
        iscrowd=crowd,
        ignore=bool(crowd),
    )
    task = task or ("detect" if len(values) == 4 else "pose" if kpts and len(values) == 4 + 3 * kpts else "")
    if task in ("detect", "pose") and len(values) == 4 + (3 * kpts if task == "pose" else 0):
        cx, cy, bw, bh = values[:4]
        inst.bbox = [_px((cx - bw / 2) * w), _px((cy - bh / 2) * h), _px(bw * w), _px(bh * h)]
        inst.area = inst.bbox[2] * inst.bbox[3]
        if len(values) > 4:
            _parse_keypoints(inst, values[4:], w, h, cats[cls])
    elif task in ("segment", "") and len(values) >= 6 and len(values) % 2 == 0:
        ring = (np.asarray(values).reshape(-1, 2) * [w, h]).ravel().tolist()
        mask = polygons_to_mask([ring], h, w)
        inst.segmentation, inst.bbox, inst.area = encode_mask(mask), tight_bbox(mask), int(mask.sum())
    else:
        raise SimgenError(f"{where}: {len(values)} numbers fit neither detect, segment nor pose (K={kpts})")
    return inst


def _parse_keypoints(inst: InstanceLabel, values: list[float], w: int, h: int, cat: dict[str, Any]) -> None:
    count = len(cat.get("keypoints", [])) or len(values) // 3
    flat: list[float] = []
    for k in range(count):
        x, y, v = values[3 * k : 3 * k + 3]
        flat += [round(x * w, 3), round(y * h, 3), int(v)] if v else [0, 0, 0]
    inst.keypoints = flat
    inst.num_keypoints = sum(1 for k in range(count) if flat[3 * k + 2])


def _px(v: float) -> float | int:
    """Pixel values back from normalized ones: integers where they were integers."""
    return round(v) if abs(v - round(v)) < 1e-3 else round(v, 3)
