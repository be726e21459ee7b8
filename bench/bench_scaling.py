"""Scaling benchmark: images/second with 1 and 2 local workers and through a local Ray instance.

    .venv/bin/python bench/bench_scaling.py [--config scenes/tabletop.yaml] [-n 16] [--rounds 2]

Every figure is a ratio to the same scene rendered by one plain process with one Cycles thread: the
simgen render loop (render, label, write) with no pool, no Ray. Targets: >= 0.9 K for K workers on K
cores, and Ray within 5% of the local pool with the same worker count. Also measured: 1 worker x 2
threads against 2 workers x 1 thread (this picks ``--workers auto``), and a bare bpy loop (RGB only, no
passes or labels) for context.

Rates are steady-state: images finished after every worker has finished its first one, over the time
that took (startup, Blender import and Ray start-up are reported separately as end-to-end rates).
Configurations alternate across rounds so drift and other load hit all of them alike; check ``load``
in the output: on a machine that is busy with something else the ratios mean little.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def timed_runner(inner: Callable[..., None], stamps: list[float]) -> Callable[..., None]:
    """Wrap a build runner to note when each image is committed."""

    def run(config: Any, out_dir: Path, pending: list[int], on_done: Callable[[Any], None]) -> None:
        def done(result: Any) -> None:
            stamps.append(time.perf_counter())
            on_done(result)

        inner(config, out_dir, pending, done)

    return run


def simgen_run(config: Any, out_dir: Path, kind: str, workers: int, threads: int) -> dict[str, float]:
    """One build of the whole config; steady-state and end-to-end images/second."""
    from simgen.build import build_dataset, local_runner
    from simgen.farm import RayRunner

    stamps: list[float] = []
    if kind == "ray":
        inner: Callable[..., None] = RayRunner(actors=workers, threads=threads)
    else:
        inner = local_runner(workers, threads)
    start = time.perf_counter()
    build_dataset(config, out_dir, progress=False, merge=False, runner=timed_runner(inner, stamps))
    return rates(stamps, start, workers)


def rates(stamps: list[float], start: float, warm: int) -> dict[str, float]:
    steady = (len(stamps) - warm) / (stamps[-1] - stamps[warm - 1])
    return {"steady_img_s": steady, "end_to_end_img_s": len(stamps) / (stamps[-1] - start)}


def bare_run(config: Any, out_dir: Path, threads: int) -> dict[str, float]:
    """bench_render.py's bare bpy loop (set scene, render, save PNG), timed the same way."""
    spec = importlib.util.spec_from_file_location("bench_render", ROOT / "bench" / "bench_render.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    config = config.model_copy(deep=True)
    config.render.threads = threads
    start = time.perf_counter()
    times = module.bare_loop(config, list(range(config.scene.num_images)), out_dir)
    stamps = [start + sum(times[: i + 1]) for i in range(len(times))]
    return rates(stamps, start, 1)


CONFIGS = [  # (name, kind, workers, threads per worker)
    ("single_process_1t", "local", 1, 1),
    ("bare_bpy_1t", "bare", 1, 1),
    ("local_1w_x_2t", "local", 1, 2),
    ("local_2w_x_1t", "local", 2, 1),
    ("ray_1w_x_1t", "ray", 1, 1),
    ("ray_2w_x_1t", "ray", 2, 1),
]


def measure(config: Any, rounds: int, only: set[str]) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = {name: [] for name, *_ in CONFIGS if name in only}
    for round_ in range(rounds):
        for name, kind, workers, threads in CONFIGS:
            if name not in only:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                if kind == "bare":
                    run = bare_run(config, Path(tmp), threads)
                else:
                    run = simgen_run(config, Path(tmp) / "ds", kind, workers, threads)
            run["load_1min"] = os.getloadavg()[0]
            results[name].append(run)
            print(
                f"round {round_ + 1} {name:18s} {run['steady_img_s']:.3f} img/s steady, "
                f"{run['end_to_end_img_s']:.3f} end-to-end, load {run['load_1min']:.2f}",
                flush=True,
            )
    return results


TARGETS = [("local_2w_x_1t", 1.8), ("ray_1w_x_1t", 0.9), ("ray_2w_x_1t", 1.8)]  # 0.9 K for K workers


def summarize(results: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    """Medians over rounds, ratios to the single process, the targets, Ray overhead, 2x1 vs 1x2."""
    median = {name: statistics.median(r["steady_img_s"] for r in runs) for name, runs in results.items()}
    out: dict[str, Any] = {"steady_img_s": median}
    base = median.get("single_process_1t")
    if base:
        ratios = {name: rate / base for name, rate in median.items()}
        out["ratio_to_single_process_1t"] = ratios
        out["targets"] = {
            name: {"ratio": ratios[name], "target": target, "met": ratios[name] >= target}
            for name, target in TARGETS
            if name in ratios
        }
    pairs = {
        "ray_overhead_1w": ("ray_1w_x_1t", "single_process_1t"),
        "ray_overhead_2w": ("ray_2w_x_1t", "local_2w_x_1t"),
    }
    for key, (ray, local) in pairs.items():
        if ray in median and local in median:
            out[key] = {"value": 1 - median[ray] / median[local], "target": "<= 0.05"}
    if "local_1w_x_2t" in median and "local_2w_x_1t" in median:
        out["two_workers_x_1t_over_one_worker_x_2t"] = median["local_2w_x_1t"] / median["local_1w_x_2t"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default=str(ROOT / "scenes" / "tabletop.yaml"))
    parser.add_argument("-n", "--images", type=int, default=16, help="images per build")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", default=",".join(name for name, *_ in CONFIGS), help="comma-separated")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "scaling.json"))
    args = parser.parse_args()

    from simgen.config import load_config

    config = load_config(args.config, [*args.overrides, f"scene.num_images={args.images}"])
    load_before = os.getloadavg()
    results = measure(config, args.rounds, set(args.only.split(",")))
    summary = summarize(results)
    report = {
        "config": args.config,
        "overrides": args.overrides,
        "images_per_build": args.images,
        "rounds": args.rounds,
        "resolution": list(config.render.resolution),
        "samples": config.render.samples,
        "denoise": config.render.denoise,
        **summary,
        "runs": results,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
        },
    }
    print(json.dumps({k: v for k, v in summary.items()}, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
