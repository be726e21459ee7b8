"""Every bundled scene still renders the dataset it rendered when the digests were recorded.

A refactor must leave these byte-identical; a change meant to change datasets regenerates
tests/data/dataset_digests.json (``python tests/dataset_digests.py``) in the same commit and says why.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dataset_digests import DIGESTS, bundled_scenes, render_scene, scene_key

pytestmark = pytest.mark.blender

EXPECTED = json.loads(DIGESTS.read_text())


def test_every_bundled_scene_has_digests() -> None:
    assert sorted(EXPECTED) == sorted(scene_key(p) for p in bundled_scenes())


@pytest.mark.parametrize("scene", bundled_scenes(), ids=scene_key)
def test_scene_dataset_is_unchanged(scene: Path, tmp_path: Path) -> None:
    pytest.importorskip("bpy")
    found = render_scene(scene, tmp_path / "ds")
    expected = EXPECTED[scene_key(scene)]
    assert found["instances"] == expected["instances"], "instance maps changed"
    assert found["specs"] == expected["specs"], "sampled FrameSpecs (records' spec) changed"
    assert found["annotations"] == expected["annotations"], "annotations.json changed"
