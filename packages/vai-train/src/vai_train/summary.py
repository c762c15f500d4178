"""``logs/summary.csv``: one row per epoch, columns ``epoch``, ``{split}_runtime_sec``, ``{split}_loss``, metrics.

The file is rewritten atomically on each update so a crash never leaves a half-written row, and
columns that appear later (multi-crop validation, eval on another split) extend the header.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from vai_train.atomic import atomic_open

Row = dict[str, Any]


def _parse(value: str) -> Any:
    if value == "":
        return None
    try:
        f = float(value)
    except ValueError:
        return value
    return int(f) if f.is_integer() and "." not in value and "e" not in value.lower() else f


def read_summary(path: Path) -> list[Row]:
    """Rows of a summary.csv (numbers parsed, empty cells as None); [] if the file does not exist."""
    if not Path(path).is_file():
        return []
    with open(path, newline="") as f:
        return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(f)]


def write_summary(path: Path, rows: list[Row]) -> None:
    """Write rows (sorted by epoch) atomically; header = ``epoch`` then every column in first-seen order."""
    fields: list[str] = ["epoch"]
    for row in rows:
        for k in row:
            if k not in fields:
                fields.append(k)
    rows = sorted(rows, key=lambda r: r["epoch"])
    with atomic_open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for row in rows:
            w.writerow({k: _fmt(row.get(k)) for k in fields})


def _fmt(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float) and not math.isnan(v) and v.is_integer() and abs(v) < 1e15:
        return repr(v)
    return v


def update_row(path: Path, epoch: int, values: Row) -> list[Row]:
    """Merge ``values`` into the row of ``epoch`` (created if missing) and rewrite the file."""
    rows = read_summary(path)
    for row in rows:
        if row["epoch"] == epoch:
            row.update(values)
            break
    else:
        rows.append({"epoch": epoch, **values})
    write_summary(path, rows)
    return read_summary(path)


def clip_rows(path: Path, max_epoch: int, rows: list[Row] | None = None) -> list[Row]:
    """Drop rows after ``max_epoch`` (resume / ``-l N``) and rewrite the file; ``rows``: the file's rows
    when the caller has read them already."""
    rows = [r for r in (read_summary(path) if rows is None else rows) if r["epoch"] <= max_epoch]
    if Path(path).exists():
        write_summary(path, rows)
    return rows


def best_row(rows: list[Row], field: str, higher_is_better: bool) -> Row | None:
    """The row with the best value of ``field`` (earliest on ties), or None."""
    best = None
    for r in rows:
        v = r.get(field)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if best is None or (v > best[field] if higher_is_better else v < best[field]):
            best = r
    return best
