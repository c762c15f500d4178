"""Load local checkpoints into vai models: unwrap common containers, convert foreign key layouts and
report missing / unexpected / shape-mismatched keys in one summary line. Nothing is ever downloaded."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from .checkpoint_files import (  # noqa: F401 (public here too)
    STRIP_PREFIXES,
    WRAPPER_KEYS,
    CheckpointError,
    StateDict,
    _load_error_cause,
    is_torch_save_file,
    read_state_dict,
    unwrap_state_dict,
)
from .converters import check_head

logger = logging.getLogger(__name__)


class CheckpointMismatchError(CheckpointError, ValueError):
    """A checkpoint refused by the default ``strict="classifier"`` load: a tensor outside the classifier
    has another shape than the model's, or the file fills (almost) nothing of the model's backbone."""


#: ``strict`` values: True (everything must fit), "classifier" (default: only the classifier may differ
#: in shape, and the file must fill most of the backbone) and False (load whatever fits)
STRICT_MODES = (True, "classifier", False)
#: the default ``strict="classifier"`` load refuses a file that fills less than this fraction of the
#: model's backbone (by number of elements; the whole model minus its classifier when it has no backbone)
MIN_BACKBONE_FRACTION = 0.5
Strict = bool | str


@dataclass
class LoadSummary:
    """What a load did: how many tensors were copied and which keys did not fit."""

    path: str
    loaded: int = 0
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    layout: str = "vai"
    #: model keys absent from the file but initialised from the loaded weights by the model's
    #: ``init_from_backbone`` hook (TDN's difference branch after an ImageNet load); not missing
    derived: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every model key was loaded and every checkpoint key was used."""
        return not (self.missing or self.unexpected or self.mismatched)

    def __str__(self) -> str:
        def _few(keys: list[str]) -> str:
            return ", ".join(keys[:4]) + (f", ... (+{len(keys) - 4})" if len(keys) > 4 else "")

        parts = [f"loaded {self.loaded} tensors from {self.path} (layout: {self.layout})"]
        if self.derived:
            parts.append(f"initialised from the loaded backbone {len(self.derived)} [{_few(self.derived)}]")
        if self.missing:
            parts.append(f"missing {len(self.missing)} [{_few(self.missing)}]")
        if self.unexpected:
            parts.append(f"unexpected {len(self.unexpected)} [{_few(self.unexpected)}]")
        if self.mismatched:
            mm = [f"{k} {tuple(a)}->{tuple(b)}" for k, a, b in self.mismatched]
            parts.append(f"shape-mismatched {len(mm)} [{_few(mm)}]")
        return "; ".join(parts)


