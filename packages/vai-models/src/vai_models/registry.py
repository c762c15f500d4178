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

from .checks import check_int, check_positive, check_pretrained, check_probability, check_unit_interval

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}
#: ``builder.default_num_frames`` of a builder that declares no clip length of its own
DEFAULT_NUM_FRAMES = 8


class UnknownModelError(KeyError):
    """Raised for a model name that is not registered; the message lists the closest names."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly instead
        return str(self.args[0]) if self.args else ""


def register_model(
    fn: Callable[..., nn.Module] | None = None,
    *,
    name: str | None = None,
    options: tuple[str, ...] | None = None,
    default_num_frames: int | None = None,
):
    """Decorator registering ``fn`` under ``name`` (default: the function's name).

    ``options`` names the builder keywords :func:`create_model` accepts besides ``num_classes``,
    ``num_frames`` and ``in_channels`` (stored as ``builder.options``); without it, keywords are passed
    through unchecked. ``default_num_frames`` (stored as ``builder.default_num_frames``) is the clip
    length of the model's recipe, :data:`DEFAULT_NUM_FRAMES` when neither given nor already set.
    """

    def _register(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name or builder.__name__
        if key in _REGISTRY and _REGISTRY[key] is not builder:
            raise ValueError(f"model {key!r} is already registered by {_REGISTRY[key].__module__}")
        if options is not None:
            builder.options = tuple(options)  # type: ignore[attr-defined]
        if default_num_frames is not None or not hasattr(builder, "default_num_frames"):
            builder.default_num_frames = default_num_frames or DEFAULT_NUM_FRAMES  # type: ignore[attr-defined]
        _REGISTRY[key] = builder
        return builder

    return _register(fn) if fn is not None else _register


def model_options(name: str) -> tuple[str, ...] | None:
    """The builder keywords ``create_model(name, ...)`` accepts (None when the builder declares none)."""
    options = getattr(get_model_builder(name), "options", None)
    return tuple(options) if options is not None else None


def check_options(name: str, kwargs: dict[str, Any]) -> None:
    """Raise one line (a ``TypeError``) for keywords that model ``name``'s builder does not accept."""
    accepted = model_options(name)
    unknown = sorted(set(kwargs) - set(accepted)) if accepted is not None else []
    if unknown:
        raise TypeError(
            f"{name}: unknown option(s) {', '.join(unknown)}; accepted: {', '.join(accepted) or 'none'}"
        )


#: checks of the numeric builder options several model families share (run when the option is given)
_OPTION_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "dropout": check_probability,
    "shift_div": check_int,
    "crop_size": check_int,
    "img_feature_dim": check_int,
    "mvf_alpha": check_unit_interval,
    "width_factor": check_positive,
    "depth_factor": check_positive,
    "bottleneck_factor": check_positive,
}


def check_option_values(name: str, kwargs: dict[str, Any]) -> None:
    """Raise one line for a shared builder option with a value outside its range (see ``_OPTION_CHECKS``),
    for the builders that declare the option (a builder registered without ``options`` gets its keywords
    unchecked: a user's ``crop_size=(256, 320)`` means what that builder makes of it)."""
    declared = model_options(name) or ()
    for key, check in _OPTION_CHECKS.items():
        if key in kwargs and key in declared:
            check(key, kwargs[key])


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
    if not isinstance(name, str):
        raise TypeError(
            f"model name must be a str such as 'tsm_resnet50', got {name!r} ({type(name).__name__}); "
            "see vai_models.list_models()"
        )
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
    strict: bool | str = "classifier",
    head: str = "verb",
    **kwargs: Any,
) -> nn.Module:
    """Build model ``name``; ``pretrained`` is a local checkpoint path loaded after construction.

    ``converter``, ``strict`` and ``head`` (``"noun"`` for an EPIC-Kitchens file's noun classifier) go to
    :func:`vai_models.load_pretrained` (e.g. ``converter="inflate"``
    initialises an I3D from an ImageNet ResNet-50 file); the load's summary is logged as one line and
    kept as ``model.pretrained_summary``. The default ``strict="classifier"`` refuses a file that does
    not fit outside the classifier (``strict=False`` loads whatever fits). Other keyword arguments go
    to the model builder; one it does not accept raises a one-line ``TypeError`` listing those it does.
    """
    builder = get_model_builder(name)
    num_classes = check_int("num_classes", num_classes)
    num_frames = check_int("num_frames", num_frames)
    in_channels = check_int("in_channels", in_channels)
    check_options(name, kwargs)
    check_option_values(name, kwargs)
    from .converters import check_head
    from .weights import check_strict

    check_pretrained(pretrained)
    check_strict(strict)  # before building: a bad value should not cost a model construction
    check_head(head)
    model = builder(num_classes=num_classes, num_frames=num_frames, in_channels=in_channels, **kwargs)
    if pretrained is not None and pretrained is not False:
        from .weights import load_pretrained

        model.pretrained_summary = load_pretrained(
            model, pretrained, strict=strict, converter=converter, head=head
        )
    return model
