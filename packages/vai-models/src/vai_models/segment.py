"""Base class of the 2D-backbone temporal models (TSN family): fold T into the batch, run a 2D trunk
per frame, then fuse frames in a head. Input is always (N, C, T, H, W)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from .checks import check_clip, check_int, model_name


class Segment2DModel(nn.Module):
    """A 2D backbone applied per frame plus a temporal head; subclasses override :meth:`forward_head`.

    ``partial_bn`` (upstream TSN/TSM/MVFNet option) keeps every ``BatchNorm2d`` of the backbone except
    the first in eval mode with frozen affine parameters while training, which helps fine-tuning from
    ImageNet with small batches. The affine parameters are frozen (``requires_grad=False``) as soon as
    the option is set, at construction, so an optimiser or DistributedDataParallel built before the
    first ``train()`` call already sees the final set of trainable parameters; ``train()`` puts those
    layers in eval mode. Like upstream, only 2D BatchNorms count: MVF's ``BatchNorm3d`` fusion layers
    stay in train mode and trainable. The layers are remembered by name when the option is set, so the
    same ones count after ``nn.SyncBatchNorm.convert_sync_batchnorm`` (multi-GPU training) has replaced
    them by SyncBatchNorms, which do not say how many dimensions they had.
    """

    #: whether the input must have exactly ``num_frames`` frames (True for shift/relation models)
    fixed_num_frames: bool = True
    #: whether ``num_frames`` sets that count (image models take T = 1 whatever it says)
    frames_from_num_frames: bool = True
    #: whether (N, C, H, W) image batches are accepted besides clips (image models)
    accepts_images: bool = False

    def __init__(
        self,
        backbone: nn.Module,
        num_features: int,
        num_classes: int,
        num_frames: int,
        dropout: float,
        default_cfg: dict,
        partial_bn: bool = False,
        classifier: bool = True,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.num_features = num_features
        self.num_classes = num_classes
        self.num_frames = num_frames
        self.in_channels = int(default_cfg.get("in_channels", 3))
        self.drop_rate = dropout
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        if classifier:  # relation heads (TRN) bring their own classifiers
            self.fc = nn.Linear(num_features, num_classes)
        self.default_cfg = dict(default_cfg)
        self.partial_bn = partial_bn  # after the backbone exists: the setter freezes its BatchNorms

    # ---- input handling -------------------------------------------------------------------------
    def _check_input(self, x: torch.Tensor) -> None:
        """One line for a wrong layout, channel count, dtype or (fixed-length models) frame count."""
        check_clip(x, self, self.in_channels, self.accepts_images)
        if self.fixed_num_frames and x.shape[2] != self.input_frames:
            t = int(x.shape[2])
            raise ValueError(
                f"{model_name(self)} was built for {self.input_frames} input frames but got T={t}; "
                f"{self._frames_remedy(t)}"
            )

    def _frames_remedy(self, t: int) -> str:
        """How to fix an input of ``t`` frames (the end of the wrong-frame-count message)."""
        if not self.frames_from_num_frames:
            return "it classifies single images: give it T=1 clips (a video model takes frames)"
        return f"create it with num_frames={t} or sample {self.input_frames} frames"

    @property
    def input_frames(self) -> int:
        """Number of frames the input's T axis must have."""
        return self.num_frames

    def forward_frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame pooled backbone features, shape (N, T, num_features)."""
        self._check_input(x)
        n, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(n * t, c, h, w)
        return self.backbone(frames).view(n, t, -1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Clip features, shape (N, num_features): per-frame backbone features averaged over time."""
        return self.forward_frame_features(x).mean(dim=1)

    def forward_head(self, frame_features: torch.Tensor) -> torch.Tensor:
        """TSN average consensus: dropout, the classifier on every frame, then the mean over frames."""
        return self.fc(self.dropout(frame_features)).mean(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_frame_features(x))

    # ---- classifier -----------------------------------------------------------------------------
    def get_classifier(self) -> nn.Module:
        """The final classification layer (an Identity after ``reset_classifier(0)``)."""
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier with a freshly initialised one for ``num_classes`` outputs, on the old
        classifier's device and dtype; ``0`` gives an Identity, so the model outputs pooled
        ``(N, num_features)`` features (as the 3D models do)."""
        num_classes = check_int("num_classes", num_classes, minimum=0)
        self.num_classes = num_classes
        self.fc = new_linear_like(self.fc, self.num_features, num_classes, model=self)

    # ---- partial BN -----------------------------------------------------------------------------
    def partial_bn_layers(self) -> list[nn.Module]:
        """The BatchNorms partial BN freezes: every ``BatchNorm2d`` of the backbone but the first, also once
        converted to SyncBatchNorms (any BatchNorm now where a ``BatchNorm2d`` was when the option was set)."""
        was_2d = getattr(self, "_bn2d_names", frozenset())  # absent from models pickled before it existed
        return [
            m
            for name, m in self.backbone.named_modules()
            if isinstance(m, nn.BatchNorm2d) or (name in was_2d and isinstance(m, _BatchNorm))
        ][1:]

    @property
    def partial_bn(self) -> bool:
        """Whether partial BN is on; setting it freezes (or unfreezes) the affine parameters at once."""
        return self._partial_bn

    @partial_bn.setter
    def partial_bn(self, enable: bool) -> None:
        self._partial_bn = bool(enable)
        # remembered by name: nn.SyncBatchNorm.convert_sync_batchnorm replaces them by SyncBatchNorms later
        names = {n for n, m in self.backbone.named_modules() if isinstance(m, nn.BatchNorm2d)}
        self._bn2d_names = getattr(self, "_bn2d_names", frozenset()) | names
        for m in self.partial_bn_layers():
            for p in (m.weight, m.bias):
                if p is not None:
                    p.requires_grad_(not self._partial_bn)
        if self.training:  # re-apply the eval/train switch of the affected layers now
            self.train(True)

    def train(self, mode: bool = True) -> Segment2DModel:
        super().train(mode)
        if mode and self.partial_bn:
            for m in self.partial_bn_layers():
                m.eval()
        return self


def new_linear_like(
    old: nn.Module, in_features: int, out_features: int, model: nn.Module | None = None
) -> nn.Module:
    """A fresh ``Linear(in_features, out_features)`` on ``old``'s device and dtype (for classifier resets;
    ``model``'s when ``old`` has no parameters, e.g. an Identity), or an Identity for 0 outputs."""
    if out_features == 0:
        return nn.Identity()
    ref = next(old.parameters(), None)
    if ref is None and model is not None:
        ref = next((p for p in model.parameters() if p.is_floating_point()), None)
    if ref is None:
        return nn.Linear(in_features, out_features)
    return nn.Linear(in_features, out_features, device=ref.device, dtype=ref.dtype)


def reject_unknown_kwargs(model_name: str, kwargs: dict, accepted: tuple[str, ...]) -> None:
    """Raise one clear error for builder options that ``model_name`` does not understand."""
    if kwargs:
        raise TypeError(
            f"{model_name}: unknown option(s) {', '.join(sorted(kwargs))}; accepted: {', '.join(accepted)}"
        )
