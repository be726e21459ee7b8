"""Render-farm builds: shards, merging shard folders, kill -9 + resume, corrupt files, dying workers, Ray."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT

from simgen.build import build_dataset, read_record
from simgen.build.cpus import auto_workers, parse_workers
from simgen.build.ray import RayRunner
from simgen.build.shards import Shard, parse_shard, resolve_shard, shard_from_env
from simgen.config import load_config
from simgen.errors import SimgenError
from simgen.fileio import encode_exr, exr_file_is_complete

TABLETOP = ROOT / "scenes" / "tabletop.yaml"
TINY = [
    "--set", "render.resolution=[64,48]",
    "--set", "render.samples=2",
    "--set", "render.denoise=false",
    "--set", "render.max_bounces=1",
]  # fmt: skip
ARRAY_VARS = ("SIMGEN_SHARD", "SIMGEN_SHARD_COUNT", "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX")


# -- shards and worker counts (no Blender) -----------------------------------------------------------


@pytest.mark.parametrize("num_images", [0, 1, 7, 10, 101])
@pytest.mark.parametrize("count", [1, 3, 8])
def test_shards_partition_the_index_range(num_images: int, count: int) -> None:
    ranges = [Shard(i, count).indices(num_images) for i in range(count)]
    assert [i for r in ranges for i in r] == list(range(num_images))  # in order, no gap, no overlap
    assert max(map(len, ranges)) - min(map(len, ranges)) <= 1


@pytest.mark.parametrize("text", ["3/3", "-1/2", "1", "a/b", "0/0", ""])
def test_bad_shard_flags_are_one_clear_error(text: str) -> None:
    with pytest.raises(SimgenError, match="--shard"):
        parse_shard(text)


def test_shard_from_array_job_environments() -> None:
    assert shard_from_env({}) is None
    slurm = {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "8", "SLURM_ARRAY_TASK_MIN": "1"}
    assert shard_from_env(slurm) == (Shard(4, 8), "SLURM_ARRAY_TASK_ID")
    stepped = {**slurm, "SLURM_ARRAY_TASK_ID": "21", "SLURM_ARRAY_TASK_STEP": "10"}
    assert shard_from_env(stepped) == (Shard(2, 8), "SLURM_ARRAY_TASK_ID")
    with pytest.raises(SimgenError, match="SLURM_ARRAY_TASK_COUNT"):
        shard_from_env({"SLURM_ARRAY_TASK_ID": "3"})
    with pytest.raises(SimgenError, match="--array=0-7"):
        shard_from_env({**slurm, "SLURM_ARRAY_TASK_ID": "9"})
    k8s = {"JOB_COMPLETION_INDEX": "2", "SIMGEN_SHARD_COUNT": "4"}
    assert shard_from_env(k8s) == (Shard(2, 4), "JOB_COMPLETION_INDEX")
    with pytest.raises(SimgenError, match="SIMGEN_SHARD_COUNT"):
        shard_from_env({"JOB_COMPLETION_INDEX": "2"})
    assert shard_from_env({**slurm, "SIMGEN_SHARD": "1/2"}) == (Shard(1, 2), "SIMGEN_SHARD")
    resubmitted = {"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_TASK_MIN": "3"}
    fixed_count = {**resubmitted, "SIMGEN_SHARD_COUNT": "16"}
    assert shard_from_env(fixed_count) == (Shard(7, 16), "SLURM_ARRAY_TASK_ID")
    with pytest.raises(SimgenError, match="SLURM_ARRAY_TASK_ID=7"):
        shard_from_env(resubmitted)  # --array=3,7 without the count: refuse rather than guess


def test_shard_flag_against_environment() -> None:
    env = {"SIMGEN_SHARD": "1/2"}
    assert resolve_shard(None, env)[0] == Shard(1, 2)
    assert resolve_shard("auto", env)[0] == Shard(1, 2)
    assert resolve_shard("all", env)[0] is None
    assert resolve_shard("0/4", env)[0] == Shard(0, 4)
    assert resolve_shard(None, {})[0] is None
    with pytest.raises(SimgenError, match="auto"):
        resolve_shard("auto", {})


def test_worker_counts() -> None:
    config = load_config(TABLETOP, ["render.device=cpu"])
    assert auto_workers(config, cpus=2) == 2
    assert auto_workers(config, cpus=1) == 1
    config.render.device = "gpu"
    assert auto_workers(config, cpus=16) == 1
    assert parse_workers("auto") is None and parse_workers("3") == 3
    with pytest.raises(SimgenError, match="--workers"):
        parse_workers("0")


@pytest.mark.parametrize("cut", [0, 7, 100, 0.5, -1])
def test_a_truncated_exr_is_detected(tmp_path: Path, cut: float) -> None:
    data = encode_exr({"Z": np.random.default_rng(0).random((48, 64))})
    path = tmp_path / "depth.exr"
    path.write_bytes(data)
    assert exr_file_is_complete(path)
    path.write_bytes(data[: int(cut * len(data)) if isinstance(cut, float) else cut])
    assert not exr_file_is_complete(path)


# -- builds (Blender) --------------------------------------------------------------------------------


def simgen(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "simgen.cli", *args], capture_output=True, text=True, timeout=300, env=env
    )


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without array-job variables (a CI runner inside Slurm must not shard our builds)."""
    env = {k: v for k, v in os.environ.items() if k not in ARRAY_VARS and not k.startswith("SLURM_ARRAY")}
    return {**env, **extra}


