"""TRN and MTRN (Zhou et al. 2018): temporal relation heads over per-frame features of a 2D ResNet.

Frame features are projected to ``img_feature_dim`` (256) after dropout, then
- TRN fuses all T frames in order: ReLU → Linear(T·d, 512) → ReLU → classifier;
- MTRN sums, over scales T, T-1, …, 2, the logits of frame-ordered relations (tuples of frames in
  temporal order): the full T-frame relation plus ``subsample_num`` (3) relations at each smaller
  scale, each scale with its own ReLU → Linear(s·d, 256) → ReLU → classifier.
Upstream picks the subsampled relations at random in train AND eval; here training draws them from
torch's RNG (reproducible under ``torch.manual_seed``) while eval uses a fixed evenly spaced choice,
so evaluation is deterministic.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from .backbones import build_resnet, imagenet_cfg
from .registry import register_model
from .segment import Segment2DModel, reject_unknown_kwargs

TRN_DROPOUT = 0.7  # upstream trn/mtrn_resnet50 configs
IMG_FEATURE_DIM = 256


def _fusion(in_dim: int, bottleneck: int) -> nn.Sequential:
    return nn.Sequential(nn.ReLU(), nn.Linear(in_dim, bottleneck), nn.ReLU())


class RelationHead(nn.Module):
    """Single-scale relation over all frames (TRN)."""

    def __init__(
        self, img_feature_dim: int, num_frames: int, num_classes: int, bottleneck: int = 512
    ) -> None:
        super().__init__()
        self.num_frames = num_frames
        self.bottleneck = bottleneck
        self.fusion = _fusion(num_frames * img_feature_dim, bottleneck)
        self.classifier = nn.Linear(bottleneck, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.fusion(x.flatten(1)))

    def reset_classifier(self, num_classes: int) -> None:
        self.classifier = nn.Linear(self.bottleneck, num_classes).to(self.classifier.weight.device)


class MultiScaleRelationHead(nn.Module):
    """Multi-scale relations (MTRN): summed logits of frame tuples at scales T … 2."""

    def __init__(
        self,
        img_feature_dim: int,
        num_frames: int,
        num_classes: int,
        bottleneck: int = 256,
        subsample_num: int = 3,
    ) -> None:
        super().__init__()
        self.bottleneck = bottleneck
        self.scales = list(range(num_frames, 1, -1)) or [1]
        self.subsample = [min(subsample_num, len(self._relations(num_frames, s))) for s in self.scales]
        self.subsample[0] = 1  # the largest scale has exactly one relation: all frames
        for i, s in enumerate(self.scales):  # (R, s) frame indices of every ordered tuple at scale s
            self.register_buffer(f"relations_{i}", self._relations(num_frames, s), persistent=False)
        self.fusion_scales = nn.ModuleList(_fusion(s * img_feature_dim, bottleneck) for s in self.scales)
        self.classifiers = nn.ModuleList(nn.Linear(bottleneck, num_classes) for _ in self.scales)

    @staticmethod
    def _relations(num_frames: int, scale: int) -> torch.Tensor:
        return torch.tensor(list(itertools.combinations(range(num_frames), scale)), dtype=torch.long)

    def _choose(self, i: int) -> torch.Tensor:
        relations = getattr(self, f"relations_{i}")
        k, n = self.subsample[i], relations.shape[0]
        if k >= n:
            return relations
        if self.training:
            idx = torch.randperm(n)[:k]
        else:
            idx = torch.linspace(0, n - 1, k).round().long()
        return relations[idx.to(relations.device)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, d = x.shape
        logits = 0
        for i, (fusion, classifier) in enumerate(zip(self.fusion_scales, self.classifiers, strict=True)):
            rel = self._choose(i)  # (R, s)
            feats = x[:, rel].reshape(n, rel.shape[0], rel.shape[1] * d)  # (N, R, s*d)
            logits = logits + classifier(fusion(feats)).sum(dim=1)
        return logits

    def reset_classifier(self, num_classes: int) -> None:
        device = self.classifiers[0].weight.device
        self.classifiers = nn.ModuleList(
            nn.Linear(self.bottleneck, num_classes).to(device) for _ in self.scales
        )


class TRN(Segment2DModel):
    """A 2D ResNet per frame, dropout, a 256-d projection (``img_fc``) and a relation head."""

    def __init__(
        self,
        backbone: nn.Module,
        num_features: int,
        num_classes: int,
        num_frames: int,
        dropout: float,
        default_cfg: dict,
        *,
        multiscale: bool,
        partial_bn: bool = False,
        img_feature_dim: int = IMG_FEATURE_DIM,
    ) -> None:
        super().__init__(
            backbone,
            num_features,
            num_classes,
            num_frames,
            dropout,
            default_cfg,
            partial_bn,
            classifier=False,
        )
        self.img_fc = nn.Linear(num_features, img_feature_dim)
        head = MultiScaleRelationHead if multiscale else RelationHead
        self.relation = head(img_feature_dim, num_frames, num_classes)

    def forward_head(self, frame_features: torch.Tensor) -> torch.Tensor:
        return self.relation(self.img_fc(self.dropout(frame_features)))

    def get_classifier(self) -> nn.Module:
        rel = self.relation
        return rel.classifier if isinstance(rel, RelationHead) else rel.classifiers

    def reset_classifier(self, num_classes: int) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.relation.reset_classifier(num_classes)


def _trn(prefix: str, depth: int, num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TRN:
    name = f"{prefix}_resnet{depth}"
    backbone, nf = build_resnet(depth, in_channels)
    cfg = imagenet_cfg(name, num_frames, in_channels, kw.pop("crop_size", 224))
    dropout, partial_bn = kw.pop("dropout", TRN_DROPOUT), kw.pop("partial_bn", False)
    img_dim = kw.pop("img_feature_dim", IMG_FEATURE_DIM)
    reject_unknown_kwargs(name, kw, ("dropout", "partial_bn", "img_feature_dim", "crop_size"))
    return TRN(
        backbone,
        nf,
        num_classes,
        num_frames,
        dropout,
        cfg,
        multiscale=prefix == "mtrn",
        partial_bn=partial_bn,
        img_feature_dim=img_dim,
    )


@register_model
def trn_resnet18(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TRN:
    """TRN (single-scale relation), ResNet-18 backbone."""
    return _trn("trn", 18, num_classes, num_frames, in_channels, **kw)


@register_model
def trn_resnet34(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TRN:
    """TRN (single-scale relation), ResNet-34 backbone."""
    return _trn("trn", 34, num_classes, num_frames, in_channels, **kw)


@register_model
def trn_resnet50(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TRN:
    """TRN (single-scale relation), ResNet-50 backbone."""
    return _trn("trn", 50, num_classes, num_frames, in_channels, **kw)


@register_model
def trn_resnet101(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TRN:
    """TRN (single-scale relation), ResNet-101 backbone."""
    return _trn("trn", 101, num_classes, num_frames, in_channels, **kw)


@register_model
def mtrn_resnet18(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TRN:
    """MTRN (multi-scale relation), ResNet-18 backbone."""
    return _trn("mtrn", 18, num_classes, num_frames, in_channels, **kw)


@register_model
def mtrn_resnet34(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TRN:
    """MTRN (multi-scale relation), ResNet-34 backbone."""
    return _trn("mtrn", 34, num_classes, num_frames, in_channels, **kw)


@register_model
def mtrn_resnet50(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TRN:
    """MTRN (multi-scale relation), ResNet-50 backbone."""
    return _trn("mtrn", 50, num_classes, num_frames, in_channels, **kw)


@register_model
def mtrn_resnet101(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TRN:
    """MTRN (multi-scale relation), ResNet-101 backbone."""
    return _trn("mtrn", 101, num_classes, num_frames, in_channels, **kw)
