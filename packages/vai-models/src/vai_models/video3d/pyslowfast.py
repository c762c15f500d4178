"""Load PySlowFast checkpoints into vai's I3D, I3D-NL, SlowFast and X3D models.

Two layouts are understood: PySlowFast's own ``.pyth`` files (``{"model_state": state_dict}``, keys
like ``s2.pathway0_res0.branch2.a.weight``) and the caffe2 ``.pkl`` files of its model zoo (read
safely by :mod:`.caffe2`). Both go through one PySlowFast-name → vai-name mapping; whatever does not
map, is missing or has another shape is listed in the returned :class:`LoadReport`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ._report import LoadReport, load_converted
from .caffe2 import caffe2_to_pyslowfast_name, load_caffe2_blobs

logger = logging.getLogger(__name__)

_STAGE = re.compile(r"s(\d+)\.pathway(\d)_res(\d+)\.(.+)")
_STEM = re.compile(r"s1\.pathway(\d)_stem\.(.+)")
_NONLOCAL = re.compile(r"s(\d+)\.pathway0_nonlocal(\d+)\.(.+)")
_FUSE = re.compile(r"s(\d+)_fuse\.(conv_f2s|bn)\.(.+)")
_BRANCH = {"a": "1", "b": "2", "c": "3"}


def model_family(model: nn.Module) -> str:
    """``"i3d"``, ``"slowfast"`` or ``"x3d"`` from the model's ``default_cfg`` architecture name."""
    arch = getattr(model, "default_cfg", {}).get("architecture", "")
    for family in ("slowfast", "x3d", "i3d"):
        if arch.startswith(family):
            return family
    raise ValueError(
        f"PySlowFast checkpoints load into i3d_*, slowfast_* and x3d_* models, not {arch or type(model).__name__!r}"
    )


def _block_param(rest: str) -> str | None:
    """``branch2.a_bn.weight`` → ``bn1.weight`` etc. inside one residual block."""
    if rest.startswith("branch1_bn."):
        return "downsample.1." + rest.removeprefix("branch1_bn.")
    if rest.startswith("branch1."):
        return "downsample.0." + rest.removeprefix("branch1.")
    m = re.fullmatch(r"branch2\.([abc])(_bn)?\.(.+)", rest)
    if m:
        return f"{'bn' if m[2] else 'conv'}{_BRANCH[m[1]]}.{m[3]}"
    m = re.fullmatch(r"branch2\.se\.(fc1|fc2)\.(.+)", rest)
    if m:
        return f"se.{m[1]}.{m[2]}"
    return None


def pyslowfast_to_vai_name(name: str, family: str) -> str | None:
    """vai state_dict key for PySlowFast key ``name`` in a model of ``family``; None when unmapped."""
    name = name.removeprefix("module.")

    def pathway(p: str) -> str | None:
        if family == "slowfast":
            return "slow." if p == "0" else "fast."
        return "" if p == "0" else None

    if name.startswith("head."):
        head = {
            "head.projection.": "fc.",
            "head.conv_5_bn.": "bn5.",
            "head.conv_5.": "conv5.",
            "head.lin_5.": "lin5.",
        }
        for old, new in head.items():
            if name.startswith(old) and (new == "fc." or family == "x3d"):
                return new + name.removeprefix(old)
        return None
    if m := _STEM.fullmatch(name):
        prefix = pathway(m[1])
        if prefix is None:
            return None
        if family == "x3d":
            stem = {"conv_xy.": "stem.conv_xy.", "conv.": "stem.conv_t.", "bn.": "stem.bn."}
        else:
            stem = {"conv.": prefix + "conv1.", "bn.": prefix + "bn1."}
        for old, new in stem.items():
            if m[2].startswith(old):
                return new + m[2].removeprefix(old)
        return None
    if m := _STAGE.fullmatch(name):
        prefix, param = pathway(m[2]), _block_param(m[4])
        if prefix is None or param is None:
            return None
        return f"{prefix}layer{int(m[1]) - 1}.{m[3]}.{param}"
    if m := _NONLOCAL.fullmatch(name):
        part = m[3].removeprefix("conv_")
        return f"layer{int(m[1]) - 1}.{m[2]}.nl.{part}" if family == "i3d" else None
    if (m := _FUSE.fullmatch(name)) and family == "slowfast":
        where = "stem" if m[1] == "1" else f"layer{int(m[1]) - 1}"
        return f"fuse_{where}.{'conv' if m[2] == 'conv_f2s' else 'bn'}.{m[3]}"
    return None