def load_state_dict_into(
    model: nn.Module,
    state: StateDict,
    *,
    strict: Strict = "classifier",
    source: str = "<state_dict>",
    layout: str = "vai",
    only_prefix: str | None = None,
    unmapped: list[str] | None = None,
    init_hook: bool = False,
) -> LoadSummary:
    """Copy the tensors of ``state`` whose name and shape fit into ``model`` and report the rest.

    ``strict``: ``"classifier"`` (default) refuses, with a one-line :class:`CheckpointMismatchError`
    and before touching the model, a tensor outside the classifier whose shape differs and a file
    that fills less than :data:`MIN_BACKBONE_FRACTION` of the model's backbone; the classifier alone
    may differ (another class count), and missing / unexpected keys are only reported. ``True``
    raises :class:`CheckpointError` on anything that does not fit; ``False`` loads whatever fits.
    ``only_prefix`` restricts the "missing" report to model keys under that prefix (e.g. the backbone);
    ``unmapped`` lists checkpoint keys a converter could not name, reported as unexpected.
    ``init_hook`` runs the model's ``init_from_backbone()`` after the load (ImageNet backbones: TDN
    initialises its difference branch from the loaded stem and layer1); the keys it fills, from the
    model's ``backbone_init_keys()``, are reported as ``derived`` instead of missing.
    """
    check_strict(strict)
    own = model.state_dict()
    summary = LoadSummary(path=source, layout=layout, unexpected=list(unmapped or []))
    usable: StateDict = {}
    for key, value in state.items():
        if key not in own:
            summary.unexpected.append(key)
        elif own[key].shape != value.shape:
            summary.mismatched.append((key, tuple(value.shape), tuple(own[key].shape)))
        else:
            usable[key] = value.to(own[key].dtype)
    hook = getattr(model, "init_from_backbone", None) if init_hook else None
    if callable(hook):
        keys = getattr(model, "backbone_init_keys", None)
        summary.derived = [k for k in (keys() if callable(keys) else []) if k in own and k not in usable]
    derived = set(summary.derived)
    summary.missing = [
        k
        for k in own
        if k not in state
        and k not in derived
        and (only_prefix is None or k.startswith(only_prefix))
        and not _is_buffer_counter(k)
    ]
    summary.loaded = len(usable)
    if strict is True and not summary.ok:
        raise CheckpointError(f"strict load failed: {summary}. Pass strict=False to load what fits")
    if strict == "classifier":
        _refuse_misfit(model, own, usable, summary)
    model.load_state_dict(usable, strict=False)
    if callable(hook):
        hook()
    log = logger.info if summary.ok else logger.warning
    log("%s", summary)
    return summary


def check_strict(strict: object) -> None:
    """Raise one line for a ``strict`` value other than True, "classifier" or False."""
    if not any(strict is m if isinstance(m, bool) else strict == m for m in STRICT_MODES):
        raise ValueError(
            f"strict must be True (everything must fit), 'classifier' (default: only the classifier may "
            f"differ) or False (load whatever fits), got {strict!r}"
        )


def classifier_prefixes(model: nn.Module) -> tuple[str, ...]:
    """State-dict key prefixes of the model's classifier (from ``get_classifier()``; ``fc.`` otherwise)."""
    get = getattr(model, "get_classifier", None)
    clf = get() if callable(get) else None
    names = [name for name, m in model.named_modules() if clf is not None and m is clf and name]
    return tuple(f"{n}." for n in names) or ("fc.",)


def _few_keys(items: list[str], n: int = 3) -> str:
    return ", ".join(items[:n]) + (f", ... (+{len(items) - n})" if len(items) > n else "")


def _refuse_misfit(model: nn.Module, own: StateDict, usable: StateDict, summary: LoadSummary) -> None:
    """The checks of ``strict="classifier"``: non-classifier shapes must agree, and the file must fill
    at least :data:`MIN_BACKBONE_FRACTION` of the backbone."""
    arch = getattr(model, "default_cfg", {}).get("architecture") or type(model).__name__
    head = classifier_prefixes(model)
    bad = [(k, a, b) for k, a, b in summary.mismatched if not k.startswith(head)]
    if bad:
        shown = _few_keys([f"{k} {a}->{b}" for k, a, b in bad])
        raise CheckpointMismatchError(
            f"{summary.path}: {len(bad)} tensor(s) outside the classifier have another shape than in {arch} "
            f"(file->model: {shown}); is the file for another architecture, depth or num_frames? "
            "Pass strict=False to load only the tensors that fit"
        )
    prefix = "backbone." if any(k.startswith("backbone.") for k in own) else ""
    body = [k for k in own if k.startswith(prefix) and not k.startswith(head) and not _is_buffer_counter(k)]
    total = sum(own[k].numel() for k in body)
    filled = sum(own[k].numel() for k in body if k in usable)
    if total and filled < MIN_BACKBONE_FRACTION * total:
        part = "backbone" if prefix else "weights outside the classifier"
        unused = f"; unused file keys e.g. {_few_keys(summary.unexpected)}" if summary.unexpected else ""
        raise CheckpointMismatchError(
            f"{summary.path}: fills only {filled / total:.0%} of {arch}'s {part} ({summary.loaded} tensors "
            f"matched, layout: {summary.layout}{unused}); is the file for another architecture? "
            "Pass strict=False to load it anyway"
        )


