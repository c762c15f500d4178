"""One-line checks of what users hand to vai models: ``create_model`` arguments and input batches.

They run before anything is built or computed, so a realistic mistake (a float class count, raw uint8
frames, a channels-last clip) fails with a message naming the value and the fix instead of deep inside
torch. Input checks look at dtype and shape only: no GPU synchronisation, no data access.
"""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

import torch
from torch import nn

#: the fix printed for an integer clip: vai models take normalised float input
NORMALISE_HINT = "normalise it first (vai_data's Normalize/DeviceNormalize)"


def check_int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int when it is an integer (not a bool or float) ``>= minimum``; else one line."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


def check_probability(name: str, value: Any) -> float:
    """``value`` when it is a real number in [0, 1) (a dropout rate); else one line."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in [0, 1), got {value!r} ({type(value).__name__})")
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1) (0 disables it), got {value}")
    return value


def check_unit_interval(name: str, value: Any) -> float:
    """``value`` when it is a real number in [0, 1] (a fraction of channels); else one line."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in [0, 1], got {value!r} ({type(value).__name__})")
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value}")
    return value


def check_positive(name: str, value: Any) -> float:
    """``value`` when it is a real number > 0 (a width or depth multiplier); else one line."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a finite number > 0, got {value!r} ({type(value).__name__})")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def check_pretrained(value: Any) -> None:
    """Refuse a ``pretrained`` that is neither None (or ``False``: no weights, as timm spells it) nor a path
    (e.g. timm's ``pretrained=True``, which would download)."""
    if value is not None and value is not False and not isinstance(value, (str, os.PathLike)):
        raise TypeError(
            f"pretrained must be the path of a local checkpoint (str or os.PathLike) or None, got {value!r} "
            f"({type(value).__name__}): vai loads weights only from a local file: pass its path"
        )


def shape_of(x: torch.Tensor) -> tuple[int, ...]:
    """``x.shape`` as plain ints (under fvcore/jit tracing the sizes can be 0-d tensors)."""
    return tuple(int(d) for d in x.shape)


def model_name(model: nn.Module) -> str:
    """The registry name of ``model`` (``default_cfg["architecture"]``), else its class name."""
    cfg = getattr(model, "default_cfg", None) or {}
    return cfg.get("architecture") or type(model).__name__


def _param_dtype(model: nn.Module) -> torch.dtype | None:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return None


def _autocast_on(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except RuntimeError:  # a device type autocast does not know (e.g. meta)
        return False


#: floating input dtypes autocast casts for the model (float64 is not cast: it reaches the weights as is)
AUTOCAST_INPUT_DTYPES = (torch.float16, torch.bfloat16, torch.float32)


def check_input_dtype(x: torch.Tensor, model: nn.Module, what: str = "clip") -> None:
    """Refuse integer/bool input (un-normalised frames) and floating input of another dtype than the
    model's parameters (under autocast: other than float16/bfloat16/float32), with one line saying
    how to convert it."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{model_name(model)} expects a torch.Tensor {what}, got {type(x).__name__}")
    ref = _param_dtype(model)
    if x.is_floating_point():
        if ref is None or x.dtype == ref:
            return
        if _autocast_on(x.device.type):
            if x.dtype in AUTOCAST_INPUT_DTYPES:
                return
            raise TypeError(
                f"{model_name(model)} under torch.autocast expects a float16, bfloat16 or float32 {what} "
                f"(or one of the model's dtype, {ref}), got {x.dtype}: convert it with x.float()"
            )
        fix = f"convert it with x.to({ref}) (or the model with .to({x.dtype}), or run under torch.autocast)"
    else:
        fix = NORMALISE_HINT if what == "clip" else "convert it with x.float()"
    raise TypeError(
        f"{model_name(model)} expects a float {what} of the model's dtype ({ref or torch.float32}), "
        f"got {x.dtype}: {fix}"
    )


def _layout_hint(shape: tuple[int, ...], in_channels: int, images: bool) -> str:
    if len(shape) == 5 and shape[2] == in_channels:
        return "it looks like (N, T, C, H, W): use x.transpose(1, 2)"
    if len(shape) == 5 and shape[-1] == in_channels:
        return "it looks like (N, T, H, W, C): use x.permute(0, 4, 1, 2, 3)"
    if len(shape) == 4 and shape[-1] == in_channels:
        add_t = "" if images else ".unsqueeze(2)"
        return f"it looks like (N, H, W, C) images: use x.permute(0, 3, 1, 2){add_t}"
    if len(shape) == 4 and shape[1] == in_channels and not images:
        return "add a time axis with x.unsqueeze(2) for single images"
    return "reshape clips to (N, C, T, H, W) before calling the model"


def check_clip_shape(x: torch.Tensor, in_channels: int, name: str, images: bool = False) -> None:
    """Raise one line unless ``x`` is an ``(N, in_channels, T, H, W)`` batch (with ``images``, also
    ``(N, in_channels, H, W)``); the message guesses the layout it got and says how to permute it."""
    ranks = (4, 5) if images else (5,)
    if x.dim() not in ranks or x.shape[1] != in_channels:  # sizes stay symbolic (torch.compile)
        shape = shape_of(x)
        want = f"(N, {in_channels}, T, H, W)"
        if images:
            want = f"(N, {in_channels}, H, W) or {want} with T = 1"
        raise ValueError(
            f"{name} expects input of shape {want}, got {shape}; {_layout_hint(shape, in_channels, images)}"
        )


def check_clip(x: torch.Tensor, model: nn.Module, in_channels: int, images: bool = False) -> None:
    """:func:`check_clip_shape` then :func:`check_input_dtype`: the input check every clip model runs
    first in its forward (dtype and shape only: no GPU sync)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{model_name(model)} expects a torch.Tensor clip, got {type(x).__name__}")
    check_clip_shape(x, in_channels, model_name(model), images)
    check_input_dtype(x, model)
