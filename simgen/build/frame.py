"""One image of a build: sample, render, label and encode it (``render_image``), then write it
(``commit_image``). The two halves can run in different processes: a Ray worker returns the encoded
files and the driver alone writes the dataset."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from simgen.backend.protocol import Renderer
from simgen.backend.result import RenderResult
from simgen.build.layout import Layout
from simgen.build.records import file_integrity
from simgen.config.schema import SceneConfig
from simgen.fileio import encode_exr, encode_image, write_bytes_atomic, write_json_atomic
from simgen.flow import encode_flow, scaled
from simgen.labels import ImageRecord, annotate, camera_normals, semantic_map
from simgen.lens import through_lens
from simgen.randomizers import REGISTRY
from simgen.sampling import sample_frame
from simgen.stereo import disparity_map


@dataclass
class RenderedImage:
    """One rendered image: its record and its encoded files, not yet on disk (a Ray worker ships this)."""

    record: ImageRecord
    files: dict[str, bytes]
    provenance: dict[str, Any]


@dataclass(frozen=True)
class Done:
    """What a runner reports once an image is on disk."""

    index: int
    instances: int
    timings: dict[str, float]
    device: str
    still_moving: int = 0  # objects the rigid-body simulation left moving (physics.frames too short)


def render_image(renderer: Renderer, config: SceneConfig, index: int) -> RenderedImage:
    """Render image ``index`` and label it; files are encoded in memory (see ``commit_image``)."""
    spec = sample_frame(config, index, mesh_bounds=renderer.mesh_bounds)
    result = through_lens(renderer.render(spec), spec.camera)
    if config.render.output_size:
        result = resampled(result, config.render.output_size)
    for randomizer in REGISTRY.values():
        result.rgb = randomizer.apply_image(result.rgb, spec)
    t0 = time.perf_counter()
    layout = Layout(config.scene.num_images)
    ext = "jpg" if config.render.image_format == "jpg" else "png"
    record = ImageRecord(
        index=index,
        seed=spec.seed,
        width=int(result.rgb.shape[1]),
        height=int(result.rgb.shape[0]),
        file_name=layout.file("images", index, ext),
        spec=spec.to_dict(asset_root=config.asset_root),
    )
    annotate(record, result, spec, config, renderer)
    files = {record.file_name: encode_image(record.file_name, result.rgb, config.render.jpeg_quality)}
    outputs = config.outputs
    if outputs.instances:
        record.extra_files["instances"] = layout.file("instances", index, "png")
        files[record.extra_files["instances"]] = encode_image("ids.png", result.instance_ids)
    if outputs.semantic:
        record.extra_files["semantic"] = layout.file("semantic", index, "png")
        files[record.extra_files["semantic"]] = encode_image(
            "ids.png", semantic_map(result.instance_ids, spec)
        )
    if outputs.depth:
        record.extra_files["depth"] = layout.file("depth", index, "exr")
        files[record.extra_files["depth"]] = encode_exr({"Z": result.depth})
    if outputs.normals and result.normals is not None:
        record.extra_files["normals"] = layout.file("normals", index, "exr")
        n = camera_normals(result.normals, spec.camera)
        files[record.extra_files["normals"]] = encode_exr({"X": n[..., 0], "Y": n[..., 1], "Z": n[..., 2]})
    if outputs.flow and result.flow is not None:
        record.extra_files["flow"] = layout.file("flow", index, "exr")
        files[record.extra_files["flow"]] = encode_flow(result.flow)
    if outputs.disparity:
        record.extra_files["disparity"] = layout.file("disparity", index, "exr")
        files[record.extra_files["disparity"]] = encode_exr({"D": stereo_disparity(result.depth, spec)})
    record.timings = {**result.timings, **record.timings, "label_write": time.perf_counter() - t0}
    return RenderedImage(record, files, renderer.provenance())


def stereo_disparity(depth: np.ndarray, spec: Any) -> np.ndarray:
    """The disparity map of a stereo rig's image (x_left - x_right, pixels)."""
    rig = spec.part("rig")
    j = rig.camera
    return disparity_map(depth, rig.cameras[j], rig.cameras[1 - j], left=j == 0)


def resampled(result: RenderResult, size: tuple[int, int]) -> RenderResult:
    """Every map of a render at ``size`` (render.output_size): RGB area-averaged when shrinking, else
    bilinear; ids, depth and normals nearest, so every label pixel is one of the rendered ones."""
    width, height = size
    shrink = width * height < result.rgb.shape[0] * result.rgb.shape[1]
    smooth = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR

    def nearest(image: np.ndarray | None) -> np.ndarray | None:
        return None if image is None else cv2.resize(image, (width, height), interpolation=cv2.INTER_NEAREST)

    flow = nearest(result.flow)
    return replace(
        result,
        rgb=cv2.resize(result.rgb, (width, height), interpolation=smooth),
        instance_ids=nearest(result.instance_ids),
        depth=nearest(result.depth),
        normals=nearest(result.normals),
        flow=None
        if flow is None
        else scaled(flow, width / result.rgb.shape[1], height / result.rgb.shape[0]),
    )


def _in_layout(rendered: RenderedImage, layout: Layout) -> RenderedImage:
    """The image with the folder's file names: a worker names files by the count alone, and an older
    folder of more than FLAT_LIMIT images keeps its flat names."""
    index = rendered.record.index
    drawn = Layout(layout.num_images)
    old, new = drawn.stem(index), layout.stem(index)
    if old == new:
        return rendered

    def rename(name: str) -> str:
        return name.replace(old, new, 1)

    record = replace(
        rendered.record,
        file_name=rename(rendered.record.file_name),
        extra_files={k: rename(v) for k, v in rendered.record.extra_files.items()},
    )
    return RenderedImage(record, {rename(k): v for k, v in rendered.files.items()}, rendered.provenance)


def commit_image(out_dir: Path, rendered: RenderedImage, config_digest: str, layout: Layout) -> Done:
    """Write the files atomically, then the record: a record on disk means every file it lists is whole.

    The record states each file's size and content hash (``files``: what resume and ``--verify`` check)
    and names the config it was rendered from (``provenance.config_hash``), so the folder's identity
    survives the loss of config.hash. Returns what the build reports for the image."""
    t0 = time.perf_counter()
    rendered = _in_layout(rendered, layout)
    for name, data in rendered.files.items():
        write_bytes_atomic(out_dir / name, data)
    record = rendered.record
    record.timings["label_write"] = record.timings.get("label_write", 0.0) + time.perf_counter() - t0
    data = {
        **record.to_dict(),
        "files": file_integrity(rendered.files),
        "provenance": {**rendered.provenance, "config_hash": config_digest},
    }
    write_json_atomic(layout.record(out_dir, record.index), data)
    device = str(rendered.provenance.get("device", ""))
    moving = int((record.spec.get("physics") or {}).get("still_moving") or 0)
    return Done(record.index, len(record.instances), record.timings, device, moving)
