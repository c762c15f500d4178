# Verb ambiguity (BMVC 2022) at full scale, feature runs (upstream PyVideoAI "Feature runs"): an MLP
# (the feature_mlp model config: 2 x [Linear(1024) -> ReLU -> BatchNorm1d] -> Linear) trained with one
# single-positive loss per file on TSM features extracted once from the end-to-end `ce` model. Shared by
# epic100_verb/_epic100_verb_features_base.py and confusing_hmdb_102/_confusing_hmdb_102_features_base.py,
# which set `num_epochs` (500 for EPIC-Kitchens-100, 1000 for Confusing-HMDB-102), then define `metrics`
# and `best_metric`.
#
# Features: `vai-train feature` of the trained `ce` run writes
#   <ce run>/predictions/features_epoch_NNNN_<split>_oneclip.npz   (per-video 2048-d features, averaged
#                                                                    over the 8 segments, and labels)
# for the splits traindata_testmode (the training videos in test mode: 1 clip, 1 centre crop) and val;
# point $VAI_FEATURES_DIR at that predictions folder. When it holds several epochs, $VAI_FEATURES_EPOCH
# picks one. Upstream concatenated RGB and optical-flow features (4096-d): set $VAI_FLOW_FEATURES_DIR to the
# predictions folder of a flow model's `ce` run to append its features (matched by video id; vai ships no
# flow model or dataset config, so that run is your own); without it the runs use the RGB features alone. Split `train` reads traindata_testmode's features, `val` reads
# val's, any other split (`vai-train eval -s holdoutval`) its own file.
# Training labels: the single labels; for mask_binary_ce / pseudo_single_binary_ce the kNN pseudo-labels of
# the training features, computed once when the run starts (K = $VAI_NUM_NEIGHBOURS, 15; threshold
# $VAI_PSEUDOLABEL_THR, 0.1; cached under $VAI_USE_NEIGHBOUR_CACHE when set); for ideal_* (Confusing-HMDB
# only) the true twin class.
# Optimisation (upstream): Adam, lr 5e-6, batch 64, no scheduler, early stopping when neither val_loss nor
# the best metric improved for 20 epochs. Loss per split as the end-to-end runs (criterion_for_split).
import os
import re
from pathlib import Path

import numpy as np
import torch
from vai_data import FeatureDataset
from vai_data.datasets.feature import load_npz
from vai_papers.verb_ambiguity import (
    PSEUDO_LABEL_LOSSES,
    base_loss_type,
    criterion_for_split,
    ideal_targets,
    labels_for,
    pseudo_video_id_to_label,
)

batch_size = 64
val_batch_size = 64
num_workers = 0  # the features are in memory: loader processes would only add copies
early_stopping_patience = 20
feature_lr = 5e-6
mlp_num_layers = 2
mlp_num_units = 1024
# the `vai-train feature` split whose features feed each training split (any other split reads its own)
feature_splits = {"train": "traindata_testmode", "val": "val"}

base_loss_type(loss_type)  # an unknown loss_type fails when the config loads, with the valid names
_ideal = loss_type.startswith("ideal_")
_pseudo = base_loss_type(loss_type) in PSEUDO_LABEL_LOSSES and not _ideal

include("_verbambig_metrics.py")

_datasets = {}


def _feature_command(split):
    return (
        f"vai-train feature -D {dataset_cfg.dataset_name} -M tsm_resnet50 -c:e verbambig -E ce -l -2 "
        f"-s {split}"
    )


