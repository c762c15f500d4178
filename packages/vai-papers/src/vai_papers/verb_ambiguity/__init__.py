"""Verb ambiguity (BMVC 2022): single-positive multi-label losses and kNN pseudo-labels.

``losses``: every ``loss_type`` of the paper (``make_loss``); ``pseudo_labels``: neighbours, soft labels,
the targets of ``mask_binary_ce`` / ``pseudo_single_binary_ce`` and their ``video_id_to_label``;
``epoch_hook``: the end-to-end runs' ``epoch_start_script`` (imports vai-train lazily); ``lineage``: the
chain of ``-l N`` continuations it reads saved refreshes along.
"""

from __future__ import annotations

from .epoch_hook import PseudoLabelRefresher, make_epoch_start_script
from .loaders import clone_loader
from .losses import (
    LOSS_TYPES,
    PSEUDO_LABEL_LOSSES,
    AssumeNegativeLoss,
    BinaryFocalLoss,
    BinaryLabelSmoothLoss,
    BinaryNegativeLabelSmoothLoss,
    EntropyMaximiseLoss,
    MaskedBinaryCrossEntropyLoss,
    PseudoSingleBinaryCELoss,
    SinglePositiveLoss,
    SoftmaxCrossEntropyLoss,
    WeakAssumeNegativeLoss,
    base_loss_type,
    criterion_for_split,
    make_loss,
)
from .pseudo_labels import (
    default_cache_dir,
    default_num_neighbours,
    default_threshold,
    ideal_targets,
    labels_for,
    mask_targets,
    nearest_neighbours,
    neighbour_soft_labels,
    pseudo_label_targets,
    pseudo_multilabel,
    pseudo_video_id_to_label,
    to_video_id_to_label,
)

# upstream PyVideoAI's class names
AssumeNegativeLossWithLogits = AssumeNegativeLoss
WeakAssumeNegativeLossWithLogits = WeakAssumeNegativeLoss
BinaryLabelSmoothLossWithLogits = BinaryLabelSmoothLoss
BinaryNegativeLabelSmoothLossWithLogits = BinaryNegativeLabelSmoothLoss
BinaryFocalLossWithLogits = BinaryFocalLoss

__all__ = [
    "LOSS_TYPES",
    "PSEUDO_LABEL_LOSSES",
    "AssumeNegativeLoss",
    "AssumeNegativeLossWithLogits",
    "BinaryFocalLoss",
    "BinaryFocalLossWithLogits",
    "BinaryLabelSmoothLoss",
    "BinaryLabelSmoothLossWithLogits",
    "BinaryNegativeLabelSmoothLoss",
    "BinaryNegativeLabelSmoothLossWithLogits",
    "EntropyMaximiseLoss",
    "MaskedBinaryCrossEntropyLoss",
    "PseudoLabelRefresher",
    "PseudoSingleBinaryCELoss",
    "SinglePositiveLoss",
    "SoftmaxCrossEntropyLoss",
    "WeakAssumeNegativeLoss",
    "WeakAssumeNegativeLossWithLogits",
    "base_loss_type",
    "clone_loader",
    "criterion_for_split",
    "default_cache_dir",
    "default_num_neighbours",
    "default_threshold",
    "ideal_targets",
    "labels_for",
    "make_epoch_start_script",
    "make_loss",
    "mask_targets",
    "nearest_neighbours",
    "neighbour_soft_labels",
    "pseudo_label_targets",
    "pseudo_multilabel",
    "pseudo_video_id_to_label",
    "to_video_id_to_label",
]
