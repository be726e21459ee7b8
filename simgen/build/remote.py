"""Datasets in object storage: ``--out s3://bucket/prefix`` (or any fsspec URL) for render, merge, export.

A Kubernetes Indexed Job or a Slurm array then needs no shared file system: every shard renders into a
local staging folder and uploads each finished image, its files first and its record last. An object
store writes each object whole or not at all (a PUT is atomic), so a record object on the store means
its files are there, complete: resume is a listing of ``records/`` (no download), and a shard killed
mid-upload leaves at worst files without a record, which the rerun overwrites. The last shard to find
every record listed merges: the records are fetched into the staging folder (bulk, concurrent), the
same streaming merge runs on them, and annotations.json, manifest.json and the ``outputs.formats`` are
uploaded. Credentials and endpoints come from the usual places (``AWS_*`` variables, ~/.aws, instance
roles; ``AWS_ENDPOINT_URL`` for MinIO or other S3-compatible servers).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from simgen.build.layout import Layout, _is_record_name
from simgen.config.schema import SceneConfig
from simgen.errors import SimgenError

SMALL_FILES = ("config.yaml", "config.hash")


def is_url(path: str | Path) -> bool:
    """True for ``s3://...``, ``gs://...``, ``memory://...`` and the like (not for local paths)."""
    return "://" in str(path)


class RemoteDataset:
    """A dataset folder at an fsspec URL: listing, small reads, uploads."""

    def __init__(self, url: str) -> None:
        import fsspec

        self.url = url.rstrip("/")
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as exc:
            raise SimgenError(f"--out {url}: cannot open this storage URL ({exc})") from None

    def path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def read_text(self, name: str) -> str | None:
        try:
            return self.fs.cat_file(self.path(name)).decode()
        except FileNotFoundError:
            return None

    def recorded_indices(self) -> set[int]:
        """Indices with a record object: one recursive listing of ``records/`` (no object is read)."""
        try:
            keys = self.fs.find(self.path("records"))
        except FileNotFoundError:
            return set()
        names = (key.rsplit("/", 1)[-1] for key in keys)
        return {int(n[:-5]) for n in names if _is_record_name(n)}

    def upload(self, local: Path, name: str) -> None:
        self.fs.put_file(str(local), self.path(name))

    def upload_tree(self, local: Path, name: str) -> None:
        """Every file under ``local`` to ``name/...`` (``name`` empty: the dataset's root)."""
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            self.upload(path, "/".join(filter(None, [name, path.relative_to(local).as_posix()])))

    def download_records(self, into: Path) -> None:
        """Every record object into ``into/records`` (bulk, concurrent transfers)."""
        self.fs.get(self.path("records") + "/", str(into / "records") + "/", recursive=True)


def _storage_errors() -> tuple[type[BaseException], ...]:
    """Errors of the store that mean 'cannot reach or write it' (reported as one line, not a traceback)."""
    errors: list[type[BaseException]] = [OSError, PermissionError]
    with contextlib.suppress(ImportError):
        import botocore.exceptions

        errors += [botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError]
    return tuple(errors)


@contextlib.contextmanager
def storage_errors(url: str) -> Iterator[None]:
    try:
        yield
    except SimgenError:
        raise
    except _storage_errors() as exc:
        raise SimgenError(f"{url}: object storage error: {exc}") from None


