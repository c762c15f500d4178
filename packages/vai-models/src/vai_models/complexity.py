"""FLOPs and parameter counts. FLOPs come from fvcore's FlopCountAnalysis, which counts one
multiply-add as one FLOP (the convention of the TSM/SlowFast papers and upstream's tool)."""

from __future__ import annotations

import logging
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


@torch.no_grad()
def flops(model: nn.Module, input_shape: Sequence[int] | None = None, by_module: bool = False):
    """GFLOPs of one forward pass on a zero tensor of ``input_shape`` (default: the model's default input).

    Returns a float, or ``(gflops, {module_name: gflops})`` when ``by_module``. Operators fvcore has no
    formula for (e.g. the zero-cost temporal shift copies) count as 0 and are logged at DEBUG level.
    The model is traced in eval mode; afterwards every submodule's ``training`` flag is restored as it
    was (e.g. BatchNorms frozen in eval inside a training model stay in eval).
    """
    with warnings.catch_warnings():  # fvcore's import touches the deprecated torch.jit.script
        warnings.simplefilter("ignore", FutureWarning)
        from fvcore.nn import FlopCountAnalysis

    shape = tuple(input_shape) if input_shape is not None else default_input_shape(model)
    modes = [(m, m.training) for m in model.modules()]  # restored one by one: frozen BNs stay in eval
    model.eval()
    try:
        device = next(model.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    try:
        analysis = FlopCountAnalysis(model, torch.zeros(shape, device=device))
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        total = analysis.total() / 1e9
        if analysis.unsupported_ops():
            logger.debug("fvcore counted these ops as 0 FLOPs: %s", dict(analysis.unsupported_ops()))
        per_module = {k: v / 1e9 for k, v in analysis.by_module().items()} if by_module else None
    finally:
        for m, training in modes:
            m.training = training
    return (total, per_module) if by_module else total
