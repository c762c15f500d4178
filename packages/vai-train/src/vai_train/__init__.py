"""vai-train: Python-config training engine for video models (torchrun DDP, AMP, resume, metrics, reporting).

``run_train``/``run_eval``/``run_feature``/``run_predict``/``run_confusion``/``run_visualise`` take the CLI's argument list and return a ``RunResult``.
Names are imported lazily so ``import vai_train.metrics`` stays light.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "run_train": "vai_train.api",
    "run_eval": "vai_train.api",
    "run_feature": "vai_train.api",
    "run_predict": "vai_train.api",
    "run_confusion": "vai_train.api",
    "run_visualise": "vai_train.api",
    "list_configs_text": "vai_train.api",
    "RunResult": "vai_train.engine.result",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vai_train' has no attribute {name!r}")
