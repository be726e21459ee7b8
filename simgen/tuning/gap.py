"""The reality gap between renders and photos as one number: statistics distances and feature KID.

Two kinds of distance, both on the images a detector would see (longer side ``size``):
- **statistics**: the Kolmogorov-Smirnov distance between the renders' and the photos' distributions of
  every figure ``simgen compare`` reads (exposure, clipping, white balance, sharpness, objects per image;
  object saturation, value and size), and per category both sets share (box-center hue, saturation and
  value, box size and aspect, border-touching share, objects per image); their mean is ``stats``.
  Figures that need labels are left out where the photos have none.
- **features**: the Kernel Inception Distance (unbiased squared MMD with the cubic polynomial kernel of
  Binkowski et al. 2018, unbiased at small sample sizes) between ImageNet features of the packaged
  EfficientNet-Lite0 (1280-d, global-average pooled, each scaled to length sqrt(d) so the kernel sees
  cosines): ``kid_images`` on whole images, ``kid_objects`` on square crops around the boxes (when both
  sets have boxes).

``total`` = stats + KID_WEIGHT x (kid_images + kid_objects) (docs/tune.md has the measurements). Two
renders of the same config score near 0 (tested); renders of a different scene score high.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from simgen.appearance import CATEGORY_METRICS, METRICS, collect_values, ks_distance
from simgen.evaluate.datasets import CocoSet
from simgen.fileio import read_image

FEATURE_SIZE = 224  # whole images are resized to this square for the feature network
CROP_SIZE = 96  # object crops
CROP_CONTEXT = 1.25  # a crop's side as a multiple of the box's longer side
KID_WEIGHT = 1.0
LABEL_METRICS = ("objects_per_image", "object_saturation", "object_value", "object_size")


@dataclass
class Gap:
    stats: float
    kid_images: float
    kid_objects: float | None
    per_metric: dict[str, float]

    @property
    def total(self) -> float:
        return self.stats + KID_WEIGHT * (self.kid_images + (self.kid_objects or 0.0))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total": self.total}


def kid(x: np.ndarray, y: np.ndarray, normalize: bool = False) -> float:
    """Unbiased squared MMD between feature sets x (n x d) and y (m x d), kernel (x.y / d + 1)^3.

    ``normalize``: scale every feature vector to length sqrt(d) first, so x.y / d is a cosine in
    [-1, 1] and the distance does not grow with the network's activation scale (object crops and whole
    images activate it differently)."""
    if len(x) < 2 or len(y) < 2:
        return float("nan")
    d = x.shape[1]
    if normalize:
        x, y = (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12) * np.sqrt(d) for v in (x, y))
    kxx, kyy, kxy = ((a @ b.T / d + 1.0) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    n, m = len(x), len(y)
    xx = (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
    yy = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(xx + yy - 2.0 * kxy.mean())


class FeatureNet:
    """EfficientNet-Lite0 with its ImageNet head, pooled to 1280-d features (torch, CPU or GPU)."""

    def __init__(self, device: str = "cpu") -> None:
        import torch

        from simgen.evaluate.backbones import Lite0Classifier
        from simgen.evaluate.train import resolve_device

        self.torch = torch
        self.device = resolve_device(device)
        model = Lite0Classifier()
        model.load_imagenet()
        self.model = model.eval().to(self.device)

    def __call__(self, images: list[np.ndarray], batch: int = 32) -> np.ndarray:
        """N x 1280 features of RGB uint8 images (any size: each is resized to its network size)."""
        torch = self.torch
        out = []
        with torch.inference_mode():
            for start in range(0, len(images), batch):
                chunk = np.stack(images[start : start + batch]).astype(np.float32)
                x = torch.from_numpy((chunk - 127.0) / 128.0).permute(0, 3, 1, 2).to(self.device)
                features = self.model.head(self.model.features(x))
                out.append(torch.flatten(features.mean(dim=(2, 3)), 1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 1280), dtype=np.float32)


def _crop(rgb: np.ndarray, box: list[float]) -> np.ndarray | None:
    x, y, w, h = box
    side = max(w, h) * CROP_CONTEXT
    if side < 4:
        return None
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    size = round(side)
    padded = cv2.copyMakeBorder(rgb, size, size, size, size, cv2.BORDER_REFLECT)
    crop = padded[y0 + size : y0 + 2 * size, x0 + size : x0 + 2 * size]
    return cv2.resize(crop, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA)


def set_features(
    coco_set: CocoSet, net: FeatureNet, max_images: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(whole-image features, object-crop features) of a set (crops only of labelled, non-crowd boxes)."""
    wholes, crops = [], []
    for image in coco_set.images[:max_images]:
        rgb = read_image(coco_set.image_path(image))
        wholes.append(cv2.resize(rgb, (FEATURE_SIZE, FEATURE_SIZE), interpolation=cv2.INTER_AREA))
        for ann in coco_set.annotations.get(image["id"], []):
            if not ann.get("iscrowd", 0):
                crop = _crop(rgb, [float(v) for v in ann["bbox"]])
                if crop is not None:
                    crops.append(crop)
    return net(wholes), net(crops)


