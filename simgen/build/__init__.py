"""Dataset builds: render image indices into an output folder, resumably, then merge into COCO.

One module per concern: ``layout`` (where files go), ``frame`` (one image: render, label, encode, commit),
``records`` (what is done), ``output`` (the folder's config identity), ``workers`` (a process's renderer),
``local`` (this process or a local pool), ``ray`` (a Ray cluster), ``shards`` (array jobs), ``gather``
(shard folders into one), ``merge`` (annotations.json + manifest.json), ``cpus`` (CPU counts and pinning)
and ``builder`` (``build_dataset``, which ties them together).
"""

from simgen.build.builder import BuildSummary, build_dataset
from simgen.build.frame import Done, RenderedImage, commit_image, render_image
from simgen.build.local import Runner, local_runner
from simgen.build.merge import merge_dataset, missing_indices
from simgen.build.output import load_dataset_config, prepare_output
from simgen.build.records import load_record, read_record, read_records, recorded_indices

__all__ = [
    "BuildSummary",
    "Done",
    "RenderedImage",
    "Runner",
    "build_dataset",
    "commit_image",
    "load_dataset_config",
    "load_record",
    "local_runner",
    "merge_dataset",
    "missing_indices",
    "prepare_output",
    "read_record",
    "read_records",
    "recorded_indices",
    "render_image",
]
