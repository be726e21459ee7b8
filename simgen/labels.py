"""From a render to instance labels: visible and amodal masks, visibility, truncation, keypoints, pose.

Visible masks, boxes and areas come from the one instance-id map that came out of the same render as
the RGB, so they agree with each other and with the image by construction. Amodal (full) silhouettes,
keypoints and poses come from the objects' own triangles projected with the same camera
(``simgen.geometry``); keypoint visibility is decided from the rendered depth. Exact definitions:
docs/labels.md. numpy + pycocotools only (no Blender).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from pycocotools import mask as mask_utils

from simgen.geometry import (
    ObjectGeometry,
    Silhouette,
    box_3d,
    box_corners,
    depth_tolerance,
    keypoint_visibility,
    keypoints_camera,
    object_pose,
    silhouette,
)
from simgen.spec import CameraSpec, FrameSpec

if TYPE_CHECKING:
    from simgen.config.schema import LabelPolicy


@dataclass
class InstanceLabel:
    """One visible instance. ``bbox`` is COCO [x, y, w, h] in pixels, tight around the visible mask.

    Amodal fields are None when ``labels.amodal`` is off (or the backend has no geometry); keypoints are
    COCO [x, y, v] * K; pose maps mesh-local points to the OpenCV camera: X = R (scale * X_local) + t.
    """

    instance_id: int
    category_id: int
    category: str
    bbox: list[float]  # whole pixels as rendered; fractional after grow_box (export --box-scale) or YOLO
    area: int
    segmentation: dict[str, Any]  # COCO RLE with ``counts`` as str
    iscrowd: int = 0
    ignore: bool = False  # below the label policy's thresholds, kept as an ignore region (iscrowd=1)
    visibility: float | None = None  # visible px / amodal px (in the image)
    truncation: float | None = None  # fraction of the full silhouette outside the image
    occluded: bool | None = None  # some amodal pixel in the image is hidden by something in front
    amodal_bbox: list[int] | None = None  # full silhouette; may extend past the image
    amodal_area: int | None = None  # pixels of the amodal mask inside the image
    amodal_segmentation: dict[str, Any] | None = None  # COCO RLE, inside the image
    keypoints: list[float] | None = None
    num_keypoints: int = 0
    pose: dict[str, list[float]] | None = None  # {"R": 9 row-major, "t": 3 m, "scale": 3}
    box3d: dict[str, list[float]] | None = None  # oriented 3D box in camera axes (geometry.box_3d)


@dataclass
class ImageRecord:
    """Everything written about one image: where its files are, its labels and the spec that made it."""

    index: int
    seed: int
    width: int
    height: int
    file_name: str
    instances: list[InstanceLabel] = field(default_factory=list)
    extra_files: dict[str, str] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    camera: dict[str, Any] = field(default_factory=dict)  # {"K": 3x3, "world_to_camera": 4x4 OpenCV}
    label_stats: dict[str, int] = field(default_factory=dict)
    sequence: dict[str, Any] | None = None  # clip, frame, time, frames, fps (sequence: scenes)
    rig: dict[str, Any] | None = None  # camera, name, cameras: [{name, K, world_to_camera}] (rig: scenes)

    @property
    def clip(self) -> int:
        """The image's clip (``sequence:``); a still image is a clip of its own, numbered by its index."""
        return self.sequence["clip"] if self.sequence else self.index

    @property
    def frame(self) -> int:
        """The image's frame in its clip (0 for a still image)."""
        return self.sequence["frame"] if self.sequence else 0

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data; fields of features that are off are left out (no ``null``
        fields in the records of scenes without clips, 3D boxes or rigs)."""
        data = asdict(self)
        for name in ("sequence", "rig"):
            if data[name] is None:
                del data[name]
        for inst in data["instances"]:
            if inst["box3d"] is None:
                del inst["box3d"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageRecord:
        data = dict(data)
        data["instances"] = [InstanceLabel(**inst) for inst in data.get("instances", [])]
        return cls(**data)


def encode_mask(mask: np.ndarray) -> dict[str, Any]:
    """Binary H x W mask → COCO RLE (JSON-ready: ``counts`` decoded to str)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def decode_mask(rle: dict[str, Any]) -> np.ndarray:
    """COCO RLE (``counts`` str or bytes) → bool H x W mask."""
    counts = rle["counts"]
    rle = {"size": rle["size"], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    return mask_utils.decode(rle).astype(bool)


def tight_bbox(mask: np.ndarray) -> list[int]:
    """COCO [x, y, w, h] of the smallest pixel rectangle containing every True pixel."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return [0, 0, 0, 0]
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]


BOX_SCALE_LIMITS = (0.5, 2.0)
"""The factors every ``--box-scale`` option accepts (exclusive): a labelling rule, not a new box."""


def grow_box(bbox: list[float], scale: float, width: int, height: int) -> list[float]:
    """COCO [x, y, w, h] grown (``scale`` > 1) or shrunk about its center, clipped to the image.

    Rendered boxes are mask-tight; many real sets are labelled looser (``simgen eval`` measures by how
    much). Growing the boxes at training/export time follows such a rule without touching the dataset.
    """
    x, y, w, h = bbox
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = max(0.0, cx - w * scale / 2), max(0.0, cy - h * scale / 2)
    x1, y1 = min(float(width), cx + w * scale / 2), min(float(height), cy + h * scale / 2)
    return [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)]


def grown_boxes(record: ImageRecord, scale: float) -> ImageRecord:
    """A copy of ``record`` whose boxes (not masks) are grown by ``scale`` (see :func:`grow_box`)."""
    instances = [
        replace(inst, bbox=grow_box(inst.bbox, scale, record.width, record.height))
        for inst in record.instances
    ]
    return replace(record, instances=instances)


def semantic_map(instance_ids: np.ndarray, spec: FrameSpec) -> np.ndarray:
    """uint16 H x W category-id map (0 = background/unlabelled) from the instance-id map."""
    lut = np.zeros(max([o.instance_id for o in spec.objects] + [0]) + 1, dtype=np.uint16)
    for obj in spec.labelled():
        lut[obj.instance_id] = obj.category_id
    return lut[instance_ids]


# -- full labels: amodal, visibility, truncation, keypoints, pose -----------------------------------
BBOX_CORNER_NAMES = [f"corner_{i}{j}{k}" for i in (0, 1) for j in (0, 1) for k in (0, 1)]
# COCO skeleton (1-based) of the 12 box edges: corners that differ in exactly one axis
BBOX_SKELETON = [
    [a + 1, b + 1]
    for a in range(8)
    for b in range(a + 1, 8)
    if sum(x != y for x, y in zip(BBOX_CORNER_NAMES[a][7:], BBOX_CORNER_NAMES[b][7:], strict=True)) == 1
]


def keypoint_names(entry: Any) -> list[str]:
    """Names of a category's keypoints: config ``keypoints`` entry (``bbox_corners`` or a list)."""
    return list(BBOX_CORNER_NAMES) if isinstance(entry, str) else [p.name for p in entry]


def keypoint_skeleton(entry: Any) -> list[list[int]]:
    return [list(e) for e in BBOX_SKELETON] if isinstance(entry, str) else []


def _local_keypoints(entry: Any, geometry: ObjectGeometry) -> np.ndarray:
    """K x 3 mesh-local keypoints; ``bbox_corners`` uses the instance's own local bounding box."""
    if isinstance(entry, str):
        return box_corners(*geometry.local_bounds())
    return np.array([p.position for p in entry], dtype=float).reshape(-1, 3)


def label_frame(
    instance_ids: np.ndarray,
    depth: np.ndarray | None,
    spec: FrameSpec,
    policy: LabelPolicy | None = None,
    geometry: dict[int, ObjectGeometry] | None = None,
    keypoints: dict[str, Any] | None = None,
    stats: dict[str, int] | None = None,
    boxes_3d: bool = False,
) -> list[InstanceLabel]:
    """Every label of one rendered frame, in instance-id order, with the label policy applied.

    ``geometry`` (from the back-end) and ``depth`` enable amodal fields, keypoints and pose; without
    them only the visible mask, box and area are produced. ``stats`` collects per-image consistency counters.
    """
    if policy is None:
        from simgen.config.schema import LabelPolicy

        policy = LabelPolicy()
    stats = {} if stats is None else stats
    stats.setdefault("amodal_disagreement_px", 0)
    counts = np.bincount(instance_ids.ravel(), minlength=1)
    labels = []
    for obj in spec.labelled():
        area = int(counts[obj.instance_id]) if obj.instance_id < counts.size else 0
        if area == 0:
            continue  # nothing visible: no box to draw, never annotated
        visible = instance_ids == obj.instance_id
        label = InstanceLabel(
            instance_id=obj.instance_id,
            category_id=obj.category_id,
            category=obj.category or "",
            bbox=tight_bbox(visible),
            area=area,
            segmentation=encode_mask(visible),
        )
        geo = (geometry or {}).get(obj.instance_id)
        if geo is not None and depth is not None:
            if policy.amodal:
                sil = silhouette(geo, spec.camera)
                stats["amodal_disagreement_px"] += _add_amodal(label, visible, sil, depth, spec, policy)
            label.pose = object_pose(geo, spec.camera)
            if boxes_3d:
                label.box3d = box_3d(geo, spec.camera)
            entry = (keypoints or {}).get(obj.category or "")
            if entry:
                _add_keypoints(label, _local_keypoints(entry, geo), geo, spec.camera, depth, policy)
        if _below_threshold(label, policy):
            if policy.below_threshold == "drop":
                continue
            label.ignore, label.iscrowd = True, 1
        labels.append(label)
    return labels


def _add_amodal(
    label: InstanceLabel,
    visible: np.ndarray,
    sil: Silhouette,
    depth: np.ndarray,
    spec: FrameSpec,
    policy: LabelPolicy,
) -> int:
    """Fill the amodal fields; returns how many silhouette pixels the render contradicts.

    A silhouette pixel the object does not own in the render is *occluded* when the render saw a
    surface there that is not behind the object (nearer, within ``depth_tolerance``). Where the render
    saw nothing or only surfaces behind it (sub-pixel disagreement, e.g. depth of field jittering the
    render's sample) the pixel is left out, so an unoccluded object has amodal == visible exactly.
    """
    fx = float(spec.camera.intrinsics()[0, 0])
    hidden = sil.mask & ~visible
    seen = depth[hidden]
    object_depth = sil.depth[hidden]
    in_front = (seen > 0) & (seen <= object_depth + depth_tolerance(object_depth, fx, policy.depth_tolerance))
    occluded = np.zeros_like(visible)
    occluded[hidden] = in_front
    amodal = visible | occluded
    label.amodal_segmentation = encode_mask(amodal)
    label.amodal_area = int(amodal.sum())
    label.amodal_bbox = _union_box(sil.bbox, tight_bbox(amodal))
    label.visibility = round(label.area / label.amodal_area, 6)
    label.truncation = round(sil.truncation, 6)
    label.occluded = bool(label.amodal_area > label.area)
    return int(hidden.sum() - in_front.sum())


def _union_box(a: list[int], b: list[int]) -> list[int]:
    boxes = [x for x in (a, b) if x[2] > 0 and x[3] > 0]
    if not boxes:
        return [0, 0, 0, 0]
    x0 = min(x[0] for x in boxes)
    y0 = min(x[1] for x in boxes)
    x1 = max(x[0] + x[2] for x in boxes)
    y1 = max(x[1] + x[3] for x in boxes)
    return [x0, y0, x1 - x0, y1 - y0]


def _add_keypoints(
    label: InstanceLabel,
    local: np.ndarray,
    geo: ObjectGeometry,
    camera: CameraSpec,
    depth: np.ndarray,
    policy: LabelPolicy,
) -> None:
    """COCO keypoints [x, y, v] * K; v from the rendered depth (``geometry.keypoint_visibility``)."""
    uv, z = keypoints_camera(local, geo, camera)
    flags = keypoint_visibility(uv, z, depth, camera, policy.depth_tolerance)
    flat: list[float] = []
    for (u, v), flag in zip(uv, flags, strict=True):
        flat += [round(float(u), 3), round(float(v), 3), int(flag)] if flag else [0, 0, 0]
    label.keypoints = flat
    label.num_keypoints = int((flags > 0).sum())


def _below_threshold(label: InstanceLabel, policy: LabelPolicy) -> bool:
    if label.area < policy.min_visible_pixels:
        return True
    return label.visibility is not None and label.visibility < policy.min_visibility


def camera_record(camera: CameraSpec) -> dict[str, Any]:
    """Per-image camera: OpenCV intrinsics K and the world→camera transform (meters)."""
    record = {"K": camera.intrinsics().tolist(), "world_to_camera": camera.world_to_opencv().tolist()}
    if camera.distortion is not None:
        lens = camera.distortion
        record["distortion"] = {"model": lens.model, "coefficients": list(lens.coefficients)}
    return record


def camera_normals(normals_world: np.ndarray, camera: CameraSpec) -> np.ndarray:
    """World-space normal map → camera space in OpenCV axes (x right, y down, z forward); zeros stay zero."""
    rotation = camera.world_to_opencv()[:3, :3].astype(np.float32)
    return (normals_world.astype(np.float32) @ rotation.T).astype(np.float32)


def annotate(record: ImageRecord, result: Any, spec: FrameSpec, config: Any, backend: Any) -> None:
    """Label one rendered frame into ``record`` (instances, camera, stats, timings).

    Geometry comes from ``backend.object_geometry`` when the backend has it (Blender does); its cost
    and the labelling cost are recorded as ``timings["geometry"]`` and ``timings["labels"]``.
    """
    t0 = time.perf_counter()
    needs_geometry = (
        config.labels.amodal or bool(config.keypoints) or config.outputs.pose or config.outputs.boxes_3d
    )
    geometry = None
    if needs_geometry and hasattr(backend, "object_geometry"):
        geometry = backend.object_geometry(spec)
    t1 = time.perf_counter()
    stats: dict[str, int] = {}
    record.instances = label_frame(
        result.instance_ids,
        result.depth,
        spec,
        config.labels,
        geometry,
        config.keypoints,
        stats,
        boxes_3d=config.outputs.boxes_3d,
    )
    record.camera = camera_record(spec.camera)
    sequence, rig = spec.part("sequence"), spec.part("rig")
    if sequence is not None:
        record.sequence = {
            "clip": sequence.clip,
            "frame": sequence.frame,
            "time": round(sequence.time, 9),
            "frames": sequence.frames,
            "fps": sequence.fps,
        }
    if rig is not None:
        views = [rig.view(j) for j in range(len(rig.cameras))]
        record.rig = {
            "camera": rig.camera,
            "name": rig.names[rig.camera],
            "stereo": rig.stereo,
            "cameras": views,
        }
    record.label_stats = stats
    record.timings["geometry"] = t1 - t0
    record.timings["labels"] = time.perf_counter() - t1
