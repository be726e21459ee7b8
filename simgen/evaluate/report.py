"""report.md + report.json + plots (scaling curve, PR curves, box sizes) + prediction overlays.

The report leads with the comparison the user came for (AP of each experiment on the real test set), then
explains it: per-class AP, the data-scaling curve, and annotation-rule differences between the synthetic
and real labels (:mod:`simgen.evaluate.rules`), with overlays to check them by eye.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from simgen.evaluate import rules
from simgen.evaluate.datasets import CocoSet
from simgen.evaluate.study import Run, Study

MAIN_RUNS = ("synthetic", "real", "finetune", "mixed")
GT_COLOR = (60, 200, 60)  # BGR green
PRED_COLOR = (40, 40, 230)  # BGR red
UNMATCHED_COLOR = (0, 200, 255)  # BGR orange: confident detections with no label nearby
OVERLAY_SCORE = 0.5
TILE = 480
APPEARANCE_MAX_IMAGES = 300  # per set: the percentiles are stable well before that


def write_report(study: Study, runs: list[Run], results: list[dict[str, Any]]) -> None:
    """Write everything under ``study.out``."""
    out = study.out
    by_name = {r["name"]: r for r in results}
    primary = next((by_name[n] for n in MAIN_RUNS if n in by_name), results[0] if results else None)
    analysis = annotation_analysis(study, primary)
    appearance = appearance_analysis(study)
    plots = {
        "scaling": plot_scaling(results, out / "scaling.png"),
        "pr_curves": plot_pr_curves(results, out / "pr_curves.png"),
        "pr_per_class": plot_pr_per_class(primary, out / "pr_per_class.png") if primary else None,
        "box_sizes": plot_box_sizes(study, out / "box_sizes.png"),
    }
    overlays = {}
    for result in results:
        if result["experiment"] != "scaling" and study.settings.overlay_images:
            path = out / "overlays" / f"{result['name']}.png"
            overlays[result["name"]] = draw_overlays(study, result, analysis["evidence"], path)
    report = {
        "settings": study.settings.model_dump(),
        "data": {
            "synthetic": [_set_summary(s) for s in study.synthetic],
            "real_test": _set_summary(study.real_test),
            "real_train": _set_summary(study.real_train) if study.real_train else None,
            "categories": study.categories.names,
            "categories_missing_per_set": {k: v for k, v in study.categories.uncovered.items() if v},
        },
        "runs": results,
        "annotation_rules": analysis,
        "appearance": appearance,
        "plots": {k: v for k, v in plots.items() if v},
        "overlays": overlays,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    (out / "report.md").write_text(render_markdown(study, report))
    print(f"report: {out / 'report.md'}")


def _set_summary(coco_set: CocoSet) -> dict[str, Any]:
    return {
        "name": coco_set.name,
        "json": str(coco_set.json_path),
        "images": len(coco_set.images),
        "annotations": coco_set.num_annotations,
        "masks": coco_set.has_masks,
    }


# --- annotation rules ------------------------------------------------------------------------------------


def annotation_analysis(study: Study, primary: dict[str, Any] | None) -> dict[str, Any]:
    size = study.settings.image_size
    stats = {s.name: rules.set_stats(s, size) for s in study.synthetic}
    stats[study.real_test.name] = rules.set_stats(study.real_test, size)
    if study.real_train is not None:
        stats[study.real_train.name] = rules.set_stats(study.real_train, size)
    findings: list[rules.Finding] = []
    reference = study.real_train or study.real_test  # tuning a scene on the findings must not see test labels
    for s in study.synthetic:
        findings += rules.compare_label_stats(stats[s.name], stats[reference.name], reference.name)
    evidence = box_evidence = None
    box_set = study.real_test.name
    if primary is not None:
        predictions = json.loads((study.out / primary["predictions"]).read_text())
        evidence = rules.prediction_evidence(study.real_test, predictions)
        box_evidence = primary.get("real_train_evidence")
        if box_evidence is not None and study.real_train is not None:
            box_set = study.real_train.name  # measured on training photos: safe to tune on
        else:
            box_evidence = evidence
        scale = study.settings.synthetic_box_scale if primary["experiment"] == "synthetic" else 1.0
        found = [
            rules.box_tightness_finding(box_evidence, box_set, primary["name"], scale),
            rules.unlabelled_finding(evidence, study.real_test.name, primary["name"]),
        ]
        findings += [f for f in found if f is not None]
    return {
        "stats": stats,
        "findings": [f.to_dict() for f in findings],
        "evidence": evidence,
        "box_rule_evidence": box_evidence,
        "box_rule_set": box_set,
        "evidence_run": primary["name"] if primary else None,
    }


def appearance_analysis(study: Study) -> list[dict[str, Any]]:
    """Each synthetic set's look next to the real training photos (the test photos when there are none).

    Measured at the training image size: exposure, white balance, sharpness, object colors and sizes
    (:mod:`simgen.appearance`). Uses the training photos where it can, so tuning a scene on this report
    does not tune it on the test photos.
    """
    from simgen.appearance import compare_coco_sets

    reference = study.real_train if study.real_train is not None else study.real_test
    size = study.settings.image_size
    return [compare_coco_sets(s, reference, size, APPEARANCE_MAX_IMAGES) for s in study.synthetic]


# --- plots -----------------------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


REFERENCE_COLORS = {"real": "C3", "finetune": "C2", "mixed": "C4"}


def plot_scaling(results: list[dict[str, Any]], path: Path) -> str | None:
    """AP / AP50 vs number of synthetic training images, real-data runs as horizontal reference lines."""
    points = sorted(
        (
            (r["num_synthetic"], r["metrics"]["bbox"])
            for r in results
            if r["experiment"] in ("scaling", "synthetic")
        ),
        key=lambda point: point[0],
    )
    if len(points) < 2:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [n for n, _ in points]
    ax.plot(xs, [m["AP"] for _, m in points], "o-", color="C0", label="synthetic only: AP")
    ax.plot(xs, [m["AP50"] for _, m in points], "s--", color="C1", label="synthetic only: AP50")
    for r in results:
        if r["experiment"] in REFERENCE_COLORS:
            color = REFERENCE_COLORS[r["experiment"]]
            ax.axhline(r["metrics"]["bbox"]["AP"], ls=":", color=color, label=f"{r['name']}: AP")
            ax.axhline(r["metrics"]["bbox"]["AP50"], ls="-.", lw=0.8, color=color, label=f"{r['name']}: AP50")
    ax.set_xscale("log")
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.minorticks_off()
    ax.set_xlabel("synthetic training images (same iterations for every point)")
    ax.set_ylabel("score on the real test set")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def plot_pr_curves(results: list[dict[str, Any]], path: Path) -> str | None:
    """Class-averaged precision-recall curves at IoU 0.5, one per main run."""
    main = [r for r in results if r["experiment"] != "scaling"]
    if not main:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in main:
        curve = r["metrics"]["bbox"]["pr_curve"]
        ax.plot(
            curve["recall"],
            [np.nan if p is None else p for p in curve["precision"]],
            label=f"{r['name']} (AP50 {r['metrics']['bbox']['AP50']:.2f})",
        )
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("PR at IoU 0.5 (mean over classes)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def plot_pr_per_class(result: dict[str, Any], path: Path) -> str | None:
    plt = _pyplot()
    curve = result["metrics"]["bbox"]["pr_curve"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, precision in curve["per_class"].items():
        ax.plot(curve["recall"], [np.nan if p is None else p for p in precision], label=name)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(f"PR at IoU 0.5 per class: {result['name']}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def plot_box_sizes(study: Study, path: Path) -> str | None:
    """Histograms of box side length at the model input size, synthetic vs real."""
    plt = _pyplot()
    sets = [*study.synthetic, study.real_test] + ([study.real_train] if study.real_train else [])
    sides = {s.name: rules.box_table(s, study.settings.image_size)["side"] for s in sets}
    values = (
        np.concatenate([v for v in sides.values() if v.size]) if any(v.size for v in sides.values()) else None
    )
    if values is None:
        return None
    bins = np.geomspace(max(1.0, values.min()), values.max() + 1, 30)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, v in sides.items():
        ax.hist(v, bins=bins, histtype="step", density=True, lw=1.5, label=f"{name} ({v.size} boxes)")
    ax.axvline(rules.SMALL_PX, color="grey", ls=":", label=f"{rules.SMALL_PX} px")
    ax.set_xscale("log")
    ax.set_xlabel(f"box side sqrt(w*h) in px at image size {study.settings.image_size}")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


# --- overlays --------------------------------------------------------------------------------------------


def overlay_images(study: Study, evidence: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A fixed sample of test images, plus those with the most unmatched confident detections."""
    count = study.settings.overlay_images
    images = sorted(study.real_test.images, key=lambda im: hashlib.sha1(im["file_name"].encode()).hexdigest())
    chosen: list[dict[str, Any]] = []
    if evidence:
        by_id = {im["id"]: im for im in study.real_test.images}
        for example in evidence["unmatched_examples"]:
            image = by_id[example["image_id"]]
            if image not in chosen and len(chosen) < count // 2:
                chosen.append(image)
    for image in images:
        if len(chosen) >= count:
            break
        if image not in chosen:
            chosen.append(image)
    return chosen


