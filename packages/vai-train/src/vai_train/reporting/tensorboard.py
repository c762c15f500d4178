"""TensorBoard logging: one run per split so train/val curves of the same metric overlay."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter


class TensorBoardLogger:
    """Write scalars to ``<log_dir>/<split>/`` with the split prefix stripped from tags.

    ``log_scalars("val", {"val_loss": .3, "val_acc": .8}, epoch)`` writes tags ``loss`` and ``acc`` in run
    ``val``, so TensorBoard draws train and val ``loss`` on one chart. Figures go to ``<log_dir>/figures``.

    ``purge_step`` (a resumed run's first epoch): every writer records it, so TensorBoard drops the
    events with step >= ``purge_step`` that earlier event files of the same run hold (epochs the
    resumed run trains again, or that a ``-l N`` source version trained past N).
    """

    def __init__(self, log_dir: str | os.PathLike, purge_step: int | None = None) -> None:
        self.log_dir = Path(log_dir)
        self.purge_step = purge_step
        self._writers: dict[str, SummaryWriter] = {}

    def writer(self, run: str) -> SummaryWriter:
        """The (lazily created) SummaryWriter of one run (split)."""
        if run not in self._writers:
            self._writers[run] = SummaryWriter(log_dir=str(self.log_dir / run), purge_step=self.purge_step)
        return self._writers[run]

    def log_scalars(self, split: str, values: Mapping[str, float | None], step: int) -> None:
        """Log every finite value; ``None``/NaN (metric not computed this epoch) is skipped."""
        writer = self.writer(split)
        prefix = split + "_"
        for name, value in values.items():
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            tag = name[len(prefix) :] if name.startswith(prefix) else name
            writer.add_scalar(tag, float(value), step)

    def log_lr(self, lrs: Mapping[str, float] | float, step: int, split: str = "train") -> None:
        """Learning rate(s): a float, or ``{param_group_name: lr}`` logged as ``lr/<name>``."""
        if isinstance(lrs, Mapping):
            for name, lr in lrs.items():
                self.writer(split).add_scalar(f"lr/{name}", float(lr), step)
        else:
            self.writer(split).add_scalar("lr", float(lrs), step)

    def log_figure(self, tag: str, fig: Any, step: int, run: str = "figures") -> None:
        """Log a matplotlib figure (closed afterwards)."""
        self.writer(run).add_figure(tag, fig, global_step=step, close=True)

    def flush(self) -> None:
        for w in self._writers.values():
            w.flush()

    def close(self) -> None:
        for w in self._writers.values():
            w.close()
        self._writers.clear()

    def __enter__(self) -> TensorBoardLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
