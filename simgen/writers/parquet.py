"""Parquet writer (``--format parquet``): one row per image, the table Hugging Face ``datasets`` loads.

Files ``train-00000-of-00004.parquet`` ... of ``shard_size`` rows each (default 10,000), written in row
groups of 256 by ``pyarrow.parquet.ParquetWriter`` as the records come, so memory does not grow with the
dataset. Columns:

- ``image``: ``{bytes, path}``, the RGB file as rendered: the layout of ``datasets.Image`` (the schema
  carries the ``huggingface`` features metadata, so ``load_dataset("parquet", ...)`` decodes it);
- ``image_id``, ``file_name``, ``width``, ``height``, ``seed``;
- ``objects``: per annotation ``id``, ``category_id``, ``category``, ``bbox`` (COCO x, y, w, h), ``area``,
  ``iscrowd``, ``segmentation`` (COCO RLE ``{size, counts}``), ``visibility`` (null where unset);
- ``labels_json``: the image's full COCO entry and annotations (amodal masks, keypoints, pose, camera),
  as in the WebDataset samples, so nothing simgen knows is lost.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from simgen.labels import ImageRecord
from simgen.writers.base import LabelSet, WriteOptions, Writer, by_index, staged_folder
from simgen.writers.webdataset import read_dataset_file, sample_labels

ROWS_PER_FILE = 10_000
ROW_GROUP = 256


def parquet_schema() -> Any:
    import pyarrow as pa

    obj = pa.struct(
        [
            ("id", pa.int64()),
            ("category_id", pa.int64()),
            ("category", pa.string()),
            ("bbox", pa.list_(pa.float64(), 4)),
            ("area", pa.float64()),
            ("iscrowd", pa.int8()),
            ("segmentation", pa.struct([("size", pa.list_(pa.int64(), 2)), ("counts", pa.string())])),
            ("visibility", pa.float64()),
        ]
    )
    schema = pa.schema(
        [
            ("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
            ("image_id", pa.int64()),
            ("file_name", pa.string()),
            ("width", pa.int32()),
            ("height", pa.int32()),
            ("seed", pa.int64()),
            ("objects", pa.list_(obj)),
            ("labels_json", pa.string()),
        ]
    )
    features = {"image": {"_type": "Image"}}
    return schema.with_metadata({"huggingface": json.dumps({"info": {"features": features}})})


def parquet_row(labels: LabelSet, record: ImageRecord) -> dict[str, Any]:
    return {
        "image": {"bytes": read_dataset_file(labels.root, record.file_name), "path": record.file_name},
        "image_id": record.index,
        "file_name": record.file_name,
        "width": record.width,
        "height": record.height,
        "seed": record.seed,
        "objects": [
            {
                "id": k + 1,
                "category_id": inst.category_id,
                "category": inst.category,
                "bbox": [float(v) for v in inst.bbox],
                "area": float(inst.area),
                "iscrowd": int(inst.iscrowd),
                "segmentation": inst.segmentation or None,
                "visibility": inst.visibility,
            }
            for k, inst in enumerate(record.instances)
        ],
        "labels_json": json.dumps(sample_labels(record, []), allow_nan=False),
    }


class ParquetWriter(Writer):
    name = "parquet"
    summary = "Parquet tables (Hugging Face datasets layout): image bytes + objects per row (streaming)"
    default_out = "parquet"

    def write(self, labels: LabelSet, out: Path, options: WriteOptions) -> list[Path]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = parquet_schema()
        per_file = options.shard_size or ROWS_PER_FILE
        files = max(1, math.ceil(len(labels.records) / per_file))
        with staged_folder(out) as staging:
            rows = (parquet_row(labels, r) for r in by_index(labels.records))
            for number, chunk in enumerate(_chunks(rows, per_file)):
                path = staging / f"train-{number:05d}-of-{files:05d}.parquet"
                with pq.ParquetWriter(path, schema, compression="zstd") as sink:
                    for group in _chunks(chunk, ROW_GROUP):
                        sink.write_table(pa.Table.from_pylist(list(group), schema=schema))
        return [out]


def _chunks(items: Iterator[Any], size: int) -> Iterator[Iterator[Any]]:
    """Consecutive runs of ``size`` items, each consumed lazily (nothing is held beyond one run)."""
    items = iter(items)
    for first in items:
        yield _take(first, items, size)


def _take(first: Any, items: Iterator[Any], size: int) -> Iterator[Any]:
    yield first
    for _, item in zip(range(size - 1), items, strict=False):
        yield item
