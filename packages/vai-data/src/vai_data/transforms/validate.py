"""Checks of clip-transform arguments and inputs, shared by the transforms and the datasets: one-line
``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, bad value) naming the argument, the value
and what is accepted, raised before any torch work instead of a deep torchvision traceback or an empty clip."""

from __future__ import annotations

import operator

import torch

from ..arguments import is_int

SIZE_WANTED = "a positive int (or (h, w) of positive ints)"


def type_name(value) -> str:
    """``int``, ``numpy.ndarray``, ...: a value's type as an error message names it."""
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def check_clip_type(clip, name: str) -> None:
    """Refuse anything but a ``torch.Tensor`` clip (a numpy clip fails deep inside torchvision otherwise)."""
    if not isinstance(clip, torch.Tensor):
        hint = " (use torch.from_numpy)" if type(clip).__module__ == "numpy" else ""
        raise TypeError(f"{name} expects a torch.Tensor clip, got {type_name(clip)}{hint}")


def _int_hint(value) -> str:
    """``(use int(224.0))`` for an integral float; empty otherwise."""
    if isinstance(value, float) and value.is_integer():
        return f" (use int({value!r}))"
    return ""


def positive_size(value, name: str) -> int:
    """``value`` as an int >= 1 (a short side, a resize target), or one TypeError/ValueError naming ``name``
    (floats, strings and bools refused: they would be truncated or fail deep in torch)."""
    if type(value) is int and value > 0:  # (fast path: transforms built per sample)
        return value
    if not is_int(value):
        raise TypeError(f"{name} must be a positive int, got {value!r}{_int_hint(value)}")
    if operator.index(value) < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return operator.index(value)


def size_pair(value, name: str = "size") -> tuple[int, int]:
    """A crop or output size as ``(height, width)``: an int means a square. Anything but a positive int or
    two positive ints is one TypeError/ValueError naming ``name`` (a float, a string such as ``"16"``,
    which unpacked to (1, 6), a bool, and sizes <= 0, which gave empty clips)."""
    if type(value) is int and value > 0:  # (fast paths: runs per sample)
        return value, value
    if type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int:
        if value[0] > 0 and value[1] > 0:
            return value
    if is_int(value):
        if operator.index(value) < 1:
            raise ValueError(f"{name} must be {SIZE_WANTED}, got {value!r}")
        return operator.index(value), operator.index(value)
    items = None
    if not isinstance(value, (str, bytes, float)):
        try:
            items = tuple(value)
        except TypeError:
            items = None
    if items is None or len(items) != 2 or not all(is_int(v) for v in items):
        hint = _int_hint(value)
        if items is not None and len(items) == 2 and all(_int_hint(v) for v in items):
            hint = f" (use ({int(items[0])}, {int(items[1])}))"
        raise TypeError(f"{name} must be {SIZE_WANTED}, got {value!r}{hint}")
    h, w = operator.index(items[0]), operator.index(items[1])
    if h < 1 or w < 1:
        raise ValueError(f"{name} must be {SIZE_WANTED}, got {value!r}")
    return h, w


def resizable(clip: torch.Tensor, out_h: int, out_w: int) -> torch.Tensor:
    """``clip`` in a layout torch's uint8 antialiased resize takes to ``out_h`` x ``out_w``: its CPU kernel
    fails with an INTERNAL ASSERT on a 1 x 1 output of 3-channel frames in the default layout (torch 2.x),
    not on channels-last frames, which give the same pixels. Every other clip is returned as it is."""
    if out_h == 1 and out_w == 1 and clip.dtype == torch.uint8 and clip.ndim >= 3:
        # leading dims act as a batch: as (B, C, H, W) frames, channels-last, then back to their shape
        frames = clip.reshape(-1, *clip.shape[-3:]).contiguous(memory_format=torch.channels_last)
        return frames if clip.ndim == 4 else frames.view(*clip.shape[:-3], *frames.shape[1:])
    return clip
