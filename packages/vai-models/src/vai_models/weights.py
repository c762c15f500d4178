"""Load local checkpoints into vai models: unwrap common containers, convert foreign key layouts and
report missing / unexpected / shape-mismatched keys in one summary line. Nothing is ever downloaded."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

logger = logging.getLogger(__name__)

StateDict = dict[str, torch.Tensor]
#: wrapper keys under which training scripts commonly store the weights, tried in this order
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model_state", "model", "module", "net")
#: prefixes added by DataParallel/DDP or Lightning modules, stripped from every key
STRIP_PREFIXES = ("module.", "model.")


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read or does not fit the model (``strict`` loading)."""


@dataclass
class LoadSummary:
    """What a load did: how many tensors were copied and which keys did not fit."""

    path: str
    loaded: int = 0
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    layout: str = "vai"

    @property
    def ok(self) -> bool:
        """True when every model key was loaded and every checkpoint key was used."""
        return not (self.missing or self.unexpected or self.mismatched)

    def __str__(self) -> str:
        def _few(keys: list[str]) -> str:
            return ", ".join(keys[:4]) + (f", ... (+{len(keys) - 4})" if len(keys) > 4 else "")

        parts = [f"loaded {self.loaded} tensors from {self.path} (layout: {self.layout})"]
        if self.missing:
            parts.append(f"missing {len(self.missing)} [{_few(self.missing)}]")
        if self.unexpected:
            parts.append(f"unexpected {len(self.unexpected)} [{_few(self.unexpected)}]")
        if self.mismatched:
            mm = [f"{k} {tuple(a)}->{tuple(b)}" for k, a, b in self.mismatched]
            parts.append(f"shape-mismatched {len(mm)} [{_few(mm)}]")
        return "; ".join(parts)


