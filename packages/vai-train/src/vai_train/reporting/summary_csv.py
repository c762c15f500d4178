"""Read ``summary.csv`` (one row per epoch) and group its columns by split and metric family."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

KNOWN_SPLITS = ("train", "val", "multicropval", "test", "multicroptest", "trainval")


@dataclass
class Summary:
    """Columns of a summary CSV: ``epochs`` and ``{field: [value or None per row]}`` (missing cells = None)."""

    path: Path
    epochs: list[int]
    columns: dict[str, list[float | None]]

    def splits(self) -> list[str]:
        """Split names: the known ones present plus any ``<split>_loss`` / ``<split>_runtime_sec`` column."""
        found = {s for s in KNOWN_SPLITS if any(c.startswith(s + "_") for c in self.columns)}
        for c in self.columns:
            for suffix in ("_loss", "_runtime_sec"):
                if c.endswith(suffix) and len(c) > len(suffix):
                    found.add(c[: -len(suffix)])
        return sorted(found, key=len, reverse=True)

    def split_of(self, column: str) -> tuple[str | None, str]:
        """``("val", "acc_top5")`` for ``"val_acc_top5"``; ``(None, column)`` when no split prefix matches."""
        for split in self.splits():  # longest first, so "multicropval" wins over "val"
            if column.startswith(split + "_"):
                return split, column[len(split) + 1 :]
        return None, column

    def last(self, column: str) -> tuple[int, float] | None:
        """(epoch, value) of the last row with a value in ``column``."""
        for epoch, value in zip(reversed(self.epochs), reversed(self.columns[column]), strict=True):
            if value is not None:
                return epoch, value
        return None

    def best(self, column: str, higher_is_better: bool) -> tuple[int, float] | None:
        """(epoch, value) of the best value in ``column`` (earliest epoch on ties)."""
        best: tuple[int, float] | None = None
        for epoch, value in zip(self.epochs, self.columns[column], strict=True):
            if value is None:
                continue
            if best is None or (value > best[1] if higher_is_better else value < best[1]):
                best = (epoch, value)
        return best


def _to_float(cell: str | None) -> float | None:
    if cell is None or cell.strip() == "":
        return None
    try:
        value = float(cell)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def read_summary(path: str | os.PathLike) -> Summary:
    """Parse ``summary.csv``; it needs an ``epoch`` column. Empty or non-numeric cells become ``None``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"summary CSV not found: {path}")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or "epoch" not in reader.fieldnames:
            raise ValueError(f"{path}: missing 'epoch' column in the header (got {reader.fieldnames})")
        names = [n for n in reader.fieldnames if n != "epoch"]
        epochs: list[int] = []
        columns: dict[str, list[float | None]] = {n: [] for n in names}
        for line_no, row in enumerate(reader, start=2):
            try:
                epochs.append(int(float(row["epoch"])))
            except (TypeError, ValueError):
                raise ValueError(f"{path}:{line_no}: epoch {row['epoch']!r} is not a number") from None
            for n in names:
                columns[n].append(_to_float(row.get(n)))
    return Summary(path, epochs, columns)
