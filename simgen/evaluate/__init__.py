"""Sim-to-real evaluator: train torchvision detectors on synthetic COCO sets, test on real ones, report.

Importing this package does not import torch (the ``simgen`` CLI registers ``simgen eval`` even where the
``eval`` extra is not installed); modules that need torch are imported where they are used.

Modules, in data-flow order:

* :mod:`~simgen.evaluate.settings` - validated settings from flags / an experiment file;
* :mod:`~simgen.evaluate.datasets` - COCO reading, category matching, deterministic splits (no torch);
* :mod:`~simgen.evaluate.loader` - torch datasets, box/mask-aware augmentation, resumable sample stream;
* :mod:`~simgen.evaluate.models` / :mod:`~simgen.evaluate.backbones` - the torchvision detector zoo;
* :mod:`~simgen.evaluate.train` / :mod:`~simgen.evaluate.predict` - training loop, inference;
* :mod:`~simgen.evaluate.metrics` - COCOeval metrics (no torch);
* :mod:`~simgen.evaluate.experiments` - the experiment plan; :mod:`~simgen.evaluate.report` - the report;
* :mod:`~simgen.evaluate.rules` - annotation-rule differences between synthetic and real labels;
* :mod:`~simgen.evaluate.cli` - ``simgen eval``; :mod:`~simgen.evaluate.toydata` - toy COCO sets.
"""

import os
import sys

from simgen.evaluate.settings import EXPERIMENTS, EvalSettings

if "torch" not in sys.modules:
    # Measured on a shared 2-core machine: with other processes busy, OpenMP threads spinning at barriers
    # made a training step 8x slower (10 s instead of 1.2 s); passive waiting avoids it. Only a default:
    # it must be set before torch loads, and an explicit user setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__all__ = ["EXPERIMENTS", "EvalSettings"]
