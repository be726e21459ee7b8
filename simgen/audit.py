"""``simgen audit``: check every annotation of a COCO dataset against its own masks and files.

Each check is a rule from docs/labels.md; a violation names the file, the image, the annotation and what
was expected vs found. Works on any COCO file; simgen's extra fields (amodal, visibility, keypoints,
pose) are checked when present.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from simgen.errors import SimgenError
from simgen.fileio import read_exr_channels
from simgen.labels import decode_mask, tight_bbox
from simgen.writers import coco_data
from simgen.writers.coco import to_rle

MAX_LISTED = 200  # violations printed in full; the summary still counts all of them


@dataclass
class Violation:
    check: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.where}: {self.message}"


@dataclass
class AuditReport:
    path: Path
    images: int = 0
    annotations: int = 0
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def add(self, check: str, where: str, message: str) -> None:
        self.violations.append(Violation(check, where, message))

    def describe(self) -> str:
        head = f"{self.path}: audited {self.images} image(s), {self.annotations} annotation(s): "
        if self.ok:
            return head + "all checks passed"
        counts = Counter(v.check for v in self.violations)
        summary = ", ".join(f"{k}={n}" for k, n in counts.items())
        lines = [head + f"{len(self.violations)} violation(s) ({summary})"]
        lines += [f"  {v}" for v in self.violations[:MAX_LISTED]]
        if len(self.violations) > MAX_LISTED:
            lines.append(f"  ... and {len(self.violations) - MAX_LISTED} more")
        return "\n".join(lines)


def audit_dataset(path: str | Path, check_files: bool = True, deep: bool = False) -> AuditReport:
    """Audit a dataset folder (its annotations.json) or a COCO json file; ``deep`` also checks each file
    of a simgen dataset against its record (size, content hash, decodes)."""
    from simgen.writers.coco import coco_json_path, coco_parts, is_parts_index

    json_path = coco_json_path(path)
    if is_parts_index(json_path):
        return _audit_parts(json_path, check_files, deep, coco_parts(json_path, references=False))
    data, json_path, root = coco_data(path, references=False)
    report = AuditReport(json_path, len(data["images"]), len(data["annotations"]))
    if deep:
        _check_records(root, report)
    _audit_data(data, root, report, check_files)
    return report


def _audit_parts(index: Path, check_files: bool, deep: bool, parts: Any) -> AuditReport:
    """The split form, one part at a time (memory bounded by a part): one report for the whole set."""
    report = AuditReport(index)
    root = index.parent.parent
    if deep:
        _check_records(root, report)
    seen: set[int] = set()
    for part in parts:
        report.images += len(part.data["images"])
        report.annotations += len(part.data["annotations"])
        ids = {im.get("id") for im in part.data["images"] if isinstance(im, dict)}
        for repeated in sorted(ids & seen)[:10]:
            report.add("image_id", f"image {repeated}", f"appears in more than one part ({part.path.name})")
        seen |= ids
        _audit_data(part.data, root, report, check_files)
    return report


def _audit_data(data: dict[str, Any], root: Path, report: AuditReport, check_files: bool) -> None:
    _check_ids(data, report)
    categories = {c["id"]: c for c in data["categories"]}
    images = {im["id"]: im for im in data["images"]}
    by_image: dict[int, list[dict[str, Any]]] = {}
    for ann in data["annotations"]:
        where = f"annotation {ann.get('id')} (image {ann.get('image_id')})"
        if ann.get("category_id") not in categories:
            report.add("category", where, f"category_id {ann.get('category_id')} is not in categories")
        if ann.get("image_id") not in images:
            report.add("image_id", where, "refers to an image id that is not in images")
            continue
        by_image.setdefault(ann["image_id"], []).append(ann)
    ctx = _Context(categories, root, report, check_files, _label_policy(root))
    for image_id, image in images.items():
        _audit_image(image, by_image.get(image_id, []), ctx)
    _check_tracks(data, images, root, report)


def _check_records(root: Path, report: AuditReport) -> None:
    """``--deep``: every record of the dataset at the strictest level (simgen.build.records)."""
    from simgen.build.layout import record_files
    from simgen.build.records import check_record

    records = record_files(root)
    if not records:
        report.add("records", str(root), "--deep needs a simgen dataset folder (records/ holds no records)")
    for index, path in sorted(records.items()):
        _, problem = check_record(root, path, index, "decode")
        if problem:
            report.add("records", str(path.relative_to(root)), problem)


@dataclass
class _Context:
    categories: dict[int, dict[str, Any]]
    root: Path
    report: AuditReport
    check_files: bool
    policy: dict[str, Any] | None  # the dataset's config.yaml ``labels`` section, when there is one


def _label_policy(root: Path) -> dict[str, Any] | None:
    """The label policy a simgen dataset was built with (None for other COCO files)."""
    try:
        raw = yaml.safe_load((root / "config.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return None
    labels = raw.get("labels") if isinstance(raw, dict) else None
    return labels if isinstance(labels, dict) else {}


def _check_ids(data: dict[str, Any], report: AuditReport) -> None:
    for key in ("images", "annotations", "categories"):
        ids = Counter(item.get("id") for item in data[key])
        dupes = sorted(str(i) for i, n in ids.items() if n > 1)
        if dupes:
            report.add("unique_ids", key, f"duplicate ids {', '.join(dupes[:20])}")


def _audit_image(image: dict[str, Any], anns: list[dict[str, Any]], ctx: _Context) -> None:
    categories, root, report, check_files = ctx.categories, ctx.root, ctx.report, ctx.check_files
    name = f"image {image['id']} ({image.get('file_name')})"
    height, width = int(image.get("height", 0)), int(image.get("width", 0))
    if check_files:
        _check_files(image, root, width, height, name, report)
    instance_map = _instance_map(image, root) if check_files else None
    owner = np.zeros((height, width), dtype=np.int64)  # annotation id owning each visible pixel
    instance_ids: dict[int, Any] = {}
    for ann in anns:
        where = f"{name} annotation {ann.get('id')}"
        if "instance_id" in ann:
            claimed = instance_ids.setdefault(ann["instance_id"], ann.get("id"))
            if claimed != ann.get("id"):
                message = f"instance_id {ann['instance_id']} already used by annotation {claimed}"
                report.add("unique_ids", where, message)
        if not ann.get("segmentation"):  # a boxes-only annotation: the box must lie in the image
            _check_box_only(ann, width, height, where, report)
            continue
        mask = _decode(ann.get("segmentation"), height, width, "segmentation", where, report)
        if mask is None:
            continue
        _check_box_and_area(ann, mask, where, report)
        overlap = mask & (owner > 0)
        if overlap.any():
            others = sorted(set(owner[overlap].tolist()))
            n = int(overlap.sum())
            report.add("overlap", where, f"visible mask overlaps annotation(s) {others} on {n} px")
        owner[mask & (owner == 0)] = ann.get("id", -1)
        if instance_map is not None and "instance_id" in ann:
            differ = int((mask != (instance_map == ann["instance_id"])).sum())
            if differ:
                report.add("instance_map", where, f"mask differs from the instance map on {differ} px")
        _check_amodal(ann, mask, height, width, where, report)
        _check_keypoints(ann, categories.get(ann.get("category_id"), {}), width, height, where, report)
        _check_pose(ann, where, report)
        _check_box3d(ann, mask, height, width, where, report)
        if ann.get("ignore") and not ann.get("iscrowd"):
            report.add("ignore", where, "ignore=true must come with iscrowd=1")
    if instance_map is not None and ctx.policy is not None:
        _check_unlabelled(instance_map, set(instance_ids), ctx.policy, name, report)
    if check_files:
        _check_motion_maps(image, root, name, report)


def _check_unlabelled(
    instance_map: np.ndarray, annotated: set[int], policy: dict[str, Any], name: str, report: AuditReport
) -> None:
    """Instances visible in the instance map must be annotated unless the label policy dropped them.

    With ``below_threshold: ignore`` every visible instance is annotated; with ``drop`` those with at least
    ``min_visible_pixels`` are (unless ``min_visibility`` may have dropped them: not checkable here).
    """
    if policy.get("below_threshold", "drop") != "ignore" and policy.get("min_visibility", 0.0) > 0:
        return
    least = 1 if policy.get("below_threshold") == "ignore" else int(policy.get("min_visible_pixels", 1))
    ids, counts = np.unique(instance_map, return_counts=True)
    for k, n in zip(ids.tolist(), counts.tolist(), strict=True):
        if k and n >= least and k not in annotated:
            report.add(
                "unlabelled", name, f"instance {k} has {n} visible px in the instance map but no annotation"
            )


def _check_files(
    image: dict[str, Any], root: Path, width: int, height: int, name: str, report: AuditReport
) -> None:
    path = root / str(image.get("file_name", ""))
    if not path.is_file():
        report.add("image_file", name, f"image file missing: {path}")
        return
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        report.add("image_file", name, f"image file is not readable (corrupt or truncated?): {path}")
    elif pixels.shape[:2] != (height, width):
        found = f"{pixels.shape[1]}x{pixels.shape[0]}"
        report.add("image_size", name, f"declared {width}x{height}, file {path.name} is {found}")
    for key, rel in image.items():
        if key.endswith("_file") and not (root / str(rel)).is_file():
            report.add("image_file", name, f"{key} missing: {root / str(rel)}")


def _instance_map(image: dict[str, Any], root: Path) -> np.ndarray | None:
    rel = image.get("instances_file")
    if not rel or not (root / rel).is_file():
        return None
    ids = cv2.imread(str(root / rel), cv2.IMREAD_UNCHANGED)
    if ids is None or ids.shape[:2] != (image.get("height"), image.get("width")):
        return None
    return ids


def _decode(seg: Any, height: int, width: int, field_name: str, where: str, report: AuditReport):
    if not seg:
        return None if seg is None else np.zeros((height, width), dtype=bool)
    try:
        if isinstance(seg, dict) and list(seg.get("size", [])) != [height, width]:
            report.add("rle", where, f"{field_name} size {seg.get('size')} != image [{height}, {width}]")
            return None
        return decode_mask(to_rle(seg, height, width))
    except Exception as exc:  # pycocotools raises assorted errors on corrupt RLE strings
        report.add("rle", where, f"{field_name} does not decode: {exc}")
        return None


def _check_box_and_area(ann: dict[str, Any], mask: np.ndarray, where: str, report: AuditReport) -> None:
    tight = tight_bbox(mask)
    bbox = [round(float(v), 6) for v in ann.get("bbox", [])]
    if bbox != [float(v) for v in tight]:
        report.add("bbox", where, f"bbox {ann.get('bbox')} != tight bounds of its mask {tight}")
    if ann.get("area") != int(mask.sum()):
        report.add("area", where, f"area {ann.get('area')} != mask pixel count {int(mask.sum())}")
    if not mask.any():
        report.add("empty", where, "mask has no pixels")


def _check_box_only(ann: dict[str, Any], width: int, height: int, where: str, report: AuditReport) -> None:
    x, y, w, h = [*ann.get("bbox", []), 0, 0, 0, 0][:4]
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width or y + h > height:
        report.add("bbox", where, f"bbox {ann.get('bbox')} is empty or leaves the {width}x{height} image")


def _check_amodal(
    ann: dict[str, Any], mask: np.ndarray, height: int, width: int, where: str, report: AuditReport
) -> None:
    if "amodal_segmentation" not in ann:
        return
    amodal = _decode(ann["amodal_segmentation"], height, width, "amodal_segmentation", where, report)
    if amodal is None:
        return
    if (mask & ~amodal).any():
        report.add("amodal", where, f"{int((mask & ~amodal).sum())} visible px are outside the amodal mask")
    count = int(amodal.sum())
    if ann.get("amodal_area") != count:
        report.add("amodal", where, f"amodal_area {ann.get('amodal_area')} != pixel count {count}")
    box = ann.get("amodal_bbox") or [0, 0, 0, 0]
    tight = tight_bbox(amodal)
    if amodal.any() and not _contains(box, tight):
        report.add("amodal", where, f"amodal_bbox {box} does not contain the amodal mask's bounds {tight}")
    visibility = ann.get("visibility")
    visible = int(mask.sum())
    expected = visible / max(count, 1)
    if visibility is None or abs(visibility - expected) > 1e-5:
        report.add("visibility", where, f"visibility {visibility} != area / amodal_area = {expected:.6f}")
    if ann.get("occluded") != (count > visible):
        report.add("visibility", where, f"occluded={ann.get('occluded')} contradicts the masks")
    truncation = ann.get("truncation")
    if truncation is None or not 0.0 <= truncation <= 1.0:
        report.add("truncation", where, f"truncation {truncation} outside [0, 1]")


def _contains(outer: list[int], inner: list[int]) -> bool:
    return (
        outer[0] <= inner[0]
        and outer[1] <= inner[1]
        and outer[0] + outer[2] >= inner[0] + inner[2]
        and outer[1] + outer[3] >= inner[1] + inner[3]
    )


def _check_keypoints(
    ann: dict[str, Any], category: dict[str, Any], width: int, height: int, where: str, report: AuditReport
) -> None:
    if "keypoints" not in ann:
        return
    kps = ann["keypoints"]
    names = category.get("keypoints", [])
    if len(kps) != 3 * len(names):
        report.add("keypoints", where, f"{len(kps) // 3} keypoints, category declares {len(names)}")
        return
    labelled = 0
    for k in range(len(names)):
        x, y, v = kps[3 * k : 3 * k + 3]
        if v not in (0, 1, 2):
            report.add("keypoints", where, f"{names[k]}: visibility flag {v} not in 0/1/2")
        elif v == 0 and (x, y) != (0, 0):
            report.add("keypoints", where, f"{names[k]}: v=0 must have x=y=0 (COCO), found ({x}, {y})")
        elif v > 0 and not (0 <= x < width and 0 <= y < height):
            report.add("keypoints", where, f"{names[k]}: marked v={v} but ({x}, {y}) is outside the image")
        labelled += v > 0
    if ann.get("num_keypoints", labelled) != labelled:
        report.add("keypoints", where, f"num_keypoints {ann.get('num_keypoints')} != {labelled} labelled")


def _check_pose(ann: dict[str, Any], where: str, report: AuditReport) -> None:
    pose = ann.get("pose")
    if pose is None:
        return
    rot = np.asarray(pose.get("R", []), dtype=float)
    if rot.size != 9 or len(pose.get("t", [])) != 3:
        report.add("pose", where, "pose needs R (9 values) and t (3 values)")
        return
    rot = rot.reshape(3, 3)
    if not np.allclose(rot @ rot.T, np.eye(3), atol=1e-6) or np.linalg.det(rot) < 0:
        report.add("pose", where, "pose R is not a rotation matrix")


HULL_TOLERANCE_PX = 1.5  # mask pixels may stick out of the projected box by rasterization


def _check_box3d(
    ann: dict[str, Any], mask: np.ndarray, height: int, width: int, where: str, report: AuditReport
) -> None:
    """The 8 projected corners of a 3D box must enclose the object's (amodal) mask."""
    box = ann.get("box3d")
    if box is None:
        return
    corners = np.asarray(box.get("corners", []), dtype=np.float32)
    depth = np.asarray(box.get("corners_depth", []), dtype=float)
    if corners.size != 16 or depth.size != 8 or len(box.get("size", [])) != 3:
        report.add("box3d", where, "box3d needs 8 corners (16 values), 8 corners_depth and a size")
        return
    if (depth <= 0).any():
        return  # a box reaching behind the camera has no closed outline in the image
    amodal = ann.get("amodal_segmentation")
    full = _decode(amodal, height, width, "amodal_segmentation", where, report) if amodal else mask
    if full is None or not full.any():
        return
    hull = cv2.convexHull(corners.reshape(8, 2))
    ys, xs = np.nonzero(full)
    outside = [
        cv2.pointPolygonTest(hull, (float(x) + 0.5, float(y) + 0.5), True) < -HULL_TOLERANCE_PX
        for x, y in zip(xs[:: max(1, len(xs) // 2000)], ys[:: max(1, len(ys) // 2000)], strict=True)
    ]
    if any(outside):
        report.add("box3d", where, f"{sum(outside)} sampled mask px lie outside the projected 3D box")


def _read_exr(path: Path) -> dict[str, np.ndarray] | None:
    try:
        return read_exr_channels(path)
    except SimgenError:
        return None


def _check_motion_maps(image: dict[str, Any], root: Path, name: str, report: AuditReport) -> None:
    """Flow and disparity are finite exactly where the depth map saw a surface."""
    depth_file = image.get("depth_file")
    if not depth_file or not (image.get("flow_file") or image.get("disparity_file")):
        return
    depth = (_read_exr(root / depth_file) or {}).get("Z")
    if depth is None:
        return
    surface = depth > 0
    for key, channels in (("flow_file", None), ("disparity_file", ("D",))):
        rel = image.get(key)
        if not rel:
            continue
        data = _read_exr(root / rel)
        if data is None:
            report.add("motion_maps", name, f"{key} {rel} is not a readable EXR")
            continue
        for channel in channels or sorted(data):
            plane = data.get(channel)
            if plane is None or plane.shape != depth.shape:
                report.add("motion_maps", name, f"{rel}: channel {channel} missing or not image-sized")
                continue
            finite = np.isfinite(plane)
            wrong = int((finite != surface).sum())
            if wrong:
                report.add(
                    "motion_maps", name, f"{rel} {channel}: {wrong} px finite off-surface or NaN on it"
                )


def _check_tracks(
    data: dict[str, Any], images: dict[int, dict[str, Any]], root: Path, report: AuditReport
) -> None:
    """Clips: one image per (video, frame), frames inside the video, and every track keeps its category
    (unless the scene names a rule that derives it from the pose, e.g. die_face_up)."""
    videos = {v.get("id"): v for v in data.get("videos", []) if isinstance(v, dict)}
    seen: dict[tuple[Any, Any], Any] = {}
    for image in images.values():
        if "video_id" not in image:
            continue
        key = (image["video_id"], image.get("frame_id"))
        if key in seen:
            report.add(
                "tracks", f"image {image['id']}", f"video {key[0]} frame {key[1]} is also image {seen[key]}"
            )
        seen[key] = image["id"]
        length = videos.get(image["video_id"], {}).get("length")
        frame = image.get("frame_id")
        if length is not None and not (isinstance(frame, int) and 0 <= frame < length):
            report.add("tracks", f"image {image['id']}", f"frame_id {frame} outside video of {length} frames")
    if _has_category_rule(root):
        return
    category_of: dict[Any, Any] = {}
    for ann in data["annotations"]:
        track = ann.get("track_id")
        if track is None:
            continue
        first = category_of.setdefault(track, ann.get("category_id"))
        if first != ann.get("category_id"):
            where = f"annotation {ann.get('id')} (image {ann.get('image_id')})"
            report.add("tracks", where, f"track {track} changes category {first} -> {ann.get('category_id')}")


def _has_category_rule(root: Path) -> bool:
    try:
        raw = yaml.safe_load((root / "config.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return False
    objects = raw.get("objects") if isinstance(raw, dict) else None
    return any(isinstance(o, dict) and o.get("category_rule") for o in objects or [])
