"""Shared by the full paper-config tests (test_paper_full_configs.py, test_paper_full_training.py) and the
``fake`` fixture in conftest.py: the config root, the variables cleared for the fake datasets, fake
`vai-train feature` outputs, and a stand-in for a model config's load_model.

A uniquely named module, not a test module (test directories of several packages share one sys.path in a
combined pytest run)."""

from __future__ import annotations

import inspect

import numpy as np
import vai_papers
from torch import nn
from vai_models.registry import check_options

ROOT = vai_papers.config_root()


def demo_args(exp_root, model: str = "tsn_resnet18", exp: str = "demo") -> list[str]:
    """vai-train arguments for a synthetic_motion run of ``model`` under ``exp_root``, in-process loading."""
    return ["-D", "synthetic_motion", "-M", model, "-E", exp, "-R", str(exp_root), "-w", "0"]


MULTILABEL_FIELDS = (
    "topset_multilabel_accuracy",
    "top1_multilabel_accuracy",
    "iou_accuracy",
    "f1_measure",
    "mAP",
)
ENV_CLEARED = (
    "VAI_PRETRAINED",
    "VAI_SPLITNUM",
    "VAI_FEATURES_DIR",
    "VAI_FLOW_FEATURES_DIR",
    "VAI_FEATURES_EPOCH",
    "VAI_NUM_NEIGHBOURS",
    "VAI_PSEUDOLABEL_THR",
    "VAI_USE_NEIGHBOUR_CACHE",
    "VAI_EPIC100_MULTIVERB_CSV",
    "WORLD_SIZE",
)
FEATURE_DIM = 16


def _write_features(path, video_ids, labels, dim=FEATURE_DIM, seed=0):
    """A features file in the layout `vai-train feature` writes (per-video features, one clip each)."""
    g = np.random.default_rng(seed)
    ids = np.asarray(video_ids, dtype=np.int64)
    feats = g.normal(size=(len(ids), dim)).astype(np.float32)
    labels = np.asarray(labels)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        video_ids=ids,
        features=feats,
        labels=labels,
        clip_features=feats,
        clip_video_ids=ids,
        clip_labels=labels,
        spatial_idx=np.zeros(len(ids), np.int64),
        temporal_idx=np.zeros(len(ids), np.int64),
    )


class _Recorder:
    """Stands in for a model config's load_model: records its arguments, returns a tiny model."""

    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        model = nn.Linear(2, 2)
        model.reset_classifier = lambda n: self.calls.append((("reset_classifier", n), {}))
        return model


def _loaded_model_call(cfg):
    """The calls the exp config's load_model makes, checked against the model config and the builder."""
    recorder = _Recorder()
    real = cfg.model_cfg.load_model
    cfg.model_cfg.load_model = recorder
    try:
        cfg.load_model()
    finally:
        cfg.model_cfg.load_model = real
    args, kwargs = recorder.calls[0]
    bound = inspect.signature(real).bind(*args, **kwargs)  # arguments the model config's load_model takes
    if cfg.model_cfg.MODEL_NAME != "feature_mlp":  # ... and options the vai_models builder accepts
        check_options(cfg.model_cfg.MODEL_NAME, {k: v for k, v in bound.kwargs.items()})
    return recorder.calls
