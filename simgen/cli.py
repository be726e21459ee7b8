"""The ``simgen`` command line. User errors print one clear message (``--debug`` shows the traceback)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from simgen import __version__
from simgen.errors import SimgenError, report_errors
from simgen.label_commands import add_label_commands, audit_after_render, non_negative_int, positive_int


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv, passthrough = _split_passthrough(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if passthrough and not hasattr(args, "eval_args"):
        parser.error("arguments after '--' are only taken by `simgen ablate` (they go to simgen eval)")
    if hasattr(args, "eval_args"):
        args.eval_args = passthrough
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    return report_errors(lambda: args.func(args), args.debug, "run the same command again to resume")


def _split_passthrough(argv: list[str]) -> tuple[list[str], list[str]]:
    """Split at the first ``--``: simgen's own arguments, then those passed on (argparse's REMAINDER
    would swallow every option that follows a positional argument, ``--out`` included)."""
    if "--" not in argv:
        return list(argv), []
    cut = argv.index("--")
    return list(argv[:cut]), list(argv[cut + 1 :])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simgen",
        description="Render labelled synthetic datasets from YAML scene configs with Blender, "
        "and measure how detectors trained on them do on real photos.",
    )
    parser.add_argument("--version", action="version", version=f"simgen {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    render = sub.add_parser("render", help="render a dataset from a scene config (resumable)")
    render.add_argument("config", help="scene config YAML")
    render.add_argument(
        "--out",
        required=True,
        help="output folder, or an object-storage URL such as s3://bucket/prefix (rerun the same command "
        "to resume)",
    )
    render.add_argument("-n", "--num-images", type=int, help="override scene.num_images")
    render.add_argument("--seed", type=int, help="override scene.seed")
    _add_set(render)
    render.add_argument(
        "--workers",
        default="auto",
        help="Blender worker processes on this machine (default auto: one single-threaded worker per CPU, "
        "one per GPU); with --ray: number of Ray workers (default: one per --threads CPUs of the cluster)",
    )
    render.add_argument(
        "--threads", type=int, default=0, help="Cycles threads per worker (default: CPUs / workers)"
    )
    render.add_argument(
        "--verify",
        action="store_true",
        help="check the content hash of every file already there, not only its size, before skipping it "
        "(reads every byte; re-renders images whose files changed since they were written)",
    )
    render.add_argument(
        "--shard",
        metavar="I/N|auto|all",
        help="render only shard I of N (0-based index ranges). Default: taken from an array job's "
        "environment (SLURM_ARRAY_TASK_ID/_COUNT, JOB_COMPLETION_INDEX + SIMGEN_SHARD_COUNT, SIMGEN_SHARD) "
        "when there is one, else every image; 'all' ignores the environment",
    )
    render.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="render on a Ray cluster (ADDRESS, else RAY_ADDRESS, else a local Ray instance); "
        "needs pip install 'simgen[ray]'",
    )
    render.add_argument("--no-progress", action="store_true", help="no progress bar")
    render.set_defaults(func=cmd_render)

    validate = sub.add_parser("validate", help="check a scene config and print the resolved version")
    validate.add_argument("config")
    _add_set(validate)
    validate.add_argument("--quiet", action="store_true", help="only report problems")
    validate.set_defaults(func=cmd_validate)

    schema = sub.add_parser("schema", help="print the scene-config JSON Schema")
    schema.add_argument("--out", help="write to this file instead of stdout")
    schema.add_argument("--markdown", action="store_true", help="the human-readable reference tables instead")
    schema.set_defaults(func=cmd_schema)

    tune = sub.add_parser(
        "tune",
        help="search the config's tune: fields for renders that look like a few real photos (Optuna)",
        description="Each trial renders the same small batch at low resolution and scores its gap to the "
        "photos (statistics distances + EfficientNet-Lite0 KID); writes OUT/best.yaml, OUT/trials.csv, "
        "OUT/gap.png; resumable (OUT/study.db). Give only training photos (--real-split holds the test "
        "part back exactly as simgen eval does). docs/tune.md",
    )
    tune.add_argument("config", help="scene YAML with a tune: section")
    tune.add_argument(
        "--real",
        required=True,
        help="real photos: COCO json or folder, or a plain folder of photos (labels optional)",
    )
    tune.add_argument("--out", required=True, help="folder for the study, trials.csv, best.yaml, gap.png")
    tune.add_argument("--real-split", type=float, help="use only the training part, split as simgen eval")
    tune.add_argument(
        "--budget",
        default="45m",
        help="wall-clock limit of the run, final stage included, e.g. 45m, 1h, 600s (default 45m)",
    )
    tune.add_argument(
        "--trials", type=non_negative_int, help="stop after this many trials (also; 0: only the final stage)"
    )
    tune.add_argument("--images", type=positive_int, default=24, help="images rendered per trial (24)")
    tune.add_argument("--size", type=positive_int, default=192, help="trial render width in px (192)")
    tune.add_argument("--samples", type=positive_int, default=4, help="Cycles samples per trial image (4)")
    tune.add_argument("--box-scale", type=float, default=1.0, help="grow render boxes by the photos' rule")
    tune.add_argument("--workers", type=int, default=0, help="render processes (default: CPU cores)")
    tune.add_argument("--seed", type=int, default=0, help="the sampler's seed")
    tune.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="feature network and probe device (auto: CUDA when available, else CPU)",
    )
    final = tune.add_argument_group(
        "final stage",
        "after the search, train a short detector on renders of the untuned trial and of the K best trials "
        "by gap, score each by AP50 on the same photos, and write the best by AP as best.yaml (final.csv)",
    )
    final.add_argument(
        "--final", type=non_negative_int, default=0, metavar="K", help="probe the K best trials (0: off)"
    )
    final.add_argument("--final-images", type=positive_int, default=64, help="images per probe (64)")
    final.add_argument(
        "--final-size", type=positive_int, default=320, help="probe render and detector px (320)"
    )
    final.add_argument(
        "--final-iters", type=positive_int, default=150, help="probe training iterations (150)"
    )
    tune.add_argument(
        "--render",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="then render N images of the pick at the scene's own settings into OUT/dataset, inside --budget "
        "(the search leaves time for them, timed on a few images of the untuned scene first; 0: off)",
    )
    tune.set_defaults(func=cmd_tune)

    preview = sub.add_parser("preview", help="contact sheet PNG: images with masks, boxes and names")
    preview.add_argument("dataset", help="dataset folder or COCO json (synthetic or real)")
    preview.add_argument("--out", help="PNG path (default: DATASET/preview.png)")
    preview.add_argument("--max-images", type=positive_int, default=16)
    preview.add_argument("--tile-width", type=positive_int, default=320)
    preview.add_argument(
        "--masks",
        choices=("fill", "outline", "none"),
        default="fill",
        help="fill: tinted and outlined (default); outline: outlines only, so the rendered colors stay "
        "exact inside the masks; none: boxes and names only",
    )
    preview.add_argument(
        "--clip",
        type=int,
        help="write clip K (sequence: scenes) as an animated GIF instead: each frame with masks, boxes and "
        "track ids, forward flow and disparity (or depth) side by side",
    )
    preview.add_argument("--camera", help="with --clip: which rig camera (default: the first)")
    preview.set_defaults(func=cmd_preview)

    merge = sub.add_parser("merge", help="(re)write annotations.json + manifest.json from rendered records")
    merge.add_argument("dataset", help="output folder (or storage URL) of a (possibly sharded) build")
    merge.add_argument(
        "shards",
        nargs="*",
        metavar="SHARD_DIR",
        help="shard output folders to gather into DATASET first (hard links where possible, else copies)",
    )
    merge.set_defaults(func=cmd_merge)

    add_label_commands(sub)
    ablation = sub.add_parser(
        "ablate",
        help="leave one randomizer out at a time, render each variant, evaluate each on real photos",
        description="Renders the config and one variant per randomizer (its distributions frozen at their "
        "central values, or the section removed), with the same image budget, then runs `simgen eval "
        "--experiments synthetic` on each and writes OUT/ablation.md and OUT/ablation.json. Arguments "
        "after `--` go to `simgen eval` (e.g. -- --real-split 0.3 --iters 600 --image-size 448).",
    )
    ablation.add_argument("config", nargs="?", help="scene config YAML")
    ablation.add_argument("--list", action="store_true", help="list every randomizer and what 'off' means")
    ablation.add_argument("--out", help="study folder (required unless --list)")
    ablation.add_argument("--real-test", help="real COCO set (folder or json; required unless --list)")
    ablation.add_argument("-n", "--num-images", type=int, help="images per variant (scene.num_images)")
    ablation.add_argument(
        "--randomizers", help="comma-separated subset (default: every randomizer the config uses; see --list)"
    )
    ablation.add_argument("--workers", type=positive_int, default=1)
    ablation.add_argument(
        "--repeats",
        type=positive_int,
        default=1,
        help="run the study N times (render seed and training seed + k) and report mean deltas and "
        "whether each keeps its sign; an existing study's folders are reused (default 1)",
    )
    _add_set(ablation)
    ablation.add_argument("--no-progress", action="store_true")
    ablation.set_defaults(func=cmd_ablate, eval_args=[])

    _add_optional_commands(sub)
    return parser


def _add_set(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set render.samples=8 --set objects[0].material.roughness=0.2",
    )


def _add_optional_commands(sub: argparse._SubParsersAction) -> None:
    """Commands whose modules live in optional parts of the package register themselves here."""
    try:
        from simgen.evaluate.cli import add_parser as add_eval
    except ImportError:
        return
    add_eval(sub)


def _load(args: argparse.Namespace):
    from simgen.config import load_config

    overrides = list(args.overrides)
    if getattr(args, "num_images", None) is not None:
        overrides.append(f"scene.num_images={args.num_images}")
    if getattr(args, "seed", None) is not None:
        overrides.append(f"scene.seed={args.seed}")
    return load_config(args.config, overrides)


def cmd_render(args: argparse.Namespace) -> int:
    from simgen.build import build_dataset
    from simgen.build.cpus import auto_workers, check_local_parallelism, parse_workers
    from simgen.build.ray import RayRunner
    from simgen.build.remote import build_remote, is_url
    from simgen.build.shards import resolve_shard
    from simgen.fileio import check_output_dir

    remote = is_url(args.out)
    if not remote:
        check_output_dir(args.out)  # before the config: a bad --out is reported as itself
    config = _load(args)
    workers = parse_workers(args.workers)
    if args.threads < 0:
        raise SimgenError(f"--threads: expected a positive number, found {args.threads}")
    shard, source = resolve_shard(args.shard)
    indices = shard.indices(config.scene.num_images) if shard else None
    if shard and indices is not None:
        print(
            f"shard {shard} (from {source}): images {indices.start}..{indices.stop - 1} "
            f"of {config.scene.num_images}",
            file=sys.stderr,
        )
    runner = None
    if args.ray is not None:
        runner = RayRunner(address=args.ray or None, actors=workers, threads=args.threads or 1)
    else:
        workers = workers or auto_workers(config)
        check_local_parallelism(workers, args.threads)
    build = build_remote if remote else build_dataset
    summary = build(
        config,
        args.out if remote else Path(args.out),
        indices=indices,
        workers=workers or 1,
        threads=args.threads,
        progress=not args.no_progress,
        runner=runner,
        verify=args.verify,
    )
    print(summary.describe())
    if remote:
        return 0  # the audit reads local files: run `simgen audit` on a copy
    return audit_after_render(summary.coco_path, config.scene.num_images)


def cmd_ablate(args: argparse.Namespace) -> int:
    from simgen.ablation import randomizer_list, run_ablation
    from simgen.randomizers import REGISTRY

    if args.list:
        print(randomizer_list())
        return 0
    missing = [
        flag
        for flag, value in (("CONFIG", args.config), ("--out", args.out), ("--real-test", args.real_test))
        if not value
    ]
    if missing:
        raise SimgenError(f"simgen ablate needs {', '.join(missing)} (or --list)")
    config = _load(args)
    eval_args = list(args.eval_args)
    randomizers = [r.strip() for r in args.randomizers.split(",")] if args.randomizers else None
    unknown = sorted(set(randomizers or []) - set(REGISTRY))
    if unknown:
        raise SimgenError(f"--randomizers: unknown {', '.join(unknown)}; choose from {', '.join(REGISTRY)}")
    summary = run_ablation(
        config,
        Path(args.out),
        args.real_test,
        randomizers,
        eval_args,
        args.workers,
        progress=not args.no_progress,
        repeats=args.repeats,
    )
    print((Path(args.out) / "ablation.md").read_text())
    return 0 if summary["rows"] else 1


def cmd_validate(args: argparse.Namespace) -> int:
    from simgen.config import config_hash, dump_config_yaml

    config = _load(args)
    if not args.quiet:
        print(dump_config_yaml(config), end="")
    n_obj = len(config.objects)
    print(
        f"# OK: {args.config} ({n_obj} object entr{'y' if n_obj == 1 else 'ies'}, "
        f"categories {config.category_names()}, hash {config_hash(config)})",
        file=sys.stderr,
    )
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from simgen.config.reference import reference_markdown
    from simgen.config.schema import SceneConfig

    text = reference_markdown() if args.markdown else json.dumps(SceneConfig.model_json_schema(), indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    else:
        print(text)
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    import os

    from simgen.tuning.tuner import TuneSettings, parse_budget, tune

    settings = TuneSettings(
        config=Path(args.config),
        real=Path(args.real),
        out=Path(args.out),
        real_split=args.real_split,
        budget_s=parse_budget(args.budget),
        trials=args.trials,
        images=args.images,
        size=args.size,
        samples=args.samples,
        seed=args.seed,
        box_scale=args.box_scale,
        workers=args.workers or (os.cpu_count() or 1),
        device=args.device,
        final=args.final,
        final_images=args.final_images,
        final_size=args.final_size,
        final_iters=args.final_iters,
        render=args.render,
    )
    result = tune(settings)
    print(f"{settings.out}: {result['trials']} trials, best gap {result['best']:.4f}")
    if "picked" in result:
        picked = result["picked"]
        print(
            f"final stage: trial {picked['trial']} has the best probe AP50 {picked['AP50']:.3f} (final.csv)"
        )
    print(f"best config: {settings.out / 'best.yaml'}")
    if "dataset" not in result:
        return 0
    summary = result["dataset"]
    print(summary.describe())
    print(f"rendering took {summary.wall_seconds:.0f} s (estimated {result['render_estimate_s']:.0f} s)")
    return audit_after_render(summary.coco_path, settings.render)


def cmd_preview(args: argparse.Namespace) -> int:
    from simgen.fileio import check_output_file
    from simgen.preview import contact_sheet

    if args.out:
        check_output_file(args.out, example="preview.png")
    if args.clip is not None:
        from simgen.clip_preview import clip_animation

        print(clip_animation(args.dataset, args.out, args.clip, args.camera, args.tile_width))
        return 0
    if args.camera:
        raise SimgenError("--camera goes with --clip (which clip to animate)")
    path = contact_sheet(args.dataset, args.out, args.max_images, args.tile_width, args.masks)
    print(path)
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from simgen.build import load_dataset_config, merge_dataset
    from simgen.build.gather import describe_missing, gather_shards
    from simgen.build.remote import is_url, merge_remote, remote_config

    if is_url(args.dataset):
        config, digest = remote_config(args.dataset)
        url = merge_remote(config, args.dataset, digest)
        if url is None:
            raise SimgenError(f"{args.dataset}: some images have no record yet; render them, then merge")
        print(url)
        return 0
    folder = Path(args.dataset)
    if args.shards:
        report = gather_shards(folder, [Path(s) for s in args.shards])
        print(report.describe(len(args.shards)), file=sys.stderr)
    config, digest = load_dataset_config(folder)
    path = merge_dataset(config, folder, config_digest=digest)
    if path is None:
        raise SimgenError(f"{folder}: {describe_missing(config, folder)}; render them, then merge again")
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