@dataclass
class Reference:
    """What the gap is measured against: a real set's statistics and features, computed once."""

    values: dict[str, list[float]]
    per_category: dict[str, dict[str, list[float]]]
    image_features: np.ndarray
    object_features: np.ndarray
    labelled: bool


def reference(real: CocoSet, net: FeatureNet, size: int = 448) -> Reference:
    values, per_category = collect_values(real, size)
    wholes, crops = set_features(real, net)
    return Reference(values, per_category, wholes, crops, labelled=real.num_annotations > 0)


def stats_distances(ours: CocoSet, ref: Reference, size: int = 448) -> dict[str, float]:
    """KS distance per figure (pooled and ``category/figure``), over what both sets can measure."""
    values, per_category = collect_values(ours, size)
    out = {}
    for metric in METRICS:
        if not ref.labelled and metric in LABEL_METRICS:
            continue
        if values[metric] and ref.values[metric]:
            out[metric] = ks_distance(values[metric], ref.values[metric])
    if ref.labelled:
        for name, theirs in ref.per_category.items():
            mine = per_category.get(name)
            if not mine:
                continue
            for metric in CATEGORY_METRICS:
                if mine.get(metric) and theirs.get(metric):
                    out[f"{name}/{metric}"] = ks_distance(mine[metric], theirs[metric])
    return out


def measure_gap(renders: CocoSet, ref: Reference, net: FeatureNet, size: int = 448) -> Gap:
    """The gap of a set of renders against a reference set of photos."""
    per_metric = stats_distances(renders, ref, size)
    pooled = [v for k, v in per_metric.items() if "/" not in k]
    per_category = [v for k, v in per_metric.items() if "/" in k]
    stats = float(np.mean(pooled + ([float(np.mean(per_category))] if per_category else [])))
    wholes, crops = set_features(renders, net)
    kid_objects = None
    if len(crops) >= 2 and len(ref.object_features) >= 2:
        kid_objects = max(kid(crops, ref.object_features, normalize=True), 0.0)
    return Gap(stats, max(kid(wholes, ref.image_features, normalize=True), 0.0), kid_objects, per_metric)


def compare_gap(renders: CocoSet, photos: CocoSet, size: int, box_scale: float = 1.0) -> dict[str, Any]:
    """``simgen compare --gap``: the gap of the renders against the photos (already cut to their
    training part by the caller, as the statistics are)."""
    net = FeatureNet()
    grown = boxes_scaled(renders, box_scale)
    return measure_gap(grown, reference(photos, net, size), net, size).to_dict()


def boxes_scaled(coco_set: Any, scale: float) -> Any:
    """A copy of the renders with their boxes grown by the real set's labelling rule (``simgen eval``
    measures it); the set given is left as it is, so the same renders can still be trained on with
    ``--synthetic-box-scale`` (growing them twice would be a silently wrong training set)."""
    if scale == 1.0:
        return coco_set
    from simgen.labels import grow_box

    by_image = {im["id"]: im for im in coco_set.images}
    grown = {
        image_id: [
            {
                **ann,
                "bbox": grow_box(
                    ann["bbox"], scale, by_image[image_id]["width"], by_image[image_id]["height"]
                ),
            }
            for ann in anns
        ]
        for image_id, anns in coco_set.annotations.items()
    }
    return CocoSet(
        coco_set.name,
        coco_set.json_path,
        list(coco_set.images),
        grown,
        dict(coco_set.categories),
        coco_set.root_dir,
    )
