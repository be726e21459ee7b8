"""CLI commands for labels: ``audit``, ``stats`` and ``export`` (heavy imports happen when they run)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_label_commands(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="check every annotation of a dataset; non-zero exit on violations")
    audit.add_argument("dataset", help="dataset folder or COCO json")
    audit.add_argument("--no-files", action="store_true", help="skip checking image files on disk")
    audit.set_defaults(func=cmd_audit)

    stats = sub.add_parser("stats", help="stats.json + stats.png: class balance, sizes, visibility")
    stats.add_argument("dataset", help="dataset folder or COCO json")
    stats.add_argument("--out", help="folder for stats.json/png (default: next to the annotations)")
    stats.set_defaults(func=cmd_stats)

    export = sub.add_parser("export", help="convert labels: COCO (RLE/polygons), YOLO, BOP")
    export.add_argument("dataset", help="dataset folder, COCO json, or YOLO folder (with data.yaml)")
    export.add_argument("--format", required=True, choices=["coco", "coco-polygons", "yolo", "bop"])
    export.add_argument(
        "--task", default="all", help="YOLO: detect, segment, pose or all (default; pose if keypoints)"
    )
    export.add_argument("--out", help="output file/folder (default: inside DATASET)")
    export.set_defaults(func=cmd_export)


def cmd_audit(args: argparse.Namespace) -> int:
    from simgen.audit import audit_dataset

    report = audit_dataset(args.dataset, check_files=not args.no_files)
    print(report.describe())
    return 0 if report.ok else 1


def audit_after_render(coco_path: Path | None) -> int:
    """What ``simgen render`` runs on a merged dataset: the audit, printed; 1 if anything is wrong."""
    if coco_path is None:
        return 0
    from simgen.audit import audit_dataset

    report = audit_dataset(coco_path)
    print(report.describe(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def cmd_stats(args: argparse.Namespace) -> int:
    from simgen.stats import write_stats

    json_path, png = write_stats(args.dataset, args.out)
    print(json_path)
    print(png)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from simgen.writers.convert import export, load_labels

    for path in export(load_labels(args.dataset), args.format, args.out, args.task):
        print(path)
    return 0
