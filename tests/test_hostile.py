"""The hostile corpus (tests/hostile/cases.yaml): bad input through the real CLI, never a traceback.

Every case runs ``simgen ...`` in a subprocess with a timeout and a memory cap, in a folder of its own
holding the files the case describes. A case passes when the command exits non-zero (or zero for the
cases marked ``ok``) within the time, prints no traceback, names the file and the field it is about on
stderr, and leaves no dataset files behind. The cases run two at a time; each is reported on its own.

Case keys:
  id          unique name
  args        the command line after ``simgen`` ({dir}: the case folder, {repo}: this repository)
  config      a scene config as YAML text, written to scene.yaml; or
  base + set  the base scene (BASE below) with --set style overrides, written to scene.yaml
  files       more files: text, or {copy: P}, {truncate: P, keep: N}, {random: N}, {empty: true},
              {symlink: P}, {repeat: TEXT, times: N}, {json: DATA}, {coco: MUTATION} (see _coco)
  expect      substrings that stderr must contain (the file, the field, the reason)
  ok          true: the command must succeed (known-good controls)
  clean       a folder that must not exist (or stay empty) afterwards; default {dir}/out for render
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from conftest import ROOT

CASES = yaml.safe_load((ROOT / "tests" / "hostile" / "cases.yaml").read_text())
TIMEOUT_S = 90
MEMORY_CAP = 8 * 2**30  # address space per command: an alias bomb or a billion instances must fail fast
BASE = f"""\
scene: {{name: hostile, seed: 1, num_images: 2}}
render: {{resolution: [32, 24], samples: 1, denoise: false, max_bounces: 1, threads: 1}}
camera: {{location: [0, -4, 2.5], look_at: [0, 0, 0.3], focal_length: 35}}
lights: [{{type: area, location: [0, -2, 4], power: 600, radius: 1}}]
world: {{color: [0.4, 0.45, 0.5], strength: 0.5}}
objects:
  - {{name: floor, shape: plane, size: 8, material: {{base_color: [0.5, 0.5, 0.5]}}}}
  - category: box
    shape: cube
    size: 0.6
    location: [0.5, 0, 0.3]
    material: {{base_color: [0.8, 0.2, 0.2], roughness: 0.5}}
  - category: star
    mesh: {ROOT}/assets/meshes/star.ply
    size: 0.6
    location: [-0.6, 0.2, 0.15]
    material: {{texture: {{type: image, images: {ROOT}/assets/textures}}}}
