"""What an evaluation is made of: the loaded data (``Study``) and the models to train on it (``Run``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simgen.evaluate.datasets import CategoryMatch, CocoSet
from simgen.evaluate.settings import EvalSettings


@dataclass
class Study:
    """The loaded data of one evaluation: synthetic sets, real train/test sets, label space."""

    settings: EvalSettings
    synthetic: list[CocoSet]
    real_test: CocoSet
    real_train: CocoSet | None
    categories: CategoryMatch
    out: Path

    @property
    def num_synthetic(self) -> int:
        return sum(len(s.images) for s in self.synthetic)


@dataclass
class Run:
    """One model to train and test."""

    name: str
    experiment: str
    train_sets: list[CocoSet]
    iters: int
    weights: list[float] | None = None  # per-source sampling share (mixed)
    init_from: str | None = None  # run whose final weights start this one (finetune)
    num_synthetic: int = 0
