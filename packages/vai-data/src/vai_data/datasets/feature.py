"""``FeatureDataset``: pre-extracted features as samples (for feature-level models and verb-ambiguity work)."""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..arguments import is_int, positive_int
from ..pathio import path_manager
from .split_dataset import SplitDataset

# numpy 2 renamed ``numpy.core`` to ``numpy._core``; pickles name either, depending on the numpy that saved them
_NUMPY_CORE = "numpy._core" if int(np.__version__.split(".")[0]) >= 2 else "numpy.core"


def load_npz(path: str | os.PathLike, what: str = ".npz file") -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path`` (read through the PathManager, no pickles); an empty,
    truncated or foreign file (a bare ``.npy`` too) is one ValueError naming the path and ``what`` it
    should have been."""
    path = os.fspath(path)
    try:
        with path_manager.open(path, "rb") as f:
            data = np.load(f, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("one .npy array, not an .npz of named arrays")
            with data:
                return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable {what}: {e}") from None


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds numpy arrays and builtin containers only; any other global is refused.

    Arrays are rebuilt the way every pickle protocol saves them: ``_reconstruct`` (protocols 0-4, and
    non-contiguous arrays under 5), ``_frombuffer`` (contiguous arrays under protocol 5, which upstream's
    ``pickle.HIGHEST_PROTOCOL`` is) and ``_codecs.encode`` (bytes under protocol 2). Names under
    ``numpy.core`` (numpy 1.x) and ``numpy._core`` (numpy 2) resolve to the running numpy's module."""

    _ALLOWED = {
        *(
            (f"numpy.{core}.multiarray", name)
            for core in ("core", "_core")
            for name in ("_reconstruct", "scalar")
        ),
        *((f"numpy.{core}.numeric", "_frombuffer") for core in ("core", "_core")),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("builtins", "slice"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to unpickle {module}.{name}: feature pickles hold arrays only"
            )
        if module.startswith(("numpy.core.", "numpy._core.")):
            module = f"{_NUMPY_CORE}.{module.rsplit('.', 1)[1]}"
        return super().find_class(module, name)


def _require_file(path: str, contents: str) -> None:
    if not path_manager.exists(path):
        raise FileNotFoundError(f"feature file {path} does not exist; expected {contents}")


def _rectangular(values, name: str, expected: str) -> np.ndarray:
    """``np.asarray(values)``, or a ``ValueError`` naming the first row whose length differs (numpy's own
    message for ragged input does not say which)."""
    try:
        arr = np.asarray(values)
    except ValueError:
        arr = None
    if arr is not None and arr.dtype != object:
        return arr
    rows = list(values)
    first = _length(rows[0]) if rows else None
    i = next((i for i, r in enumerate(rows) if _length(r) != first), None)
    where = f" (row 0 has {first} values, row {i} has {_length(rows[i])})" if i is not None else ""
    raise ValueError(f"{name} are ragged or not numbers{where}; expected {expected}")


def _length(row) -> int | None:
    return len(row) if hasattr(row, "__len__") else None


INDEX_KEYS = ("spatial_indices", "temporal_indices")  # upstream's names in its feature pickles

_LABEL_FORMS = (
    "one class index per sample (N,), a tuple of class indices per sample such as (3, 17), "
    "or multi-hot rows (N, num_classes)"
)


# why a negative class index is refused (-1 is a masked class only as a value of a multi-hot row)
_NEGATIVE = " (class indices must be >= 0; -1 masks a class only in multi-hot rows (N, num_classes))"


def _labels_array(labels, num_classes: int | None) -> tuple[np.ndarray, int]:
    """``labels`` as class indices ``(N,)`` or float rows ``(N, num_classes)``, and the class count.

    A list of tuples (or lists of ints) holds class indices, as ``SplitDataset.labels`` gives them for
    multi-label splits: they become multi-hot rows. Arrays, tensors and lists of floats are rows already:
    multi-hot or soft values in [0, 1], or -1 (a masked class)."""
    if num_classes is not None:
        num_classes = positive_int("num_classes", num_classes)
    indices = _class_index_rows(labels)
    if indices is not None:
        rows = _multi_hot(indices, num_classes)
        return rows, rows.shape[1]
    arr = _rectangular(labels, "labels", _LABEL_FORMS)
    if arr.ndim not in (1, 2) or arr.dtype.kind not in "biuf":
        raise ValueError(f"labels are {arr.dtype} of shape {arr.shape}; expected {_LABEL_FORMS}")
    if arr.ndim == 1:
        if arr.dtype.kind == "f" and len(arr):  # integral floats (e.g. saved as float64) are class indices
            fractional = ~np.isfinite(arr) | (arr != np.round(arr))
            if fractional.any():
                i = int(np.argmax(fractional))
                raise ValueError(
                    f"labels[{i}] = {arr[i]} is not a class index: single-label features take integer class "
                    f"indices (N,) (soft or multi-hot labels are rows (N, num_classes))"
                )
        if len(arr) and (arr.min() < 0 or (num_classes is not None and arr.max() >= num_classes)):
            i = int(np.argmax((arr < 0) | (arr >= (num_classes or np.inf))))
            if arr[i] < 0:
                raise ValueError(f"labels[{i}] = {arr[i]} is negative: labels must be >= 0{_NEGATIVE}")
            raise ValueError(
                f"labels[{i}] = {arr[i]} is outside the classes 0..{num_classes - 1}; raise num_classes"
            )
        return arr, num_classes or (int(arr.max()) + 1 if len(arr) else 0)
    bad = np.argwhere(~(((arr >= 0) & (arr <= 1)) | (arr == -1)))
    if len(bad):
        i, j = bad[0]
        raise ValueError(
            f"labels[{i}, {j}] = {arr[i, j]}, but multi-hot rows hold values in [0, 1] (or -1 to mask a class): "
            "these look like class indices; pass them as a list of tuples, e.g. [(3, 17), (0, 5)]"
        )
    if num_classes is not None and num_classes != arr.shape[1]:
        raise ValueError(f"num_classes={num_classes} but the multi-hot label rows have {arr.shape[1]} values")
    return arr, arr.shape[1]


def _class_index_rows(labels) -> list[tuple[int, ...]] | None:
    """``labels`` as tuples of class indices when it is a list or tuple of tuples/lists of ints, else None."""
    if not isinstance(labels, (list, tuple)) or not labels:
        return None
    if not all(isinstance(r, (list, tuple)) and all(map(is_int, r)) for r in labels):
        return None
    return [tuple(int(c) for c in r) for r in labels]


def _multi_hot(indices: list[tuple[int, ...]], num_classes: int | None) -> np.ndarray:
    """Multi-hot float32 rows of ``num_classes`` (default: the largest index + 1) with ``indices`` set."""
    width = num_classes or 1 + max(max(r, default=-1) for r in indices)
    rows = np.zeros((len(indices), width), np.float32)
    for i, row in enumerate(indices):
        if any(c < 0 for c in row):
            raise ValueError(f"labels[{i}] = {row} holds a negative class: labels must be >= 0{_NEGATIVE}")
        if any(c >= width for c in row):
            raise ValueError(f"labels[{i}] = {row} names a class outside 0..{width - 1}; raise num_classes")
        rows[i, list(row)] = 1.0
    return rows


def _view_indices(values, count: int, key: str, source: str) -> np.ndarray | None:
    """``values`` as an int64 array of one view index per feature row (``None`` stays ``None``), or a
    one-line ``ValueError`` naming ``source`` (the file) and ``key``."""
    if values is None:
        return None
    arr = np.asarray(values)
    if arr.ndim != 1 or len(arr) != count:
        got = f"{len(arr)} values" if arr.ndim == 1 else f"shape {arr.shape}"
        raise ValueError(
            f"{source}: {key!r} has {got} but there are {count} feature rows; expected one index per row"
        )
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{source}: {key!r} holds {arr.dtype} values; expected integer view indices")
    return arr.astype(np.int64)


class FeatureDataset(Dataset):
    """Samples ``{"video": feature (D,), "label", "video_id", "spatial_idx", "temporal_idx",
    "frame_indices": empty}`` from arrays of video_ids, labels and features.

    ``labels``: a class index per sample; a tuple of class indices per sample (multi-label, as
    ``SplitDataset.labels``), made multi-hot rows of ``num_classes``; or rows ``(N, num_classes)`` of
    multi-hot or soft values in [0, 1], -1 masking a class. Indices run from 0 to ``len - 1``.

    ``spatial_indices`` and ``temporal_indices`` (one per row, as upstream's feature pickles hold them)
    give each row's crop and clip index; without them both are 0. ``source`` (a file) prefixes errors."""

    def __init__(
        self,
        video_ids: Sequence[int],
        labels,
        features,
        num_classes: int | None = None,
        spatial_indices=None,
        temporal_indices=None,
        source: str = "FeatureDataset",
    ):
        self.video_ids = [int(v) for v in np.asarray(video_ids).reshape(-1)]
        self.features = torch.as_tensor(_rectangular(features, "features", "(N, D...)"), dtype=torch.float32)
        if self.features.ndim < 2:
            raise ValueError(f"features must be (N, D...), got shape {tuple(self.features.shape)}")
        labels, num_classes = _labels_array(labels, num_classes)
        if not (len(self.video_ids) == len(labels) == len(self.features)):
            raise ValueError(
                f"{source}: video_ids ({len(self.video_ids)}), labels ({len(labels)}) and features "
                f"({len(self.features)}) must have the same length"
            )
        self.spatial_indices = _view_indices(spatial_indices, len(self.features), INDEX_KEYS[0], source)
        self.temporal_indices = _view_indices(temporal_indices, len(self.features), INDEX_KEYS[1], source)
        self.multilabel = labels.ndim == 2
        self._labels = torch.as_tensor(labels, dtype=torch.float32 if self.multilabel else torch.long)
        self.num_classes = num_classes

    @classmethod
    def from_file(
        cls, path: str | os.PathLike, feature_key: str = "features", num_classes: int | None = None
    ) -> FeatureDataset:
        """Load features saved by ``vai-train feature`` (``.npz``: ``video_ids``, ``labels``, ``<feature_key>``)
        or an upstream feature pickle (``.pkl``: ``video_ids``, ``labels``, ``clip_features``). Give
        ``num_classes`` when the file's class-index labels may not name the last class (a split without
        any sample of it): the count is otherwise the largest label + 1."""
        path = os.fspath(path)
        if path.endswith((".pkl", ".pickle")):
            key = "clip_features" if feature_key == "features" else feature_key
            return cls.from_pickle(path, key, num_classes)
        _require_file(
            path, f"a .npz with video_ids, labels and {feature_key} (as `vai-train feature` writes)"
        )
        d = load_npz(path, ".npz features file")
        return cls._from_mapping(d, feature_key, path, num_classes)

    @classmethod
    def from_pickle(
        cls, path: str | os.PathLike, feature_key: str = "clip_features", num_classes: int | None = None
    ) -> FeatureDataset:
        """Load an upstream feature pickle (``video_ids``, ``labels``, ``clip_features`` and, when present,
        ``spatial_indices`` and ``temporal_indices``), saved with any pickle protocol. Only numpy arrays,
        lists, tuples, dicts and scalars are unpickled: a pickle that names any other class is refused."""
        path = os.fspath(path)
        _require_file(path, f"an upstream feature pickle with video_ids, labels and {feature_key}")
        with path_manager.open(path, "rb") as f:
            d = _ArraysOnlyUnpickler(f).load()
        feats = d.get(feature_key) if isinstance(d, dict) else None
        if isinstance(
            feats, tuple
        ):  # upstream stores a tuple of arrays (one per feature head): use the first
            d = {**d, feature_key: feats[0]}
        return cls._from_mapping(d, feature_key, path, num_classes)

    @classmethod
    def _from_mapping(cls, d, feature_key: str, path, num_classes: int | None = None) -> FeatureDataset:
        if not isinstance(d, dict):
            raise ValueError(f"{path}: expected a mapping of arrays, got {type(d).__name__}")
        for k in ("video_ids", "labels", feature_key):
            if k not in d:
                raise KeyError(f"{path}: feature file has no {k!r} (keys: {sorted(d)})")
        indices = {k: d.get(k) for k in INDEX_KEYS}
        return cls(
            d["video_ids"], d["labels"], d[feature_key], num_classes=num_classes, **indices, source=str(path)
        )

    @property
    def labels(self) -> list:
        return self._labels.tolist()

    def __len__(self) -> int:
        return len(self.video_ids)

    def __getitem__(self, index: int) -> dict:
        SplitDataset.check_index(self, index)  # (as split datasets: no negative indices)
        label = self._labels[index]
        return {
            "video": self.features[index],
            "label": label if self.multilabel else int(label),
            "video_id": self.video_ids[index],
            "spatial_idx": _index_at(self.spatial_indices, index),
            "temporal_idx": _index_at(self.temporal_indices, index),
            "frame_indices": torch.zeros(0, dtype=torch.long),
        }


def _index_at(indices: np.ndarray | None, index: int) -> int:
    """Row ``index`` of a view-index array, or 0 when the features came without one."""
    return 0 if indices is None else int(indices[index])