"""


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _expand(value: Any, folder: Path) -> Any:
    if isinstance(value, str):
        return value.replace("{dir}", str(folder)).replace("{repo}", str(ROOT))
    if isinstance(value, list):
        return [_expand(v, folder) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, folder) for k, v in value.items()}
    return value


def _make_file(path: Path, spec: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(spec, str):
        path.write_text(spec)
    elif "copy" in spec:
        path.write_bytes(Path(spec["copy"]).read_bytes())
    elif "truncate" in spec:
        path.write_bytes(Path(spec["truncate"]).read_bytes()[: spec["keep"]])
    elif "random" in spec:
        path.write_bytes(np.random.default_rng(0).integers(0, 256, spec["random"], dtype=np.uint8).tobytes())
    elif "empty" in spec:
        path.write_bytes(b"")
    elif "symlink" in spec:
        path.symlink_to(spec["symlink"])
    elif "repeat" in spec:
        path.write_text(spec["repeat"] * spec["times"])
    elif "json" in spec:
        path.write_text(json.dumps(spec["json"]))
    elif "raw" in spec:
        path.write_text(spec["raw"])
    elif "coco" in spec:
        path.write_text(json.dumps(_coco(path.parent, spec["coco"])))
    elif "chmod" in spec:
        path.mkdir(exist_ok=True)
        path.chmod(spec["chmod"])
    else:  # pragma: no cover - a typo in cases.yaml
        raise ValueError(f"unknown file spec {spec}")


def _coco(folder: Path, mutation: dict[str, Any]) -> Any:
    """A small valid COCO set (two 64x48 PNGs written next to it), then ``mutation`` applied:
    {replace: VALUE} the whole document, {set: {"annotations.0.bbox": V, ...}} fields by dotted path,
    {drop: ["images.0.width", ...]} keys removed."""
    import cv2

    (folder / "images").mkdir(parents=True, exist_ok=True)
    for k in range(2):
        cv2.imwrite(str(folder / "images" / f"{k}.png"), np.full((48, 64, 3), 90 + 40 * k, np.uint8))
    data: Any = {
        "images": [{"id": k, "file_name": f"images/{k}.png", "width": 64, "height": 48} for k in range(2)],
        "annotations": [
            {"id": k + 1, "image_id": k, "category_id": 1, "bbox": [10, 8, 20, 16], "area": 320, "iscrowd": 0}
            for k in range(2)
        ],
        "categories": [{"id": 1, "name": "box"}],
    }
    if "replace" in mutation:
        return mutation["replace"]
    for dotted, value in (mutation.get("set") or {}).items():
        node, keys = data, dotted.split(".")
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        last = keys[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    for dotted in mutation.get("drop") or []:
        node, keys = data, dotted.split(".")
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        del node[keys[-1]]
    return data


def _scene(case: dict[str, Any], folder: Path) -> None:
    if "config" in case:
        (folder / "scene.yaml").write_text(_expand(case["config"], folder))
    elif "base" in case:
        from simgen.config.loader import apply_override

        raw = yaml.safe_load(BASE)
        for override in _expand(case.get("set") or [], folder):
            apply_override(raw, override)
        (folder / "scene.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


def _run(case: dict[str, Any], root: Path) -> dict[str, Any]:
    folder = root / case["id"]
    folder.mkdir(parents=True)
    for name, spec in (case.get("files") or {}).items():
        _make_file(folder / _expand(name, folder), _expand(spec, folder))
    _scene(case, folder)
    env = {**os.environ, "SIMGEN_PIN_CPUS": "0", **_expand(case.get("env") or {}, folder)}
    args = [sys.executable, "-m", "simgen.cli", *map(str, _expand(case["args"], folder))]
    try:
        run = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            cwd=folder,
            env=env,
            preexec_fn=_limit_memory,
        )
        return {"rc": run.returncode, "stderr": run.stderr, "stdout": run.stdout, "folder": folder}
    except subprocess.TimeoutExpired as exc:
        return {"rc": None, "stderr": str(exc.stderr or ""), "stdout": "", "folder": folder}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("hostile")
    with cf.ThreadPoolExecutor(max(2, os.cpu_count() or 2)) as pool:
        futures = {case["id"]: pool.submit(_run, case, root) for case in CASES}
        return {name: future.result() for name, future in futures.items()}


def test_the_corpus_is_big_and_its_ids_unique() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert len([c for c in CASES if not c.get("ok")]) >= 150


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_hostile_case(case: dict[str, Any], results: dict[str, dict[str, Any]]) -> None:
    found = results[case["id"]]
    where = f"simgen {' '.join(map(str, case['args']))}\nstderr:\n{found['stderr'][-3000:]}"
    assert found["rc"] is not None, f"timed out after {TIMEOUT_S} s: {where}"
    assert "Traceback" not in found["stderr"], where
    if case.get("ok"):
        assert found["rc"] == 0, where
    else:
        assert found["rc"] not in (0, None), f"exit 0 on bad input: {where}"
        assert found["rc"] != 70, f"an internal error, not a clear message: {where}"
    for text in _expand(case.get("expect") or [], found["folder"]):
        assert text in found["stderr"], f"expected {text!r} in stderr: {where}"
    clean = case.get("clean", "{dir}/out" if case["args"][0] == "render" and not case.get("ok") else None)
    if clean:
        leftover = Path(_expand(clean, found["folder"]))
        kept = [p for p in leftover.rglob("*") if p.is_file()] if leftover.is_dir() else []
        assert not kept, f"a failed start left files behind: {kept[:5]}"


def test_the_base_scene_of_the_corpus_is_good(tmp_path: Path) -> None:
    (tmp_path / "scene.yaml").write_text(BASE)
    run = subprocess.run(
        [sys.executable, "-m", "simgen.cli", "validate", str(tmp_path / "scene.yaml"), "--quiet"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert run.returncode == 0, run.stderr
