"""Model registry: ``register_model`` adds a builder, ``create_model`` builds by name.

Every registered builder has the signature
``builder(num_classes, num_frames, in_channels=3, **kwargs) -> nn.Module`` and returns a model
that takes ``(N, C, T, H, W)`` input and exposes ``forward_features``, ``num_features``,
``reset_classifier`` and ``default_cfg``.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


class UnknownModelError(KeyError):
    """Raised for a model name that is not registered; the message lists the closest names."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly instead
        return str(self.args[0]) if self.args else ""


def register_model(fn: Callable[..., nn.Module] | None = None, *, name: str | None = None):
    """Decorator registering ``fn`` under ``name`` (default: the function's name)."""

    def _register(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name or builder.__name__
        if key in _REGISTRY and _REGISTRY[key] is not builder:
            raise ValueError(f"model {key!r} is already registered by {_REGISTRY[key].__module__}")
        _REGISTRY[key] = builder
        return builder

    return _register(fn) if fn is not None else _register


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted registered model names, optionally filtered by a shell-style ``pattern``."""
    names = sorted(_REGISTRY)
    if pattern:
        names = [n for n in names if fnmatch.fnmatch(n, pattern)]
    return names


def is_model(name: str) -> bool:
    """True when ``name`` is registered."""
    return name in _REGISTRY


def get_model_builder(name: str) -> Callable[..., nn.Module]:
    """The builder registered as ``name``; unknown names raise with the closest suggestions."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=5, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"unknown model {name!r}.{hint} See vai_models.list_models() for all {len(_REGISTRY)} names."
        ) from None


def create_model(
    name: str,
    num_classes: int,
    num_frames: int,
    in_channels: int = 3,
    pretrained: str | Path | None = None,
    *,
    converter: str | Callable[..., Any] | None = "auto",
    strict: bool = False,
    **kwargs: Any,
) -> nn.Module:
    """Build model ``name``; ``pretrained`` is a local checkpoint path loaded after construction.

    ``converter`` and ``strict`` go to :func:`vai_models.load_pretrained` (e.g. ``converter="inflate"``
    initialises an I3D from an ImageNet ResNet-50 file); the load's summary is logged as one line and
    kept as ``model.pretrained_summary``. Other keyword arguments go to the model builder.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    builder = get_model_builder(name)
    model = builder(num_classes=num_classes, num_frames=num_frames, in_channels=in_channels, **kwargs)
    if pretrained is not None:
        from .weights import load_pretrained

        model.pretrained_summary = load_pretrained(model, pretrained, strict=strict, converter=converter)
    return model
