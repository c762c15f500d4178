"""``RunResult``: what a train/eval/feature run produced, and the one line the CLI prints for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunResult:
    """What a train/eval run produced: its directory, summary rows and best metric.

    ``run_dir`` is None when nothing was written (``train -e 0`` on a new run, ``eval`` of
    ``load_pretrained()`` weights on an experiment without versions and without ``-p``).
    """

    run_dir: Path | None
    summary: list[dict[str, Any]] = field(default_factory=list)
    best_metric_field: str | None = None
    best_metric: float | None = None
    best_epoch: int | None = None
    last_epoch: int | None = None
    stopped_early: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)
    command: str = "train"

    def summary_line(self) -> str:
        """One line for the console: the main metric and where the results are."""
        where = f" — results in {self.run_dir}" if self.run_dir is not None else ""
        if "summary" in self.metrics:  # tools (predict, confusion, visualise) compose their own line
            return str(self.metrics["summary"])
        if self.command == "feature":
            return f"{self.metrics.get('path', 'features')} — {self.metrics.get('num_videos')} videos"
        if self.command == "train" and self.run_dir is None:
            return "nothing trained (0 epochs asked for); no run directory created"
        if self.best_metric is None:
            return f"results in {self.run_dir}"
        if self.command == "train":
            line = f"best {self.best_metric_field} = {self.best_metric:.4f} (epoch {self.best_epoch})"
            if self.stopped_early:
                line += f"; stopped early at epoch {self.last_epoch}"
            return line + where
        weights = f"epoch {self.best_epoch}" if self.best_epoch is not None else "load_pretrained() weights"
        return f"{self.command} {self.best_metric_field} = {self.best_metric:.4f} ({weights}){where}"
