"""TRN and MTRN (Zhou et al. 2018): temporal relation heads over per-frame features of a 2D ResNet.

Frame features are projected to ``img_feature_dim`` (256) after dropout, then
- TRN fuses all T frames in order: ReLU → Linear(T·d, 512) → ReLU → classifier;
- MTRN sums, over scales T, T-1, …, 2, the logits of frame-ordered relations (tuples of frames in
  temporal order): the full T-frame relation plus ``subsample_num`` (3) relations at each smaller
  scale, each scale with its own ReLU → Linear(s·d, 256) → ReLU → classifier.
Upstream picks the subsampled relations at random in train AND eval; here training draws them from
torch's RNG (reproducible under ``torch.manual_seed``) while eval uses a fixed evenly spaced choice,
so evaluation is deterministic. Upstream lists all C(T, s) frame tuples of every scale; here only the
chosen ones are computed, from their index, so long clips (T = 32 and more) build at once.
"""

from __future__ import annotations

import math
from fractions import Fraction

import torch
from torch import nn

from .backbones import build_resnet, imagenet_cfg
from .checks import check_int
from .registry import register_model
from .segment import Segment2DModel, new_linear_like, reject_unknown_kwargs

TRN_DROPOUT = 0.7  # upstream trn/mtrn_resnet50 configs
IMG_FEATURE_DIM = 256
TRN_OPTIONS = ("dropout", "partial_bn", "img_feature_dim", "crop_size")
#: the most relations at one scale for which MTRN training draws with ``torch.randperm`` (see
#: :func:`_draw_distinct`); C(18, 9) = 48620, so every T <= 18 draws exactly as the listing code did
RANDPERM_LIMIT = 1 << 16


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
        self.classifier = new_linear_like(self.classifier, self.bottleneck, num_classes)


def unrank_combination(rank: int, n: int, k: int) -> list[int]:
    """The ``rank``-th ``k``-subset of ``range(n)`` in ``itertools.combinations`` (lexicographic) order,
    computed without listing the others (``math.comb`` counts; exact for any size)."""
    out: list[int] = []
    first = 0
    for slot in range(k):
        for v in range(first, n):
            count = math.comb(n - v - 1, k - slot - 1)  # subsets that put v in this slot
            if rank < count:
                out.append(v)
                first = v + 1
                break
            rank -= count
    return out


def _draw_distinct(n: int, k: int) -> list[int]:
    """``k`` distinct indices drawn uniformly from ``range(n)`` with torch's RNG.

    Up to :data:`RANDPERM_LIMIT` relations this is ``torch.randperm(n)[:k]``, the draw of the
    materialised implementation (so seeded runs pick the same relations); beyond, indices are drawn
    one at a time (rejecting repeats), which has the same distribution without an n-sized tensor.
    """
    if n <= RANDPERM_LIMIT:
        return torch.randperm(n)[:k].tolist()
    chosen: list[int] = []
    while len(chosen) < k:
        i = _randbelow(n)
        if i not in chosen:
            chosen.append(i)
    return chosen


def _randbelow(n: int) -> int:
    """A uniform integer in ``[0, n)`` from torch's RNG, for any (big) ``n``."""
    bits = n.bit_length()
    while True:  # assemble ``bits`` random bits from 62-bit draws and reject values >= n
        value, have = 0, 0
        while have < bits:
            take = min(62, bits - have)
            value = (value << take) | int(torch.randint(0, 1 << take, (1,)).item())
            have += take
        if value < n:
            return value


