"""Shared test helpers. Tests that render import bpy lazily through ``blender_backend``."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from simgen.config import validate_config
from simgen.config.schema import SceneConfig

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = ROOT.parent / "shared" / "data" / "real"

TINY_RENDER = {"resolution": [96, 72], "samples": 2, "denoise": False, "max_bounces": 1, "threads": 2}


def make_config(**sections: Any) -> SceneConfig:
    """A validated config from keyword sections; render defaults to a tiny, fast setting."""
    raw = copy.deepcopy(sections)
    raw["render"] = {**TINY_RENDER, **raw.get("render", {})}
    return validate_config(raw)


@pytest.fixture(scope="session")
def blender() -> Any:
    """The backend module, skipping cleanly where bpy cannot be imported."""
    pytest.importorskip("bpy", reason="bpy (Blender as a Python module) is not installed")
    from simgen.backend import blender as module

    return module