def draw_overlays(study: Study, result: dict[str, Any], selection: dict[str, Any] | None, path: Path) -> str:
    """A grid of test images: labels in green, predictions (score >= 0.5) in red, unmatched in orange.

    ``selection`` (the primary run's evidence) picks the images, so every run shows the same ones.
    """
    predictions = json.loads((study.out / result["predictions"]).read_text())
    chosen = overlay_images(study, selection)
    shown = study.real_test.subset([im["id"] for im in chosen], "overlay")
    unmatched = {
        (u["image_id"], tuple(u["bbox"])) for u in rules.find_unmatched(shown, predictions, OVERLAY_SCORE)
    }
    names = study.real_test.categories
    tiles = []
    for image in chosen:
        canvas = cv2.imread(str(study.real_test.image_path(image)), cv2.IMREAD_COLOR)
        scale = TILE / max(canvas.shape[:2])
        canvas = cv2.resize(canvas, (round(canvas.shape[1] * scale), round(canvas.shape[0] * scale)))
        for ann in study.real_test.annotations.get(image["id"], []):
            _box(canvas, ann["bbox"], scale, GT_COLOR, names[ann["category_id"]], top=False)
        for p in predictions:
            if p["image_id"] == image["id"] and p["score"] >= OVERLAY_SCORE:
                color = UNMATCHED_COLOR if (image["id"], tuple(p["bbox"])) in unmatched else PRED_COLOR
                _box(canvas, p["bbox"], scale, color, f"{names[p['category_id']]} {p['score']:.2f}", top=True)
        tile = np.full((TILE, TILE, 3), 255, np.uint8)
        tile[: canvas.shape[0], : canvas.shape[1]] = canvas
        cv2.putText(
            tile,
            Path(image["file_name"]).name[:40],
            (4, TILE - 6),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
        tiles.append(tile)
    columns = 3
    while len(tiles) % columns:
        tiles.append(np.full((TILE, TILE, 3), 255, np.uint8))
    grid = np.vstack([np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)])
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), grid)
    return str(path.relative_to(study.out))


