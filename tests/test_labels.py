"""Label math on hand-made instance maps (no Blender)."""

from __future__ import annotations

import numpy as np
from conftest import make_config

from simgen.config.schema import LabelPolicy
from simgen.labels import ImageRecord, decode_mask, encode_mask, label_frame, semantic_map, tight_bbox
from simgen.sampling import sample_frame


def spec_with(n: int):
    config = make_config(objects=[{"shape": "cube", "category": "a", "count": n}, {"shape": "plane"}])
    return sample_frame(config, 0)


def test_tight_bbox() -> None:
    mask = np.zeros((10, 20), bool)
    mask[2:5, 3:9] = True
    assert tight_bbox(mask) == [3, 2, 6, 3]
    assert tight_bbox(np.zeros((4, 4), bool)) == [0, 0, 0, 0]


def test_rle_round_trip() -> None:
    rng = np.random.default_rng(0)
    mask = rng.random((37, 53)) > 0.6
    rle = encode_mask(mask)
    assert isinstance(rle["counts"], str) and rle["size"] == [37, 53]
    assert np.array_equal(decode_mask(rle), mask)


def test_label_frame_areas_boxes_and_min_pixels() -> None:
    spec = spec_with(3)
    ids = np.zeros((20, 30), np.uint16)
    ids[1:4, 2:6] = 1  # 12 px
    ids[10:20, 0:30] = 2  # 300 px, touches the border
    ids[5, 5] = 3  # a single pixel
    labels = label_frame(ids, None, spec)
    assert [(x.instance_id, x.area, x.bbox) for x in labels] == [
        (1, 12, [2, 1, 4, 3]),
        (2, 300, [0, 10, 30, 10]),
        (3, 1, [5, 5, 1, 1]),
    ]
    assert [x.instance_id for x in label_frame(ids, None, spec, LabelPolicy(min_visible_pixels=2))] == [1, 2]


def test_invisible_instances_are_dropped() -> None:
    spec = spec_with(2)
    ids = np.zeros((8, 8), np.uint16)
    ids[0, 0] = 2
    assert [x.instance_id for x in label_frame(ids, None, spec)] == [2]


def test_semantic_map() -> None:
    spec = spec_with(2)
    ids = np.array([[0, 1], [2, 0]], np.uint16)
    assert semantic_map(ids, spec).tolist() == [[0, 1], [1, 0]]


def test_record_round_trip() -> None:
    spec = spec_with(1)
    ids = np.zeros((5, 5), np.uint16)
    ids[1:3, 1:3] = 1
    record = ImageRecord(
        index=0,
        seed=1,
        width=5,
        height=5,
        file_name="images/000000.png",
        instances=label_frame(ids, None, spec),
        spec=spec.to_dict(),
    )
    assert ImageRecord.from_dict(record.to_dict()) == record
