"""``simgen tune``: search a scene's ``tune:`` fields for the values whose renders look most like the photos.

Each trial (Optuna's TPE proposes the values) renders the same small batch of images (counter-based
seeds: the same image indices every trial, so trials differ only by the tuned values) at a low resolution
and few samples, and scores it with the gap measure of ``simgen.tuning.gap`` against the photos. A trial
whose first half already scores worse than the median of earlier trials at that point is pruned.
The study lives in ``OUT/study.db`` (SQLite), so a killed tune resumes where it stopped; every trial's
values and scores go to ``OUT/trials.csv``, the best config to ``OUT/best.yaml`` (a normal scene config
with concrete distributions and a comment per tuned field with its value before and after), and a plot
of the gap per trial to ``OUT/gap.png``. Only the photos given are read: pass the training part
(``--real-split``), never the test photos.
"""

from __future__ import annotations

import copy
import csv
import io
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from simgen.config.tunable import TuneField, set_tuned_values, tune_entries
from simgen.errors import SimgenError
from simgen.fileio import check_output_dir, json_digest, write_bytes_atomic, write_text_atomic

STUDY_NAME = "simgen-tune"
# Probes of other candidates ran up to 14 % longer than the untuned one on the dice (441, 456, 505 s):
# the search keeps this much more per probe, so the final stage still ends within --budget.
PROBE_MARGIN = 1.15
# --render N is timed on this many images per render process of the untuned scene at its own settings.
RENDER_TIMING_IMAGES_PER_WORKER = 4
# per-image build timings that are not stages of their own: the index, and parts of "label_write"
NOT_STAGES = {"index", "geometry", "labels"}
# The pick may render slower than the untuned scene: five dice picks' 300-image builds took 4.6-6.3
# s/image (4.75 for the one that was the untuned scene), so the search keeps this much more for --render.
RENDER_MARGIN = 1.15


@dataclass
class TuneSettings:
    config: Path
    real: Path
    out: Path
    real_split: float | None = None
    budget_s: float = 45 * 60
    trials: int | None = None
    images: int = 24
    size: int = 192
    samples: int = 4
    seed: int = 0
    box_scale: float = 1.0
    workers: int = 0
    device: str = "auto"
    final: int = 0  # probe this many best trials (and the untuned one) with a short detector, pick by AP
    final_images: int = 64
    final_size: int = 320
    final_iters: int = 150
    render: int = 0  # then render this many images of the pick into OUT/dataset, inside the budget


def parse_budget(text: str) -> float:
    """``45m``, ``1h``, ``90s`` or plain seconds → seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    text = text.strip().lower()
    try:
        value = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError:
        raise SimgenError(f"--budget {text!r}: expected a duration such as 45m, 1h or 600s") from None
    if not value > 0:
        raise SimgenError(f"--budget {text!r}: must be positive")
    return value


def read_raw(path: Path) -> tuple[dict[str, Any], Any]:
    """The config file as a raw dict and as the validated (untuned) SceneConfig; it must have a
    ``tune:`` section."""
    from simgen.config import load_config
    from simgen.config.yamlsafe import load_yaml, read_config_text

    config = load_config(path)  # every problem of the file is reported here, naming it
    raw = load_yaml(read_config_text(path))
    if not tune_entries(raw):
        raise SimgenError(
            f"{path}: no tune: section; list the fields to tune and their bounds (docs/tune.md)"
        )
    return raw, config


def tuned_config(
    raw: dict[str, Any], parameters: dict[str, float], size: int, samples: int, images: int, source: Path
) -> Any:
    """The scene at ``parameters``, shrunk to ``images`` renders of ``size`` px width and ``samples``
    samples (a trial's or a probe's), as a validated SceneConfig."""
    from simgen.tuning.probe import shrunk

    data = copy.deepcopy(raw)
    set_tuned_values(data, parameters)
    return shrunk(data, size, samples, images, source)


def best_config_text(
    raw: dict[str, Any],
    entries: list[TuneField],
    best: dict[str, float],
    why: str,
    asset_paths: dict[str, str],
) -> str:
    """The tuned scene as YAML: the ``tune:`` section removed, each tuned field at its best value, and a
    header comment per field (centre of the bounds before, tuned value after). ``why`` says how the
    values were chosen (best gap, or best probe AP). ``asset_paths`` (``rebased_asset_paths``) replace
    the file's relative asset paths, so the scene renders from where it is written."""
    from simgen.config.loader import set_field

    data = copy.deepcopy(raw)
    set_tuned_values(data, best)
    data.pop("tune", None)
    for field, path in asset_paths.items():
        set_field(data, field, path, where=field)
    lines = [f"# Tuned by simgen tune ({why}); tuned fields, untuned (centre) -> tuned:"]
    for entry in entries:
        before = entry.config_value(entry.center())
        after = entry.config_value({**entry.center(), **best})
        lines.append(f"#   {entry.field}: {_flow(before)} -> {_flow(after)}")
    return "\n".join(lines) + "\n" + yaml.safe_dump(data, sort_keys=False, width=110)


