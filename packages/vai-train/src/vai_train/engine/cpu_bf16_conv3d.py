"""A guard against wrong Conv3d weight gradients in bfloat16 autocast on some CPUs.

On the development machines (AMD EPYC with AVX512-BF16, PyTorch 2.14.1's oneDNN) a Conv3d under CPU
bfloat16 autocast returns a wrong weight gradient when its input has fewer frames than its temporal
kernel (more than one frame): a 3x3x3 conv on 2 frames, a 5x1x1 conv on 2 to 4, with padding that keeps
them valid. The relative error against float32 was 0.7-1.0, sometimes inf or NaN, and changed from call
to call; outputs and input gradients were right (0.3 %, bfloat16's rounding), and with oneDNN turned off
the weight gradient was right too. 3D CNNs meet such inputs in their late stages on short clips (I3D's
last stages see 2 frames of an 8-frame clip).

When ``--amp`` trains on the CPU in bfloat16, :func:`conv3d_bf16_weight_grad_error` measures the error
on this machine once (a probe of a few milliseconds), and where it is wrong :func:`guard_conv3d` makes
each Conv3d with a temporal kernel run in float32 (autocast off) whenever its input has fewer frames
than that kernel. Other calls, and machines without the fault, keep bfloat16.
"""

from __future__ import annotations

import functools
import logging

import torch
from torch import nn

logger = logging.getLogger(__name__)

#: weight-gradient error (relative to float32) above which the probe calls bfloat16 Conv3d wrong
TOLERANCE = 0.05


@functools.cache
def conv3d_bf16_weight_grad_error() -> float:
    """Relative error of a Conv3d weight gradient (16 -> 16 channels, 3x3x3, on 2 frames of 8x8) under CPU
    bfloat16 autocast against float32, on this machine; inf for a non-finite gradient. The global RNG
    is left as it was (a run's random stream does not depend on whether it probed)."""
    with torch.random.fork_rng(devices=[]):
        return _probe()


def _probe() -> float:
    gen = torch.Generator().manual_seed(0)
    conv = nn.Conv3d(16, 16, 3, padding=1)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * 0.1)
    x = torch.randn(2, 16, 2, 8, 8, generator=gen)
    grads = []
    for enabled in (False, True):
        conv.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
            out = conv(x)
        out.float().square().sum().backward()
        grads.append(conv.weight.grad.clone())
    ref, got = grads
    if not torch.isfinite(got).all():
        return float("inf")
    return float((got - ref).norm() / ref.norm())


class _Float32ForShortInputs:
    """``conv.forward`` that runs the convolution in float32, outside autocast, when the input has fewer
    frames than the temporal kernel and CPU bfloat16 autocast is on; the original forward otherwise.
    Holds the conv (a deep copy binds the copy) and is picklable."""

    def __init__(self, conv: nn.Conv3d) -> None:
        self.conv = conv

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv
        if (
            x.dim() == 5
            and x.shape[2] < conv.kernel_size[0]
            and x.device.type == "cpu"
            and torch.is_autocast_enabled("cpu")
            and torch.get_autocast_dtype("cpu") == torch.bfloat16
        ):
            with torch.autocast("cpu", enabled=False):
                bias = None if conv.bias is None else conv.bias.float()
                return conv._conv_forward(x.float(), conv.weight.float(), bias)
        return nn.Conv3d.forward(conv, x)


def guard_conv3d(model: nn.Module) -> list[str]:
    """Make every plain ``nn.Conv3d`` of ``model`` with a temporal kernel (``kernel_size[0] > 1``) compute
    in float32 on inputs with fewer frames than that kernel (see the module's docstring); in place, the
    parameters and state dict unchanged. Returns the names of the convs it guards (none guarded twice)."""
    names = []
    for name, module in _temporal_convs(model):
        if not isinstance(module.__dict__.get("forward"), _Float32ForShortInputs):
            module.forward = _Float32ForShortInputs(module)
        names.append(name)
    return names


def _temporal_convs(model: nn.Module) -> list[tuple[str, nn.Conv3d]]:
    """(name, conv) of ``model``'s plain Conv3d layers with a temporal kernel (``kernel_size[0] > 1``)."""
    return [(n, m) for n, m in model.named_modules() if type(m) is nn.Conv3d and m.kernel_size[0] > 1]


def guard_if_needed(model: nn.Module, amp_enabled: bool, amp_dtype: torch.dtype, device: torch.device) -> int:
    """For a run training ``model`` with CPU bfloat16 autocast on a machine whose probe shows the fault:
    guard its Conv3d layers and say so once (a WARNING). Returns how many convs were guarded."""
    if not (amp_enabled and amp_dtype == torch.bfloat16 and device.type == "cpu"):
        return 0
    if not _temporal_convs(model):
        return 0
    error = conv3d_bf16_weight_grad_error()
    if error < TOLERANCE:
        return 0
    guarded = guard_conv3d(model)
    logger.warning(
        "amp: this CPU's bfloat16 Conv3d computes wrong weight gradients on inputs with fewer frames than"
        " the temporal kernel (probe: relative error %.3g against float32), so %d Conv3d layers run in"
        " float32 on such inputs; the rest of the model keeps bfloat16",
        error,
        len(guarded),
    )
    return len(guarded)
