"""outputs.boxes_3d: oriented 3D boxes, their projected corners, the KITTI export, the audit hull check."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import make_config

from simgen.writers.kitti import kitti_box

WIDTH, HEIGHT, FOV, DISTANCE, YAW = 160, 120, 50.0, 5.0, 30.0
SIZE = (1.0, 0.5, 0.3)  # the box's extents along its own x, y, z
CENTER = (0.2, 0.0, 0.5)


def _scene(**extra) -> object:
    """A 1 x 0.5 x 0.3 m box turned 30° about the vertical, seen level from 5 m along +y."""
    return make_config(
        scene={"num_images": 1},
        render={"resolution": [WIDTH, HEIGHT], "samples": 1, "max_bounces": 0},
        camera={"location": [0, -DISTANCE, 0.5], "look_at": [0, 0, 0.5], "fov": FOV},
        lights=[{"type": "sun", "power": 3, "location": [1, -3, 5], "look_at": [0, 0, 0]}],
        objects=[
            {
                "shape": "cube",
                "category": "box",
                "size": 1.0,
                "scale": [1.0, 0.5, 0.3],
                "location": list(CENTER),
                "rotation": [0, 0, YAW],
            }
        ],
        outputs={"boxes_3d": True},
        **extra,
    )


def _analytic_corners() -> tuple[np.ndarray, np.ndarray]:
    """The box's 8 world corners (x slowest) and their pinhole projections, computed from scratch."""
    yaw = math.radians(YAW)
    turn = np.array([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]])
    half = np.array(SIZE) / 2
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    world = (signs * half) @ turn.T + np.array(CENTER)
    # the camera looks along +y from y = -5: image x = world x, image down = world -z, depth = y + 5
    fx = WIDTH / 2 / math.tan(math.radians(FOV / 2))
    depth = world[:, 1] + DISTANCE
    u = fx * world[:, 0] / depth + WIDTH / 2
    v = fx * -(world[:, 2] - 0.5) / depth + HEIGHT / 2
    return world, np.c_[u, v]


@pytest.mark.blender
def test_projected_corners_of_a_known_box_match_the_analytic_projection(blender, tmp_path: Path) -> None:
    from simgen.build.builder import build_dataset
    from simgen.labels import ImageRecord
    from simgen.writers import get_writer, open_dataset
    from simgen.writers.base import WriteOptions

    config = _scene()
    build_dataset(config, tmp_path / "ds", workers=1)
    labels = open_dataset(tmp_path / "ds")
    record: ImageRecord = labels.records[0]
    box = record.instances[0].box3d
    _, expected = _analytic_corners()
    assert np.abs(np.array(box["corners"]).reshape(8, 2) - expected).max() < 1.0
    assert box["size"] == pytest.approx(SIZE, abs=1e-6)
    assert box["center"] == pytest.approx((CENTER[0], 0.0, DISTANCE + CENTER[1]), abs=1e-6)
    x, y, w, h = record.instances[0].bbox  # the rendered mask lies inside the corners' hull, and fills it
    assert x >= expected[:, 0].min() - 1 and x + w <= expected[:, 0].max() + 1
    assert y >= expected[:, 1].min() - 1 and y + h <= expected[:, 1].max() + 1
    dims, bottom, rotation_y = kitti_box(box)
    assert dims == pytest.approx([0.3, 0.5, 1.0], abs=1e-6)  # KITTI h, w, l
    assert bottom == pytest.approx([0.2, 0.15, 5.0], abs=1e-6)  # bottom-face center, camera y down
    assert math.degrees(rotation_y) == pytest.approx(-YAW, abs=1e-6)
    get_writer("kitti").write(labels, tmp_path / "kitti", WriteOptions())
    fields = (tmp_path / "kitti" / "label_2" / "000000.txt").read_text().split()
    assert fields[0] == "box" and [float(v) for v in fields[8:15]] == pytest.approx(
        [0.3, 0.5, 1.0, 0.2, 0.15, 5.0, math.radians(-YAW)], abs=1e-3
    )
    calib = (tmp_path / "kitti" / "calib" / "000000.txt").read_text().splitlines()
    p2 = np.array(calib[2].split()[1:], dtype=float).reshape(3, 4)
    assert p2[:, :3] == pytest.approx(np.array(record.camera["K"]))


def test_the_audit_finds_a_box_whose_corners_miss_the_mask(tmp_path: Path) -> None:
    """A corrupted box3d (corners shifted off the object) is reported by simgen audit."""
    from simgen.audit import AuditReport, _check_box3d

    mask = np.zeros((60, 80), dtype=bool)
    mask[20:40, 30:50] = True
    corners = [30, 20, 30, 40, 50, 20, 50, 40, 29, 19, 29, 41, 51, 19, 51, 41]
    good = {"box3d": {"corners": corners, "corners_depth": [1.0] * 8, "size": [1, 1, 1]}}
    report = AuditReport(tmp_path / "a.json")
    _check_box3d(good, mask, 60, 80, "ann", report)
    assert report.ok
    shifted = {"box3d": {**good["box3d"], "corners": [c + 15 * (i % 2 == 0) for i, c in enumerate(corners)]}}
    _check_box3d(shifted, mask, 60, 80, "ann", report)
    assert not report.ok and "outside the projected 3D box" in report.describe()