def _is_buffer_counter(key: str) -> bool:
    # BatchNorm's num_batches_tracked is absent from many older checkpoints and irrelevant to inference
    return key.endswith("num_batches_tracked")


#: converter names handled here rather than by :func:`vai_models.converters.convert_state_dict`
SPECIAL_CONVERTERS = ("caffe2", "pyslowfast", "inflate")
Converter = str | Callable[[StateDict, nn.Module], StateDict] | None


def load_pretrained(
    model: nn.Module,
    path: str | Path,
    strict: Strict = "classifier",
    converter: Converter = "auto",
    head: str = "verb",
) -> LoadSummary:
    """Load a local checkpoint into ``model`` and return a :class:`LoadSummary` (also logged as one line).

    ``converter``:

    - ``"auto"`` (default): a ``.pkl`` file is read as a caffe2 blob pickle (PySlowFast model zoo,
      safe unpickler) unless it is a ``torch.save`` file (zip or legacy, detected by its first bytes);
      those and other files with ``torch.load(weights_only=True)``, then TSM-repo /
      EPIC-Kitchens / TRN-repo / torchvision-ImageNet layouts are detected
      (:mod:`vai_models.converters`), the model's own ``checkpoint_filter_fn`` is applied when it has
      one (PySlowFast ``.pyth`` keys, torchvision video classifiers), and a 2D ImageNet ResNet file
      loaded into a 3D model is mean-inflated;
    - ``"caffe2"``, ``"pyslowfast"``: force that format (3D models of the I3D/SlowFast/X3D family);
    - ``"inflate"``: mean-inflate a torchvision 2D ResNet state_dict into a 3D ResNet (I3D);
    - ``"vai"``, ``"tsm"``, ``"epic"``, ``"trn"``, ``"torchvision"``: that 2D layout;
    - a callable ``(state, model) -> state`` is applied as is; ``None`` loads the keys unchanged.

    ``head`` picks the ``verb`` or ``noun`` classifier of two-head EPIC-Kitchens checkpoints.
    ``strict``: ``"classifier"`` (default) refuses a file whose tensors outside the classifier have
    other shapes, or that fills less than half of the model's backbone, with a one-line
    :class:`CheckpointMismatchError` (a ``ValueError``); only the classifier may differ (another class
    count). ``True`` raises :class:`CheckpointError` on any missing / unexpected / mismatched key;
    ``False`` loads whatever fits (a partial load on purpose). A torchvision ImageNet file also runs
    the model's ``init_from_backbone`` hook (TDN's difference branch), as :func:`load_backbone_imagenet`.
    """
    check_strict(strict)
    check_head(head)
    from .converters import LAYOUTS, convert_state_dict

    if isinstance(converter, str) and converter not in LAYOUTS + SPECIAL_CONVERTERS:
        raise ValueError(
            f"unknown converter {converter!r}; choose one of {', '.join(LAYOUTS + SPECIAL_CONVERTERS)}, "
            "a callable (state, model) -> state, or None"
        )
    if converter == "caffe2" or (
        converter == "auto" and Path(path).suffix == ".pkl" and not is_torch_save_file(path)
    ):
        return _load_caffe2(model, path, strict)
    state = read_state_dict(path, model.state_dict().keys())
    if converter == "inflate" or (converter == "auto" and _is_2d_into_3d(state, model)):
        return _load_inflated(model, state, strict, str(path))
    layout, extra = "vai", []
    if callable(converter):
        state, layout = converter(state, model), getattr(converter, "__name__", "custom")
    elif converter == "pyslowfast":
        from .video3d.pyslowfast import convert_pyslowfast_state_dict

        state, extra = convert_pyslowfast_state_dict(state, model)
        layout = "pyslowfast"
    elif converter is not None:
        state, layout = convert_state_dict(state, model, layout=converter, head=head)
        filter_fn = getattr(model, "checkpoint_filter_fn", None)
        if converter == "auto" and layout == "vai" and callable(filter_fn):
            filtered = filter_fn(state)
            if filtered.keys() != state.keys():
                layout = _filtered_layout(state)
            state = filtered
    return load_state_dict_into(
        model,
        state,
        strict=strict,
        source=str(path),
        layout=layout,
        unmapped=extra,
        init_hook=layout == "torchvision",
    )