def rebased_asset_paths(raw: dict[str, Any], source: Path, out: Path) -> dict[str, str]:
    """Each relative asset path of the raw scene (relative to ``source``'s folder), as a field path and the
    same file relative to ``out``. The tuned fields are numbers, so this holds for every trial."""
    from simgen.config.loader import resolve_asset_paths, validate_config

    config = validate_config(copy.deepcopy(raw), source=source)
    relative: dict[str, str] = {}
    resolve_asset_paths(config, Path(source).parent, source, relative)
    return {field: os.path.relpath(path, Path(out).resolve()) for field, path in relative.items()}


def _flow(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("...").strip()


class Tuner:
    """One tuning run (a context for the study, the reference photos and the trials' scratch folders)."""

    def __init__(self, settings: TuneSettings) -> None:
        self.started = time.monotonic()  # --budget counts from here: reading the photos is part of the run
        self.settings = settings
        self.raw, untuned = read_raw(settings.config)
        self.entries = tune_entries(self.raw) or []
        self._real = _real_set(settings)
        self._check_photos(set(untuned.category_names()))
        self.asset_paths = rebased_asset_paths(self.raw, settings.config, settings.out)
        settings.out.mkdir(parents=True, exist_ok=True)  # only once the inputs are known to be usable
        self.study = self._open_study()
        from simgen.tuning.gap import FeatureNet, reference

        self.net = FeatureNet(settings.device)
        self.reference = reference(self._real, self.net, size=max(settings.size, 64))

    def _open_study(self) -> Any:
        """The study in ``OUT/study.db``, new or resumed. A resumed study must have been made with the same
        scene, photos and trial settings: trials scored against other photos or at another size (or
        with other bounds) are not comparable, and mixing them would pick a best.yaml the scene at hand
        never produced."""
        import optuna

        # Optuna logs a failed or interrupted trial as a warning with its traceback; simgen's own message
        # (the SimgenError, or "interrupted: run the same command again") says it once, without one.
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        storage = f"sqlite:///{(self.settings.out / 'study.db').resolve()}"
        study = optuna.create_study(
            study_name=STUDY_NAME,
            storage=storage,
            load_if_exists=True,
            direction="minimize",
            sampler=optuna.samplers.TPESampler(seed=self.settings.seed, n_startup_trials=8),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=6),
        )
        setup = self.setup_key()
        stored = study.user_attrs.get("setup")
        if stored is None:
            study.set_user_attr("setup", setup)
        elif stored != setup:
            changed = ", ".join(k for k in setup if stored.get(k) != setup[k])
            raise SimgenError(
                f"{self.settings.out / 'study.db'}: this study was made with another {changed}; its trials "
                "are not comparable with this run's. Use another --out, or delete the study to start over"
            )
        return study

    def setup_key(self) -> dict[str, Any]:
        """What makes two runs' trials comparable (stored in the study; the sampler seed, workers and
        budget may change on a resume)."""
        s = self.settings
        return {
            "scene": json_digest(self.raw),
            "photos": json_digest([self._real.images, sorted(self._real.annotations.items())]),
            "--images": s.images,
            "--size": s.size,
            "--samples": s.samples,
            "--box-scale": s.box_scale,
        }

    def _check_photos(self, names: set[str]) -> None:
        """The photos must share a category with the scene where they are labelled, and be labelled for
        the final stage (it scores detectors by AP against their boxes)."""
        if self.settings.final and not self._real.num_annotations:
            raise SimgenError(
                f"{self.settings.real}: --final scores each candidate by a detector's AP on these photos, "
                "which needs their labels, and they have none (no annotations); drop --final or give "
                "labelled photos"
            )
        real_names = set(self._real.categories.values())
        if self._real.num_annotations and not names & real_names:
            raise SimgenError(
                f"{self.settings.real}: its categories {sorted(real_names)} share no name with the scene's "
                f"{sorted(names)}; the gap compares objects by category (rename one side, or tune on "
                "unlabelled photos)"
            )

    def parameters(self, trial: Any) -> dict[str, float]:
        return {
            name: trial.suggest_float(name, lo, hi, log=entry.log)
            for entry in self.entries
            for name, (lo, hi) in entry.bounds()
        }

    def objective(self, trial: Any) -> float:
        import optuna

        start = time.perf_counter()
        params = self.parameters(trial)
        s = self.settings
        config = tuned_config(self.raw, params, s.size, s.samples, s.images, s.config)
        folder = self.settings.out / "trials" / f"{trial.number:05d}"
        half = max(2, self.settings.images // 2)
        try:
            first = self._score(config, folder, range(half))
            trial.report(first.total, step=0)
            if trial.should_prune():
                raise optuna.TrialPruned()
            gap = self._score(config, folder, range(self.settings.images))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        for key, value in gap.to_dict().items():
            if key != "per_metric":
                trial.set_user_attr(key, value)
        trial.set_user_attr("seconds", time.perf_counter() - start)
        return gap.total

    def _score(self, config: Any, folder: Path, indices: range) -> Any:
        from simgen.tuning.gap import boxes_scaled, measure_gap
        from simgen.tuning.probe import render_set

        renders = render_set(config, folder, list(indices), self.settings.workers or 1)
        renders = boxes_scaled(renders, self.settings.box_scale)
        return measure_gap(renders, self.reference, self.net, size=max(self.settings.size, 64))

    def run(self) -> dict[str, Any]:
        """The search, the final stage and the pick's dataset (``--render``) within ``--budget`` together:
        with ``--final K`` the untuned trial is probed first, with ``--render N`` a few images of the
        untuned scene are rendered at its own settings first, and the search stops early enough to leave
        time for the K more probes and the N images (each estimated from those first timings), so the
        command ends near the budget, not K probes and a dataset after it."""
        from tqdm import tqdm

        deadline = self.started + self.settings.budget_s
        study, s = self.study, self.settings
        done = len(study.trials)
        if s.trials == 0 and not _complete(study):
            raise SimgenError(
                f"{s.out}: --trials 0 runs only the final stage, but this study has no trials yet"
            )
        bar = tqdm(total=s.trials, initial=0, desc="tune", unit="trial", disable=None)

        def progress(study: Any, trial: Any) -> None:
            bar.update(1)
            if study.best_trials:
                bar.set_postfix(best=f"{study.best_value:.4f}", trial=trial.number)
            self.write_outputs(study)

        try:
            ran = self._run_untuned_trial(study, progress)
            untuned = _complete(study)[0]
            timed = self._probe(study, untuned) if s.final else None  # the first probe times the others
            rendering = self._render_seconds(study)
            left = deadline - time.monotonic()
            study.optimize(
                self.objective,
                n_trials=None if s.trials is None else max(s.trials - ran, 0),
                timeout=max(left - self._reserve_after_search(untuned, timed, rendering, left), 0.0),
                callbacks=[progress],
                catch=(),
            )
        finally:
            bar.close()
        if s.final:
            self.final_stage(study)
        self.write_outputs(study)
        result = {"trials": len(study.trials), "resumed_from": done, "best": study.best_value}
        picked = best_probe(study, self.probe_key())
        if picked is not None:
            result["picked"] = picked
        if s.render:
            result["dataset"] = self.render_pick(rendering, deadline - time.monotonic())
            result["render_estimate_s"] = rendering
        return result

    def _run_untuned_trial(self, study: Any, progress: Any) -> int:
        """Score the untuned scene (every centre) first if the study has no complete trial: 1 if run."""
        if _complete(study):
            return 0
        study.enqueue_trial({n: v for e in self.entries for n, v in e.center().items()})
        study.optimize(self.objective, n_trials=1, callbacks=[progress], catch=())
        return 1

    def _reserve_after_search(
        self, untuned: Any, probe: dict[str, Any] | None, rendering: float, left: float
    ) -> float:
        """Seconds of the ``left`` ones to keep for what follows the search: the untuned trial's ``probe``
        time again for each of the ``--final`` best trials still to be probed, with ``PROBE_MARGIN`` for
        probes that run longer, the ``rendering`` of the pick's dataset, and one trial for the one under
        way at the deadline (0 when nothing follows); says so when that leaves no time to search."""
        s = self.settings
        probes = s.final * PROBE_MARGIN * float(probe.get("seconds") or 0.0) if probe else 0.0
        if not probes and not rendering:
            return 0.0
        reserve = probes + rendering + (untuned.user_attrs.get("seconds") or 0.0)
        if reserve >= left:
            after = [
                f"{s.final} more probe{'s' if s.final > 1 else ''} (as long as the untuned trial's, and a "
                "margin)"
                if probes
                else "",
                f"rendering {s.render} images of the pick (as timed on the untuned scene)"
                if rendering
                else "",
            ]
            print(
                f"--budget {_duration(s.budget_s)}: {' and '.join(a for a in after if a)} take about "
                f"{_duration(reserve)}, which leaves no time to search; give a larger --budget, a smaller "
                "--final or a smaller --render",
                file=sys.stderr,
            )
        return reserve

    def _render_seconds(self, study: Any) -> float:
        """The seconds to keep for rendering ``--render`` images of the pick: that many times the untuned
        scene's seconds per image at its own settings, timed once on a few images with the run's render
        processes (stored in the study for a resume), and ``RENDER_MARGIN``; 0 without ``--render``."""
        s = self.settings
        if not s.render:
            return 0.0
        key = f"render seconds per image, {s.workers or 1} workers"
        per_image = study.user_attrs.get(key)
        if per_image is None:
            per_image = self._time_untuned_render()
            study.set_user_attr(key, per_image)
        return s.render * RENDER_MARGIN * float(per_image)

    def _time_untuned_render(self) -> float:
        """Seconds per image of the untuned scene at its own resolution, samples and outputs, from
        ``RENDER_TIMING_IMAGES_PER_WORKER`` images per render process spread over the dataset (rendered,
        timed, deleted): see ``build_seconds_per_image``."""
        from simgen.build import build_dataset

        s = self.settings
        workers = s.workers or 1
        folder = s.out / "render_timing"
        shutil.rmtree(folder, ignore_errors=True)
        indices = spread_indices(s.render, RENDER_TIMING_IMAGES_PER_WORKER * workers)
        try:
            summary = build_dataset(
                self._dataset_config(s.config), folder, indices=indices, workers=workers, progress=False
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return build_seconds_per_image(summary.per_image, workers)

    def _dataset_config(self, path: Path) -> Any:
        """The scene file at ``path`` as the ``--render`` dataset renders it: its own settings,
        ``--render`` images."""
        from simgen.config import load_config

        return load_config(path, [f"scene.num_images={self.settings.render}"])

    def render_pick(self, estimated: float, left: float) -> Any:
        """Render ``--render`` images of ``OUT/best.yaml`` into ``OUT/dataset`` (a normal, resumable simgen
        dataset), saying how long that should take (``estimated``) and how much of the budget is left;
        returns the build's summary."""
        from simgen.build import build_dataset

        s = self.settings
        print(
            f"rendering {s.render} images of the pick into {s.out / 'dataset'}: about {_duration(estimated)} "
            f"(timed on the untuned scene), {_duration(max(left, 0.0))} of the budget left",
            file=sys.stderr,
        )
        config = self._dataset_config(s.out / "best.yaml")
        _check_no_earlier_pick(config, s.out / "dataset")
        return build_dataset(config, s.out / "dataset", workers=s.workers or 1)

    def probe_settings(self) -> Any:
        from simgen.tuning.probe import ProbeSettings

        s = self.settings
        return ProbeSettings(
            s.final_images, s.final_size, s.samples, s.final_iters, s.box_scale, s.workers or 1, s.device
        )

    def probe_key(self) -> dict[str, Any]:
        """What makes two probes comparable (stored with each; a probe with other settings is redone)."""
        import dataclasses

        return dataclasses.asdict(self.probe_settings()) | {"keep": None, "workers": None, "device": None}

    def final_stage(self, study: Any) -> None:
        """Train a short detector on renders of the untuned trial and of the ``final`` best trials by gap,
        score each on the tuner's photos (probe AP, stored in the study so a rerun skips done ones)."""
        from tqdm import tqdm

        for trial in tqdm(
            final_candidates(study, self.settings.final), desc="final", unit="probe", disable=None
        ):
            self._probe(study, trial)

    def _probe(self, study: Any, trial: Any) -> dict[str, Any]:
        """One trial's probe record (trial, gap, AP50, AP, seconds): stored in the study, else made now."""
        from simgen.tuning.probe import probe

        settings, key = self.probe_settings(), self.probe_key()
        stored = study.user_attrs.get(f"probe:{trial.number}")
        if stored and stored.get("settings") == key:
            return stored
        start = time.perf_counter()
        config = tuned_config(
            self.raw, trial.params, settings.size, settings.samples, settings.images, self.settings.config
        )
        scores = probe(config, self._real, self.settings.out / "final" / f"{trial.number:05d}", settings)
        record = {
            "trial": trial.number,
            "gap": trial.value,
            "AP50": scores["AP50"],
            "AP": scores["AP"],
            "seconds": round(time.perf_counter() - start, 1),
            "settings": key,
        }
        study.set_user_attr(f"probe:{trial.number}", record)
        self.write_outputs(study)
        return record

    def write_outputs(self, study: Any) -> None:
        import optuna

        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not complete:
            return
        out = self.settings.out
        names = [n for e in self.entries for n, _ in e.bounds()]
        columns = ["trial", "state", "gap", "stats", "kid_images", "kid_objects", "seconds", *names]
        rows = [
            [
                t.number,
                t.state.name.lower(),
                t.value,
                *(t.user_attrs.get(k) for k in columns[3:7]),
                *(t.params.get(n) for n in names),
            ]
            for t in study.trials
        ]
        write_text_atomic(out / "trials.csv", _table(columns, rows))
        picked = best_probe(study, self.probe_key())
        if picked is None:
            best, why = study.best_trial, f"best gap {study.best_value:.4f}"
        else:
            best = study.trials[picked["trial"]]
            why = (
                f"trial {picked['trial']}: best probe AP50 {picked['AP50']:.3f} on the tuner's photos over "
                f"{len(probes(study, self.probe_key()))} probed trials, gap {picked['gap']:.4f}"
            )
            table = _table(["trial", "gap", "AP50", "AP", "seconds"], probes(study, self.probe_key()))
            write_text_atomic(out / "final.csv", table)
        write_text_atomic(
            out / "best.yaml",
            best_config_text(self.raw, self.entries, best.params, why, self.asset_paths),
        )
        _plot(study, out / "gap.png")


def spread_indices(total: int, count: int) -> list[int]:
    """``count`` image indices spread evenly over ``range(total)`` (all of them if fewer): a timing
    sample of the whole dataset, not of its first images."""
    count = min(count, total)
    return sorted({i * total // count for i in range(count)})


def build_seconds_per_image(per_image: list[dict[str, float]], workers: int) -> float:
    """The wall seconds per image a long build with ``workers`` render processes takes, from a short
    build's per-image timings (``BuildSummary.per_image``): the median of each image's own seconds
    (sync, render, labels, writing), divided by the processes that render side by side. The short
    build's wall time would overstate it: its processes' start-up and each one's first, slower image
    weigh on a few images, where a long build spreads them over all (measured on the dice: 6 images
    timed by wall clock gave 6.2 s/image, the 300-image build took 4.8; the median of its images'
    own seconds over 2 processes was 4.7)."""
    seconds = sorted(sum(v for k, v in image.items() if k not in NOT_STAGES) for image in per_image)
    if not seconds:
        return 0.0
    middle = len(seconds) // 2
    median = seconds[middle] if len(seconds) % 2 else (seconds[middle - 1] + seconds[middle]) / 2
    return median / max(workers, 1)


def _check_no_earlier_pick(config: Any, folder: Path) -> None:
    """A resumed tune that picks another trial would otherwise stop at the build's "rendered from a
    different config", whose advice (another --out) does not fit: say what to do with the old dataset."""
    from simgen.build.layout import first_record
    from simgen.build.output import folder_config_hash
    from simgen.config.loader import config_hash

    owner = folder_config_hash(folder) if folder.is_dir() else None
    if owner is not None and owner != config_hash(config) and first_record(folder) is not None:
        raise SimgenError(
            f"{folder}: holds images of an earlier pick, and this run picked another (best.yaml); move or "
            "delete that folder, then run the same command with --trials 0 to render the new pick"
        )


def _complete(study: Any) -> list[Any]:
    """The study's complete trials by number; the first is the untuned scene (``run`` queues it whenever
    none is complete, so a first trial that was interrupted is redone under a later number)."""
    import optuna

    return [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]


def final_candidates(study: Any, count: int) -> list[Any]:
    """The untuned scene's trial and the ``count`` complete trials with the lowest gap."""
    complete = _complete(study)
    ranked = sorted(complete, key=lambda t: t.value)[:count]
    return complete[:1] + [t for t in ranked if t.number != complete[0].number]


def probes(study: Any, key: dict[str, Any]) -> list[dict[str, Any]]:
    """The final stage's probe results made with the settings ``key``, by trial number."""
    found = [v for k, v in study.user_attrs.items() if k.startswith("probe:") and v.get("settings") == key]
    return sorted(found, key=lambda r: r["trial"])


def best_probe(study: Any, key: dict[str, Any]) -> dict[str, Any] | None:
    """The probed trial with the highest AP50 (ties: lower gap), or None before the final stage."""
    found = probes(study, key)
    return max(found, key=lambda r: (r["AP50"], -r["gap"])) if found else None


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _table(columns: list[str], rows: list[Any]) -> str:
    table = io.StringIO(newline="")
    rows = [[r.get(c) for c in columns] if isinstance(r, dict) else r for r in rows]
    csv.writer(table).writerows([columns, *rows])
    return table.getvalue()


def _real_set(settings: TuneSettings) -> Any:
    from simgen.evaluate.datasets import load_photos, split_set

    real = load_photos(settings.real)
    if settings.real_split is not None:
        real = split_set(real, settings.real_split)[0]
    if len(real.images) < 4:
        raise SimgenError(f"{settings.real}: {len(real.images)} photos are too few to tune on (at least 4)")
    return real


def _plot(study: Any, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna

    trials = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    numbers = [t.number for t in trials]
    values = [t.value for t in trials]
    best = [min(values[: i + 1]) for i in range(len(values))]
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=110)
    ax.scatter(numbers, values, s=12, label="trial gap")
    ax.step(numbers, best, where="post", color="C3", label="best so far")
    pruned = [t.number for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    if pruned:
        ax.scatter(pruned, [max(values)] * len(pruned), marker="x", color="0.6", s=12, label="pruned")
    ax.set_xlabel("trial")
    ax.set_ylabel("gap (stats + KID images + KID objects)")
    ax.legend(frameon=False)
    ax.set_title(f"simgen tune: {len(trials)} trials complete, {len(pruned)} pruned, best {min(values):.4f}")
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    write_bytes_atomic(path, png.getvalue())


def check_settings(settings: TuneSettings) -> None:
    """Refuse settings that would fail deep in a trial (or silently mean nothing) with one message
    naming the option, before any render starts."""
    from simgen.labels import BOX_SCALE_LIMITS

    s = settings
    problems = [
        (not math.isfinite(s.budget_s), "--budget must be finite"),
        (s.images < 4, f"--images {s.images}: at least 4 (a trial's first half is scored before the rest)"),
        (s.size < 32, f"--size {s.size}: at least 32 px (the gap's statistics and crops need the pixels)"),
        (s.final_size < 32, f"--final-size {s.final_size}: at least 32 px"),
        (s.final_images < 4, f"--final-images {s.final_images}: at least 4"),
        (
            not BOX_SCALE_LIMITS[0] < s.box_scale < BOX_SCALE_LIMITS[1],
            f"--box-scale {s.box_scale}: must lie strictly between {BOX_SCALE_LIMITS[0]} and "
            f"{BOX_SCALE_LIMITS[1]} (as simgen eval's --synthetic-box-scale)",
        ),
        (s.workers < 0, f"--workers {s.workers}: must be 0 (one per CPU core) or more"),
        (s.render < 0, f"--render {s.render}: must be 0 (no dataset) or more"),
        (not 0 <= s.seed < 2**32, f"--seed {s.seed}: must lie in 0 .. 2**32 - 1 (the sampler's seed)"),
    ]
    for failed, message in problems:
        if failed:
            raise SimgenError(message)
    from simgen.evaluate.train import resolve_device

    resolve_device(s.device)  # --device cuda without a GPU: one message before the output folder is made
    check_output_dir(s.out)


def tune(settings: TuneSettings) -> dict[str, Any]:
    check_settings(settings)
    return Tuner(settings).run()
