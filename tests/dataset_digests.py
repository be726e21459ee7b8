"""Digests of every bundled scene's dataset at tiny settings: the proof that a refactor changed nothing.

``tests/test_dataset_digests.py`` renders each scene in ``scenes/`` and ``scenes/demos/`` (64 px wide, 1
sample, 3 images, the scene's own seed) and compares against ``tests/data/dataset_digests.json``. A change
that is meant to change datasets regenerates the file in the same commit and says why:

    .venv/bin/python tests/dataset_digests.py            # rewrite tests/data/dataset_digests.json
    .venv/bin/python tests/dataset_digests.py scenes/new.yaml   # only these scenes' entries (a new scene)

What is digested, per scene:
- ``annotations``: annotations.json, with ``info.config_hash`` left out (the hash has its own history:
  it changes when the schema gains a section, while the labels do not);
- ``specs``: the ``spec`` part of every record (every sampled value, physics-settled poses);
- ``instances``: every instance-id map, as decoded pixels (independent of the PNG encoder).
Paths inside the checkout are written as ``<repo>/...`` first, so the digests do not depend on where the
repository is cloned.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import cv2

ROOT = Path(__file__).resolve().parents[1]
DIGESTS = ROOT / "tests" / "data" / "dataset_digests.json"
NUM_IMAGES = 3
WIDTH = 64


def bundled_scenes() -> list[Path]:
    return sorted((ROOT / "scenes").glob("*.yaml")) + sorted((ROOT / "scenes" / "demos").glob("*.yaml"))


def scene_key(path: Path) -> str:
    return path.relative_to(ROOT / "scenes").as_posix()


def tiny_overrides(path: Path) -> list[str]:
    """64 px wide at the scene's aspect ratio, 1 sample, no denoiser, 3 images (a clip scene: one clip
    of 2 frames, every rig camera)."""
    from simgen.clips import cameras_per_clip
    from simgen.config import load_config

    config = load_config(path)
    width, height = config.render.resolution
    images = [f"scene.num_images={NUM_IMAGES}"]
    if config.sequence is not None:
        images = ["sequence.frames=2", f"scene.num_images={2 * cameras_per_clip(config)}"]
    elif config.rig is not None:
        images = [f"scene.num_images={cameras_per_clip(config)}"]
    return [
        f"render.resolution=[{WIDTH},{max(8, round(WIDTH * height / width))}]",
        "render.samples=1",
        "render.denoise=false",
        "render.threads=1",
        *images,
    ]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:20]


def _rounded(value: Any) -> Any:
    """Floats to 9 significant digits. numpy's exp, log and trigonometry differ in the last bit between
    CPUs (with AVX-512 or without): the same scene sampled on two machines gave FrameSpecs that differed
    only there, with identical masks and annotations. That is not a dataset change; 1e-9 relative is."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def _portable(value: Any) -> Any:
    """JSON with checkout paths made relative to ``<repo>`` and floats rounded (``_rounded``)."""
    text = json.dumps(_rounded(value), sort_keys=False)
    return text.replace(str(ROOT), "<repo>")


def dataset_digests(out: Path) -> dict[str, Any]:
    coco = json.loads((out / "annotations.json").read_text())
    coco["info"].pop("config_hash", None)
    specs, instances = [], []
    for image in sorted(coco["images"], key=lambda im: im["id"]):
        record = json.loads((out / "records" / f"{image['id']:06d}.json").read_text())
        specs.append(_sha(_portable(record["spec"]).encode()))
        ids = cv2.imread(str(out / image["instances_file"]), cv2.IMREAD_UNCHANGED)
        instances.append(_sha(f"{ids.shape}{ids.dtype}".encode() + ids.tobytes()))
    return {"annotations": _sha(_portable(coco).encode()), "specs": specs, "instances": instances}


def render_scene(path: Path, out: Path) -> dict[str, Any]:
    from simgen.build import build_dataset
    from simgen.config import load_config

    config = load_config(path, tiny_overrides(path))
    build_dataset(config, out, workers=1, progress=False)
    return dataset_digests(out)


def main(argv: list[str]) -> int:
    """Every bundled scene, or only the scene files named (their entries replaced, the rest kept)."""
    scenes = [Path(a).resolve() for a in argv] or bundled_scenes()
    results = json.loads(DIGESTS.read_text()) if argv and DIGESTS.exists() else {}
    with tempfile.TemporaryDirectory(prefix="simgen-digests-") as tmp:
        for path in scenes:
            results[scene_key(path)] = render_scene(path, Path(tmp) / scene_key(path).replace("/", "_"))
            print(scene_key(path), results[scene_key(path)]["annotations"], file=sys.stderr)
    DIGESTS.parent.mkdir(parents=True, exist_ok=True)
    DIGESTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(f"wrote {DIGESTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
