"""Fake builds for scale tests and bench/bench_scale.py: a few rendered images hard-linked N times.

``fake_build(template, out, n)`` makes ``out`` look exactly like a finished-but-not-merged build of ``n``
images of the template's config (same layout, valid records with sizes and hashes, the right config
hash), without rendering: image ``i`` is a hard link to template image ``i % k``. Resume, merge, audit and
export cannot tell it from a real build, which is what lets them be measured at 100k images on a laptop.
The files are hard links to the template's: to corrupt one in a test, unlink it first, never write into it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from simgen.build.layout import Layout, record_files
from simgen.build.output import load_dataset_config, prepare_output
from simgen.config.schema import SceneConfig


def scaled_config(template: Path, n: int) -> SceneConfig:
    """The template dataset's config with ``scene.num_images = n``."""
    config, _ = load_dataset_config(template)
    return config.model_copy(update={"scene": config.scene.model_copy(update={"num_images": n})})


def fake_build(template: Path, out: Path, n: int, stop: int | None = None) -> SceneConfig:
    """Images ``0..stop-1`` (default all ``n``) of an ``n``-image build, linked from ``template``."""
    config = scaled_config(template, n)
    digest = prepare_output(config, out)
    layout = Layout(n)
    sources = [json.loads(p.read_text()) for _, p in sorted(record_files(template).items())]
    made: set[Path] = set()
    for index in range(n if stop is None else stop):
        source = sources[index % len(sources)]
        record = _renamed(source, index, layout)
        record["provenance"] = {**source["provenance"], "config_hash": digest}
        old = [source["file_name"], *source["extra_files"].values()]
        new = [record["file_name"], *record["extra_files"].values()]
        for a, b in zip(old, new, strict=True):
            _link(template / a, out / b, made)
        path = layout.record(out, index)
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        path.write_text(json.dumps(record, separators=(",", ":")))
    return config


def _renamed(source: dict, index: int, layout: Layout) -> dict:
    """The source record as image ``index``: its index and every file name in the new layout."""
    ext = source["file_name"].rsplit(".", 1)[1]
    extra = {k: layout.file(k, index, v.rsplit(".", 1)[1]) for k, v in source["extra_files"].items()}
    names = dict(
        zip(
            [source["file_name"], *source["extra_files"].values()],
            [layout.file("images", index, ext), *extra.values()],
            strict=True,
        )
    )
    return {
        **source,
        "index": index,
        "file_name": names[source["file_name"]],
        "extra_files": extra,
        "files": {names[k]: v for k, v in source["files"].items()},
    }


def _link(src: Path, dst: Path, made: set[Path]) -> None:
    if dst.parent not in made:
        dst.parent.mkdir(parents=True, exist_ok=True)
        made.add(dst.parent)
    os.link(src, dst)
