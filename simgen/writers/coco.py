"""COCO writer: ImageRecords → one ``annotations.json`` (RLE masks, tight boxes, pixel areas).

Image ids are the global image index and annotation ids are assigned in index order, so any set of
shards merges into exactly the file a single-process build would have written.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from simgen import __version__
from simgen.labels import ImageRecord


def coco_categories(names: list[str]) -> list[dict[str, Any]]:
    return [{"id": i + 1, "name": name, "supercategory": "object"} for i, name in enumerate(names)]


def build_coco(records: Iterable[ImageRecord], categories: list[str], info: dict[str, Any]) -> dict[str, Any]:
    """A COCO dict; ``info`` carries provenance (config hash, seed, scene name).

    Deterministic: no timestamps (they live in manifest.json), so equal inputs give byte-equal files.
    """
    images, annotations = [], []
    for record in sorted(records, key=lambda r: r.index):
        images.append(
            {
                "id": record.index,
                "file_name": record.file_name,
                "width": record.width,
                "height": record.height,
                "seed": record.seed,
                **{f"{kind}_file": path for kind, path in sorted(record.extra_files.items())},
            }
        )
        for inst in record.instances:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": record.index,
                    "category_id": inst.category_id,
                    "bbox": inst.bbox,
                    "area": inst.area,
                    "segmentation": inst.segmentation,
                    "iscrowd": inst.iscrowd,
                    "instance_id": inst.instance_id,
                }
            )
    return {
        "info": {
            "description": f"simgen synthetic dataset: {info.get('scene', '')}",
            "version": __version__,
            "simgen_version": __version__,
            **info,
        },
        "licenses": [],
        "categories": coco_categories(categories),
        "images": images,
        "annotations": annotations,
    }
