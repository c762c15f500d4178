"""channels_last weights (``--channels-last`` / ``channels_last = True``): a model whose conv weights are all
4-D (2D CNNs: TSN, TSM, TRN, image ResNets) stores its 4-D parameters and buffers as ``torch.channels_last``;
one whose conv weights are all 5-D (3D CNNs) stores its 5-D ones as ``torch.channels_last_3d``.

A convolution whose weight is channels-last runs the channels-last kernels (cuDNN's NHWC/NDHWC ones on a
GPU, oneDNN's on a CPU) and hands channels-last activations on, so the following layers run in that
format too. The values are unchanged: only the strides move, so state dicts, checkpoints and optimiser
states are the same as without it.

A model holding both 4-D and 5-D conv weights (MVFNet, TDN: 2D ResNets with 3D fusion convs) is left in
the default format. Such a model moves activations between the two layouts, and PyTorch's CPU batch-norm
backward (2.14) returns wrong gradients when its input is in one layout and its gradient in the other
with a size-1 dimension (batch, time or space) strided unusually: on mvf_resnet18 (1x1 maps in its last
stage), channels-last gradients were off by 4x in float64 where the default format is exact. Only the CPU
was checked; the rule holds on every device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Converted:
    """What :func:`to_channels_last` did: the tensors whose layout it changed, or why it left the model alone."""

    four_d: int
    five_d: int
    mixed: bool = False  # 4-D and 5-D conv weights both: left in the default format

    def describe(self) -> str:
        """One line for the run log."""
        if self.mixed:
            return (
                "channels_last: the model has both 4-D and 5-D conv weights (as MVFNet and TDN), so it stays in"
                " the default memory format (PyTorch's CPU batch-norm backward mishandles mixed layouts)"
            )
        if not self.four_d and not self.five_d:
            return (
                "channels_last: no weight changed layout (no conv weights, or only ones whose size-1"
                " dimensions make both layouts the same); no effect"
            )
        if self.four_d:
            return f"channels_last: {self.four_d} 4-D weight tensors as channels_last"
        return f"channels_last: {self.five_d} 5-D weight tensors as channels_last_3d"


def _conv_ranks(model: nn.Module) -> set[int]:
    """The ranks of the model's 2D and 3D convolution weights (4, 5)."""
    return {m.weight.dim() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Conv3d))}


def to_channels_last(model: nn.Module) -> Converted:
    """Store ``model``'s 4-D parameters/buffers as channels_last when its conv weights are all 4-D, its 5-D
    ones as channels_last_3d when they are all 5-D; in place (the same Parameter objects, so optimisers
    built before or after see them), values unchanged. A model with both ranks is left alone (see the
    module's docstring); ``.mixed`` says so.

    Call it after the model's weights are on their device and before DDP wraps it."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"to_channels_last expects an nn.Module, got {type(model).__name__}")
    ranks = _conv_ranks(model)
    if ranks >= {4, 5}:
        return Converted(0, 0, mixed=True)
    if not ranks:
        return Converted(0, 0)
    rank = ranks.pop()
    fmt = torch.channels_last if rank == 4 else torch.channels_last_3d
    count = 0  # tensors whose strides changed (contiguous() returns a tensor already in the layout itself)
    with torch.no_grad():
        for module in model.modules():
            for param in module.parameters(recurse=False):
                data = param.data  # one wrapper: each .data access makes a new one
                if param.dim() == rank and (new := data.contiguous(memory_format=fmt)) is not data:
                    param.data = new
                    count += 1
            for name, buf in module.named_buffers(recurse=False):
                if (
                    buf is not None
                    and buf.dim() == rank
                    and (new := buf.contiguous(memory_format=fmt)) is not buf
                ):
                    setattr(module, name, new)
                    count += 1
    return Converted(count if rank == 4 else 0, count if rank == 5 else 0)