@contextlib.contextmanager
def staging_folder() -> Iterator[Path]:
    """A local scratch folder for one run (``SIMGEN_STAGING`` chooses where), removed afterwards."""
    base = os.environ.get("SIMGEN_STAGING") or None
    folder = Path(tempfile.mkdtemp(prefix="simgen-staging-", dir=base))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def build_remote(config: SceneConfig, url: str, indices: Sequence[int] | None = None, **build: Any) -> Any:
    """``build_dataset`` into object storage at ``url`` (see the module docstring); same arguments."""
    from simgen.build.builder import build_dataset
    from simgen.build.output import prepare_output
    from simgen.config.loader import config_hash

    if build.pop("verify", False):
        raise SimgenError("--verify checks local files; in object storage the store keeps each object whole")
    remote = RemoteDataset(url)
    digest = config_hash(config)
    total = config.scene.num_images
    with storage_errors(url), staging_folder() as staging:
        owner = (remote.read_text("config.hash") or "").strip()
        done = remote.recorded_indices()
        if owner and owner != digest and done:
            raise SimgenError(
                f"{url}: already holds images rendered from a different config (hash {owner}, now {digest})"
            )
        wanted = range(total) if indices is None else indices
        pending = [i for i in wanted if i not in done]
        prepare_output(config, staging)
        if owner != digest:  # the store's identity first, so a killed run still names its config
            for name in SMALL_FILES:
                remote.upload(staging / name, name)

        def upload(image: Any) -> None:
            for name in image.files:
                remote.upload(staging / name, name)
                (staging / name).unlink()
            record = Layout(total).record(staging, image.record.index)
            remote.upload(record, record.relative_to(staging).as_posix())  # last: marks the image done
            record.unlink()

        summary = build_dataset(config, staging, indices=pending, merge=False, after_commit=upload, **build)
        summary.out_dir, summary.requested = url, len(wanted)  # type: ignore[assignment]
        summary.skipped = len(wanted) - len(pending)
        summary.missing = total - len(remote.recorded_indices())
        if summary.missing == 0:
            summary.coco_path = _merge_listed(remote, config, digest)  # type: ignore[assignment]
    return summary


def merge_remote(config: SceneConfig, url: str, digest: str | None = None) -> str | None:
    """Merge a dataset in object storage (all records listed); returns the annotations.json URL or None."""
    remote = RemoteDataset(url)
    with storage_errors(url):
        if len(remote.recorded_indices()) < config.scene.num_images:
            return None
        return _merge_listed(remote, config, digest)


def _merge_listed(remote: RemoteDataset, config: SceneConfig, digest: str | None) -> str | None:
    """The merge of a dataset whose records are all listed (one listing of a million keys is enough)."""
    from simgen.build.merge import merge_dataset
    from simgen.build.output import prepare_output
    from simgen.writers.dataset import dataset_formats

    with storage_errors(remote.url), staging_folder() as staging:
        prepare_output(config, staging)
        remote.download_records(staging)
        coco = merge_dataset(config, staging, config_digest=digest, level="record")
        if coco is None:
            return None
        for name in dataset_formats(config):
            from simgen.writers import get_writer

            folder = get_writer(name).default_out
            if (staging / folder).is_dir():
                remote.upload_tree(staging / folder, folder)
        remote.upload(staging / "manifest.json", "manifest.json")
        remote.upload(coco, "annotations.json")  # last: its presence means the merge is complete
    return remote.url + "/annotations.json"


def remote_config(url: str) -> tuple[SceneConfig, str]:
    """The config and hash of a dataset in object storage (its config.yaml and config.hash)."""
    import yaml

    from simgen.config.loader import validate_config

    remote = RemoteDataset(url)
    with storage_errors(url):
        text, stamp = remote.read_text("config.yaml"), remote.read_text("config.hash")
    if text is None or stamp is None:
        raise SimgenError(f"{url}: not a simgen dataset (no config.yaml + config.hash there)")
    return validate_config(yaml.safe_load(text), source=Path("config.yaml")), stamp.strip()


def download_dataset(url: str, into: Path) -> Path:
    """A whole dataset from object storage into a local folder (what export from a URL reads)."""
    remote = RemoteDataset(url)
    with storage_errors(url):
        if remote.read_text("config.hash") is None and remote.read_text("annotations.json") is None:
            raise SimgenError(f"{url}: no simgen dataset or annotations.json there")
        remote.fs.get(remote.root + "/", str(into) + "/", recursive=True)
    return into


def upload_export(local: Path, url: str) -> str:
    """An export written locally (a file or a folder) uploaded to ``url``."""
    remote = RemoteDataset(url)
    with storage_errors(url):
        if local.is_dir():
            remote.upload_tree(local, "")
        else:
            remote.fs.put_file(str(local), remote.root)
    return remote.url
