"""The ``simgen`` command line. User errors print one clear message (``--debug`` shows the traceback)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from simgen import __version__
from simgen.errors import SimgenError


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SimgenError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130


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
    render.add_argument("--out", required=True, help="output folder (rerun the same command to resume)")
    render.add_argument("-n", "--num-images", type=int, help="override scene.num_images")
    render.add_argument("--seed", type=int, help="override scene.seed")
    _add_set(render)
    render.add_argument("--workers", type=int, default=1, help="Blender worker processes on this machine")
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

    preview = sub.add_parser("preview", help="contact sheet PNG: images with masks, boxes and names")
    preview.add_argument("dataset", help="dataset folder or COCO json (synthetic or real)")
    preview.add_argument("--out", help="PNG path (default: DATASET/preview.png)")
    preview.add_argument("--max-images", type=int, default=16)
    preview.add_argument("--tile-width", type=int, default=320)
    preview.set_defaults(func=cmd_preview)

    merge = sub.add_parser("merge", help="(re)write annotations.json + manifest.json from rendered records")
    merge.add_argument("dataset", help="output folder of a (possibly sharded) build")
    merge.set_defaults(func=cmd_merge)

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

    config = _load(args)
    summary = build_dataset(config, Path(args.out), workers=args.workers, progress=not args.no_progress)
    print(summary.describe())
    return 0


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


def cmd_preview(args: argparse.Namespace) -> int:
    from simgen.preview import contact_sheet

    path = contact_sheet(args.dataset, args.out, max_images=args.max_images, tile_width=args.tile_width)
    print(path)
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from simgen.build import merge_dataset
    from simgen.config import load_config

    folder = Path(args.dataset)
    config = load_config(folder / "config.yaml")
    path = merge_dataset(config, folder)
    if path is None:
        raise SimgenError(f"{folder}: some images are not rendered yet; run `simgen render` for them first")
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
