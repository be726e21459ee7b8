"""Scaling benchmark: images/second with 1 and 2 local workers and through a local Ray instance.

    .venv/bin/python bench/bench_scaling.py [--config scenes/tabletop.yaml] [-n 16] [--rounds 2]

Every figure is a ratio to the same scene rendered by one plain process with one Cycles thread: the
simgen render loop (render, label, write) with no pool, no Ray. Targets: >= 0.9 K for K workers on K
cores, and Ray within 5% of the local pool with the same worker count. Also measured: 1 worker x 2
threads against 2 workers x 1 thread (this picks ``--workers auto``), and a bare bpy loop (RGB only, no
passes or labels) for context.

Rates are steady-state: images finished between the moment every worker has finished its first one and
the moment the first worker runs out of work (start-up, Blender import, Ray start-up and the tail where
some workers idle are in the end-to-end rates, reported separately).
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
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def timed_runner(inner: Callable[..., None], stamps: list[float]) -> Callable[..., None]:
    """Wrap a build runner to note when each image is committed."""

    def run(config: Any, pending: list[int], on_rendered: Callable[[Any], None]) -> None:
        def done(image: Any) -> None:
            on_rendered(image)
            stamps.append(time.perf_counter())

        inner(config, pending, done)

    return run


def simgen_run(config: Any, out_dir: Path, kind: str, workers: int, threads: int) -> dict[str, Any]:
    """One build of the whole config; steady-state and end-to-end images/second."""
    from simgen.build import build_dataset, local_runner
    from simgen.build.ray import RayRunner

    stamps: list[float] = []
    if kind == "ray":
        # one image per chunk: the worst case for Ray's per-task overhead, and stamps per image
        inner: Callable[..., None] = RayRunner(actors=workers, threads=threads, chunk_size=1)
    elif kind == "ray_chunks":  # simgen's default chunking (several images per Ray task)
        inner = RayRunner(actors=workers, threads=threads)
    else:
        inner = local_runner(workers, threads)
    start = time.perf_counter()
    build_dataset(config, out_dir, progress=False, merge=False, runner=timed_runner(inner, stamps))
    return rates(stamps, start, workers)


def rates(stamps: list[float], start: float, workers: int) -> dict[str, Any]:
    """Steady state: from the moment every worker finished its first image to the moment the first one
    runs out of work (the last ``workers - 1`` images finish while some worker already idles)."""
    last = len(stamps) - workers  # index of the last completion while all workers were still busy
    steady = (last - (workers - 1)) / (stamps[last] - stamps[workers - 1])
    return {
        "steady_img_s": steady,
        "end_to_end_img_s": len(stamps) / (stamps[-1] - start),
        "stamps_s": [round(t - start, 3) for t in stamps],
    }


def bare_run(config: Any, out_dir: Path, threads: int) -> dict[str, Any]:
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


class ForeignLoad:
    """How busy the machine was with *other* work during a run, in CPUs (0 = only this benchmark ran).

    /proc/stat gives all busy CPU time; this process tree's share (pool workers, Ray's processes) is
    sampled from /proc/PID/stat a few times a second, since exited children are not counted by os.times.
    On a shared machine this says which runs can be trusted.
    """

    def __init__(self, period: float = 0.25) -> None:
        self.period, self.tick = period, os.sysconf("SC_CLK_TCK")
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_loop, daemon=True)

    def __enter__(self) -> ForeignLoad:
        self.start_busy, self.start_wall = _busy_seconds(), time.perf_counter()
        self.start_mine = _tree_cpu(os.getpid(), self.tick)[os.getpid()]
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        wall = time.perf_counter() - self.start_wall
        mine = sum(self.seen.values()) - self.start_mine
        self.cpus = max(0.0, (_busy_seconds() - self.start_busy - mine) / wall)

    def _sample_loop(self) -> None:
        while not self._stop.wait(self.period):
            self._sample()

    def _sample(self) -> None:
        for pid, cpu in _tree_cpu(os.getpid(), self.tick).items():
            self.seen[pid] = max(cpu, self.seen.get(pid, 0.0))


def _busy_seconds() -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _tree_cpu(root: int, tick: int) -> dict[int, float]:
    """CPU seconds (user + system) of ``root`` and all its descendants, by pid."""
    parent, cpu = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2 :].split()
        parent[int(entry.name)] = int(rest[1])
        cpu[int(entry.name)] = (int(rest[11]) + int(rest[12])) / tick
    tree, frontier = {root}, [root]
    while frontier:
        kids = [pid for pid, ppid in parent.items() if ppid in frontier and pid not in tree]
        tree.update(kids)
        frontier = kids
    return {pid: cpu[pid] for pid in tree if pid in cpu}


CONFIGS = [  # (name, kind, workers, threads per worker)
    ("single_process_1t", "local", 1, 1),
    ("bare_bpy_1t", "bare", 1, 1),
    ("local_1w_x_2t", "local", 1, 2),
    ("local_2w_x_1t", "local", 2, 1),
    ("local_2w_x_2t", "local", 2, 2),  # oversubscribed: each worker's threads cover every CPU (no pinning)
    ("ray_1w_x_1t", "ray", 1, 1),
    ("ray_2w_x_1t", "ray", 2, 1),
    ("ray_2w_x_1t_chunks", "ray_chunks", 2, 1),
]


def measure(config: Any, rounds: int, only: set[str]) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = {name: [] for name, *_ in CONFIGS if name in only}
    for round_ in range(rounds):
        for name, kind, workers, threads in CONFIGS:
            if name not in only:
                continue
            with tempfile.TemporaryDirectory() as tmp, ForeignLoad() as foreign:
                if kind == "bare":
                    run = bare_run(config, Path(tmp), threads)
                else:
                    run = simgen_run(config, Path(tmp) / "ds", kind, workers, threads)
            run["load_1min"] = os.getloadavg()[0]
            run["foreign_cpus"] = foreign.cpus
            results[name].append(run)
            print(
                f"round {round_ + 1} {name:18s} {run['steady_img_s']:.3f} img/s steady, "
                f"{run['end_to_end_img_s']:.3f} end-to-end, other work {foreign.cpus:.2f} CPUs",
                flush=True,
            )
    return results


TARGETS = [("local_2w_x_1t", 1.8), ("ray_1w_x_1t", 0.9), ("ray_2w_x_1t", 1.8)]  # 0.9 K for K workers


def summarize(results: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    """Medians over rounds, ratios to the single process, the targets, Ray overhead, 2x1 vs 1x2."""
    median = {name: statistics.median(r["steady_img_s"] for r in runs) for name, runs in results.items()}
    out: dict[str, Any] = {"steady_img_s": median}
    out["other_work_cpus_max"] = {n: max(r["foreign_cpus"] for r in runs) for n, runs in results.items()}
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
        "ray_overhead_2w_chunks": ("ray_2w_x_1t_chunks", "local_2w_x_1t"),
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
