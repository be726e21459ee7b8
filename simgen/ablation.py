"""Randomizer ablations generated from the config: switch one randomizer off at a time.

What "off" means is each randomizer's own ``off()`` (``simgen.randomizers``): every distribution of its
sections at its ``center()`` (uniform → midpoint, normal → mean, log-uniform → geometric mean, randint →
middle integer, choice → the most likely option, so3 → no rotation, yaw → the middle heading, HSV and
Kelvin ranges → their centers, an image folder → its first image), or the section removed where it only
adds things (distractors, post-effects, physics). Everything else stays as configured, so each variant
differs from the full config in exactly one randomizer.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from simgen.config.loader import config_to_dict
from simgen.config.schema import SceneConfig
from simgen.randomizers import REGISTRY, get_randomizer


def ablate(config: SceneConfig, randomizer: str) -> SceneConfig:
    """A copy of ``config`` with one randomizer switched off."""
    return get_randomizer(randomizer).off(config)


def applicable_randomizers(config: SceneConfig) -> list[str]:
    """Randomizers that actually vary something in this config (ablating the others changes nothing)."""
    full = config_to_dict(config)
    return [name for name in REGISTRY if config_to_dict(ablate(config, name)) != full]


def randomizer_list() -> str:
    """``simgen ablate --list``: every registered randomizer, what it varies and what "off" means."""
    lines = []
    for r in REGISTRY.values():
        lines.append(f"{r.name} ({r.config_keys.replace('`', '')})")
        lines += textwrap.wrap(
            r.summary.replace("`", ""), 100, initial_indent="  varies: ", subsequent_indent="    "
        )
        lines.append(f"  off: {r.off_summary()}")
    return "\n".join(lines)


def run_ablation(
    config: SceneConfig,
    out: Path,
    real_test: str,
    randomizers: list[str] | None = None,
    eval_args: list[str] | None = None,
    workers: int = 1,
    progress: bool = True,
    repeats: int = 1,
) -> dict[str, Any]:
    """Render the full config and one variant per randomizer (same image budget), evaluate each on the
    real test set with ``simgen eval --experiments synthetic``, and write ablation.md + ablation.json.

    With ``repeats`` > 1 the whole study runs again with the next render seed and training seed, so the
    report can tell a randomizer's effect from run-to-run noise. Repeat 0 keeps the plain folder names,
    so a one-repeat study can later be extended (its renders and models are reused)."""
    from simgen.fileio import write_json_atomic, write_text_atomic

    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    names = randomizers or applicable_randomizers(config)
    variants = {"all": config, **{f"no_{name}": ablate(config, name) for name in names}}
    passed_on = [*(eval_args or []), *([] if progress else ["--no-progress"])]
    per_repeat = [
        _run_repeat(variants, out, real_test, passed_on, workers, progress, repeat)
        for repeat in range(repeats)
    ]
    summary = {
        "scene": config.scene.name,
        "images_per_variant": config.scene.num_images,
        "real_test": real_test,
        "eval_args": eval_args or [],
        "repeats": repeats,
        "baseline_AP50_spread": baseline_spread(per_repeat),
        "rows": combine_repeats(per_repeat),
        "per_repeat": per_repeat,
    }
    write_json_atomic(out / "ablation.json", summary, indent=2)
    write_text_atomic(out / "ablation.md", ablation_markdown(summary))
    return summary


def _run_repeat(
    variants: dict[str, SceneConfig],
    out: Path,
    real_test: str,
    eval_args: list[str],
    workers: int,
    progress: bool,
    repeat: int,
) -> list[dict[str, Any]]:
    """One pass over all variants; repeat k renders with scene.seed + k and trains with seed + k."""
    from simgen.build import build_dataset

    suffix = f"-r{repeat}" if repeat else ""
    rows = []
    for variant, variant_config in variants.items():
        if repeat:
            scene = variant_config.scene.model_copy(update={"seed": variant_config.scene.seed + repeat})
            variant_config = variant_config.model_copy(update={"scene": scene})
        data_dir = out / "data" / f"{variant}{suffix}"
        build_dataset(variant_config, data_dir, workers=workers, progress=progress)
        report = _evaluate(
            data_dir, out / "eval" / f"{variant}{suffix}", real_test, _with_seed(eval_args, repeat)
        )
        rows.append({"variant": variant, **report})
    base = rows[0]
    for row in rows:
        row["delta_AP50"] = _delta(row.get("AP50"), base.get("AP50"))
        row["delta_AP"] = _delta(row.get("AP"), base.get("AP"))
    return rows


def _with_seed(eval_args: list[str], repeat: int) -> list[str]:
    """``eval_args`` with the training seed moved on by ``repeat`` (argparse keeps the last --seed)."""
    if not repeat:
        return eval_args
    base = 0
    for i, arg in enumerate(eval_args):
        if arg == "--seed" and i + 1 < len(eval_args):
            base = int(eval_args[i + 1])
        elif arg.startswith("--seed="):
            base = int(arg.split("=", 1)[1])
    return [*eval_args, "--seed", str(base + repeat)]


def combine_repeats(per_repeat: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per variant: metrics and deltas averaged over repeats, with the per-repeat deltas.

    A delta is called ``beyond_noise`` only when it keeps its sign in every repeat and its mean exceeds
    how far the full config's own AP50 moved between repeats (the first row of each repeat)."""
    spread = baseline_spread(per_repeat)
    combined = []
    for variant_rows in zip(*per_repeat, strict=True):
        row: dict[str, Any] = {"variant": variant_rows[0]["variant"]}
        for key in ("AP", "AP50", "AP75", "delta_AP50", "delta_AP"):
            row[key] = _mean([r.get(key) for r in variant_rows])
        row["delta_AP50_per_repeat"] = deltas = [r.get("delta_AP50") for r in variant_rows]
        row["train_seconds"] = _mean([r.get("train_seconds") for r in variant_rows])
        row["consistent"] = (
            len(deltas) > 1
            and None not in deltas
            and (all(d > 0 for d in deltas) or all(d < 0 for d in deltas))
        )
        row["beyond_noise"] = bool(
            row["consistent"] and spread is not None and abs(row["delta_AP50"]) > spread
        )
        combined.append(row)
    return combined