def _feature_file(env, split):
    """The features_epoch_NNNN_<split>_oneclip.npz in $<env>; one error line naming what writes it."""
    folder = os.environ.get(env, "").strip()
    if env == "VAI_FEATURES_DIR":
        hint = (
            f"write them with `{_feature_command(split)}` (the RGB `ce` run) and set {env} to that run's "
            "predictions folder"
        )
    else:  # vai ships no flow model config: the user's own flow `ce` run writes these
        hint = (
            f"write them with `vai-train feature ... -s {split}` of your own optical-flow model's `ce` run (vai"
            f" ships no flow config) and set {env} to that run's predictions folder, or unset {env}"
        )
    if not folder:
        raise FileNotFoundError(
            f"{env} is not set: the feature runs read the {split} features from it; {hint}"
        )
    pattern = re.compile(rf"features_epoch_(\d+)_{re.escape(split)}_oneclip\.npz")
    found = {}
    if Path(folder).is_dir():
        for path in Path(folder).iterdir():
            match = pattern.fullmatch(path.name)
            if match:
                found[int(match.group(1))] = path
    epoch = os.environ.get("VAI_FEATURES_EPOCH", "").strip()
    if epoch and not epoch.isdigit():
        raise ValueError(f"VAI_FEATURES_EPOCH={epoch!r}: give the epoch number of the features file, e.g. 3")
    if epoch:
        found = {e: p for e, p in found.items() if e == int(epoch)}
    if not found:
        which = f" of epoch {epoch}" if epoch else ""
        raise FileNotFoundError(
            f"{env}={folder}: no features_epoch_NNNN_{split}_oneclip.npz{which} there; {hint}"
        )
    if len(found) > 1:
        raise ValueError(
            f"{env}={folder} holds {split} features of epochs {sorted(found)}; set VAI_FEATURES_EPOCH to one"
        )
    return next(iter(found.values()))


def _read(env, split):
    """(video_ids, labels, features) of one features file, in video-id order."""
    path = _feature_file(env, split)
    d = load_npz(path, "features file")
    missing = [k for k in ("video_ids", "labels", "features") if k not in d]
    if missing:
        raise ValueError(
            f"{path}: not a readable features file: missing arrays {missing} (`vai-train feature` writes them)"
        )
    ids, labels, feats = d["video_ids"], d["labels"], d["features"].astype(np.float32)
    order = np.argsort(ids, kind="stable")
    return ids[order], labels[order], feats[order]


def feature_arrays(split):
    """(video_ids, labels, features) for `split`: RGB features, with the flow ones appended when given."""
    source = feature_splits.get(split, split)
    ids, labels, feats = _read("VAI_FEATURES_DIR", source)
    if os.environ.get("VAI_FLOW_FEATURES_DIR", "").strip():
        flow_ids, _, flow = _read("VAI_FLOW_FEATURES_DIR", source)
        if not np.array_equal(ids, flow_ids):
            raise ValueError(
                f"{source}: the RGB and flow feature files hold different videos ({len(ids)} and "
                f"{len(flow_ids)}); extract both from the same split file"
            )
        feats = np.concatenate([feats, flow], axis=1)
    return ids, labels, feats


def training_labels(ids, labels, feats):
    """The rows the loss trains on: single labels, kNN pseudo-labels (once, here) or the ideal twins."""
    if _ideal:
        return ideal_targets(labels, loss_type, dataset_cfg.num_classes // 2, 2).numpy()
    if _pseudo:
        device = "cuda" if torch.cuda.is_available() else None
        mapping, _ = pseudo_video_id_to_label(
            ids, feats, labels, loss_type, num_classes=dataset_cfg.num_classes, device=device
        )
        return labels_for(ids, mapping)
    return labels


def get_torch_dataset(split):
    if split not in _datasets:
        ids, labels, feats = feature_arrays(split)
        if split == "train":
            labels = training_labels(ids, labels, feats)
        _datasets[split] = FeatureDataset(ids, labels, feats, num_classes=dataset_cfg.num_classes)
    return _datasets[split]


def load_model():
    dim = get_torch_dataset("train").features.shape[1]
    return model_cfg.load_model(
        dataset_cfg.num_classes, input_feature_dim=dim, num_layers=mlp_num_layers, num_units=mlp_num_units
    )


def optimiser(params):
    return torch.optim.Adam(params, lr=feature_lr)


def get_criterion(split):
    return criterion_for_split(loss_type, split, dataset_cfg.num_classes)
