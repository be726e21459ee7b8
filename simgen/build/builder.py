"""``build_dataset``: render the images of a dataset that are not done yet, then merge if complete.

Every file is written atomically, so a killed build can simply be run again: images whose record and
files are complete are skipped, anything else is rendered again. Several shards may write into one folder
at once: each renders its own indices, and whichever finds every image done writes annotations.json
(atomically; the content is a pure function of the records, so concurrent merges write the same bytes).
Multi-machine runners (Ray) plug in through ``build_dataset(runner=...)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simgen.build.frame import Done, RenderedImage, commit_image
from simgen.build.layout import Layout, folder_layout
from simgen.build.local import Runner, local_runner
from simgen.build.merge import merge_dataset, missing_indices
from simgen.build.output import output_folder
from simgen.build.records import Level, remove_stale_temps, scan_done
from simgen.config.schema import SceneConfig
from simgen.errors import SimgenError
from simgen.fileio import check_output_dir


@dataclass
class BuildSummary:
    out_dir: Path
    requested: int
    rendered: int
    skipped: int
    instances: int
    wall_seconds: float
    render_seconds: float
    overhead_seconds: float
    coco_path: Path | None = None
    device: str = ""
    per_image: list[dict[str, Any]] = field(default_factory=list)
    missing: int = 0  # images of the whole dataset not done yet (rendered by other shards, or failed)
    unsettled_images: int = 0  # images where physics stopped with objects still moving
    unsettled_objects: int = 0

    @property
    def seconds_per_image(self) -> float:
        return self.wall_seconds / self.rendered if self.rendered else 0.0

    def describe(self) -> str:
        lines = [
            f"{self.out_dir}: {self.rendered} image(s) rendered, {self.skipped} already done, "
            f"{self.instances} instance(s) labelled",
        ]
        if self.rendered:
            share = self.overhead_seconds / max(self.render_seconds, 1e-9)
            lines.append(
                f"{self.seconds_per_image:.2f} s/image wall ({self.device}); labels+writing "
                f"= {100 * share:.1f}% of render time"
            )
        if self.unsettled_images:
            lines.append(
                f"warning: {self.unsettled_objects} object(s) in {self.unsettled_images} image(s) were still "
                "falling or tipping when the physics stopped (records: spec.physics.still_moving); raise "
                "physics.frames or set physics.max_frames"
            )
        if self.coco_path:
            lines.append(f"COCO: {self.coco_path}")
        else:
            lines.append(
                f"COCO: not written yet: {self.missing} image(s) of the dataset are not done "
                f"(other shards?); the last shard writes it, or run `simgen merge {self.out_dir}`"
            )
        return "\n".join(lines)


def build_dataset(
    config: SceneConfig,
    out_dir: str | Path,
    indices: Sequence[int] | None = None,
    workers: int = 1,
    progress: bool = True,
    merge: bool = True,
    threads: int = 0,
    runner: Runner | None = None,
    verify: bool = False,
    after_commit: Callable[[RenderedImage], None] | None = None,
) -> BuildSummary:
    """Render the images in ``indices`` (default: all) that are not done yet, then merge if complete.

    ``workers``/``threads`` configure the local process pool; ``runner`` replaces it (e.g. Ray). An image
    counts as done when its files have the sizes its record states; ``verify`` also checks their content
    hashes (reads every file: see simgen.build.records). ``after_commit`` sees each image once it is
    on disk (the object-storage build uploads it). A build that fails before its first image is written
    leaves the folder as it found it.
    """
    out_dir = check_output_dir(out_dir)
    total = config.scene.num_images
    wanted = range(total) if indices is None else list(dict.fromkeys(indices))
    outside = [i for i in wanted if not 0 <= i < total] if indices is not None else []
    if outside:
        raise SimgenError(f"image indices {outside[:5]} are outside 0..{total - 1}")
    layout = folder_layout(out_dir, total)
    level: Level = "hash" if verify else "size"
    with output_folder(config, out_dir) as digest:
        done = scan_done(out_dir, layout, wanted, level)
        pending = [i for i in wanted if i not in done]
        remove_stale_temps(out_dir, layout, pending)
        start = time.perf_counter()
        results = _render_pending(
            config,
            out_dir,
            digest,
            pending,
            progress,
            runner or local_runner(workers, threads),
            after_commit,
            layout,
        )
    summary = BuildSummary(
        out_dir=out_dir,
        requested=len(wanted),
        rendered=len(results),
        skipped=len(wanted) - len(pending),
        instances=sum(d.instances for d in results),
        wall_seconds=time.perf_counter() - start,
        render_seconds=sum(d.timings.get("render", 0.0) for d in results),
        overhead_seconds=sum(d.timings.get("read", 0.0) + d.timings.get("label_write", 0.0) for d in results),
        device=results[0].device if results else "",
        per_image=[{"index": d.index, **d.timings} for d in results],
        unsettled_images=sum(d.still_moving > 0 for d in results),
        unsettled_objects=sum(d.still_moving for d in results),
    )
    if merge:
        summary.coco_path = merge_dataset(config, out_dir, config_digest=digest)
    if summary.coco_path is None:
        summary.missing = len(missing_indices(config, out_dir))
    return summary


def _render_pending(
    config: SceneConfig,
    out_dir: Path,
    digest: str,
    pending: list[int],
    progress: bool,
    runner: Runner,
    after_commit: Callable[[RenderedImage], None] | None = None,
    layout: Layout | None = None,
) -> list[Done]:
    """Hand the pending images to the runner and write each one it renders, with a progress bar."""
    from tqdm import tqdm

    layout = layout or Layout(config.scene.num_images)
    if not pending:
        return []
    results: list[Done] = []
    instances = 0
    with tqdm(total=len(pending), desc="render", unit="img", disable=not progress, dynamic_ncols=True) as bar:

        def on_rendered(image: RenderedImage) -> None:
            nonlocal instances
            done = commit_image(out_dir, image, digest, layout)
            if after_commit:
                after_commit(image)
            results.append(done)
            instances += done.instances
            bar.update(1)
            bar.set_postfix(instances=instances, refresh=False)

        try:
            runner(config, pending, on_rendered)
        except SimgenError as exc:
            raise SimgenError(f"{config.source or out_dir}: {exc}") from None
    return sorted(results, key=lambda d: d.index)