def baseline_spread(per_repeat: list[list[dict[str, Any]]]) -> float | None:
    """How far the full config's AP50 (the first row of each repeat) moved between repeats: max - min;
    None with fewer than two repeats or a missing score."""
    present = [rows[0]["AP50"] for rows in per_repeat if rows[0].get("AP50") is not None]
    if len(present) < 2 or len(present) != len(per_repeat):
        return None
    return round(max(present) - min(present), 4)


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 4) if present and len(present) == len(values) else None


def _delta(value: float | None, base: float | None) -> float | None:
    return None if value is None or base is None else round(value - base, 4)


def _evaluate(data_dir: Path, eval_dir: Path, real_test: str, eval_args: list[str]) -> dict[str, Any]:
    """Run the evaluator in its own process (torch and Blender stay apart) and read its report."""
    import subprocess
    import sys

    command = [
        sys.executable,
        "-m",
        "simgen.cli",
        "eval",
        "--synthetic",
        str(data_dir),
        "--real-test",
        real_test,
        "--experiments",
        "synthetic",
        "--out",
        str(eval_dir),
        "--resume",
        *eval_args,
    ]
    subprocess.run(command, check=True)
    report = json.loads((eval_dir / "report.json").read_text())
    run = next(r for r in report["runs"] if r["experiment"] == "synthetic")
    bbox = run["metrics"]["bbox"]
    return {
        "AP": bbox.get("AP"),
        "AP50": bbox.get("AP50"),
        "AP75": bbox.get("AP75"),
        "train_seconds": run.get("wall_seconds"),
    }


def ablation_markdown(summary: dict[str, Any]) -> str:
    repeats = summary.get("repeats", 1)
    lines = [
        f"# Randomizer ablation: {summary['scene']}",
        "",
        f"{summary['images_per_variant']} synthetic images per variant, tested on `{summary['real_test']}` "
        f"(evaluator arguments: `{' '.join(summary['eval_args']) or 'defaults'}`).",
        "",
    ]
    if repeats == 1:
        lines += ["| variant | AP50 | ΔAP50 | AP | ΔAP |", "|---|---|---|---|---|"]
        for row in summary["rows"]:
            lines.append(
                f"| {row['variant']} | {_fmt(row.get('AP50'))} | {_fmt(row.get('delta_AP50'), True)} | "
                f"{_fmt(row.get('AP'))} | {_fmt(row.get('delta_AP'), True)} |"
            )
        return "\n".join(lines) + "\n"
    lines += [
        f"Means over {repeats} repeats (repeat k renders with scene seed + k and trains with seed + k). "
        f"The full config alone moved by {_fmt(summary['baseline_AP50_spread'])} AP50 between repeats. "
        "A delta counts as beyond noise only when it keeps its sign in every repeat and its mean is larger "
        "than that.",
        "",
        "| variant | AP50 | ΔAP50 | ΔAP50 per repeat | AP | ΔAP | beyond noise |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in summary["rows"]:
        per = ", ".join(_fmt(d, True) for d in row["delta_AP50_per_repeat"])
        verdict = "" if row["variant"] == "all" else _verdict(row)
        lines.append(
            f"| {row['variant']} | {_fmt(row.get('AP50'))} | {_fmt(row.get('delta_AP50'), True)} | {per} | "
            f"{_fmt(row.get('AP'))} | {_fmt(row.get('delta_AP'), True)} | {verdict} |"
        )
    return "\n".join(lines) + "\n"


def _verdict(row: dict[str, Any]) -> str:
    if row["beyond_noise"]:
        return "**yes**"
    return "no (sign kept, smaller than the spread)" if row["consistent"] else "no (sign changes)"


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.3f}" if signed else f"{value:.3f}"
