"""Evaluation settings: one validated model for CLI flags and ``--experiment FILE.yaml`` (no torch here).

Flags override the experiment file; relative paths in the file are relative to the file's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from simgen.errors import SimgenError
from simgen.labels import BOX_SCALE_LIMITS

EXPERIMENTS = ("synthetic", "real", "finetune", "mixed", "scaling")
NEEDS_REAL_TRAIN = ("real", "finetune", "mixed")
DEFAULT_MODEL = "fasterrcnn_efficientnet_lite0_fpn"  # see simgen.evaluate.models for why
DEFAULT_ITERS = 300
PATH_FIELDS = ("real_test", "real_train", "backbone_weights", "out")


class EvalSettings(BaseModel):
    """Everything one ``simgen eval`` invocation does. Field names are the flag names with underscores."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    synthetic: list[str] = Field(min_length=1, description="synthetic COCO sets (folders or json files)")
    real_test: str = Field(description="real COCO set to test on")
    real_train: str | None = Field(None, description="real COCO set to train baselines on")
    real_split: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="hold back this fraction of real_test as the test set and train baselines on the rest",
    )
    experiments: list[Literal["synthetic", "real", "finetune", "mixed", "scaling"]] | None = None
    model: str = DEFAULT_MODEL
    pretrained: Literal["none", "efficientnet-lite0", "torchvision"] | None = None
    backbone_weights: str | None = None
    image_size: int = Field(320, ge=64)
    iters: int | None = Field(None, ge=1)
    epochs: float | None = Field(None, gt=0)
    finetune_iters: int | None = Field(None, ge=1)
    batch_size: int = Field(4, ge=1)
    lr: float = Field(0.01, gt=0)
    category_map: dict[str, str] = Field(default_factory=dict)
    out: str = "eval-out"
    seed: int = Field(0, ge=0)  # numpy seeds the data order and augmentation: non-negative
    device: Literal["auto", "cpu", "cuda"] = "auto"
    resume: bool = False
    scaling_sizes: list[int] | None = None
    mix_real_fraction: float = Field(0.5, gt=0, lt=1)
    workers: int | None = Field(None, ge=0)
    hflip: bool = True
    vflip: bool = False
    scale_range: tuple[float, float] = (0.6, 1.6)
    color_jitter: float = Field(0.3, ge=0)
    synthetic_box_scale: float = Field(
        1.0,
        gt=BOX_SCALE_LIMITS[0],
        lt=BOX_SCALE_LIMITS[1],
        description="grow synthetic training boxes about their centers by this factor, to follow a "
        "real set whose annotators draw looser boxes than the mask-tight synthetic ones",
    )
    overlay_images: int = Field(6, ge=0)
    progress: bool = True

    @field_validator("out")
    @classmethod
    def _out_is_a_folder(cls, out: str) -> str:
        if Path(out).exists() and not Path(out).is_dir():
            raise ValueError("is a file; give a folder for the report and checkpoints")
        return out

    @model_validator(mode="after")
    def _consistent(self) -> EvalSettings:
        if self.real_split is not None and self.real_train is not None:
            raise ValueError("give either real_train or real_split, not both")
        if self.iters is not None and self.epochs is not None:
            raise ValueError("give either iters or epochs, not both")
        if not 0 < self.scale_range[0] <= self.scale_range[1]:
            raise ValueError(f"scale_range {list(self.scale_range)}: need 0 < low <= high")
        wanted = set(self.experiments or ())
        if wanted & set(NEEDS_REAL_TRAIN) and not self.has_real_train:
            raise ValueError(
                f"experiments {sorted(wanted & set(NEEDS_REAL_TRAIN))} need real training images: "
                "give real_train (--real-train) or real_split (--real-split)"
            )
        return self

    @property
    def resolved_pretrained(self) -> str:
        """EfficientNet-Lite0 models default to their packaged ImageNet weights, others to none."""
        if self.pretrained is not None:
            return self.pretrained
        return "efficientnet-lite0" if "efficientnet_lite0" in self.model else "none"

    @property
    def has_real_train(self) -> bool:
        return self.real_train is not None or self.real_split is not None

    @property
    def selected_experiments(self) -> list[str]:
        """Explicit list, else everything the given data allows."""
        if self.experiments:
            return [e for e in EXPERIMENTS if e in self.experiments]
        return [e for e in EXPERIMENTS if self.has_real_train or e not in NEEDS_REAL_TRAIN]


def load_experiment_file(path: str | Path) -> dict[str, Any]:
    """Read an experiment YAML into settings fields; relative paths become relative to the file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SimgenError(f"{path}: cannot read experiment file ({exc})") from exc
    if not isinstance(raw, dict):
        raise SimgenError(
            f"{path}: an experiment file is a mapping of settings (synthetic:, real_test:, ...)"
        )
    data = {str(k).replace("-", "_"): v for k, v in raw.items()}
    base = path.resolve().parent
    for key in PATH_FIELDS:
        if isinstance(data.get(key), str):
            data[key] = str(base / data[key])
    if isinstance(data.get("synthetic"), str):
        data["synthetic"] = [data["synthetic"]]
    if isinstance(data.get("synthetic"), list):
        data["synthetic"] = [str(base / p) for p in data["synthetic"]]
    if isinstance(data.get("experiments"), str):
        data["experiments"] = [e.strip() for e in data["experiments"].split(",")]
    return data


def make_settings(values: dict[str, Any], source: str = "command line") -> EvalSettings:
    """Validate, turning pydantic's errors into one SimgenError that names each field."""
    try:
        return EvalSettings(**values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "settings"
            flag = f" (--{loc.replace('_', '-')})" if source == "command line" and err["loc"] else ""
            found = "" if err["type"] == "missing" else f" (found {err.get('input')!r})"
            problems.append(f"  - {loc}{flag}: {err['msg']}{found}")
        raise SimgenError(f"{source}: invalid evaluation settings\n" + "\n".join(problems)) from None
