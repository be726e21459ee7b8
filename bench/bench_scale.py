"""Bookkeeping at scale: resume scan, merge and export of fake builds of 10k, 50k and 100k images.

    .venv/bin/python bench/bench_scale.py [--sizes 10000 50000 100000] [--work /tmp/simgen-scale]
    .venv/bin/python bench/bench_scale.py --real 2000      # also: a real tiny render, 4 shards, kill -9

A fake build (tests/fake_build.py) hard-links 8 rendered tabletop images N times with valid records, so
nothing is rendered and only the bookkeeping is measured. Each phase runs in its own process, so its
peak RSS is its own: the resume scan (``scan_done``, what every shard does at start), the merge
(annotations.json + manifest.json + BOP, streamed) and the WebDataset export. Reported per size: seconds,
peak RSS, per-image cost, and the straight-line extrapolation to 1M images. Targets at 100k: resume scan
<= 10 s, merge <= 60 s, peak RSS <= 1 GB and not growing with N.

``--real N`` renders N images at 64 px / 1 sample in 4 shard processes into one folder, kills one shard
with SIGKILL half-way, reruns it, merges, and checks the result equals a one-shot build of the same
config (annotations.json bytes, every record's spec). Results go to bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
TEMPLATE_OVERRIDES = ["render.resolution=[160,120]", "render.samples=4", "render.denoise=false"]
TINY = ["render.resolution=[64,48]", "render.samples=1", "render.denoise=false", "render.threads=1"]


def run_phase(phase: str, folder: Path, n: int) -> dict[str, Any]:
    """One phase in a fresh process: (seconds, peak RSS in MB)."""
    bench = str(ROOT / "bench")
    code = f"import sys; sys.path.insert(0, {bench!r}); import bench_scale; bench_scale._phase()"
    proc = subprocess.run(
        [sys.executable, "-c", code, phase, str(folder), str(n)], capture_output=True, text=True, timeout=3600
    )
    if proc.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _phase() -> None:
    """Child process body: run one phase, print its JSON figures."""
    phase, folder, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    from simgen.build.layout import Layout
    from simgen.build.merge import merge_dataset
    from simgen.build.output import load_dataset_config
    from simgen.build.records import scan_done

    config, _ = load_dataset_config(folder)
    base_rss = _peak_rss_mb()
    start = time.perf_counter()
    if phase == "scan":
        done = len(scan_done(folder, Layout(n), range(n)))
        assert done == n, f"{done} of {n} done"
    elif phase == "merge":
        assert merge_dataset(config, folder) is not None
    elif phase == "export":
        from simgen.writers import export, open_dataset

        export(open_dataset(folder, stream=True), "webdataset", folder.parent / f"wds-{n}")
    seconds = time.perf_counter() - start
    figures = {"seconds": round(seconds, 3), "peak_rss_mb": _peak_rss_mb(), "import_rss_mb": base_rss}
    print(json.dumps(figures))


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def make_template(work: Path) -> Path:
    template = work / "template"
    if not (template / "annotations.json").is_file():
        shutil.rmtree(template, ignore_errors=True)
        cmd = [sys.executable, "-m", "simgen.cli", "render", str(ROOT / "scenes" / "tabletop.yaml")]
        cmd += ["--out", str(template), "-n", "8", "--no-progress", "--workers", "1"]
        for item in TEMPLATE_OVERRIDES:
            cmd += ["--set", item]
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    return template


def bench_size(template: Path, work: Path, n: int) -> dict[str, Any]:
    from fake_build import fake_build

    folder = work / f"fake-{n}"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(work / f"wds-{n}", ignore_errors=True)
    start = time.perf_counter()
    fake_build(template, folder, n)
    made = time.perf_counter() - start
    row: dict[str, Any] = {"images": n, "fake_build_seconds": round(made, 1)}
    for phase in ("scan", "merge", "export"):
        figures = run_phase(phase, folder, n)
        row[phase] = {
            **figures,
            "ms_per_image": round(1000 * figures["seconds"] / n, 4),
            "extrapolated_1m_seconds": round(figures["seconds"] * 1_000_000 / n, 0),
        }
        print(f"  {n:>7,} {phase:<7} {figures['seconds']:8.2f} s  peak RSS {figures['peak_rss_mb']:7.1f} MB")
    row["annotations_json_mb"] = round((folder / "annotations.json").stat().st_size / 2**20, 1)
    row["largest_folder_entries"] = max(len(os.listdir(p)) for p in _folders(folder))
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(work / f"wds-{n}", ignore_errors=True)
    return row


def _folders(root: Path) -> list[Path]:
    return [Path(d) for d, _, _ in os.walk(root)]


# -- the real thing at small N -----------------------------------------------------------------------
def real_sharded_build(work: Path, n: int, shards: int = 4) -> dict[str, Any]:
    """N tiny images in ``shards`` processes into one folder, one of them SIGKILLed half-way and rerun;
    the merged dataset must equal a one-shot build."""
    sharded, single = work / "real-sharded", work / "real-single"
    for folder in (sharded, single):
        shutil.rmtree(folder, ignore_errors=True)
    scene = str(ROOT / "scenes" / "tabletop.yaml")
    base = [sys.executable, "-m", "simgen.cli", "render", scene, "-n", str(n)]
    base += [arg for item in TINY for arg in ("--set", item)] + ["--no-progress", "--workers", "1"]
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [*base, "--out", str(sharded), "--shard", f"{i}/{shards}"], stdout=subprocess.DEVNULL
        )
        for i in range(shards)
    ]
    victim, per_shard = procs[1], n // shards
    while _records_in_range(sharded, per_shard, 2 * per_shard) < per_shard // 2:
        time.sleep(0.5)
    victim.send_signal(signal.SIGKILL)
    killed_at = _records_in_range(sharded, per_shard, 2 * per_shard)
    for proc in procs:
        proc.wait()
    again = [*base, "--out", str(sharded), "--shard", f"1/{shards}"]
    rerun = subprocess.run(again, capture_output=True, text=True)
    sharded_seconds = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run([*base, "--out", str(single), "--workers", "2"], check=True, capture_output=True)
    single_seconds = time.perf_counter() - start
    same_coco = _coco_bytes(sharded) == _coco_bytes(single)
    same_specs = all(_spec(sharded, i) == _spec(single, i) for i in range(n))
    result = {
        "images": n,
        "shards": shards,
        "killed_shard_had": killed_at,
        "rerun_rendered": rerun.stdout.split(" image(s) rendered")[0].rsplit(" ", 1)[-1],
        "sharded_seconds": round(sharded_seconds, 1),
        "one_shot_seconds": round(single_seconds, 1),
        "annotations_identical": same_coco,
        "specs_identical": same_specs,
    }
    print(f"  real: {json.dumps(result)}")
    for folder in (sharded, single):
        shutil.rmtree(folder, ignore_errors=True)
    return result


def _records_in_range(folder: Path, lo: int, hi: int) -> int:
    from simgen.build.layout import recorded_indices

    return sum(lo <= i < hi for i in recorded_indices(folder))


def _coco_bytes(folder: Path) -> bytes:
    return (folder / "annotations.json").read_bytes()


def _spec(folder: Path, index: int) -> Any:
    from simgen.build.layout import record_files

    return json.loads(record_files(folder)[index].read_text())["spec"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/simgen-scale"))
    parser.add_argument("--real", type=int, default=0, metavar="N", help="also the real sharded build")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale.json")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    template = make_template(args.work)
    rows = [bench_size(template, args.work, n) for n in args.sizes]
    result: dict[str, Any] = {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "template": "scenes/tabletop.yaml, 8 images, " + ", ".join(TEMPLATE_OVERRIDES),
        "sizes": rows,
        "rss_growth_mb_per_100k": _growth(rows),
    }
    if args.real:
        result["real"] = real_sharded_build(args.work, args.real)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


def _growth(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Peak-RSS slope between the smallest and the largest size, per 100k images, per phase."""
    if len(rows) < 2:
        return {}
    a, b = rows[0], rows[-1]
    span = (b["images"] - a["images"]) / 100_000
    phases = ("scan", "merge", "export")
    return {p: round((b[p]["peak_rss_mb"] - a[p]["peak_rss_mb"]) / span, 1) for p in phases}


if __name__ == "__main__":
    main()
