"""WebDataset writer: tar shards that large training jobs stream (``--format webdataset``).

One sample per image, keyed by its index: ``000123.png`` (the RGB file as rendered, not re-encoded),
``000123.json`` (the image's COCO entry with its ``annotations`` and the ``categories``, so one sample
is self-contained), and the label maps the dataset has (``000123.instances.png``, ``000123.semantic.png``,
``000123.depth.exr``, ``000123.normals.exr``). Shards hold ``shard_size`` samples each
(``shard-000000.tar``, ...) and are written one sample at a time by ``webdataset.ShardWriter``, so memory
does not grow with the dataset. Read them with ``webdataset.WebDataset("out/shard-{000000..000099}.tar")``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from simgen.errors import SimgenError
from simgen.labels import ImageRecord
from simgen.writers.base import LabelSet, WriteOptions, Writer, by_index, staged_folder
from simgen.writers.coco import annotation_entry, image_entry

SHARD_SIZE = 1000


def sample_labels(record: ImageRecord, categories: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``.json`` part of a sample: the COCO image entry, its annotations (ids within the image) and
    the categories."""
    entry = image_entry(record)
    entry["annotations"] = [
        annotation_entry(inst, record.index, k + 1, polygons=False) for k, inst in enumerate(record.instances)
    ]
    entry["categories"] = categories
    return entry


def sample_key(record: ImageRecord) -> str:
    """The sample key: the image's file stem (no dots, which WebDataset would read as extensions)."""
    return Path(record.file_name).name.split(".", 1)[0]


class WebDatasetWriter(Writer):
    name = "webdataset"
    summary = "WebDataset tar shards: image + per-image COCO json + label maps per sample (streaming)"
    default_out = "webdataset"

    def write(self, labels: LabelSet, out: Path, options: WriteOptions) -> list[Path]:
        import webdataset as wds

        with staged_folder(out) as staging:
            pattern = str(staging / "shard-%06d.tar")
            with wds.ShardWriter(pattern, maxcount=options.shard_size or SHARD_SIZE, verbose=0) as sink:
                for record in by_index(labels.records):
                    sink.write(self._sample(labels, record))
        return [out]

    def _sample(self, labels: LabelSet, record: ImageRecord) -> dict[str, Any]:
        image = Path(record.file_name)
        sample: dict[str, Any] = {
            "__key__": sample_key(record),
            image.suffix.lstrip(".").lower(): read_dataset_file(labels.root, record.file_name),
            "json": json.dumps(sample_labels(record, labels.categories), allow_nan=False).encode(),
        }
        for kind, name in sorted(record.extra_files.items()):
            sample[f"{kind}{Path(name).suffix.lower()}"] = read_dataset_file(labels.root, name)
        return sample


def read_dataset_file(root: Path, name: str) -> bytes:
    try:
        return (root / name).read_bytes()
    except OSError as exc:
        raise SimgenError(f"{root / name}: cannot read this image of the dataset ({exc.strerror})") from None