def unwrap_state_dict(obj: object, path: str = "<checkpoint>") -> StateDict:
    """Find the tensor dict inside ``obj`` (bare or under a wrapper key) and strip DDP/Lightning prefixes."""
    seen = 0
    while isinstance(obj, Mapping) and seen < 4:
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            break
        inner = next((obj[k] for k in WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj, seen = inner, seen + 1
    if not isinstance(obj, Mapping):
        raise CheckpointError(
            f"{path}: expected a state_dict (a dict of tensors), found {type(obj).__name__}"
        )
    state = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not state:
        raise CheckpointError(
            f"{path}: no tensors found (top-level keys: {list(obj)[:8]}); "
            f"save model.state_dict() or wrap it under one of {list(WRAPPER_KEYS)}"
        )
    for prefix in STRIP_PREFIXES:
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


def read_state_dict(path: str | Path) -> StateDict:
    """Read a local checkpoint safely (``weights_only=True``) and return its state_dict on CPU."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(
            f"checkpoint {str(p)!r} does not exist; pass the path of a local .pth/.pt file"
        )
    try:
        # EPIC-Kitchens checkpoints store their argparse Namespace; it is plain data, so allow it
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors and unsafe globals come in many types
        raise CheckpointError(
            f"{p}: cannot be loaded with torch.load(weights_only=True) ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); re-save it as a plain state_dict"
        ) from exc
    return unwrap_state_dict(obj, str(p))


def load_state_dict_into(
    model: nn.Module,
    state: StateDict,
    *,
    strict: bool = False,
    source: str = "<state_dict>",
    layout: str = "vai",
    only_prefix: str | None = None,
    unmapped: list[str] | None = None,
) -> LoadSummary:
    """Copy matching tensors of ``state`` into ``model``; shapes that differ are skipped and reported.

    ``only_prefix`` restricts the "missing" report to model keys under that prefix (e.g. the backbone);
    ``unmapped`` lists checkpoint keys a converter could not name, reported as unexpected.
    """
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
    summary.missing = [
        k
        for k in own
        if k not in state and (only_prefix is None or k.startswith(only_prefix)) and not _is_buffer_counter(k)
    ]
    if strict and not summary.ok:
        raise CheckpointError(f"strict load failed: {summary}. Pass strict=False to load what fits")
    model.load_state_dict(usable, strict=False)
    summary.loaded = len(usable)
    log = logger.info if summary.ok else logger.warning
    log("%s", summary)
    return summary


def _is_buffer_counter(key: str) -> bool:
    # BatchNorm's num_batches_tracked is absent from many older checkpoints and irrelevant to inference
    return key.endswith("num_batches_tracked")


#: converter names handled here rather than by :func:`vai_models.converters.convert_state_dict`
SPECIAL_CONVERTERS = ("caffe2", "pyslowfast", "inflate")
Converter = str | Callable[[StateDict, nn.Module], StateDict] | None


def load_pretrained(
    model: nn.Module,
    path: str | Path,
    strict: bool = False,
    converter: Converter = "auto",
    head: str = "verb",
) -> LoadSummary:
    """Load a local checkpoint into ``model`` and return a :class:`LoadSummary` (also logged as one line).

    ``converter``:

    - ``"auto"`` (default): a ``.pkl`` file is read as a caffe2 blob pickle (PySlowFast model zoo,
      safe unpickler); other files with ``torch.load(weights_only=True)``, then TSM-repo /
      EPIC-Kitchens / TRN-repo / torchvision-ImageNet layouts are detected
      (:mod:`vai_models.converters`), the model's own ``checkpoint_filter_fn`` is applied when it has
      one (PySlowFast ``.pyth`` keys, torchvision video classifiers), and a 2D ImageNet ResNet file
      loaded into a 3D model is mean-inflated;
    - ``"caffe2"``, ``"pyslowfast"``: force that format (3D models of the I3D/SlowFast/X3D family);
    - ``"inflate"``: mean-inflate a torchvision 2D ResNet state_dict into a 3D ResNet (I3D);
    - ``"vai"``, ``"tsm"``, ``"epic"``, ``"trn"``, ``"torchvision"``: that 2D layout;
    - a callable ``(state, model) -> state`` is applied as is; ``None`` loads the keys unchanged.

    ``head`` picks the ``verb`` or ``noun`` classifier of two-head EPIC-Kitchens checkpoints.
    ``strict=True`` raises :class:`CheckpointError` on any missing / unexpected / mismatched key.
    """
    from .converters import LAYOUTS, convert_state_dict

    if isinstance(converter, str) and converter not in LAYOUTS + SPECIAL_CONVERTERS:
        raise ValueError(
            f"unknown converter {converter!r}; choose one of {', '.join(LAYOUTS + SPECIAL_CONVERTERS)}, "
            "a callable (state, model) -> state, or None"
        )
    if converter == "caffe2" or (converter == "auto" and Path(path).suffix == ".pkl"):
        return _load_caffe2(model, path, strict)
    state = read_state_dict(path)
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
    return load_state_dict_into(model, state, strict=strict, source=str(path), layout=layout, unmapped=extra)


def _filtered_layout(state: StateDict) -> str:
    """Name of the foreign layout a model's ``checkpoint_filter_fn`` just renamed (for the summary)."""
    return "pyslowfast" if any(k.startswith(("s1.", "s2.")) for k in state) else "torchvision-video"


def _is_2d_into_3d(state: StateDict, model: nn.Module) -> bool:
    """True when ``state`` holds a 2D ResNet stem (4D ``conv1.weight``) and ``model`` a 3D one (5D)."""
    own = model.state_dict().get("conv1.weight")
    stem = state.get("conv1.weight")
    return own is not None and stem is not None and own.dim() == 5 and stem.dim() == 4


def _load_inflated(model: nn.Module, state: StateDict, strict: bool, source: str) -> LoadSummary:
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


def _load_caffe2(model: nn.Module, path: str | Path, strict: bool) -> LoadSummary:
    from .video3d.caffe2 import load_caffe2_blobs
    from .video3d.pyslowfast import _skip_optimiser_blobs, convert_caffe2_blobs, model_family

    try:  # fail before reading the file when the model cannot take PySlowFast weights
        model_family(model)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc} (a .pkl file is read as a caffe2 blob pickle)") from None
    converted, unmapped = convert_caffe2_blobs(load_caffe2_blobs(path), model)
    return load_state_dict_into(
        model,
        converted,
        strict=strict,
        source=str(path),
        layout="caffe2",
        unmapped=_skip_optimiser_blobs(unmapped),
    )


def load_backbone_imagenet(model: nn.Module, path: str | Path, strict: bool = False) -> LoadSummary:
    """Load a torchvision ImageNet ResNet state_dict into ``model.backbone``; the 1000-way ``fc`` is skipped.

    Only backbone keys count as missing, so a new classifier head does not make the load look broken.
    """
    from .converters import convert_torchvision_imagenet

    if not hasattr(model, "backbone"):
        raise TypeError(f"{type(model).__name__} has no .backbone; load_backbone_imagenet is for 2D models")
    state = convert_torchvision_imagenet(read_state_dict(path), model, keep_fc=False)
    summary = load_state_dict_into(
        model, state, strict=strict, source=str(path), layout="torchvision-imagenet", only_prefix="backbone."
    )
    hook = getattr(model, "init_from_backbone", None)
    if callable(hook):  # e.g. TDN initialises its difference branch from the loaded RGB stem
        hook()
        summary.missing = [k for k in summary.missing if ".diff_" not in k and ".tdm." not in k]
    return summary