class MultiScaleRelationHead(nn.Module):
    """Multi-scale relations (MTRN): summed logits of frame tuples at scales T … 2.

    At scale ``s`` the candidate relations are the ``C(T, s)`` frame tuples in
    ``itertools.combinations`` order. They are never listed: the chosen ones are computed from their
    index (:func:`unrank_combination`), so any T builds instantly. Training draws ``subsample_num``
    distinct indices per scale with torch's RNG; eval uses the fixed indices
    ``round(linspace(0, C(T, s) - 1, subsample_num))``.
    """

    def __init__(
        self,
        img_feature_dim: int,
        num_frames: int,
        num_classes: int,
        bottleneck: int = 256,
        subsample_num: int = 3,
    ) -> None:
        super().__init__()
        self.num_frames = num_frames
        self.bottleneck = bottleneck
        self.scales = list(range(num_frames, 1, -1)) or [1]
        #: number of candidate relations (frame tuples) per scale
        self.num_relations = [math.comb(num_frames, s) for s in self.scales]
        self.subsample = [min(subsample_num, n) for n in self.num_relations]
        self.subsample[0] = 1  # the largest scale has exactly one relation: all frames
        for i, s in enumerate(self.scales):  # (R, s) frame indices of the fixed eval-mode relations
            self.register_buffer(
                f"eval_relations_{i}", self._relations(self._eval_ranks(i), s), persistent=False
            )
        self.fusion_scales = nn.ModuleList(_fusion(s * img_feature_dim, bottleneck) for s in self.scales)
        self.classifiers = nn.ModuleList(nn.Linear(bottleneck, num_classes) for _ in self.scales)

    def _relations(self, ranks: list[int], scale: int) -> torch.Tensor:
        rows = [unrank_combination(r, self.num_frames, scale) for r in ranks]
        return torch.tensor(rows, dtype=torch.long).view(len(rows), scale)

    def _eval_ranks(self, i: int) -> list[int]:
        k, n = self.subsample[i], self.num_relations[i]
        if k >= n:
            return list(range(n))
        if k == 1:
            return [0]
        # round(linspace(0, n - 1, k)) with exact arithmetic (Fraction rounds half to even, as torch)
        return [round(Fraction(j * (n - 1), k - 1)) for j in range(k)]

    def _choose(self, i: int) -> torch.Tensor:
        """The (R, s) frame indices of the relations used at scale index ``i`` in this forward pass."""
        fixed = getattr(self, f"eval_relations_{i}")
        k, n = self.subsample[i], self.num_relations[i]
        if k >= n or not self.training:
            return fixed
        return self._relations(_draw_distinct(n, k), self.scales[i]).to(fixed.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, d = x.shape
        logits = 0
        for i, (fusion, classifier) in enumerate(zip(self.fusion_scales, self.classifiers, strict=True)):
            rel = self._choose(i)  # (R, s)
            feats = x[:, rel].reshape(n, rel.shape[0], rel.shape[1] * d)  # (N, R, s*d)
            logits = logits + classifier(fusion(feats)).sum(dim=1)
        return logits

    def reset_classifier(self, num_classes: int) -> None:
        self.classifiers = nn.ModuleList(
            new_linear_like(c, self.bottleneck, num_classes) for c in self.classifiers
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
        self.img_feature_dim = img_feature_dim
        self.multiscale = multiscale
        self._build_relation(num_classes)

    def _build_relation(self, num_classes: int) -> None:
        """A fresh projection (``img_fc``) and relation head for ``num_classes``."""
        self.img_fc = nn.Linear(self.num_features, self.img_feature_dim)
        head = MultiScaleRelationHead if self.multiscale else RelationHead
        self.relation = head(self.img_feature_dim, self.num_frames, num_classes)

    def forward_head(self, frame_features: torch.Tensor) -> torch.Tensor:
        if self.num_classes == 0:  # reset_classifier(0): pooled features, as every vai model gives
            return self.dropout(frame_features).mean(dim=1)
        return self.relation(self.img_fc(self.dropout(frame_features)))

    def get_classifier(self) -> nn.Module:
        """The final Linear (TRN), the per-scale Linears (MTRN), or an Identity after ``reset_classifier(0)``."""
        rel = self.relation
        if isinstance(rel, RelationHead):
            return rel.classifier
        return rel.classifiers if isinstance(rel, MultiScaleRelationHead) else rel

    def reset_classifier(self, num_classes: int) -> None:
        """New classifier(s) for ``num_classes``; ``0`` removes the relation head (``img_fc`` and
        ``relation`` become Identity) so the model outputs pooled ``(N, num_features)`` features, and a
        later ``reset_classifier(n)`` builds a freshly initialised relation head."""
        num_classes = check_int("num_classes", num_classes, minimum=0)
        if num_classes == 0:
            self.img_fc, self.relation = nn.Identity(), nn.Identity()
        elif isinstance(self.relation, nn.Identity):
            ref = next(p for p in self.parameters() if p.is_floating_point())
            self._build_relation(num_classes)
            for part in (self.img_fc, self.relation):  # the model's device, dtype and train/eval mode
                part.to(device=ref.device, dtype=ref.dtype).train(self.training)
        else:
            self.relation.reset_classifier(num_classes)
        self.num_classes = num_classes


def _trn(prefix: str, depth: int, num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TRN:
    name = f"{prefix}_resnet{depth}"
    backbone, nf = build_resnet(depth, in_channels)
    cfg = imagenet_cfg(name, num_frames, in_channels, kw.pop("crop_size", 224))
    dropout, partial_bn = kw.pop("dropout", TRN_DROPOUT), kw.pop("partial_bn", False)
    img_dim = kw.pop("img_feature_dim", IMG_FEATURE_DIM)
    reject_unknown_kwargs(name, kw, TRN_OPTIONS)
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


@register_model(options=TRN_OPTIONS)
def trn_resnet18(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TRN:
    """TRN (single-scale relation), ResNet-18 backbone."""
    return _trn("trn", 18, num_classes, num_frames, in_channels, **kw)


@register_model(options=TRN_OPTIONS)
def trn_resnet34(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TRN:
    """TRN (single-scale relation), ResNet-34 backbone."""
    return _trn("trn", 34, num_classes, num_frames, in_channels, **kw)


@register_model(options=TRN_OPTIONS)
def trn_resnet50(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TRN:
    """TRN (single-scale relation), ResNet-50 backbone."""
    return _trn("trn", 50, num_classes, num_frames, in_channels, **kw)


@register_model(options=TRN_OPTIONS)
def trn_resnet101(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TRN:
    """TRN (single-scale relation), ResNet-101 backbone."""
    return _trn("trn", 101, num_classes, num_frames, in_channels, **kw)


@register_model(options=TRN_OPTIONS)
def mtrn_resnet18(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TRN:
    """MTRN (multi-scale relation), ResNet-18 backbone."""
    return _trn("mtrn", 18, num_classes, num_frames, in_channels, **kw)


@register_model(options=TRN_OPTIONS)
def mtrn_resnet34(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TRN:
    """MTRN (multi-scale relation), ResNet-34 backbone."""
    return _trn("mtrn", 34, num_classes, num_frames, in_channels, **kw)


@register_model(options=TRN_OPTIONS)
def mtrn_resnet50(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TRN:
    """MTRN (multi-scale relation), ResNet-50 backbone."""
    return _trn("mtrn", 50, num_classes, num_frames, in_channels, **kw)


@register_model(options=TRN_OPTIONS)
def mtrn_resnet101(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TRN:
    """MTRN (multi-scale relation), ResNet-101 backbone."""
    return _trn("mtrn", 101, num_classes, num_frames, in_channels, **kw)