def convert_pyslowfast_state_dict(
    state_dict: Mapping[str, torch.Tensor], model: nn.Module
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Rename a PySlowFast state_dict for ``model``; returns the renamed dict and the unmapped keys."""
    converted, unmapped, _ = _convert_pyslowfast(state_dict, model)
    return converted, unmapped


def _convert_pyslowfast(state_dict, model):
    family = model_family(model)
    converted, unmapped, origins = {}, [], {}
    for key, value in state_dict.items():
        new = pyslowfast_to_vai_name(key, family)
        if new is None:
            unmapped.append(key)
        else:
            converted[new], origins[new] = value, key
    return converted, unmapped, origins


def convert_caffe2_blobs(
    blobs: Mapping[str, np.ndarray], model: nn.Module
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Rename caffe2 blobs for ``model`` (via PySlowFast names); returns tensors and the unmapped blob names."""
    converted, unmapped, _ = _convert_caffe2(blobs, model)
    return converted, unmapped


def _convert_caffe2(blobs, model):
    family = model_family(model)
    converted, unmapped, origins = {}, [], {}
    for key, value in blobs.items():
        psf = caffe2_to_pyslowfast_name(key)
        new = pyslowfast_to_vai_name(psf, family) if psf is not None else None
        if new is None:
            unmapped.append(key)
        else:
            converted[new], origins[new] = torch.from_numpy(np.ascontiguousarray(value)), key
    return converted, unmapped, origins


def _skip_optimiser_blobs(unmapped: list[str]) -> list[str]:
    """Drop caffe2 solver state (``*_momentum``, ``lr``, ``model_iter``) from the unmapped list."""
    return [k for k in unmapped if not (k.endswith("_momentum") or k in ("lr", "model_iter"))]


def load_caffe2_checkpoint(model: nn.Module, path: str | Path, strict: bool = False) -> LoadReport:
    """Load a PySlowFast/caffe2 ``.pkl`` (e.g. ``I3D_8x8_R50.pkl``) into ``model`` and report what happened.

    A classifier of another size than the checkpoint's is skipped (listed as shape-mismatched).
    The I3D caffe2 weights expect raw [0, 255] RGB normalised with mean 114.75 and std 57.375.
    """
    model_family(model)  # fail before reading the file when the model cannot take PySlowFast weights
    converted, unmapped, origins = _convert_caffe2(load_caffe2_blobs(path), model)
    report = load_converted(model, converted, _skip_optimiser_blobs(unmapped), strict, str(path), origins)
    logger.info("loaded caffe2 checkpoint %s: %s", path, report.summary())
    return report


def load_pyslowfast_checkpoint(model: nn.Module, path: str | Path, strict: bool = False) -> LoadReport:
    """Load a PySlowFast ``.pyth`` checkpoint (``model_state`` dict, read with ``weights_only=True``)."""
    model_family(model)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"PySlowFast checkpoint {path} does not exist")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    state = ckpt.get("model_state", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, Mapping):
        raise ValueError(f"{path}: expected a dict with a 'model_state' state_dict")
    converted, unmapped, origins = _convert_pyslowfast(state, model)
    report = load_converted(model, converted, unmapped, strict, str(path), origins)
    logger.info("loaded PySlowFast checkpoint %s: %s", path, report.summary())
    return report


def pyslowfast_filter_fn(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a PySlowFast-layout state_dict (``s1.pathway0_stem…``) for ``model``; other layouts pass through.

    Keys that do not map are kept under their own names so a generic loader reports them as unexpected.
    """
    state_dict = dict(state_dict)
    if not any(k.removeprefix("module.").startswith(("s1.", "s2.", "s3.")) for k in state_dict):
        return state_dict
    converted, unmapped = convert_pyslowfast_state_dict(state_dict, model)
    converted.update({k: state_dict[k] for k in unmapped})
    return converted


class PySlowFastCheckpointMixin:
    """Gives a model ``checkpoint_filter_fn(state_dict)`` accepting PySlowFast ``model_state`` keys."""

    def checkpoint_filter_fn(self, state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``state_dict`` with PySlowFast names mapped to this model's names (see :func:`pyslowfast_filter_fn`)."""
        return pyslowfast_filter_fn(self, state_dict)  # type: ignore[arg-type]
