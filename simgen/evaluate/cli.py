"""``simgen eval``: flags and/or an experiment file -> train, test, report. Imports torch only in ``run``.

Flags default to "not given" (argparse.SUPPRESS) so that an experiment file's values apply unless a flag
overrides them; the defaults themselves live in :class:`simgen.evaluate.settings.EvalSettings`.
"""

from __future__ import annotations

import argparse
from typing import Any

from simgen.evaluate.settings import DEFAULT_ITERS, DEFAULT_MODEL, EXPERIMENTS, EvalSettings

S = argparse.SUPPRESS
DESCRIPTION = (
    "Train a torchvision detector on synthetic COCO sets, test it on a real COCO set, and report it against "
    "real-data baselines (report.md, report.json, plots, overlays in --out)."
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``eval`` subcommand on the main ``simgen`` parser."""
    parser = subparsers.add_parser(
        "eval", help="sim-to-real evaluation: train on synthetic, test on real", description=DESCRIPTION
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument(
        "--experiment",
        metavar="FILE.yaml",
        default=S,
        help="experiment file: settings with these flags' names (underscores); flags override it",
    )
    data.add_argument(
        "--synthetic",
        action="append",
        metavar="DIR_OR_JSON",
        default=S,
        help="synthetic COCO set (folder with annotations.json, or the json); repeatable",
    )
    data.add_argument("--real-test", metavar="DIR_OR_JSON", default=S, help="real COCO set to test on")
    data.add_argument(
        "--real-train",
        metavar="DIR_OR_JSON",
        default=S,
        help="real COCO set for the real / finetune / mixed experiments",
    )
    data.add_argument(
        "--real-split",
        type=float,
        metavar="FRACTION",
        default=S,
        help="instead of --real-train: hold back FRACTION of --real-test (chosen by hashed file "
        "name, deterministic) as the test set, train the real baselines on the rest",
    )
    data.add_argument(
        "--category-map",
        action="append",
        metavar="TRAIN=TEST",
        default=S,
        help="map a training category name onto a test category name (NAME=- drops it); "
        "repeatable. Names match exactly otherwise",
    )
    what = parser.add_argument_group("what to run")
    what.add_argument(
        "--experiments",
        metavar="LIST",
        default=S,
        help=f"comma-separated subset of {','.join(EXPERIMENTS)} (default: all that the data allows)",
    )
    what.add_argument(
        "--scaling-sizes",
        metavar="N,N,...",
        default=S,
        help="synthetic image counts for the scaling curve (default: 1/8, 1/4, 1/2, all)",
    )
    what.add_argument(
        "--mix-real-fraction",
        type=float,
        metavar="F",
        default=S,
        help="share of real images in the mixed experiment's batches (default 0.5)",
    )
    model = parser.add_argument_group("model and training")
    model.add_argument("--model", default=S, help=f"detector (default {DEFAULT_MODEL}); see docs/evaluate.md")
    model.add_argument(
        "--pretrained",
        choices=["none", "efficientnet-lite0", "torchvision"],
        default=S,
        help="backbone weights: packaged EfficientNet-Lite0 ImageNet weights (default for "
        "*_efficientnet_lite0_fpn models), torchvision's (only from the local torch hub cache), "
        "or none (from scratch; default for other models)",
    )
    model.add_argument(
        "--backbone-weights",
        metavar="FILE",
        default=S,
        help="local backbone weights file (overrides --pretrained)",
    )
    model.add_argument("--image-size", type=int, default=S, help="longer image side fed to the model (320)")
    model.add_argument("--iters", type=int, default=S, help=f"training iterations per run ({DEFAULT_ITERS})")
    model.add_argument(
        "--epochs", type=float, default=S, help="instead of --iters: epochs over the training set"
    )
    model.add_argument("--finetune-iters", type=int, default=S, help="iterations of the finetune run")
    model.add_argument("--batch-size", type=int, default=S, help="images per iteration (4)")
    model.add_argument("--lr", type=float, default=S, help="SGD learning rate (0.01)")
    model.add_argument(
        "--seed", type=int, default=S, help="seed for weights init, data order, augmentation (0)"
    )
    model.add_argument("--workers", type=int, default=S, help="data-loading processes (auto)")
    model.add_argument(
        "--no-hflip", dest="hflip", action="store_false", default=S, help="no horizontal flips"
    )
    model.add_argument(
        "--vflip", action="store_true", default=S, help="also flip vertically (top-down scenes)"
    )
    model.add_argument(
        "--synthetic-box-scale",
        type=float,
        metavar="S",
        default=S,
        help="grow synthetic training boxes about their centers by S (1.0): the report's "
        "'box-tightness' finding measures the real labels' S on the real training photos",
    )
    run_group = parser.add_argument_group("running")
    run_group.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default=S,
        help="auto = CUDA with mixed precision when available, else CPU",
    )
    run_group.add_argument("--out", default=S, help="output folder (default ./eval-out)")
    run_group.add_argument(
        "--resume",
        action="store_true",
        default=S,
        help="continue interrupted runs and reuse finished ones in --out",
    )
    run_group.add_argument("--overlay-images", type=int, default=S, help="test images per overlay grid (6)")
    run_group.add_argument(
        "--no-progress", dest="progress", action="store_false", default=S, help="no progress bars"
    )


def settings_from_args(args: argparse.Namespace) -> EvalSettings:
    """Experiment file values, overridden by the flags actually given."""
    from simgen.evaluate.settings import load_experiment_file, make_settings

    given: dict[str, Any] = {k: v for k, v in vars(args).items() if k in EvalSettings.model_fields}
    for key in ("experiments", "scaling_sizes"):
        if isinstance(given.get(key), str):
            given[key] = [v.strip() for v in given[key].split(",") if v.strip()]
    if "scaling_sizes" in given:
        try:
            given["scaling_sizes"] = [int(v) for v in given["scaling_sizes"]]
        except ValueError as exc:
            from simgen.errors import SimgenError

            raise SimgenError(
                f"--scaling-sizes {','.join(given['scaling_sizes'])}: expected integers"
            ) from exc
    experiment = getattr(args, "experiment", None)
    values = load_experiment_file(experiment) if experiment else {}
    values.update(given)
    return make_settings(values, source=experiment or "command line")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``simgen eval``; returns the process exit code."""
    from simgen.evaluate.experiments import run_study

    settings = settings_from_args(args)
    run_study(settings)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m simgen.evaluate``: the same command without the ``simgen`` front end."""
    from simgen.errors import report_errors

    parser = argparse.ArgumentParser(prog="python -m simgen.evaluate", description=DESCRIPTION)
    add_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    args = parser.parse_args(argv)
    return report_errors(lambda: run(args), args.debug, "rerun the same command with --resume to continue")
