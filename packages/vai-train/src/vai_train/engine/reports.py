"""Glue between the engine and vai_train.reporting (TensorBoard, plots, Telegram, predictions files).

Only rank 0 creates a Reporter. Each back-end is optional: a missing extra (e.g. matplotlib) is logged
once and skipped so it never stops a training run.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import torch

from vai_train.logging_setup import setup_logging
from vai_train.rundir import RunDir

logger = logging.getLogger(__name__)


def setup_run_logging(
    log_dir: Path | None, level: str, rank: int, prefix: str, replay: list[logging.LogRecord] | None = None
) -> None:
    """Colour console (+ per-level files in ``log_dir``, ``replay`` written into them) via
    vai_train.logging_setup."""
    setup_logging(log_dir, level=level, rank=rank, prefix=prefix, replay=replay)


def video_level(out: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(video_ids, probs, labels) with probabilities averaged per video_id (sorted ids)."""
    from vai_train.metrics import average_per_video

    probs, labels = average_per_video(out["probs"], out["labels"], out["video_ids"])
    return torch.unique(out["video_ids"], sorted=True), probs, labels


def save_split_predictions(
    rd: RunDir, epoch: int, split: str, out: dict[str, Any], gatherers: Any = None, mode: str | None = None
) -> Path:
    """Write ``predictions/epoch_NNNN_<split>_<mode>.npz`` with per-video averaged probabilities.

    An exp config's ``predictions_gatherers[split]`` (a function (video_ids, probs, labels) ->
    (video_ids, probs, labels)) replaces the default per-video averaging.
    """
    from vai_train.reporting.predictions import default_mode, predictions_filename, save_predictions

    mode = mode or default_mode(split)
    if isinstance(gatherers, dict) and split in gatherers:
        vids, probs, labels = gatherers[split](out["video_ids"], out["probs"], out["labels"])
    else:
        vids, probs, labels = video_level(out)
    path = save_predictions(rd.predictions / predictions_filename(epoch, split, mode), vids, probs, labels)
    logger.info("predictions saved to %s", path)
    return path


