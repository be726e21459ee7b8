"""The experiment plan: which models to train on which data, run (or resume) them, collect results.

Experiments (each is one or more *runs*, a run = train one model + test it on the real test set):

* ``synthetic``: train on all synthetic sets;
* ``real``: train on the real training images only (the baseline synthetic data has to beat or help);
* ``finetune``: start from the ``synthetic`` model, continue on the real training images;
* ``mixed``: train on synthetic + real together, real drawn with probability ``mix_real_fraction``;
* ``scaling``: the synthetic run on nested subsets of the synthetic images (AP vs number of images).

Every run gets the same iteration budget (so the scaling curve compares data, not compute); a run's folder
holds its checkpoint, final weights, COCO predictions and result.json, so a rerun with ``--resume`` skips
finished runs and continues interrupted ones.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any

from simgen.errors import SimgenError
from simgen.evaluate.datasets import (
    CocoSet,
    load_coco,
    match_categories,
    nested_subset,
    parse_category_map,
    split_set,
)
from simgen.evaluate.settings import DEFAULT_ITERS, EvalSettings
from simgen.evaluate.study import Run, Study
from simgen.fileio import json_digest

RESULT = "result.json"
MODEL = "model.pt"
PREDICTIONS = "predictions.json"


def load_study(settings: EvalSettings) -> Study:
    """Load and cross-check all sets; fails early (before any training) on category problems."""
    synthetic = [load_coco(p, name=f"synthetic:{_short_name(Path(p))}") for p in settings.synthetic]
    for i, s in enumerate(synthetic):  # names key the label maps, so they must be unique
        if any(o.name == s.name for o in synthetic[:i]):
            s.name = f"{s.name}#{i}"
    real = load_coco(settings.real_test, name="real")
    real_train = load_coco(settings.real_train, name="real-train") if settings.real_train else None
    if settings.real_split is not None:
        real_train, real = split_set(real, settings.real_split)
    for coco_set in [*synthetic, real, *([real_train] if real_train else [])]:
        if coco_set.num_annotations == 0:
            role = "test on" if coco_set is real else "train on"
            raise SimgenError(
                f"{coco_set.json_path}: set '{coco_set.name}' has no annotations: nothing to {role}"
            )
    mapping = parse_category_map(settings.category_map)
    categories = match_categories(real, synthetic, mapping)
    if real_train is not None:
        train_match = match_categories(
            real, [real_train], {k: v for k, v in mapping.items() if k in real_train.categories.values()}
        )
        categories.labels[real_train.name] = train_match.labels[real_train.name]
    return Study(settings, synthetic, real, real_train, categories, Path(settings.out))


def _short_name(path: Path) -> str:
    """``out/dice`` -> ``dice``; ``out/dice/annotations.json`` -> ``dice``; ``sets/a.json`` -> ``a``."""
    if path.suffix != ".json":
        return path.name
    return path.parent.name if path.name == "annotations.json" else path.stem


def training_iters(settings: EvalSettings, num_images: int) -> int:
    """``--iters`` as given, or ``--epochs`` over ``num_images`` images, or the default."""
    if settings.iters is not None:
        return settings.iters
    if settings.epochs is not None:
        return max(1, math.ceil(settings.epochs * num_images / settings.batch_size))
    return DEFAULT_ITERS


def scaling_sizes(settings: EvalSettings, total: int) -> list[int]:
    """Subset sizes for the data-scaling curve (default: 1/8, 1/4, 1/2 of the images, then all)."""
    sizes = settings.scaling_sizes or [total // 8, total // 4, total // 2]
    sizes = sorted({min(total, n) for n in sizes if n >= 1} | {total})
    return sizes


def plan_runs(study: Study) -> list[Run]:
    """The runs the selected experiments need, in an order where ``init_from`` runs come first."""
    s = study.settings
    iters = training_iters(s, study.num_synthetic)
    wanted = s.selected_experiments
    runs: list[Run] = []
    if "synthetic" in wanted or "finetune" in wanted:
        runs.append(Run("synthetic", "synthetic", study.synthetic, iters, num_synthetic=study.num_synthetic))
    if study.real_train is not None:
        real_iters = training_iters(s, len(study.real_train.images))
        if "real" in wanted:
            runs.append(Run("real", "real", [study.real_train], real_iters))
        if "finetune" in wanted:
            runs.append(
                Run(
                    "finetune",
                    "finetune",
                    [study.real_train],
                    s.finetune_iters or real_iters,
                    init_from="synthetic",
                    num_synthetic=study.num_synthetic,
                )
            )
        if "mixed" in wanted:
            share = s.mix_real_fraction
            weights = [(1 - share) * len(x.images) / study.num_synthetic for x in study.synthetic] + [share]
            runs.append(
                Run(
                    "mixed",
                    "mixed",
                    [*study.synthetic, study.real_train],
                    iters,
                    weights=weights,
                    num_synthetic=study.num_synthetic,
                )
            )
    if "scaling" in wanted:
        for n in scaling_sizes(s, study.num_synthetic):
            if n == study.num_synthetic and any(r.name == "synthetic" for r in runs):
                continue  # the full-size point is the synthetic run
            fraction = n / study.num_synthetic
            subsets = [nested_subset(x, max(1, round(fraction * len(x.images)))) for x in study.synthetic]
            for sub, full in zip(subsets, study.synthetic, strict=True):
                study.categories.labels[sub.name] = study.categories.labels[full.name]
            runs.append(Run(f"scaling_{n}", "scaling", subsets, iters, num_synthetic=n))
    return runs


def fingerprint(study: Study, run: Run, parent: str | None) -> str:
    """Everything that changes a run's outcome; a stored run is reused only if this matches."""
    s = study.settings
    data = {
        "model": s.model,
        "pretrained": s.resolved_pretrained,
        "backbone_weights": s.backbone_weights,
        "image_size": s.image_size,
        "iters": run.iters,
        "batch_size": s.batch_size,
        "lr": s.lr,
        "seed": s.seed,
        "augment": [s.hflip, s.vflip, list(s.scale_range), s.color_jitter],
        "weights": run.weights,
        "train": [[_content_id(t.json_path), [im["id"] for im in t.images]] for t in run.train_sets],
        "test": [_content_id(study.real_test.json_path), [im["id"] for im in study.real_test.images]],
        "categories": study.categories.names,
        "parent": parent,
    }
    if s.synthetic_box_scale != 1.0 and any(t is not study.real_train for t in run.train_sets):
        data["synthetic_box_scale"] = s.synthetic_box_scale  # absent = 1.0: older runs keep their prints
    return json_digest(data)


