"""``video_id_to_label``: labels that replace a split file's, per video id (upstream's pseudo-label hook).

Upstream's verb-ambiguity experiments put whole label vectors there - multi-hot rows of verbs, kNN soft
labels, or rows whose pseudo-positives are marked ``-1`` for a masked loss - built as numpy arrays; other
uses give class indices. A value may be:

* a class index (``int``, a numpy or 0-d torch integer);
* class indices (a tuple or list of ints): the classes of a multi-hot target;
* a label vector (a 1-D numpy array or torch tensor, or a list/tuple holding a float): the target itself,
  float32, values kept as they are (soft labels, ``-1`` masks).

Once any value is a vector or several indices, every sample's ``label`` is a float vector of
``num_classes`` (one-hot or multi-hot for the rest), so a batch always collates; otherwise labels stay
class indices, as the split's.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping

import numpy as np
import torch


class LabelOverride:
    """The prepared values of a ``video_id_to_label`` mapping (checked once, not per sample)."""

    def __init__(self, mapping: Mapping, split_num_classes: int, largest_split_label: int):
        if not isinstance(mapping, Mapping):
            raise TypeError(
                f"video_id_to_label must be a mapping {{video_id: label}}, got {type(mapping).__name__}"
            )
        values = {int(vid): _prepare(vid, value) for vid, value in mapping.items()}
        lengths = {len(v) for v in values.values() if isinstance(v, torch.Tensor)}
        if len(lengths) > 1:
            raise ValueError(f"video_id_to_label vectors have different lengths {sorted(lengths)}")
        length = lengths.pop() if lengths else None
        if length is not None and split_num_classes > 0 and length != split_num_classes:
            raise ValueError(
                f"video_id_to_label vectors have {length} values but the split has {split_num_classes} classes"
            )
        largest = max(
            [largest_split_label]
            + [v for v in values.values() if isinstance(v, int)]
            + [max(v) for v in values.values() if isinstance(v, tuple) and v]
        )
        self.num_classes = split_num_classes or length or largest + 1
        if largest >= self.num_classes:
            raise ValueError(
                f"video_id_to_label names class {largest}, outside the {self.num_classes} classes of its "
                f"{'vectors' if length else 'split'}"
            )
        self.values = values
        self.vectors = split_num_classes > 0 or any(not isinstance(v, int) for v in values.values())

    @classmethod
    def for_split(cls, mapping: Mapping, split) -> LabelOverride:
        """The override of a :class:`~vai_data.SplitFile`'s labels (its class count and largest label).

        A mapping that names none of the split's videos is refused (wrong ids, or the wrong split's
        labels); one that covers only some of them warns once: the others keep the split file's labels,
        where upstream raised KeyError."""
        largest = max(
            (max(r.label if isinstance(r.label, tuple) else (r.label,), default=-1) for r in split.rows),
            default=-1,
        )
        override = cls(mapping, split.num_classes, largest)
        ids = {r.video_id for r in split.rows}
        covered = len(ids & override.values.keys())
        if ids and covered == 0:
            shown = sorted(override.values)[:5]
            raise ValueError(
                f"video_id_to_label names none of the {len(ids)} videos of {split.path} (its ids start "
                f"{shown}): check that it was built for this split"
            )
        if covered < len(ids):
            missing = sorted(ids - override.values.keys())
            warnings.warn(
                f"video_id_to_label gives labels for {covered} of the {len(ids)} videos of {split.path}; the "
                f"other {len(missing)} (e.g. video ids {missing[:5]}) keep the split file's labels",
                UserWarning,
                stacklevel=4,
            )
        return override

    def get(self, video_id: int, default):
        return self.values.get(video_id, default)

    def flip_permutation(self, flip_label_map: Mapping[int, int]) -> torch.Tensor | None:
        """Indices that mirror a label vector: entry ``j`` of a flipped clip's target is entry
        ``flip_label_map.get(j, j)`` of the original's (the map pairs classes, e.g. left <-> right)."""
        if not flip_label_map:
            return None
        return torch.tensor([flip_label_map.get(j, j) for j in range(self.num_classes)], dtype=torch.long)


def _prepare(video_id, value) -> int | tuple[int, ...] | torch.Tensor:
    """One value as a class index, class indices, or a float32 label vector."""
    if isinstance(value, torch.Tensor) and value.ndim == 0 and not value.is_floating_point():
        value = int(value)
    if isinstance(value, (np.ndarray, torch.Tensor)):
        if value.ndim != 1 or value.shape[0] == 0:
            raise ValueError(
                f"video_id_to_label[{video_id}]: a label vector must be 1-D and non-empty, got shape "
                f"{tuple(value.shape)}"
            )
        return torch.as_tensor(value, dtype=torch.float32).detach().cpu().clone()
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"video_id_to_label[{video_id}]: negative class {value}")
        return int(value)
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
            if min(value) < 0:
                raise ValueError(
                    f"video_id_to_label[{video_id}]: class indices {list(value)} include a negative one "
                    "(a label vector with -1 masks must hold floats or be an array)"
                )
            return tuple(int(v) for v in value)
        if value and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value):
            return torch.tensor([float(v) for v in value], dtype=torch.float32)
    raise ValueError(
        f"video_id_to_label[{video_id}] = {value!r}: expected a class index, a tuple of class indices or a "
        "1-D label vector (numpy array, tensor, or a list of floats)"
    )


def target_from_indices(indices, num_classes: int) -> torch.Tensor:
    """A float32 multi-hot vector of ``num_classes`` with ``indices`` set (an int or a tuple of ints)."""
    target = torch.zeros(num_classes, dtype=torch.float32)
    target[list(indices) if isinstance(indices, tuple) else indices] = 1.0
    return target
