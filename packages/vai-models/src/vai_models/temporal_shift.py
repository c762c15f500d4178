"""Temporal Shift Module (TSM, Lin et al. 2019): shift 1/shift_div of the channels one frame back and
1/shift_div one frame forward, at zero parameter and FLOP cost."""

from __future__ import annotations

import torch
from torch import nn


def temporal_shift(x: torch.Tensor, num_segments: int, shift_div: int = 8) -> torch.Tensor:
    """Shift channels of ``x`` with shape (N*T, C, H, W) along T; borders are zero-filled.

    Channels ``[0, C/div)`` take the value from frame t+1 ("shift left"), channels
    ``[C/div, 2C/div)`` from frame t-1 ("shift right"); the rest are unchanged.
    """
    nt, c, h, w = x.shape
    if nt % num_segments:
        raise ValueError(f"temporal_shift: batch {nt} is not a multiple of num_segments={num_segments}")
    fold = c // shift_div
    xv = x.view(nt // num_segments, num_segments, c, h, w)
    if torch.compiler.is_compiling():
        # torch.compile: one functional expression, which Inductor fuses into one kernel. Inductor (torch
        # 2.14, CPU) miscompiled the slice writes into empty_like below inside a whole TSM (NaN outputs
        # from the 4x4 and 2x2 stages of tsm_resnet18 at 64x64; tests/test_compile_graphs.py)
        zeros = xv.new_zeros(nt // num_segments, 1, fold, h, w)
        left = torch.cat([xv[:, 1:, :fold], zeros], dim=1)
        right = torch.cat([zeros, xv[:, :-1, fold : 2 * fold]], dim=1)
        return torch.cat([left, right, xv[:, :, 2 * fold :]], dim=2).view(nt, c, h, w)
    out = torch.empty_like(xv)
    out[:, :-1, :fold] = xv[:, 1:, :fold]
    out[:, -1:, :fold] = 0
    out[:, 1:, fold : 2 * fold] = xv[:, :-1, fold : 2 * fold]
    out[:, :1, fold : 2 * fold] = 0
    out[:, :, 2 * fold :] = xv[:, :, 2 * fold :]
    return out.view(nt, c, h, w)


def temporal_shift_inplace_(x: torch.Tensor, num_segments: int, shift_div: int = 8):
    """:func:`temporal_shift` done in ``x``'s own memory (no new full-size tensor); returns what
    :func:`undo_temporal_shift_` needs to restore ``x``. Only valid without autograd."""
    nt, c, h, w = x.shape
    if nt % num_segments:
        raise ValueError(f"temporal_shift: batch {nt} is not a multiple of num_segments={num_segments}")
    fold = c // shift_div
    xv = x.view(nt // num_segments, num_segments, c, h, w)
    left, right = xv[:, :, :fold], xv[:, :, fold : 2 * fold]
    first, last = left[:, 0].clone(), right[:, -1].clone()
    for t in range(num_segments - 1):  # frame t takes t+1: ascending order reads before overwriting
        left[:, t].copy_(left[:, t + 1])
    left[:, -1].zero_()
    for t in range(num_segments - 1, 0, -1):  # frame t takes t-1: descending order
        right[:, t].copy_(right[:, t - 1])
    right[:, 0].zero_()
    return first, last


def undo_temporal_shift_(x: torch.Tensor, num_segments: int, shift_div: int, saved) -> None:
    """Restore ``x`` after :func:`temporal_shift_inplace_` (``saved`` is what it returned)."""
    nt, c, h, w = x.shape
    fold = c // shift_div
    xv = x.view(nt // num_segments, num_segments, c, h, w)
    left, right = xv[:, :, :fold], xv[:, :, fold : 2 * fold]
    first, last = saved
    for t in range(num_segments - 1, 0, -1):
        left[:, t].copy_(left[:, t - 1])
    left[:, 0].copy_(first)
    for t in range(num_segments - 1):
        right[:, t].copy_(right[:, t + 1])
    right[:, -1].copy_(last)


def conv2d_config(conv: nn.Conv2d) -> dict:
    """Constructor arguments that rebuild ``conv``'s configuration (for conv subclasses made from it)."""
    return {
        "in_channels": conv.in_channels,
        "out_channels": conv.out_channels,
        "kernel_size": conv.kernel_size,
        "stride": conv.stride,
        "padding": conv.padding,
        "dilation": conv.dilation,
        "groups": conv.groups,
        "bias": conv.bias is not None,
        "padding_mode": conv.padding_mode,
    }


def _can_shift_inplace(x: torch.Tensor) -> bool:
    """In-place shifting is safe only without autograd, on a tensor this mode may modify, whose batch
    dimension can be viewed as (N, T). It pays only on the CPU, where it avoids page-faulting a fresh
    full-size tensor; on a GPU the caching allocator makes the copy's allocation free, while the in-place
    path's 4T small copies are bound by kernel launches (H200, TSM-R50 at batch 4: 1.79x TSN in place,
    1.13x with the copy; docs/performance.md)."""
    if torch.compiler.is_compiling():  # an eager CPU saving; is_inference() would break the graph
        return False
    if x.device.type != "cpu" or torch.is_grad_enabled() or x.requires_grad:
        return False
    if x.is_inference() and not torch.is_inference_mode_enabled():
        return False
    return x.stride(0) == x[0].numel() or x.is_contiguous(memory_format=torch.channels_last)


class TemporalShiftConv2d(nn.Conv2d):
    """A Conv2d that applies :func:`temporal_shift` to its input first.

    Subclassing (instead of wrapping) keeps the parameter names of the plain conv, so TSN and TSM
    checkpoints and ImageNet weights share one key layout.
    """

    def __init__(self, *args, num_segments: int = 8, shift_div: int = 8, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.num_segments = num_segments
        self.shift_div = shift_div

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, num_segments: int, shift_div: int) -> TemporalShiftConv2d:
        """Copy ``conv`` (configuration and weights) into a shifting conv."""
        new = cls(**conv2d_config(conv), num_segments=num_segments, shift_div=shift_div)
        new.load_state_dict(conv.state_dict())
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _can_shift_inplace(x):
            return super().forward(temporal_shift(x, self.num_segments, self.shift_div))
        # inference: shift the input in place and restore it after the conv, which saves allocating
        # (and page-faulting) a full-size copy of every shifted block's input
        saved = temporal_shift_inplace_(x, self.num_segments, self.shift_div)
        try:
            return super().forward(x)
        finally:
            undo_temporal_shift_(x, self.num_segments, self.shift_div, saved)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, num_segments={self.num_segments}, shift_div={self.shift_div}"


def insert_temporal_shift(resnet: nn.Module, num_segments: int, shift_div: int = 8) -> int:
    """Put a temporal shift before ``conv1`` of residual blocks ("blockres" placement); returns the count.

    As upstream TSM, very deep nets (layer3 with >= 23 blocks, i.e. ResNet-101) shift every other block.
    """
    stages = [resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4]
    n_round = 2 if len(resnet.layer3) >= 23 else 1
    count = 0
    for stage in stages:
        for i, block in enumerate(stage):
            if i % n_round == 0:
                block.conv1 = TemporalShiftConv2d.from_conv(block.conv1, num_segments, shift_div)
                count += 1
    return count
