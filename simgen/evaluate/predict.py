"""Running a trained detector over a test set and writing COCO results (boxes, masks when predicted)."""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from simgen.evaluate.loader import CocoDetection, collate
from simgen.evaluate.metrics import to_coco_results


@torch.no_grad()
def predict(
    model: nn.Module,
    dataset: CocoDetection,
    device: torch.device,
    label_to_category: list[int],
    batch_size: int = 4,
    workers: int = 0,
    progress: bool = True,
) -> tuple[list[dict[str, Any]], float]:
    """COCO results for every image of ``dataset`` (original image coordinates) and images/second.

    Images go in at their original size; the model resizes them itself and maps boxes and masks back.
    """
    model.eval().to(device)
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=False, collate_fn=collate, num_workers=workers
    )
    results: list[dict[str, Any]] = []
    started = time.perf_counter()
    for images, targets in tqdm(loader, desc="predict", disable=not progress, leave=False, unit="batch"):
        with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
            outputs = model([im.to(device) for im in images])
        for target, output in zip(targets, outputs, strict=True):
            arrays = {k: v.float().cpu().numpy() for k, v in output.items()}
            results += to_coco_results(target["image_id"], arrays, label_to_category)
    seconds = time.perf_counter() - started
    return results, len(dataset) / seconds if seconds > 0 else 0.0
