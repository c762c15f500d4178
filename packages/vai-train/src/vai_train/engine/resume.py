"""Choose the run directory and the checkpoint to start from (``-l``/``-v`` semantics, upstream-style).

- no ``-l``: a new ``version_NNN`` (or ``-v N`` if that version is empty/new).
- ``-l -1``: continue the latest version that has a checkpoint (or ``-v N``) from its ``last.pth``;
  versions without one (e.g. left by a run that crashed in its first epoch) are skipped; if no version
  has a checkpoint, the last version restarts from scratch.
- ``-l -2``: like ``-l N`` with N = the best epoch of that version.
- ``-l N``: a NEW version, copied from the source version without weights, summary clipped to
  epochs ≤ N, weights/optimiser/... loaded from the source's ``epoch_NNNN.pth``. The best epoch of the
  copied summary keeps its weights: its checkpoint is hard-linked (or copied) into the new version and
  ``best.pth`` points at it, so ``eval -l -2`` works there too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from vai_train.engine.checkpoint import adopt_checkpoint, checkpoint_epochs, resolve_link
from vai_train.rundir import (
    RunDir,
    copy_version_without_weights,
    existing_versions,
    last_version,
    new_version,
    open_version,
    remove_version,
    resolve_version,
)
from vai_train.summary import best_row, clip_rows, read_summary

logger = logging.getLogger(__name__)


@dataclass
class StartPoint:
    """Where a training run writes (``run``) and which checkpoint it loads (None: from scratch);
    ``created``: this run made the version folder (so a failed start-up may remove it again)."""

    run: RunDir
    checkpoint: Path | None
    resumed: bool
    created: bool = False
    source: RunDir | None = None  # -l N: the version the new one continues


def check_load_epoch(load_epoch: int | None, meaning: str, without_l: str) -> None:
    """One line for a ``-l`` below -2 or of 0 (``meaning``: what -1 and -2 mean for this command;
    ``without_l``: what leaving ``-l`` out does)."""
    if load_epoch is not None and load_epoch < -2:
        raise ValueError(f"-l {load_epoch}: use {meaning} or an epoch number N >= 1")
    if load_epoch == 0:
        raise ValueError(f"-l 0: epochs are numbered from 1; leave -l out to {without_l}")


def best_epoch_of(rd: RunDir, best_field: str, higher_is_better: bool) -> int:
    """Epoch of the best summary row; one clear line if there is none."""
    row = best_row(read_summary(rd.summary_csv), best_field, higher_is_better)
    if row is None:
        raise FileNotFoundError(
            f"{rd.summary_csv}: no '{best_field}' values, cannot pick the best epoch (-l -2)"
        )
    return int(row["epoch"])


def epoch_checkpoint(rd: RunDir, epoch: int, what: str = "") -> Path:
    """``weights/epoch_NNNN.pth`` or one line listing the epochs that do exist (``what``: e.g. "the best
    epoch", named in that line)."""
    p = rd.checkpoint(epoch)
    if not p.exists():
        have = ", ".join(str(e) for e in checkpoint_epochs(rd.weights)) or "none"
        which = f"{what} {epoch}: " if what else ""
        raise FileNotFoundError(
            f"{which}{p} does not exist (epochs saved in {rd.weights}: {have}; other epochs were not"
            " trained or not kept by the save policy -s)"
        )
    return p


def carry_best_checkpoint(
    src: RunDir, dst: RunDir, rows: list[dict], best_field: str, higher_is_better: bool
) -> Path | None:
    """Give the new version ``dst`` the weights of its copied summary's best epoch (from ``src``) and its
    ``best.pth``; warn in one line when ``src`` did not keep that checkpoint."""
    row = best_row(rows, best_field, higher_is_better)
    if row is None:
        return None
    best = int(row["epoch"])
    path = src.checkpoint(best)
    if not path.exists():
        logger.warning(
            "%s has no best.pth: the best epoch so far (%d, %s = %s) was not kept by %s's save policy -s (%s"
            " missing); best.pth appears when an epoch beats it",
            dst.path.name,
            best,
            best_field,
            row[best_field],
            src.path.name,
            path,
        )
        return None
    return adopt_checkpoint(path, dst.weights, "best.pth")


def _never_started(rd: RunDir) -> bool:
    """A version folder no run ever started in: no checkpoint, no summary.csv, no recorded arguments (a
    start-up failure of a vai-train that did not yet remove its folder, or a folder made by hand)."""
    return (
        resolve_link(rd.weights, "last.pth") is None
        and not rd.summary_csv.exists()
        and not any(rd.configs.glob("args*.json"))
    )


def latest_resumable(exp_dir: Path) -> RunDir | None:
    """For ``-l -1 -v auto``: the highest version, passing over the highest ones no run ever started in
    (None if there is none). A version that started but has no checkpoint (a crash in epoch 1) is the
    one resumed, from scratch: never an older, finished one in its place. One INFO line names any
    versions passed over."""
    versions = existing_versions(exp_dir)
    if not versions:
        return None
    skipped = []
    for v in reversed(versions):
        rd = open_version(exp_dir, v)
        if not _never_started(rd):
            if skipped:
                logger.info(
                    "-l -1: resuming %s (passing over %s: never started)", rd.path.name, ", ".join(skipped)
                )
            return rd
        skipped.append(rd.path.name)
    return last_version(exp_dir)


def choose_start(
    exp_dir: Path, load_epoch: int | None, version: str, best_field: str, higher_is_better: bool
) -> StartPoint:
    """Apply the ``-l``/``-v`` rules above; creates directories (call on rank 0 only)."""
    if load_epoch is None:
        if version == "auto":
            return StartPoint(new_version(exp_dir), None, False, created=True)
        rd = open_version(exp_dir, int(version))
        if rd.summary_csv.exists() or checkpoint_epochs(rd.weights):
            raise FileExistsError(
                f"{rd.path} already holds a run; resume it with -l -1 or drop -v for a new version"
            )
        existed = rd.path.exists()
        return StartPoint(rd.create(), None, False, created=not existed)
    if load_epoch == -1:
        rd = latest_resumable(exp_dir) if version == "auto" else resolve_version(exp_dir, version)
        if rd is None:
            raise FileNotFoundError(f"-l -1: nothing to resume under {exp_dir}; start without -l")
        rd.create()
        last = resolve_link(rd.weights, "last.pth")
        if last is None:
            logger.warning("%s has no checkpoint yet; restarting this version from scratch", rd.path)
            clip_rows(rd.summary_csv, 0)
            return StartPoint(rd, None, False)
        return StartPoint(rd, last, True)
    src = resolve_version(exp_dir, version)
    epoch = best_epoch_of(src, best_field, higher_is_better) if load_epoch == -2 else int(load_epoch)
    ckpt = epoch_checkpoint(src, epoch, "the best epoch" if load_epoch == -2 else "")
    dst = new_version(exp_dir)
    try:
        copy_version_without_weights(src, dst)
        rows = clip_rows(dst.summary_csv, epoch)
        carry_best_checkpoint(src, dst, rows, best_field, higher_is_better)
    except BaseException:
        remove_version(dst)
        raise
    logger.info("-l %d: new %s from %s epoch %d", load_epoch, dst.path.name, src.path.name, epoch)
    return StartPoint(dst, ckpt, True, created=True, source=src)
