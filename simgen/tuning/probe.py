"""A short detector run as a measure: render a small set, train briefly, score AP on the photos given.

The gap measure is cheap but only a proxy; what a user wants is AP on real photos. A *probe* renders
``images`` images of a config at ``size`` px (the same counter-based image indices for every config, so
two probes differ only by the config), trains the evaluator's detector for ``iters`` iterations on them
and scores AP50 on the photos it is given — the tuner's photos (the training part of ``--real-split``),
never the test part. ``simgen tune --final K`` probes the best K trials and picks by AP; the gap-vs-AP
study (``bench/bench_gap_vs_ap.py``) uses probes to measure which parts of the gap predict AP.
"""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simgen.evaluate.datasets import CocoSet


@dataclass
class ProbeSettings:
    images: int = 64
    size: int = 320  # render width and the detector's input size
    samples: int = 4
    iters: int = 150
    box_scale: float = 1.0  # the photos' labelling rule, as --synthetic-box-scale
    workers: int = 1  # render processes
    device: str = "cpu"
    keep: bool = False  # keep the probe's renders and run folder (the study plots them)


def shrunk(raw: dict[str, Any], size: int, samples: int, images: int, source: Path) -> Any:
    """The raw scene dict as a validated SceneConfig rendered at ``size`` px width, ``samples`` samples,
    ``images`` images, and no extra outputs (depth, normals, writers): what tuning trials and probes
    render. Asset paths resolve against ``source``'s folder, as in the file."""
    from simgen.config.loader import resolve_asset_paths, validate_config

    data = copy.deepcopy(raw)
    width, height = (data.get("render") or {}).get("resolution", (320, 240))
    render = data.setdefault("render", {})
    render["resolution"] = [size, max(8, round(size * height / width))]
    render["samples"] = samples
    render.pop("output_size", None)
    data.setdefault("scene", {})["num_images"] = images
    data["outputs"] = {**(data.get("outputs") or {}), "formats": [], "depth": False, "normals": False}
    config = validate_config(data, source=source).with_source(source)
    resolve_asset_paths(config, base_dir=Path(source).parent, source=source)
    return config


def render_set(config: Any, folder: Path, indices: list[int], workers: int) -> CocoSet:
    """Render ``indices`` of ``config`` into ``folder`` and return them as a CocoSet (from the records,
    also written as ``folder/annotations.json`` so the evaluator can fingerprint it)."""
    from simgen.build import build_dataset
    from simgen.build.layout import Layout
    from simgen.build.records import load_record
    from simgen.errors import SimgenError
    from simgen.writers.coco import annotation_entry, image_entry

    build_dataset(config, folder, indices=indices, workers=workers, progress=False, merge=False)
    layout = Layout(config.scene.num_images)
    images, annotations, categories = [], {}, {}
    for index in indices:
        record = load_record(folder, index, layout)
        if record is None:
            raise SimgenError(f"{folder}: image {index} was not rendered")
        images.append(image_entry(record))
        annotations[record.index] = [
            annotation_entry(i, record.index, k, False) for k, i in enumerate(record.instances)
        ]
        categories |= {i.category_id: i.category for i in record.instances}
    renders = CocoSet("renders", folder / "annotations.json", images, annotations, categories, folder)
    renders.json_path.write_text(json.dumps(renders.to_coco()))
    return renders


def detector_ap(renders: CocoSet, photos: CocoSet, out: Path, settings: ProbeSettings) -> dict[str, float]:
    """Train the evaluator's default detector on ``renders`` for ``settings.iters`` iterations and score
    it on ``photos``: {"AP": ..., "AP50": ...}. Nothing of the photos is trained on."""
    from simgen.evaluate.datasets import match_categories
    from simgen.evaluate.experiments import execute
    from simgen.evaluate.settings import EvalSettings
    from simgen.evaluate.study import Run, Study

    settings_ = EvalSettings(
        synthetic=[str(renders.json_path)],
        real_test=str(photos.json_path),
        experiments=["synthetic"],
        image_size=settings.size,
        iters=settings.iters,
        synthetic_box_scale=settings.box_scale,
        out=str(out),
        device=settings.device,  # type: ignore[arg-type]
        progress=False,
        overlay_images=0,
    )
    renders.name = "synthetic:probe"
    categories = match_categories(photos, [renders], {})
    study = Study(settings_, [renders], photos, None, categories, out)
    run = Run("synthetic", "synthetic", [renders], settings.iters, num_synthetic=len(renders.images))
    bbox = execute(study, run, {})["metrics"]["bbox"]
    return {"AP": float(bbox["AP"]), "AP50": float(bbox["AP50"])}


def probe(config: Any, photos: CocoSet, folder: Path, settings: ProbeSettings) -> dict[str, Any]:
    """Render the probe set of ``config`` in ``folder``, train on it, score on ``photos``.

    Returns {"AP", "AP50", "renders": CocoSet}; the folder is deleted afterwards unless ``keep``."""
    shutil.rmtree(folder, ignore_errors=True)
    try:
        renders = render_set(config, folder / "renders", list(range(settings.images)), settings.workers)
        scores = detector_ap(renders, photos, folder / "eval", settings)
        return {**scores, "renders": renders}
    finally:
        if not settings.keep:
            shutil.rmtree(folder, ignore_errors=True)
