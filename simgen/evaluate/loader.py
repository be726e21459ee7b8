"""Torch side of the data: COCO images -> (image, target) pairs, augmentation, a resumable sample stream.

Reproducibility design: the training stream is a pure function of (seed, sample number). Sample ``k`` is
picked from a per-epoch permutation seeded by (seed, epoch), and its augmentation runs under a torch RNG
seeded by (seed, k) inside ``fork_rng`` so the global RNG (used by the detectors' samplers) is untouched.
Resuming at iteration ``i`` therefore replays exactly the batches an uninterrupted run would see, whatever
the number of DataLoader workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler
from torchvision import tv_tensors
from torchvision.transforms import v2

from simgen.errors import SimgenError
from simgen.evaluate.datasets import CocoSet, annotation_mask
from simgen.fileio import read_image
from simgen.labels import grow_box

Target = dict[str, Any]
SampleKey = tuple[int, int, int]  # (source, index in source, augmentation seed or -1 for none)


@dataclass(frozen=True)
class AugmentConfig:
    """Box- and mask-aware augmentation (torchvision.transforms.v2)."""

    hflip: bool = True
    vflip: bool = False
    scale_range: tuple[float, float] = (0.6, 1.6)  # large-scale jitter, then crop/pad to a square
    color_jitter: float = 0.3  # brightness/contrast/saturation strength; hue gets a tenth of it


def train_transform(image_size: int, aug: AugmentConfig) -> v2.Transform:
    """Flips, scale jitter to a fixed ``image_size`` square (what the model then sees), color jitter.

    The model resizes so the longer side equals ``image_size``: scale jitter + crop to that square is
    the only way to change object scale that the model's own resize does not undo. Color jitter runs
    last, on the small square: on 640 px photos it was most of the data-loading time (hue especially).
    """
    steps: list[v2.Transform] = []
    if aug.hflip:
        steps.append(v2.RandomHorizontalFlip())
    if aug.vflip:
        steps.append(v2.RandomVerticalFlip())
    steps += [
        v2.ScaleJitter((image_size, image_size), scale_range=aug.scale_range, antialias=True),
        v2.RandomCrop(
            (image_size, image_size), pad_if_needed=True, fill={tv_tensors.Image: 114, "others": 0}
        ),
    ]
    if aug.color_jitter > 0:
        c = aug.color_jitter
        steps.append(v2.ColorJitter(brightness=c, contrast=c, saturation=c, hue=min(0.5, c / 10)))
    steps += [v2.ClampBoundingBoxes(), v2.SanitizeBoundingBoxes(min_size=2)]
    return v2.Compose(steps)


class CocoDetection(Dataset):
    """Images and targets of one :class:`CocoSet`, labels remapped to the evaluation label space.

    Annotations whose category is not in ``label_map`` (dropped with ``NAME=-``), crowd regions and
    degenerate boxes are skipped. Masks are decoded only when ``with_masks`` (Mask R-CNN training).
    ``box_scale`` grows every box about its center (:func:`simgen.labels.grow_box`); masks stay as they are.
    """

    def __init__(
        self,
        coco_set: CocoSet,
        label_map: dict[int, int],
        with_masks: bool = False,
        transform: v2.Transform | None = None,
        box_scale: float = 1.0,
    ) -> None:
        self.coco_set = coco_set
        self.label_map = label_map
        self.with_masks = with_masks
        self.transform = transform
        self.box_scale = box_scale

    def __len__(self) -> int:
        return len(self.coco_set.images)

    def read_image(self, index: int) -> torch.Tensor:
        path = self.coco_set.image_path(self.coco_set.images[index])
        try:
            array = read_image(path)
        except SimgenError as error:
            raise SimgenError(f"{error} (listed in {self.coco_set.json_path})") from None
        return torch.from_numpy(array).permute(2, 0, 1)

    def target(self, index: int, height: int, width: int) -> Target:
        image = self.coco_set.images[index]
        boxes, labels, masks = [], [], []
        for ann in self.coco_set.annotations.get(image["id"], []):
            x, y, w, h = ann["bbox"]
            if ann.get("iscrowd", 0) or ann["category_id"] not in self.label_map or w < 1 or h < 1:
                continue
            if self.box_scale != 1.0:
                x, y, w, h = grow_box([x, y, w, h], self.box_scale, width, height)
            boxes.append([x, y, x + w, y + h])
            labels.append(self.label_map[ann["category_id"]])
            if self.with_masks:
                mask = annotation_mask(ann, height, width)
                if mask is None:
                    raise SimgenError(
                        f"{self.coco_set.json_path}: annotation {ann['id']} has no segmentation "
                        "but the model predicts masks (use a box-only model)"
                    )
                masks.append(mask)
        target: Target = {
            "boxes": tv_tensors.BoundingBoxes(
                torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                format="XYXY",
                canvas_size=(height, width),
            ),
            "labels": torch.tensor(labels, dtype=torch.int64),
            "image_id": int(image["id"]),
        }
        if self.with_masks:
            stacked = np.stack(masks) if masks else np.zeros((0, height, width), np.uint8)
            target["masks"] = tv_tensors.Mask(torch.from_numpy(stacked))
        return target

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, Target]:
        index, seed = key if isinstance(key, tuple) else (key, -1)
        image = self.read_image(index)
        target = self.target(index, image.shape[1], image.shape[2])
        image = tv_tensors.Image(image)
        if self.transform is not None and seed >= 0:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                image, target = self.transform(image, target)
        return v2.functional.to_dtype(image, torch.float32, scale=True).as_subclass(torch.Tensor), target


class MultiSource(Dataset):
    """Several :class:`CocoDetection` sources addressed by (source, index, seed) keys."""

    def __init__(self, sources: list[CocoDetection]) -> None:
        self.sources = sources

    def __len__(self) -> int:
        return sum(len(s) for s in self.sources)

    def __getitem__(self, key: SampleKey) -> tuple[torch.Tensor, Target]:
        source, index, seed = key
        return self.sources[source][(index, seed)]


class TrainStream(Sampler[list[SampleKey]]):
    """Batches of sample keys for iterations ``start .. total-1``, a pure function of the seed.

    ``weights`` set each source's share of an epoch (e.g. 0.5 real in the mixed experiment); by default
    each source contributes its own size, i.e. plain concatenation.
    """

    def __init__(
        self,
        sizes: list[int],
        batch_size: int,
        total_iters: int,
        seed: int,
        start_iter: int = 0,
        weights: list[float] | None = None,
    ) -> None:
        self.sizes, self.batch_size, self.seed = sizes, batch_size, seed
        self.total_iters, self.start_iter = total_iters, start_iter
        total = sum(sizes)
        self.counts = sizes if weights is None else [max(1, round(w * total / sum(weights))) for w in weights]
        self.epoch_length = sum(self.counts)
        self._cache: tuple[int, list[tuple[int, int]]] | None = None

    def __len__(self) -> int:
        return self.total_iters - self.start_iter

    def epoch_order(self, epoch: int) -> list[tuple[int, int]]:
        """(source, index) for every slot of one epoch, shuffled."""
        if self._cache is not None and self._cache[0] == epoch:
            return self._cache[1]
        rng = np.random.default_rng([self.seed, epoch])
        slots: list[tuple[int, int]] = []
        for source, (size, count) in enumerate(zip(self.sizes, self.counts, strict=True)):
            repeats = -(-count // size)
            indices = np.concatenate([rng.permutation(size) for _ in range(repeats)])[:count]
            slots += [(source, int(i)) for i in indices]
        order = [slots[i] for i in rng.permutation(len(slots))]
        self._cache = (epoch, order)
        return order

    def sample(self, number: int) -> SampleKey:
        source, index = self.epoch_order(number // self.epoch_length)[number % self.epoch_length]
        seed = int(np.random.default_rng([self.seed, number, 7]).integers(0, 2**31 - 1))
        return source, index, seed

    def __iter__(self) -> Iterator[list[SampleKey]]:
        for iteration in range(self.start_iter, self.total_iters):
            first = iteration * self.batch_size
            yield [self.sample(first + k) for k in range(self.batch_size)]


def collate(batch: list[tuple[torch.Tensor, Target]]) -> tuple[list[torch.Tensor], list[Target]]:
    images, targets = zip(*batch, strict=True)
    return list(images), list(targets)