def render(out: Path, n: int, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    args = ["render", str(TABLETOP), "--out", str(out), "-n", str(n), "--no-progress", *TINY, *extra]
    run = simgen(*args, env=env or clean_env())
    assert run.returncode == 0, run.stderr
    return run


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted single-process build of 7 images: what every other way of building must equal."""
    pytest.importorskip("bpy")
    out = tmp_path_factory.mktemp("reference")
    render(out, 7, "--workers", "1")
    return out


def coco_bytes(folder: Path) -> bytes:
    return (folder / "annotations.json").read_bytes()


def assert_same_dataset(folder: Path, reference: Path) -> None:
    """Byte-equal COCO and byte-equal label maps (the RGB is equal too: these builds do not denoise)."""
    assert coco_bytes(folder) == coco_bytes(reference)
    for kind in ("images", "instances", "semantic"):
        names = sorted(p.name for p in (reference / kind).iterdir())
        assert sorted(p.name for p in (folder / kind).iterdir()) == names, kind
        for name in names:
            assert (folder / kind / name).read_bytes() == (reference / kind / name).read_bytes(), name


def test_union_of_shard_folders_equals_a_single_build(tmp_path: Path, reference: Path) -> None:
    shards = [tmp_path / f"shard{i}" for i in range(3)]
    for i, folder in enumerate(shards):
        run = render(folder, 7, "--shard", f"{i}/3", "--workers", "1")
        assert f"shard {i}/3" in run.stderr and "COCO: not written yet" in run.stdout
        assert not (folder / "annotations.json").exists(), "a shard alone must not write a partial COCO"
    merged = tmp_path / "merged"
    run = simgen("merge", str(merged), *map(str, shards))
    assert run.returncode == 0, run.stderr
    assert "gathered 7 image(s) from 3 shard folder(s)" in run.stderr
    assert_same_dataset(merged, reference)
    manifest = json.loads((merged / "manifest.json").read_text())
    assert manifest["config_hash"] == json.loads(coco_bytes(reference))["info"]["config_hash"]
    assert manifest["blender_version"] and manifest["python_version"] and manifest["simgen_version"]
    assert manifest["device"] == "CPU" and manifest["config"]["render"]["samples"] == 2
    assert [(im["index"], im["seed"]) for im in manifest["images"]] == [
        (im["id"], im["seed"]) for im in json.loads(coco_bytes(reference))["images"]
    ]
    assert all(im["render_seconds"] > 0 and im["threads"] >= 1 for im in manifest["images"])


def test_merge_names_the_missing_images(tmp_path: Path, reference: Path) -> None:
    render(tmp_path / "s0", 7, "--shard", "0/3", "--workers", "1")
    run = simgen("merge", str(tmp_path / "out"), str(tmp_path / "s0"))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "5 of 7 image(s) are missing or broken (indices 2-6)" in run.stderr
    other = tmp_path / "other"
    render(other, 7, "--shard", "2/3", "--workers", "1", "--seed", "99")
    run = simgen("merge", str(tmp_path / "out"), str(other))
    assert run.returncode == 1 and "different configs" in run.stderr


def test_concurrent_shards_in_one_folder_write_one_complete_coco(tmp_path: Path, reference: Path) -> None:
    shared = tmp_path / "shared"
    args = ["render", str(TABLETOP), "--out", str(shared), "-n", "7", "--no-progress", "--workers=1", *TINY]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "simgen.cli", *args],
            env=clean_env(SLURM_ARRAY_TASK_ID=str(i), SLURM_ARRAY_TASK_COUNT="2"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    assert sum("COCO: " + str(shared / "annotations.json") in out for out, _ in outputs) >= 1
    assert_same_dataset(shared, reference)


def test_resume_after_sigkill_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    pytest.importorskip("bpy")
    n, out = 24, tmp_path / "killed"
    args = ["render", str(TABLETOP), "--out", str(out), "-n", str(n), "--no-progress", "--workers=2", *TINY]
    proc = subprocess.Popen(
        [sys.executable, "-m", "simgen.cli", *args],
        env=clean_env(),
        start_new_session=True,  # its own process group: the kill takes the Blender workers with it
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while len(list((out / "records").glob("*.json"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    survivors = {i for i in range(n) if read_record(out, i) is not None}
    assert 3 <= len(survivors) < n and not (out / "annotations.json").exists(), "kill came too late"

    run = simgen(*args, env=clean_env())
    assert run.returncode == 0, run.stderr
    assert f"{n - len(survivors)} image(s) rendered, {len(survivors)} already done" in run.stdout
    assert not [p for p in out.rglob(".*") if p.is_file()], "temp files of the killed run are cleaned up"
    coco = json.loads((out / "annotations.json").read_text())
    assert [im["id"] for im in coco["images"]] == list(range(n))
    assert [a["id"] for a in coco["annotations"]] == list(range(1, len(coco["annotations"]) + 1))

    uninterrupted = tmp_path / "uninterrupted"
    render(uninterrupted, n, "--workers", "2")
    assert coco_bytes(out) == coco_bytes(uninterrupted)


def test_truncated_or_corrupt_files_are_rendered_again(tmp_path: Path, reference: Path) -> None:
    out = tmp_path / "ds"
    render(out, 7, "--workers", "1")
    truncate = [out / "images" / "000001.png", out / "depth" / "000003.exr", out / "instances" / "000004.png"]
    for path in truncate:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    record = out / "records" / "000005.json"
    record.write_text(record.read_text()[:100])  # a half-written record
    (out / "semantic" / "000006.png").unlink()
    run = render(out, 7, "--workers", "1")
    assert "5 image(s) rendered, 2 already done" in run.stdout
    assert_same_dataset(out, reference)


def test_a_dying_worker_is_replaced_and_nothing_is_lost(
    tmp_path: Path, reference: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("SIMGEN_BACKEND", "faulty_backend:CrashOnceBackend")
    monkeypatch.setenv("SIMGEN_TEST_CRASH", f"4:{tmp_path / 'crashed-once'}")
    config = load_config(reference / "config.yaml")
    summary = build_dataset(config, tmp_path / "ds", workers=2, progress=False)
    assert (tmp_path / "crashed-once").exists(), "the fault was not injected"
    assert "a Blender worker died" in capfd.readouterr().err
    assert summary.rendered == 7 and summary.coco_path is not None
    assert coco_bytes(tmp_path / "ds") == coco_bytes(reference)


def test_ray_build_equals_a_local_build_even_when_a_worker_dies(tmp_path: Path, reference: Path) -> None:
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'simgen[ray]'")
    out = tmp_path / "ray"
    env = clean_env(
        SIMGEN_BACKEND="faulty_backend:CrashOnceBackend",
        SIMGEN_TEST_CRASH=f"2:{tmp_path / 'crashed-once'}",
        PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
    )
    env.pop("RAY_ADDRESS", None)
    run = render(out, 7, "--ray", "--workers", "2", env=env)
    assert (tmp_path / "crashed-once").exists(), "the fault was not injected"
    assert "7 image(s) rendered" in run.stdout
    assert_same_dataset(out, reference)
    assert RayRunner().threads == 1


def test_a_two_node_ray_cluster_that_loses_a_node_still_builds_the_same_dataset(
    tmp_path: Path, reference: Path
) -> None:
    """A real two-node cluster on this machine (Ray's own test cluster: a head and a second node, each
    its own raylet with 1 CPU, so one Blender actor lands on each). When images start to arrive the
    second node is killed (its raylet and workers, no graceful shutdown) and a fresh node joins, as an
    autoscaler would do; Ray restarts the lost actor there and retries its chunk. The dataset must equal
    the local build, with every image rendered exactly once."""
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'simgen[ray]'")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        second = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        out = tmp_path / "ray2"
        args = ["render", str(TABLETOP), "--out", str(out), "-n", "7", "--no-progress", *TINY]
        args += ["--ray", cluster.address, "--workers", "2"]
        env = clean_env()
        env.pop("RAY_ADDRESS", None)
        driver = subprocess.Popen(
            [sys.executable, "-m", "simgen.cli", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 240
        while not list((out / "records").glob("*.json")) and time.monotonic() < deadline:
            assert driver.poll() is None, driver.communicate()
            time.sleep(0.05)
        done_before_kill = len(list((out / "records").glob("*.json")))
        cluster.remove_node(second, allow_graceful=False)
        cluster.add_node(num_cpus=1)
        stdout, stderr = driver.communicate(timeout=300)
    finally:
        cluster.shutdown()
    assert driver.returncode == 0, stderr
    assert 1 <= done_before_kill < 7, "the node was lost after the build, not during it"
    assert "7 image(s) rendered, 0 already done" in stdout  # nothing lost, nothing twice
    assert_same_dataset(out, reference)


def test_example_farm_manifests_agree_with_themselves() -> None:
    """The Slurm array size and the Indexed Job's completions must match the shard count they export."""
    sbatch = (ROOT / "examples" / "slurm" / "render_array.sbatch").read_text()
    first, last = map(int, re.search(r"#SBATCH --array=(\d+)-(\d+)", sbatch).groups())  # type: ignore[union-attr]
    shards = int(re.search(r"^SHARDS=(\d+)", sbatch, re.M).group(1))  # type: ignore[union-attr]
    assert (first, last - first + 1) == (0, shards)
    assert "--shard auto" in sbatch and "SIMGEN_SHARD_COUNT=$SHARDS" in sbatch
    docs = list(yaml.safe_load_all((ROOT / "examples" / "k8s" / "render-indexed-job.yaml").read_text()))
    job = next(d for d in docs if d["kind"] == "Job")
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert job["spec"]["completionMode"] == "Indexed"
    assert env["SIMGEN_SHARD_COUNT"] == str(job["spec"]["completions"])
    assert container["command"][:2] == ["simgen", "render"] and "auto" in container["command"]
