"""Read caffe2 video checkpoints (``I3D_8x8_R50.pkl`` …) safely and name their blobs PySlowFast-style.

The pickles hold ``{"blobs": {name: numpy array}}`` written by Python 2. They are read with a
restricted unpickler that can only rebuild numpy arrays/dtypes/scalars and plain containers, so a
tampered file cannot run code. Blob names (``res2_0_branch2a_bn_s``) are mapped to PySlowFast
module names (``s2.pathway0_res0.branch2.a_bn.weight``); :mod:`.pyslowfast` maps those onto vai models.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..weights import CheckpointError

# The only globals a numpy-array pickle needs (numpy 1.x and 2.x module paths).
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # Python-3 pickles of bytes at protocol 2
    ("collections", "OrderedDict"),
}


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for a global outside the numpy-array allowlist."""


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy array reconstruction globals and refuses everything else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            if module.startswith("numpy.core.") and hasattr(np, "_core"):  # numpy >= 2 renamed numpy.core
                module = module.replace("numpy.core.", "numpy._core.", 1)
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"refusing to load {module}.{name}: caffe2 checkpoints may only contain numpy arrays "
            "(the file is corrupt or not a caffe2 blob pickle)"
        )


def load_caffe2_blobs(path: str | Path) -> dict[str, np.ndarray]:
    """The ``blobs`` dict of a caffe2 checkpoint pickle, read with :class:`NumpyOnlyUnpickler`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"caffe2 checkpoint {path} does not exist")
    with path.open("rb") as f:
        try:
            data = NumpyOnlyUnpickler(f, encoding="latin1").load()
        except UnsafePickleError as e:
            raise UnsafePickleError(f"{path}: {e}") from None
        except Exception as e:  # truncated or not a pickle: pickle raises many types
            cause = (str(e).splitlines() or [""])[0][:200]
            raise CheckpointError(
                f"{path}: cannot be read as a caffe2 blob pickle ({type(e).__name__}: {cause}); the file is "
                "truncated or corrupt (download it again) or not a PySlowFast model-zoo .pkl"
            ) from e
    blobs = data.get("blobs", data) if isinstance(data, dict) else None
    if not isinstance(blobs, dict):
        raise ValueError(
            f"{path}: expected a dict with a 'blobs' dict of numpy arrays, got {type(data).__name__}"
        )
    return {str(k): v for k, v in blobs.items() if isinstance(v, np.ndarray)}


_BN = {"s": "weight", "b": "bias", "rm": "running_mean", "riv": "running_var"}
_PARAM = {"w": "weight", "b": "bias"}


def _pathway(prefix: str | None) -> int:
    return 1 if prefix else 0


# (pattern, function of the match giving the PySlowFast name); patterns are anchored at both ends,
# so optimiser blobs such as ``conv1_w_momentum`` and ``model_iter`` stay unmapped.
_RULES: list[tuple[re.Pattern[str], Any]] = [
    (
        re.compile(r"nonlocal_conv(\d+)_(\d+)_(theta|phi|g|out)_(w|b)"),
        lambda m: f"s{m[1]}.pathway0_nonlocal{m[2]}.conv_{m[3]}.{_PARAM[m[4]]}",
    ),
    (
        re.compile(r"nonlocal_conv(\d+)_(\d+)_bn_(s|b|rm|riv)"),
        lambda m: f"s{m[1]}.pathway0_nonlocal{m[2]}.bn.{_BN[m[3]]}",
    ),
    (re.compile(r"t_pool1_subsample_(w|b)"), lambda m: f"s1_fuse.conv_f2s.{_PARAM[m[1]]}"),
    (re.compile(r"t_pool1_subsample_bn_(s|b|rm|riv)"), lambda m: f"s1_fuse.bn.{_BN[m[1]]}"),
    (
        re.compile(r"t_res(\d+)_\d+_branch2c_bn_subsample_(w|b)"),
        lambda m: f"s{m[1]}_fuse.conv_f2s.{_PARAM[m[2]]}",
    ),
    (
        re.compile(r"t_res(\d+)_\d+_branch2c_bn_subsample_bn_(s|b|rm|riv)"),
        lambda m: f"s{m[1]}_fuse.bn.{_BN[m[2]]}",
    ),
    (
        re.compile(r"(t_)?res(\d+)_(\d+)_branch2([abc])_w"),
        lambda m: f"s{m[2]}.pathway{_pathway(m[1])}_res{m[3]}.branch2.{m[4]}.weight",
    ),
    (
        re.compile(r"(t_)?res(\d+)_(\d+)_branch2([abc])_bn_(s|b|rm|riv)"),
        lambda m: f"s{m[2]}.pathway{_pathway(m[1])}_res{m[3]}.branch2.{m[4]}_bn.{_BN[m[5]]}",
    ),
    (
        re.compile(r"(t_)?res(\d+)_(\d+)_branch1_w"),
        lambda m: f"s{m[2]}.pathway{_pathway(m[1])}_res{m[3]}.branch1.weight",
    ),
    (
        re.compile(r"(t_)?res(\d+)_(\d+)_branch1_bn_(s|b|rm|riv)"),
        lambda m: f"s{m[2]}.pathway{_pathway(m[1])}_res{m[3]}.branch1_bn.{_BN[m[4]]}",
    ),
    (re.compile(r"(t_)?conv1_w"), lambda m: f"s1.pathway{_pathway(m[1])}_stem.conv.weight"),
    (
        re.compile(r"(t_)?res_conv1_bn_(s|b|rm|riv)"),
        lambda m: f"s1.pathway{_pathway(m[1])}_stem.bn.{_BN[m[2]]}",
    ),
    (re.compile(r"pred_(w|b)"), lambda m: f"head.projection.{_PARAM[m[1]]}"),
]


def caffe2_to_pyslowfast_name(name: str) -> str | None:
    """PySlowFast module name of caffe2 blob ``name``, or None for blobs with no model counterpart."""
    for pattern, rename in _RULES:
        m = pattern.fullmatch(name)
        if m:
            return rename(m)
    return None