def _box(
    canvas: np.ndarray, bbox: list[float], scale: float, color: tuple[int, int, int], text: str, top: bool
) -> None:
    x, y, w, h = (v * scale for v in bbox)
    p0, p1 = (round(x), round(y)), (round(x + w), round(y + h))
    cv2.rectangle(canvas, p0, p1, color, 2 if top else 1)
    anchor = (p0[0], max(10, p0[1] - 3)) if top else (p0[0], min(canvas.shape[0] - 3, p1[1] + 11))
    cv2.putText(canvas, text, anchor, cv2.FONT_HERSHEY_SIMPLEX, 0.38, color, 1, cv2.LINE_AA)


# --- markdown --------------------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def render_markdown(study: Study, report: dict[str, Any]) -> str:
    s = study.settings
    runs = report["runs"]
    lines = [
        "# Sim-to-real evaluation",
        "",
        f"Model `{s.model}` (pretrained: {s.resolved_pretrained}), image size {s.image_size}, batch "
        f"{s.batch_size}, seed {s.seed}"
        f"{'' if s.synthetic_box_scale == 1.0 else f', synthetic boxes grown x{s.synthetic_box_scale}'}. "
        f"Test set: **{study.real_test.name}** "
        f"({len(study.real_test.images)} images, {study.real_test.num_annotations} boxes, "
        f"`{study.real_test.json_path}`).",
        "",
        "## Results on the real test set",
        "",
        "| run | trained on | images | iters | AP | AP50 | AP75 | AR100 | segm AP | train it/s | eval img/s"
        " |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        m = r["metrics"]["bbox"]
        segm = r["metrics"].get("segm", {}).get("AP")
        trained_on = " + ".join(r["train_sets"]) + (f" (init: {r['init_from']})" if r["init_from"] else "")
        lines.append(
            f"| {r['name']} | {trained_on} | {r['train_images']} | {r['iters']} | {_fmt(m['AP'])} | "
            f"{_fmt(m['AP50'])} | {_fmt(m['AP75'])} | {_fmt(m['AR100'])} | {_fmt(segm)} | "
            f"{r['train_iters_per_second']:.2f} | {r['eval_images_per_second']:.1f} |"
        )
    minutes = sum(r["wall_seconds"] for r in runs) / 60
    lines += [
        "",
        "AP = COCO AP@[.5:.95] from pycocotools COCOeval; AP50/AP75 at IoU 0.5/0.75. "
        f"Wall time of training + testing: {minutes:.1f} min on {runs[0]['device'] if runs else '-'} "
        "(a run resumed from a checkpoint counts only its time after resuming).",
        "",
    ]
    lines += _per_class_table(runs)
    if report["plots"].get("scaling"):
        lines += ["## Data scaling", "", "![scaling](scaling.png)", ""]
        lines += ["| synthetic images | AP | AP50 |", "|---|---|---|"]
        for r in sorted(
            (r for r in runs if r["experiment"] in ("scaling", "synthetic")), key=lambda r: r["num_synthetic"]
        ):
            lines.append(
                f"| {r['num_synthetic']} | {_fmt(r['metrics']['bbox']['AP'])} | "
                f"{_fmt(r['metrics']['bbox']['AP50'])} |"
            )
        lines.append("")
    if report["plots"].get("pr_curves"):
        lines += ["## Precision-recall", "", "![pr](pr_curves.png)", ""]
        if report["plots"].get("pr_per_class"):
            lines += ["![pr per class](pr_per_class.png)", ""]
    lines += _rules_section(report["annotation_rules"], report["plots"].get("box_sizes"))
    lines += _appearance_section(report["appearance"])
    if report["overlays"]:
        lines += [
            "## Prediction overlays",
            "",
            f"Green: real labels. Red: predictions with score >= {OVERLAY_SCORE}. Orange: confident "
            "predictions that overlap no label (candidate unlabelled objects).",
            "",
        ]
        lines += [f"- {name}: [{path}]({path})" for name, path in report["overlays"].items()]
        lines.append("")
    lines += [
        "## Files",
        "",
        "- `report.json`: everything above, machine-readable (settings, metrics, PR curves, statistics)",
        "- `runs/<run>/predictions.json`: COCO results file of each run",
        "- `runs/<run>/model.pt`: final weights; `checkpoint.pt`: resumable training state",
        "",
    ]
    return "\n".join(lines)


def _per_class_table(runs: list[dict[str, Any]]) -> list[str]:
    main = [r for r in runs if r["experiment"] != "scaling"]
    if not main:
        return []
    classes = list(main[0]["metrics"]["bbox"]["per_class"])
    lines = [
        "## Per-class AP (bbox)",
        "",
        "| class | " + " | ".join(r["name"] for r in main) + " |",
        "|---|" + "---|" * len(main),
    ]
    for c in classes:
        lines.append(
            f"| {c} | " + " | ".join(_fmt(r["metrics"]["bbox"]["per_class"][c]["AP"]) for r in main) + " |"
        )
    return [*lines, ""]


def _rules_section(analysis: dict[str, Any], box_plot: str | None) -> list[str]:
    lines = ["## Annotation-rule differences (synthetic vs real)", ""]
    if analysis["findings"]:
        lines += [f"- **{f['severity']}** ({f['rule']}): {f['message']}" for f in analysis["findings"]]
    else:
        lines.append("- no notable differences found")
    lines += [
        "",
        "| set | images | boxes | boxes/image (median) | box side p5/median/p95 (px) | "
        f"< {rules.SMALL_PX} px | touching border | box-outside-mask (px) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, st in analysis["stats"].items():
        side = st["box_side_px"]
        pad = st["mask_padding_px"]
        lines.append(
            f"| {name} | {st['images']} | {st['boxes']} | {st['boxes_per_image']['median']} | "
            f"{_fmt1(side['p5'])} / {_fmt1(side['median'])} / {_fmt1(side['p95'])} | "
            f"{st['small_fraction']:.0%} | {st['border_fraction']:.0%} | "
            f"{'n/a (no masks)' if pad is None else f'{pad:.1f}'} |"
        )
    ev = analysis.get("evidence")
    if ev:
        box_ev = analysis.get("box_rule_evidence") or ev
        ratio = box_ev["gt_to_pred_size_ratio"]
        lines += [
            "",
            f"Model evidence (run `{analysis['evidence_run']}`, score >= {ev['score_threshold']}): on "
            f"{analysis.get('box_rule_set', 'the test set')}, {box_ev['matched']} detections matched a "
            "label at IoU >= 0.5 with a median real/predicted box size ratio "
            f"{'n/a' if ratio is None else f'{ratio:.3f}'}; on the test set, "
            f"{ev['unmatched_confident']} confident detections overlap no label.",
        ]
    if box_plot:
        lines += ["", f"![box sizes]({box_plot})"]
    return [*lines, ""]


def _appearance_section(comparisons: list[dict[str, Any]]) -> list[str]:
    from simgen.appearance import format_table

    if not comparisons:
        return []
    lines = [
        "## Appearance (synthetic vs real photos)",
        "",
        "Exposure, white balance, sharpness, object colors (HSV at the box centers) and sizes at the "
        "training image size; **gap** = the distributions differ clearly (`simgen compare`).",
        "",
    ]
    for comparison in comparisons:
        lines += [format_table(comparison, heading=False), ""]
    return lines


def _fmt1(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"
