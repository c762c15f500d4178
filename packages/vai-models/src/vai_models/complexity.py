"""FLOPs and parameter counts. FLOPs come from fvcore's FlopCountAnalysis, which counts one
multiply-add as one FLOP (the convention of the TSM/SlowFast papers and upstream's tool)."""

from __future__ import annotations

import logging
import numbers
import warnings
from collections.abc import Sequence

import torch
from torch import nn

logger = logging.getLogger(__name__)


def params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``model`` (only those with ``requires_grad`` if ``trainable_only``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def default_input_shape(model: nn.Module, batch: int = 1) -> tuple[int, ...]:
    """The input shape a model expects at its default size, from its ``default_cfg``.

    ``default_cfg["input_size"]`` (one sample's shape) wins; otherwise
    ``(in_channels, num_frames, crop_size, crop_size)``.
    """
    cfg = getattr(model, "default_cfg", None)
    if not cfg:
        raise ValueError(f"{type(model).__name__} has no default_cfg; pass input_shape explicitly")
    if cfg.get("input_size"):
        return (batch, *cfg["input_size"])
    crop = cfg["crop_size"]
    return (batch, cfg.get("in_channels", 3), cfg["num_frames"], crop, crop)


def check_input_shape(input_shape: object) -> tuple[int, ...]:
    """``input_shape`` as a tuple of ints >= 1, or one line saying what a shape looks like."""
    example = "a sequence of positive ints such as (1, 3, 8, 224, 224) (or an example input tensor)"
    if hasattr(input_shape, "tolist") and not isinstance(input_shape, torch.Tensor):
        input_shape = input_shape.tolist()  # a numpy array of dims
    ok = isinstance(input_shape, Sequence) and not isinstance(input_shape, str)
    dims = tuple(input_shape) if ok else ()
    if not dims or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in dims):
        raise TypeError(f"input_shape must be {example}, got {input_shape!r}")
    if min(dims) < 1:
        raise ValueError(f"input_shape must be {example}, got {tuple(int(d) for d in dims)}")
    return tuple(int(d) for d in dims)


@torch.no_grad()
def flops(model: nn.Module, input_shape: Sequence[int] | torch.Tensor | None = None, by_module: bool = False):
    """GFLOPs of one forward pass on a zero tensor of ``input_shape`` (default: the model's default input).

    ``input_shape`` may also be an example input tensor, which is then used as is.

    Returns a float, or ``(gflops, {module_name: gflops})`` when ``by_module``. Operators fvcore has no
    formula for (e.g. the zero-cost temporal shift copies) count as 0 and are logged at DEBUG level.
    The model is traced in eval mode; afterwards every submodule's ``training`` flag is restored as it
    was (e.g. BatchNorms frozen in eval inside a training model stay in eval).
    """
    with warnings.catch_warnings():  # fvcore's import touches the deprecated torch.jit.script
        warnings.simplefilter("ignore", FutureWarning)
        from fvcore.nn import FlopCountAnalysis

    example = input_shape if isinstance(input_shape, torch.Tensor) else None
    if example is None:
        shape = check_input_shape(input_shape) if input_shape is not None else default_input_shape(model)
        ref = next((p for p in model.parameters() if p.is_floating_point()), None)
        device = ref.device if ref is not None else torch.device("cpu")
        example = torch.zeros(shape, device=device, dtype=ref.dtype if ref is not None else None)
    modes = [(m, m.training) for m in model.modules()]  # restored one by one: frozen BNs stay in eval
    model.eval()
    try:
        analysis = FlopCountAnalysis(model, example)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        total = analysis.total() / 1e9
        if analysis.unsupported_ops():
            logger.debug("fvcore counted these ops as 0 FLOPs: %s", dict(analysis.unsupported_ops()))
        per_module = {k: v / 1e9 for k, v in analysis.by_module().items()} if by_module else None
    finally:
        for m, training in modes:
            m.training = training
    return (total, per_module) if by_module else total
