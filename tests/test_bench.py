"""The benchmark scripts run end to end (tiny settings) and write their JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.blender


@pytest.mark.parametrize("scene", ["tabletop.yaml", "randomized.yaml"])
def test_render_benchmark_writes_ratio(tmp_path: Path, scene: str) -> None:
    pytest.importorskip("bpy")
    out = tmp_path / "render.json"
    tiny = [
        "--set",
        "render.resolution=[48,36]",
        "--set",
        "render.samples=1",
        "--set",
        "render.denoise=false",
    ]
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bench_render.py"),
            "--config",
            str(ROOT / "scenes" / scene),
            "-n",
            "1",
            "--rounds",
            "1",
            "--out",
            str(out),
            *tiny,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["ratio_simgen_over_bare"] > 0 and 0 <= result["outside_render_fraction"] < 10
    assert "ratio" in run.stdout
