"""``--out s3://...``: render, resume, merge and export against a real S3 API server on localhost.

The server is moto's standalone server (``moto_server``, installed with the dev extra), started by this
module in its own process; simgen talks to it over HTTP through s3fs, as it would to AWS or MinIO.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.blender

TABLETOP = ROOT / "scenes" / "tabletop.yaml"
TINY = ["--set", "render.resolution=[64,48]", "--set", "render.samples=1", "--set", "render.denoise=false"]
N = 5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A running S3 API server with one bucket; yields the environment that points simgen at it."""
    pytest.importorskip("s3fs")
    server = Path(sys.executable).with_name("moto_server")
    if not server.is_file():
        pytest.skip("moto's server is not installed (pip install 'simgen[dev]')")
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log, "w") as handle:
        proc = subprocess.Popen(
            [str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=handle, stderr=handle
        )
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        _run(["python", "-c", "import s3fs; s3fs.S3FileSystem().mkdir('simgen-test')"], env)
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    if cmd[0] == "python":
        cmd = [sys.executable, *cmd[1:]]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


def simgen(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "simgen.cli", *args], env)


def _objects(env: dict[str, str], prefix: str) -> dict[str, int]:
    found = f"s3fs.S3FileSystem().find({prefix!r}, detail=True).items()"
    code = f"import json, s3fs; print(json.dumps({{k: v['size'] for k, v in {found}}}))"
    run = _run(["python", "-c", code], env)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def _cat(env: dict[str, str], key: str) -> bytes:
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, s3fs; sys.stdout.buffer.write(s3fs.S3FileSystem().cat_file({key!r}))",
        ],
        capture_output=True,
        timeout=120,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("bpy")
    out = tmp_path_factory.mktemp("local") / "ds"
    cmd = [sys.executable, "-m", "simgen.cli", "render", str(TABLETOP), "--out", str(out), "-n", str(N)]
    run = subprocess.run([*cmd, "--no-progress", "--workers", "1", *TINY], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return out


def test_two_shards_into_s3_resume_by_listing_and_merge_to_the_local_dataset(
    s3: dict[str, str], local_reference: Path
) -> None:
    url = "s3://simgen-test/sharded"
    base = ["render", str(TABLETOP), "--out", url, "-n", str(N), "--no-progress", "--workers", "1", *TINY]
    first = simgen(s3, *base, "--shard", "0/2")
    assert first.returncode == 0, first.stderr
    assert "not written yet" in first.stdout
    objects = _objects(s3, "simgen-test/sharded")
    assert "simgen-test/sharded/records/000000.json" in objects
    assert "simgen-test/sharded/annotations.json" not in objects
    again = simgen(s3, *base, "--shard", "0/2")  # resume: everything of shard 0 is listed as done
    assert again.returncode == 0 and "0 image(s) rendered, 2 already done" in again.stdout, again.stderr
    second = simgen(s3, *base, "--shard", "1/2")
    assert second.returncode == 0, second.stderr
    assert "COCO: s3://simgen-test/sharded/annotations.json" in second.stdout
    assert (
        _cat(s3, "simgen-test/sharded/annotations.json")
        == (local_reference / "annotations.json").read_bytes()
    )
    for name in ("images/000004.png", "instances/000004.png", "depth/000004.exr"):
        assert _cat(s3, f"simgen-test/sharded/{name}") == (local_reference / name).read_bytes()
    manifest = json.loads(_cat(s3, "simgen-test/sharded/manifest.json"))
    assert [im["index"] for im in manifest["images"]] == list(range(N))

    merged = simgen(s3, "merge", url)  # merging again from the store gives the same file
    assert merged.returncode == 0, merged.stderr
    assert (
        _cat(s3, "simgen-test/sharded/annotations.json")
        == (local_reference / "annotations.json").read_bytes()
    )


def test_export_from_s3_to_s3(s3: dict[str, str], local_reference: Path) -> None:
    url = "s3://simgen-test/exported"
    base = ["render", str(TABLETOP), "--out", url, "-n", str(N), "--no-progress", "--workers", "1", *TINY]
    assert simgen(s3, *base).returncode == 0
    run = simgen(
        s3, "export", url, "--format", "webdataset", "--out", "s3://simgen-test/wds", "--shard-size", "2"
    )
    assert run.returncode == 0, run.stderr
    shards = sorted(k for k in _objects(s3, "simgen-test/wds") if k.endswith(".tar"))
    assert shards == [f"simgen-test/wds/shard-00000{i}.tar" for i in range(3)]


def test_storage_errors_are_one_line(s3: dict[str, str], tmp_path: Path) -> None:
    base = ["render", str(TABLETOP), "-n", "2", "--no-progress", "--workers", "1", *TINY]
    run = simgen(s3, *base, "--out", "s3://no-such-bucket-here/ds")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "s3://no-such-bucket-here/ds" in run.stderr
    run = simgen(s3, *base, "--out", "nosuchprotocol://x/y")
    assert run.returncode == 1 and "Traceback" not in run.stderr and "nosuchprotocol://x/y" in run.stderr