class Reporter:
    """Per-epoch TensorBoard scalars, plots and Telegram messages for one run (rank 0 only)."""

    def __init__(
        self,
        rd: RunDir,
        args: argparse.Namespace,
        cfg: Any,
        info: Any,
        best_field: str,
        purge_step: int | None = None,
    ):
        """``purge_step``: the first epoch this run trains; TensorBoard hides the steps >= it that an
        earlier run of this version (or the ``-l N`` source it was copied from) logged."""
        self.rd, self.args, self.best_field = rd, args, best_field
        self._warned: set[str] = set()
        self.tb = self._try("TensorBoard", lambda: _tb(rd.tensorboard, purge_step))
        self.telegram = None
        if getattr(args, "bot_index", None) is not None:
            self.telegram = self._try("Telegram", lambda: make_telegram(cfg, args, rd))
        self.wandb = None
        if getattr(args, "wandb_project", None):
            self.wandb = self._try("W&B", lambda: make_wandb(args, rd))
        self.period = max(1, int(getattr(args, "telegram_period", 10) or 10))
        self.directions: dict[str, bool] = {}
        self.plot_period = int(getattr(args, "plot_period", 1))
        self.plotter = metric_plotter(cfg)
        self.plotted_epoch: int | None = None

    def set_directions(self, metrics: dict[str, list]) -> None:
        """{csv_field: higher_is_better} of every metric, for the Telegram report."""
        from vai_train.metrics import field_directions

        for ms in metrics.values():
            self.directions.update(field_directions(ms))

    def _try(self, what: str, fn: Any) -> Any:
        try:
            return fn()
        except Exception as e:  # reporting must never kill training
            if what not in self._warned:
                self._warned.add(what)
                logger.warning("%s reporting failed (run continues): %s", what, e)
            return None

    def _send(self, method: str, *a: Any) -> None:
        if self.telegram is not None and hasattr(self.telegram, method):
            self._try(f"Telegram {method}", lambda: getattr(self.telegram, method)(*a))

    def start(self, start_epoch: int, num_epochs: int) -> None:
        self._send("start", f"training epochs {start_epoch}..{num_epochs}")

    def epoch(self, epoch: int, row: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        if self.tb is not None:
            for split in ("train", "val", "multicropval"):
                vals = {
                    k: v for k, v in row.items() if k.startswith(split + "_") and isinstance(v, (int, float))
                }
                if vals:
                    self._try("TensorBoard", lambda s=split, v=vals: self.tb.log_scalars(s, v, epoch))
            if row.get("lr") is not None:
                self._try("TensorBoard", lambda: self.tb.log_lr(row["lr"], epoch))
            self._try("TensorBoard", self.tb.flush)
        if self.wandb is not None:
            self._try("W&B", lambda: self.wandb.log(row, epoch))
        plots = None
        if self.plot_period > 0 and epoch % self.plot_period == 0:
            plots = self.plot()
        self.plotted_epoch = epoch if plots is not None else self.plotted_epoch
        if self.telegram is not None and epoch % self.period == 0:
            self._send(
                "report", self.rd.summary_csv, plots if plots is not None else self.plot(), self.directions
            )

    def plot(self) -> list[Path]:
        """Redraw every metric plot of summary.csv into ``plots/``."""
        return self._try("plots", lambda: self.plotter(self.rd.summary_csv, self.rd.plots)) or []

    def early_stop(self, epoch: int) -> None:
        self._send("early_stop", epoch)

    def exception(self, exc: BaseException) -> None:
        self._send("exception", exc)

    def finish(self, result: Any) -> None:
        if (
            self.plot_period >= 0
            and result.last_epoch is not None
            and self.plotted_epoch != result.last_epoch
        ):
            self.plot()
        self._send("finish", f"best {self.best_field} = {result.best_metric} at epoch {result.best_epoch}")
        if self.tb is not None:
            self._try("TensorBoard", self.tb.close)
        if self.wandb is not None:
            if getattr(self.args, "wandb_upload_models", "best_and_last") == "best_and_last":
                self._try("W&B upload", lambda: self.wandb.upload_weights(self.rd.weights))
            self._try("W&B", self.wandb.finish)


def replot(rd: RunDir, cfg: Any = None) -> list[Path]:
    """Redraw the plots of ``rd`` (after eval changed summary.csv); a failure is only logged."""
    try:
        return metric_plotter(cfg)(rd.summary_csv, rd.plots)
    except Exception as e:
        logger.warning("plots not redrawn: %s", e)
        return []


def _tb(path: Path, purge_step: int | None = None) -> Any:
    from vai_train.reporting.tensorboard import TensorBoardLogger

    runs = sorted(p.name for p in Path(path).iterdir() if p.is_dir()) if Path(path).is_dir() else []
    tb = TensorBoardLogger(path, purge_step=purge_step if runs else None)
    if tb.purge_step is not None:  # open the runs already there now: their stale steps go even when
        for run in runs:  # this run logs nothing more to them
            tb.writer(run)
    return tb


def metric_plotter(cfg: Any) -> Any:
    """The exp config's ``metric_plotter(summary_csv, plots_dir) -> list[Path]``, else
    ``vai_train.reporting.plot_summary`` (one figure per metric family)."""
    custom = getattr(getattr(cfg, "exp_cfg", None), "metric_plotter", None)
    if custom is not None:
        if not callable(custom):
            raise TypeError(
                "exp config metric_plotter must be callable(summary_csv, plots_dir) -> list of paths"
            )
        return custom
    from vai_train.reporting import plot_summary

    return plot_summary


def make_wandb(args: argparse.Namespace, rd: RunDir) -> Any:
    """A W&B run named ``<dataset> <model> <exp> [sub] v<ver>`` logging into ``<run dir>/wandb``."""
    from vai_train.reporting.wandb_logger import WandbLogger

    parts = [args.dataset, args.model, args.experiment_name, args.subfolder, f"v{rd.version}"]
    return WandbLogger(
        args.wandb_project,
        rd.path / "wandb",
        " ".join(p for p in parts if p),
        entity=getattr(args, "wandb_entity", None),
        run_id=getattr(args, "wandb_run_id", None),
        config={k: v for k, v in vars(args).items() if isinstance(v, (str, int, float, bool))},
    )


def make_telegram(cfg: Any, args: argparse.Namespace, rd: RunDir | None) -> Any:
    """Exp config ``telegram_reporter`` (object, or callable(run_info, bot_index)), else ``[Telegram<B>]``
    of the first key.ini found: ``$VAI_KEY_INI``, ``./key.ini``, ``./tools/key.ini``, ``~/.config/vai/key.ini``."""
    from vai_train.reporting import RunInfo, TelegramReporter

    version = rd.version if rd is not None else None
    run = RunInfo(args.dataset, args.model, args.experiment_name, args.subfolder, version)
    custom = getattr(cfg.exp_cfg, "telegram_reporter", None)
    if custom is not None:
        return (
            custom(run, args.bot_index)
            if callable(custom) and not hasattr(custom, "send_message")
            else custom
        )
    return TelegramReporter.from_key_ini(None, args.bot_index, run)  # $VAI_KEY_INI, ./key.ini, ...