def _content_id(json_path: Path) -> list[str]:
    """Path and content hash of an annotation file: a dataset re-rendered in place is a new dataset."""
    digest = hashlib.sha256(json_path.read_bytes()).hexdigest()[:16]
    return [str(json_path.resolve()), digest]


def check_out_dir(out: Path, resume: bool) -> None:
    """Refuse to mix a new study into old results unless resuming was asked for."""
    runs = out / "runs"
    if runs.is_dir() and any(runs.iterdir()) and not resume:
        raise SimgenError(
            f"{out}: holds results of an earlier evaluation; pass --resume to continue or reuse "
            "them, or choose another --out"
        )


def _stored_result(run: Run, run_dir: Path, fp: str) -> dict[str, Any] | None:
    """A finished run's result when its settings fingerprint matches; an error when it does not."""
    stored = run_dir / RESULT
    if not stored.is_file():
        return None
    result = json.loads(stored.read_text())
    if result.get("fingerprint") != fp:
        raise SimgenError(
            f"{stored}: finished with different settings; use another --out or delete the folder"
        )
    print(f"[{run.name}] reusing finished run ({stored})")
    return result


def _build_model(study: Study, run: Run) -> Any:
    """The run's detector, seeded; finetune runs start from their parent run's final weights."""
    import torch

    from simgen.evaluate import models

    s = study.settings
    torch.manual_seed(s.seed)
    model = models.build_model(
        s.model, len(study.categories.names), s.image_size, s.resolved_pretrained, s.backbone_weights
    )
    if run.init_from:
        parent = study.out / "runs" / run.init_from / MODEL
        model.load_state_dict(torch.load(parent, map_location="cpu", weights_only=True))
    return model


def _training_data(study: Study, run: Run, masks: bool) -> Any:
    """The run's training sets as one augmented torch dataset, labels in the test set's label space."""
    from simgen.evaluate import loader

    s = study.settings
    if masks and not all(t.has_masks for t in run.train_sets):
        raise SimgenError(
            f"--model {s.model} predicts masks but a training set of run '{run.name}' has "
            "annotations without segmentation; choose a box-only model"
        )
    aug = loader.AugmentConfig(s.hflip, s.vflip, tuple(s.scale_range), s.color_jitter)
    transform = loader.train_transform(s.image_size, aug)
    labels = study.categories.label_map

    def box_scale(train_set: CocoSet) -> float:
        return 1.0 if train_set is study.real_train else s.synthetic_box_scale

    return loader.MultiSource(
        [loader.CocoDetection(t, labels(t), masks, transform, box_scale(t)) for t in run.train_sets]
    )


def _predict_set(
    study: Study, coco_set: CocoSet, model: Any, device: Any, workers: int
) -> tuple[list[dict[str, Any]], float]:
    """COCO results of ``model`` on every image of ``coco_set`` (test-set category ids), images/s."""
    from simgen.evaluate import loader, predict

    s = study.settings
    data = loader.CocoDetection(coco_set, study.categories.label_map(coco_set))
    return predict.predict(model, data, device, study.categories.test_ids, s.batch_size, workers, s.progress)


