"""The training loop: SGD with warmup + cosine decay, checkpoints, exact resume, AMP on CUDA.

Exact resume: the checkpoint holds model, optimizer, LR schedule, AMP scaler and the global torch RNG
state (the detectors sample anchors/proposals with it); the data stream is a pure function of the seed
(see :mod:`simgen.evaluate.loader`). A run stopped at iteration ``k`` and resumed therefore continues
with bit-identical weights on the same device and thread count.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from simgen.errors import SimgenError
from simgen.evaluate.loader import MultiSource, TrainStream, collate

CHECKPOINT = "checkpoint.pt"
LOG = "train_log.jsonl"


@dataclass(frozen=True)
class TrainConfig:
    iters: int
    batch_size: int = 4
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_iters: int = 50
    grad_clip: float = 10.0
    seed: int = 0
    checkpoint_every: int = 50
    workers: int = 0


@dataclass
class TrainResult:
    iters: int
    seconds: float  # wall time of this process's share (a resumed run counts only what it ran)
    iters_per_second: float
    final_loss: float


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present (and then AMP is used), else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SimgenError("--device cuda: no CUDA device is available (use --device auto or cpu)")
    if name not in ("cpu", "cuda"):
        raise SimgenError(f"--device {name!r}: choose auto, cpu or cuda")
    return torch.device(name)


def default_workers() -> int:
    """Data-loading processes: none on tiny machines (they would steal the training cores)."""
    cpus = os.cpu_count() or 1
    return 0 if cpus <= 2 else min(4, cpus // 2)


def lr_factor(cfg: TrainConfig) -> Callable[[int], float]:
    """Linear warmup, then cosine decay to 5% of the base rate at the last iteration."""
    warmup = min(cfg.warmup_iters, max(1, cfg.iters // 5))

    def factor(step: int) -> float:
        if step < warmup:
            return 0.001 + (1 - 0.001) * step / warmup
        progress = (step - warmup) / max(1, cfg.iters - warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


class Trainer:
    """Owns the model, optimizer, schedule and scaler for one run directory."""

    def __init__(
        self, model: nn.Module, cfg: TrainConfig, device: torch.device, run_dir: Path, fingerprint: str
    ) -> None:
        self.model = model.to(device)
        self.cfg, self.device, self.run_dir, self.fingerprint = cfg, device, run_dir, fingerprint
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_factor(cfg))
        self.amp = device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.iteration = 0

    # --- checkpoints ---------------------------------------------------------------------------------
    def save(self) -> None:
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "iteration": self.iteration,
            "fingerprint": self.fingerprint,
            "config": asdict(self.cfg),
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }
        tmp = self.run_dir / (CHECKPOINT + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.run_dir / CHECKPOINT)  # never leave a half-written checkpoint

    def load(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=True)
        if state.get("fingerprint") != self.fingerprint:
            raise SimgenError(
                f"{path}: checkpoint was made with different settings; use a new --out or "
                "delete this run folder to start it again"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.iteration = int(state["iteration"])
        torch.set_rng_state(state["rng_cpu"].cpu())
        if state["rng_cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["rng_cuda"]])

    # --- training --------------------------------------------------------------------------------------
    def step(self, images: list[torch.Tensor], targets: list[dict[str, Any]]) -> dict[str, float]:
        images = [im.to(self.device, non_blocking=True) for im in images]
        targets = [
            {k: (v.to(self.device) if torch.is_tensor(v) else v) for k, v in t.items()} for t in targets
        ]
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
            losses = self.model(images, targets)
        loss = sum(losses.values())
        if not torch.isfinite(loss):
            raise SimgenError(
                f"training diverged at iteration {self.iteration} (loss {loss.item()}); try a lower --lr"
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return {"loss": float(loss.item()), **{k: float(v.item()) for k, v in losses.items()}}

    def run(
        self,
        data: MultiSource,
        weights: list[float] | None = None,
        stop_after: int | None = None,
        progress: bool = True,
        desc: str = "train",
    ) -> TrainResult:
        """Train to ``cfg.iters`` (or stop after iteration ``stop_after``, to test resuming)."""
        end = self.cfg.iters if stop_after is None else min(stop_after, self.cfg.iters)
        stream = TrainStream(
            [len(s) for s in data.sources],
            self.cfg.batch_size,
            end,
            self.cfg.seed,
            start_iter=self.iteration,
            weights=weights,
        )
        loader = DataLoader(
            data,
            batch_sampler=stream,
            collate_fn=collate,
            num_workers=self.cfg.workers,
            pin_memory=self.device.type == "cuda",
            generator=torch.Generator(),
        )
        self.model.train()
        start_iter, started, last = self.iteration, time.perf_counter(), {"loss": math.nan}
        bar = tqdm(
            loader,
            total=len(stream),
            initial=0,
            desc=desc,
            disable=not progress,
            leave=False,
            unit="it",
            dynamic_ncols=True,
        )
        with (self.run_dir / LOG).open("a") as log:
            try:
                for images, targets in bar:
                    last = self.step(images, targets)
                    self.iteration += 1
                    bar.set_postfix(loss=f"{last['loss']:.3f}")
                    if self.iteration % 10 == 0 or self.iteration == end:
                        record = {"iter": self.iteration, "lr": self.scheduler.get_last_lr()[0], **last}
                        log.write(json.dumps(record) + "\n")
                        log.flush()  # readable while training runs
                    if self.iteration % self.cfg.checkpoint_every == 0:
                        self.save()
            except KeyboardInterrupt:
                self.save()  # the last completed iteration; rerun with --resume to continue
                raise
        self.save()
        seconds = time.perf_counter() - started
        done = self.iteration - start_iter
        return TrainResult(self.iteration, seconds, done / seconds if seconds > 0 else 0.0, last["loss"])


def train(
    model: nn.Module,
    data: MultiSource,
    cfg: TrainConfig,
    run_dir: Path,
    device: torch.device,
    fingerprint: str = "",
    weights: list[float] | None = None,
    resume: bool = True,
    stop_after: int | None = None,
    progress: bool = True,
    desc: str = "train",
) -> TrainResult:
    """Train ``model`` in ``run_dir``, continuing from ``run_dir/checkpoint.pt`` when ``resume``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(model, cfg, device, run_dir, fingerprint)
    checkpoint = run_dir / CHECKPOINT
    if resume and checkpoint.is_file():
        trainer.load(checkpoint)
    else:
        torch.manual_seed(cfg.seed)
        (run_dir / LOG).unlink(missing_ok=True)
    return trainer.run(data, weights, stop_after, progress, desc)
