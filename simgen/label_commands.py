"""CLI commands for labels: ``audit``, ``stats``, ``compare``, ``export`` (heavy imports happen when run)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simgen.errors import SimgenError


def add_label_commands(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="check every annotation of a dataset; non-zero exit on violations")
    audit.add_argument("dataset", help="dataset folder or COCO json")
    audit.add_argument("--no-files", action="store_true", help="skip checking image files on disk")
    audit.add_argument(
        "--deep",
        action="store_true",
        help="also check every file of a simgen dataset against the size and content hash in its record "
        "and decode it (reads every byte; catches bit rot and copies that went wrong)",
    )
    audit.set_defaults(func=cmd_audit)

    stats = sub.add_parser("stats", help="stats.json + stats.png: class balance, sizes, visibility")
    stats.add_argument("dataset", help="dataset folder or COCO json")
    stats.add_argument("--out", help="folder for stats.json/png (default: next to the annotations)")
    stats.set_defaults(func=cmd_stats)

    compare = sub.add_parser(
        "compare",
        help="how renders differ from photos: exposure, white balance, sharpness, object colors, sizes",
        description="Measures exposure, white balance, sharpness, object colors, sizes and counts of two "
        "COCO sets at the same working size and flags every figure whose distributions differ clearly "
        "(Kolmogorov-Smirnov distance >= 0.3 and medians further apart than a per-figure tolerance). "
        "Use the real training photos as SECOND (--second-split) so that a scene is tuned without "
        "looking at the test photos.",
    )
    compare.add_argument(
        "first", help="dataset folder or COCO json (or a plain folder of photos), e.g. renders"
    )
    compare.add_argument(
        "second",
        help="dataset folder or COCO json to compare against, e.g. real photos (or a plain folder of them)",
    )
    compare.add_argument(
        "--size", type=positive_int, default=448, help="longer image side in px (default: 448)"
    )
    compare.add_argument(
        "--second-split",
        type=float,
        metavar="FRACTION",
        help="use only the training part of SECOND, split as `simgen eval --real-split FRACTION` splits it",
    )
    compare.add_argument(
        "--max-images",
        type=positive_int,
        help="measure the statistics on at most this many images per set (--gap reads them all)",
    )
    compare.add_argument("--out", help="also write the result as JSON to this file")
    compare.add_argument(
        "--gap",
        action="store_true",
        help="also the gap measure simgen tune minimizes: mean KS distance over the figures (pooled and per "
        "category) and the KID of EfficientNet-Lite0 features on whole images and object crops (eval extra)",
    )
    compare.add_argument(
        "--box-scale", type=float, default=1.0, help="with --gap: grow FIRST's boxes by the photos' rule"
    )
    compare.set_defaults(func=cmd_compare)

    from simgen.writers import REGISTRY

    formats = "; ".join(f"{w.name}: {w.summary}" for w in REGISTRY.values())
    export = sub.add_parser(
        "export",
        help=f"convert labels: {', '.join(REGISTRY)}",
        description=f"Read labels in any format simgen reads and write them in another. Formats: {formats}.",
    )
    export.add_argument("dataset", help="dataset folder, COCO json, YOLO folder (data.yaml) or VOC folder")
    export.add_argument("--format", required=True, choices=list(REGISTRY))
    export.add_argument(
        "--task", default="all", help="YOLO: detect, segment, pose or all (default; pose if keypoints)"
    )
    export.add_argument(
        "--box-scale",
        type=float,
        default=1.0,
        metavar="S",
        help="grow every box by S about its center (masks unchanged), to follow a real set whose "
        "annotators draw looser boxes; simgen eval's box-tightness finding measures S (1.0)",
    )
    export.add_argument("--out", help="output file/folder (default: inside DATASET)")
    export.add_argument(
        "--shard-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="webdataset: samples per tar (1000); parquet: rows per file (10000)",
    )
    export.set_defaults(func=cmd_export)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (a clear usage error instead of a traceback later)."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int_at_least(text, 0)


def _int_at_least(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
    return value


def cmd_audit(args: argparse.Namespace) -> int:
    from simgen.audit import audit_dataset

    report = audit_dataset(args.dataset, check_files=not args.no_files, deep=args.deep)
    print(report.describe(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


AUDIT_AFTER_RENDER_MAX = 20_000
"""Datasets up to this size are audited at the end of ``simgen render``; larger ones are left to an
explicit ``simgen audit`` (it decodes every mask: minutes per 100k images, not bookkeeping)."""


def audit_after_render(coco_path: Path | None, num_images: int = 0) -> int:
    """What ``simgen render`` runs on a merged dataset: the audit, printed; 1 if anything is wrong."""
    if coco_path is None:
        return 0
    if num_images > AUDIT_AFTER_RENDER_MAX:
        print(f"audit: skipped for {num_images:,} images (run `simgen audit {coco_path.parent}`)")
        return 0
    from simgen.audit import audit_dataset

    report = audit_dataset(coco_path)
    print(report.describe(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def check_compare_options(args: argparse.Namespace) -> None:
    """Options that cannot work, refused before minutes of measuring: one message naming the option."""
    from simgen.fileio import check_output_file
    from simgen.labels import BOX_SCALE_LIMITS

    low, high = BOX_SCALE_LIMITS
    split = args.second_split
    problems = [
        (
            split is not None and not 0.0 < split < 1.0,
            f"--second-split {split}: must lie strictly between 0 and 1",
        ),
        (
            args.box_scale != 1.0 and not args.gap,
            "--box-scale grows the boxes the --gap measure crops: add --gap",
        ),
        (
            not low < args.box_scale < high,
            f"--box-scale {args.box_scale}: must lie strictly between {low} and {high} (as simgen eval's)",
        ),
    ]
    for failed, message in problems:
        if failed:
            raise SimgenError(message)
    if args.out:
        check_output_file(args.out, example="compare.json")


def cmd_compare(args: argparse.Namespace) -> int:
    from simgen.appearance import compare_coco_sets, format_table, load_compared_sets
    from simgen.fileio import write_json_atomic

    check_compare_options(args)
    first, second = load_compared_sets(args.first, args.second, args.second_split)
    result = compare_coco_sets(first, second, args.size, args.max_images)
    print(format_table(result))
    if args.gap:
        from simgen.tuning.gap import compare_gap

        result["gap"] = compare_gap(first, second, args.size, args.box_scale)
        parts = result["gap"]
        kid_objects = "n/a" if parts["kid_objects"] is None else f"{parts['kid_objects']:.4f}"
        print(
            f"gap {parts['total']:.4f} = stats {parts['stats']:.4f} + KID images {parts['kid_images']:.4f} "
            f"+ KID objects {kid_objects}"
        )
    if args.out:
        write_json_atomic(Path(args.out), result, indent=1)
        print(f"wrote {args.out}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from simgen.fileio import check_output_dir
    from simgen.stats import write_stats

    if args.out:
        check_output_dir(args.out)
    json_path, png = write_stats(args.dataset, args.out)
    print(json_path)
    print(png)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from simgen.build.remote import download_dataset, is_url, staging_folder, upload_export
    from simgen.writers import export, open_dataset

    if is_url(args.dataset) and not args.out:
        raise SimgenError(f"{args.dataset}: exporting from object storage needs --out (a folder or a URL)")
    with staging_folder() as staging:
        dataset = download_dataset(args.dataset, staging / "in") if is_url(args.dataset) else args.dataset
        out = args.out
        if out and is_url(out):
            out = staging / "out" / Path(out.rstrip("/")).name
        labels = open_dataset(dataset, stream=True)  # a simgen build streams from its records
        for path in export(labels, args.format, out, args.task, args.box_scale, args.shard_size or 0):
            print(upload_export(path, args.out) if args.out and is_url(args.out) else path)
    return 0