def _test(
    study: Study, model: Any, device: Any, run_dir: Path, workers: int, masks: bool
) -> tuple[dict, float]:
    """Predict the real test set, save the COCO results file, score it with COCOeval."""
    from simgen.evaluate.metrics import evaluate_results, save_results

    results, images_per_second = _predict_set(study, study.real_test, model, device, workers)
    save_results(results, run_dir / PREDICTIONS)
    metrics = {"bbox": evaluate_results(study.real_test, results, "bbox")}
    if masks and study.real_test.has_masks:
        metrics["segm"] = evaluate_results(study.real_test, results, "segm")
    return metrics, images_per_second


def _real_train_evidence(study: Study, model: Any, device: Any, workers: int) -> dict[str, Any]:
    """How the real *training* labels sit around this model's boxes (size ratio, unmatched detections).

    The report's box-rule advice (``--synthetic-box-scale``) comes from here, so following it tunes on
    the training photos, never on the test photos.
    """
    from simgen.evaluate import rules

    assert study.real_train is not None
    results, _ = _predict_set(study, study.real_train, model, device, workers)
    evidence = rules.prediction_evidence(study.real_train, results)
    evidence.pop("unmatched_examples")
    return evidence


def execute(study: Study, run: Run, fingerprints: dict[str, str]) -> dict[str, Any]:
    """Train + test one run (or reuse its stored result); returns the run's result dict."""
    import torch

    from simgen.evaluate import models, train

    s = study.settings
    run_dir = study.out / "runs" / run.name
    fp = fingerprint(study, run, fingerprints.get(run.init_from or ""))
    fingerprints[run.name] = fp
    stored = _stored_result(run, run_dir, fp)
    if stored is not None:
        return stored
    masks = models.get_spec(s.model).masks
    device = train.resolve_device(s.device)
    model = _build_model(study, run)
    data = _training_data(study, run, masks)
    workers = s.workers if s.workers is not None else train.default_workers()
    cfg = train.TrainConfig(iters=run.iters, batch_size=s.batch_size, lr=s.lr, seed=s.seed, workers=workers)
    print(
        f"[{run.name}] training {s.model} for {run.iters} iterations on {len(data)} images "
        f"({', '.join(t.name for t in run.train_sets)}) on {device}"
    )
    started = time.perf_counter()
    trained = train.train(
        model,
        data,
        cfg,
        run_dir,
        device,
        fp,
        run.weights,
        resume=s.resume,
        progress=s.progress,
        desc=run.name,
    )
    torch.save(model.state_dict(), run_dir / MODEL)
    metrics, images_per_second = _test(study, model, device, run_dir, workers, masks)
    box_rule = None
    if run.experiment == "synthetic" and study.real_train is not None:
        box_rule = _real_train_evidence(study, model, device, workers)
    trainable, total = models.count_parameters(model)
    result = {
        "name": run.name,
        "experiment": run.experiment,
        "fingerprint": fp,
        "iters": run.iters,
        "train_sets": [t.name for t in run.train_sets],
        "train_images": len(data),
        "parameters": {"trainable": trainable, "total": total},
        "num_synthetic": run.num_synthetic,
        "init_from": run.init_from,
        "weights": run.weights,
        "train_seconds_this_session": round(trained.seconds, 1),
        "train_iters_per_second": round(trained.iters_per_second, 3),
        "eval_images_per_second": round(images_per_second, 2),
        "final_loss": trained.final_loss,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "device": str(device),
        "predictions": str((run_dir / PREDICTIONS).relative_to(study.out)),
        "metrics": metrics,
        "real_train_evidence": box_rule,
    }
    (run_dir / RESULT).write_text(json.dumps(result, indent=2))
    bbox = metrics["bbox"]
    print(f"[{run.name}] bbox AP {bbox['AP']:.3f}  AP50 {bbox['AP50']:.3f}  AP75 {bbox['AP75']:.3f}")
    return result


def run_study(settings: EvalSettings) -> Path:
    """Load, plan, run everything, write the report; returns the report folder."""
    from simgen.evaluate.report import write_report

    study = load_study(settings)
    check_out_dir(study.out, settings.resume)
    study.out.mkdir(parents=True, exist_ok=True)
    runs = plan_runs(study)
    print(
        f"evaluating on {len(study.real_test.images)} real test images ({study.real_test.json_path}); "
        f"runs: {', '.join(r.name for r in runs)}"
    )
    fingerprints: dict[str, str] = {}
    results = [execute(study, run, fingerprints) for run in runs]
    write_report(study, runs, results)
    return study.out
