# EK-100-SPMV metrics of the verb-ambiguity runs on epic100_verb (end-to-end and feature runs), read by video
# id as upstream did: the `val` predictions (all of EPIC-100 val) are scored twice,
#   holdoutval_acc, holdoutval_acc_top5     on the clips of holdoutval.csv (single-label; top-1 is the best
#                                           metric)
#   multilabeltest_*                        on the clips of multilabeltest.csv against all their verbs:
#                                           top-set, top-1 multi-label, IoU, F1, mAP
# and the splits `holdoutval` / `multilabeltest` evaluated on their own (`vai-train eval -s ...`) write the
# same columns. Both split files come from the dataset config's write_spmv_splits(); they are read when
# training starts, not when the config loads.
import numpy as np
from vai_data import read_split_file
from vai_train.metrics import VideoAccuracy

_spmv_labels = {}


def spmv_labels(split):
    """{video_id: label} of holdoutval (class index) or multilabeltest (multi-hot of 97), read once."""
    if split not in _spmv_labels:
        out = {}
        for row in read_split_file(dataset_cfg.split_file(split)).rows:
            if split == "holdoutval":
                out[row.video_id] = int(row.label)
            else:
                hot = np.zeros(dataset_cfg.num_classes, dtype=np.float32)
                hot[list(row.label if isinstance(row.label, tuple) else (row.label,))] = 1.0
                out[row.video_id] = hot
        _spmv_labels[split] = out
    return _spmv_labels[split]


def metrics():
    """The metrics of each split (a function: the SPMV split files are read when training starts)."""
    skip = {"video_id_to_label_missing_action": "skip"}
    return {
        "train": train_metrics(),
        "val": [
            ClipAccuracy((1, 5), "holdoutval", video_id_to_label=spmv_labels("holdoutval"), **skip),
            *multilabel_metrics("multilabeltest", video_id_to_label=spmv_labels("multilabeltest"), **skip),
        ],
        "holdoutval": [ClipAccuracy((1, 5), "holdoutval")],
        "multilabeltest": multilabel_metrics("multilabeltest"),
        "multicropval": [ClipAccuracy((1, 5), "multicropval"), VideoAccuracy((1, 5), "multicropval")],
    }


best_metric = "holdoutval_acc"
