"""Amodal-label benchmark: cost of projected silhouettes vs. the render, and vs. one Cycles render per object.

    .venv/bin/python bench/bench_amodal.py [--config scenes/tabletop.yaml] [-n 8] [--out FILE.json]

Per image it times (same process, same frames, the config's own render settings):
  render      Cycles render of the frame (simgen's backend, passes included)
  geometry    BlenderBackend.object_geometry (world-space triangles of the labelled objects)
  labels      label_frame with amodal on (visible + amodal masks, visibility, truncation, pose)
  visible     label_frame with amodal off (what labelling costs without the amodal fields)
  per_object  the alternative: one extra Cycles render per labelled object with every other object hidden
              (1 sample, no denoising: only its Object Index pass is needed)
and checks the projected amodal masks against those per-object renders (IoU), i.e. against what the
object looks like rendered alone.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def per_object_renders(backend, spec) -> tuple[dict[int, np.ndarray], float]:
    """Object Index masks of each labelled object rendered alone (the costly alternative)."""
    import bpy

    from simgen.backend.blender import silence_stdout

    cycles = backend.scene.cycles
    saved = (cycles.samples, cycles.use_denoising)
    cycles.samples, cycles.use_denoising = 1, False
    objects = [o for o in backend.scene.objects if o.type == "MESH"]
    masks, start = {}, time.perf_counter()
    for target in spec.labelled():
        for obj in objects:
            obj.hide_render = obj.pass_index != target.instance_id
        with silence_stdout():
            bpy.ops.render.render(write_still=False)
        masks[target.instance_id] = backend._read_result(spec).instance_ids == target.instance_id
    elapsed = time.perf_counter() - start
    for obj in objects:
        obj.hide_render = False
    cycles.samples, cycles.use_denoising = saved
    return masks, elapsed


def measure(config_path: str, n: int) -> dict:
    from simgen.backend.blender import BlenderBackend
    from simgen.config import load_config
    from simgen.config.schema import LabelPolicy
    from simgen.labels import decode_mask, label_frame
    from simgen.sampling import sample_frame

    config = load_config(config_path)
    backend = BlenderBackend(config.render)
    rows, ious = [], []
    for index in range(n):
        spec = sample_frame(config, index, mesh_bounds=backend.mesh_bounds)
        result = backend.render(spec)
        t0 = time.perf_counter()
        geometry = backend.object_geometry(spec)
        t1 = time.perf_counter()
        labels = label_frame(
            result.instance_ids, result.depth, spec, config.labels, geometry, config.keypoints
        )
        t2 = time.perf_counter()
        label_frame(result.instance_ids, result.depth, spec, LabelPolicy(amodal=False), None, None)
        t3 = time.perf_counter()
        alone, per_object = per_object_renders(backend, spec)
        for label in labels:
            amodal, rendered = decode_mask(label.amodal_segmentation), alone[label.instance_id]
            if rendered.any():
                ious.append(float((amodal & rendered).sum() / (amodal | rendered).sum()))
        rows.append(
            {
                "index": index,
                "objects": len(labels),
                "render": result.timings["render"],
                "geometry": t1 - t0,
                "labels": t2 - t1,
                "visible": t3 - t2,
                "per_object": per_object,
            }
        )
    backend.close()
    return {"rows": rows, "amodal_vs_rendered_alone_iou": ious}


def summarize(data: dict, config_path: str) -> dict:
    rows = data["rows"]
    med = {
        k: statistics.median(r[k] for r in rows)
        for k in ("render", "geometry", "labels", "visible", "per_object")
    }
    amodal = med["geometry"] + med["labels"] - med["visible"]
    ious = data["amodal_vs_rendered_alone_iou"]
    return {
        "config": _relative(config_path),
        "images": len(rows),
        "objects_per_image": statistics.median(r["objects"] for r in rows),
        "median_seconds": med,
        "amodal_ms": 1000 * amodal,
        "amodal_percent_of_render": 100 * amodal / med["render"],
        "per_object_render_percent_of_render": 100 * med["per_object"] / med["render"],
        "iou_vs_rendered_alone": {"min": min(ious), "median": statistics.median(ious), "count": len(ious)},
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def _relative(path: str) -> str:
    resolved = Path(path).resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else path


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default=str(ROOT / "scenes" / "tabletop.yaml"))
    parser.add_argument("-n", type=int, default=8)
    parser.add_argument("--out", help="JSON file for the summary (default: print only)")
    args = parser.parse_args()
    summary = summarize(measure(args.config, args.n), args.config)
    text = json.dumps(summary, indent=1)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