def _filtered_layout(state: StateDict) -> str:
    """Name of the foreign layout a model's ``checkpoint_filter_fn`` just renamed (for the summary)."""
    return "pyslowfast" if any(k.startswith(("s1.", "s2.")) for k in state) else "torchvision-video"


def _is_2d_into_3d(state: StateDict, model: nn.Module) -> bool:
    """True when ``state`` holds a 2D ResNet stem (4D ``conv1.weight``) and ``model`` a 3D one (5D)."""
    own = model.state_dict().get("conv1.weight")
    stem = state.get("conv1.weight")
    return own is not None and stem is not None and own.dim() == 5 and stem.dim() == 4


def _load_inflated(model: nn.Module, state: StateDict, strict: Strict, source: str) -> LoadSummary:
    from .video3d.inflate import inflate_resnet2d_state_dict

    if not _is_2d_into_3d(state, model):
        raise CheckpointError(
            f"{source}: converter='inflate' needs a 2D ResNet state_dict (4D conv1.weight) and a 3D "
            f"ResNet model such as i3d_resnet50, got {type(model).__name__}"
        )
    converted, unmapped = inflate_resnet2d_state_dict(state, model)
    return load_state_dict_into(
        model,
        converted,
        strict=strict,
        source=source,
        layout="torchvision-imagenet, inflated",
        unmapped=unmapped,
    )


def _load_caffe2(model: nn.Module, path: str | Path, strict: Strict) -> LoadSummary:
    from .video3d.caffe2 import load_caffe2_blobs
    from .video3d.pyslowfast import _skip_optimiser_blobs, convert_caffe2_blobs, model_family

    if not Path(path).is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist; pass the path of a local file")
    try:  # fail before reading the file when the model cannot take PySlowFast weights
        model_family(model)
    except ValueError as exc:
        raise ValueError(
            f"{path}: {exc} (a .pkl file that is not a torch.save checkpoint is read as a caffe2 blob pickle)"
        ) from None
    converted, unmapped = convert_caffe2_blobs(load_caffe2_blobs(path), model)
    return load_state_dict_into(
        model,
        converted,
        strict=strict,
        source=str(path),
        layout="caffe2",
        unmapped=_skip_optimiser_blobs(unmapped),
    )


def load_backbone_imagenet(model: nn.Module, path: str | Path, strict: Strict = "classifier") -> LoadSummary:
    """Load a torchvision ImageNet ResNet state_dict into ``model.backbone``; the 1000-way ``fc`` is skipped.

    Only backbone keys count as missing, so a new classifier head does not make the load look broken.
    A model's ``init_from_backbone`` hook runs afterwards (TDN initialises its difference branch from
    the loaded stem and layer1; those keys are reported as ``derived``, not missing). ``strict`` as in
    :func:`load_pretrained`.
    """
    from .converters import convert_torchvision_imagenet

    check_strict(strict)
    if not hasattr(model, "backbone"):
        raise TypeError(f"{type(model).__name__} has no .backbone; load_backbone_imagenet is for 2D models")
    state = convert_torchvision_imagenet(read_state_dict(path), model, keep_fc=False)
    return load_state_dict_into(
        model,
        state,
        strict=strict,
        source=str(path),
        layout="torchvision-imagenet",
        only_prefix="backbone.",
        init_hook=True,
    )
