"""Early stopping: upstream's rule (stop when neither the best val loss nor the best value of the best
metric lies within the last ``patience`` epochs, a tie counting at its latest epoch) and the hook that
lets an exp config replace it.

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


def _valid(v: Any) -> bool:
    return isinstance(v, (int, float)) and not math.isnan(float(v))


def best_epoch(
    rows: list[Row], field_name: str, higher_is_better: bool, latest_on_ties: bool = False
) -> int | None:
    """Epoch of the best value of ``field_name`` (the earliest on ties, or the latest), or None."""
    best: tuple[int, float] | None = None
    for r in sorted(rows, key=lambda r: r["epoch"]):
        v = r.get(field_name)
        if not _valid(v):
            continue
        v = float(v)
        if best is None:
            best = (int(r["epoch"]), v)
            continue
        better = v > best[1] if higher_is_better else v < best[1]
        if better or (latest_on_ties and v == best[1]):
            best = (int(r["epoch"]), v)
    return None if best is None else best[0]


def best_within_last(rows: list[Row], field_name: str, higher_is_better: bool, patience: int) -> bool | None:
    """Upstream's ``best_value_within_lastN(values, patience, allow_same=True)`` on the rows in epoch
    order: True if the best value was (last) reached in one of the last ``patience`` rows, or if there
    are fewer rows than that; a tie counts at its latest row. None when ``field_name`` has no values."""
    ordered = sorted(rows, key=lambda r: r["epoch"])
    positions = [i for i, r in enumerate(ordered) if _valid(r.get(field_name))]
    if not positions:
        return None
    if len(ordered) < patience:
        return True
    best = max(positions, key=lambda i: (float(ordered[i][field_name]) * (1 if higher_is_better else -1), i))
    return best >= len(ordered) - patience


def standard_rule(rows: list[Row], metric_info: dict[str, Any], patience: int = 20) -> bool:
    """True (stop) when neither the minimum ``val_loss`` nor the best value of the best metric was reached
    within the last ``patience`` epochs; a value reached again (a tie) counts as reached at its latest
    epoch. A field without values is left out; with neither, never stop."""
    within = [
        best_within_last(rows, metric_info.get("val_loss_fieldname", "val_loss"), False, patience),
        best_within_last(
            rows,
            metric_info["best_metric_fieldname"],
            bool(metric_info.get("best_metric_higher_is_better", True)),
            patience,
        ),
    ]
    decided = [w for w in within if w is not None]
    return bool(decided) and not any(decided)


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
