"""Early stopping: upstream's rule (stop when neither the best val loss nor the best value of the best
metric lies within the last ``patience`` epochs) and the hook that lets an exp config replace it.

An exp config may define ``early_stopping_condition(exp, metric_info) -> bool`` where ``exp.summary``
is the list of summary rows so far and ``metric_info`` holds ``best_metric_fieldname``,
``best_metric_higher_is_better`` and ``val_loss_fieldname``; or set ``early_stopping_patience = N`` to
use the standard rule. Rank 0 decides and broadcasts the decision.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]


def _values(rows: list[Row], field_name: str) -> list[tuple[int, float]]:
    out = []
    for r in rows:
        v = r.get(field_name)
        if isinstance(v, (int, float)) and not math.isnan(float(v)):
            out.append((int(r["epoch"]), float(v)))
    return out


def best_epoch(rows: list[Row], field_name: str, higher_is_better: bool) -> int | None:
    """Epoch of the best value of ``field_name`` (the earliest on ties), or None."""
    vals = _values(rows, field_name)
    if not vals:
        return None
    best = vals[0]
    for e, v in vals[1:]:
        if (v > best[1]) if higher_is_better else (v < best[1]):
            best = (e, v)
    return best[0]


def standard_rule(rows: list[Row], metric_info: dict[str, Any], patience: int = 20) -> bool:
    """True when neither min ``val_loss`` nor the best metric was reached within the last ``patience`` epochs."""
    if not rows:
        return False
    last = max(int(r["epoch"]) for r in rows)
    loss_epoch = best_epoch(rows, metric_info.get("val_loss_fieldname", "val_loss"), higher_is_better=False)
    metric_epoch = best_epoch(
        rows,
        metric_info["best_metric_fieldname"],
        bool(metric_info.get("best_metric_higher_is_better", True)),
    )
    recent = [e for e in (loss_epoch, metric_epoch) if e is not None]
    if not recent:
        return False
    return all(e <= last - patience for e in recent)


@dataclass
class ExperimentView:
    """What ``early_stopping_condition(exp, metric_info)`` sees: the summary rows and run identity."""

    summary: list[Row]
    run_dir: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def make_condition(
    cfg_condition: Callable | None, patience: int | None
) -> Callable[[ExperimentView, dict], bool] | None:
    """The config's function, else the standard rule with ``patience``, else None (no early stopping)."""
    if cfg_condition is not None:
        return cfg_condition
    if patience is not None:
        return lambda exp, info: standard_rule(exp.summary, info, patience)
    return None
