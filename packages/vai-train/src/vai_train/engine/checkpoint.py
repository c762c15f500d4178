"""Atomic checkpoint files, the keep policy (all|higher|last_and_peaks) and ``best``/``last`` links.

A checkpoint is ``weights/epoch_NNNN.pth``: a dict of tensors and plain values (``weights_only`` safe)
with ``epoch``, ``model_state``, ``optimiser_state``, ``scheduler_state``, ``amp_scaler_state``,
``ema_state``, ``criterion_state`` (the train criterion's buffers, None when it has none; absent from
older checkpoints), ``criterion_run`` (optimiser steps per epoch and epochs: the run's length the train
criterion was told, which ``eval`` tells it again; absent from older checkpoints), ``rng_states`` (one per rank), ``best_metric_field``, ``peak_epochs``,
``early_stopping_state`` and ``save_policy`` (the ``-s`` policy that wrote it).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch

from vai_train.atomic import atomic_open

logger = logging.getLogger(__name__)

SAVE_POLICIES = ("all", "higher", "last_and_peaks")
_EPOCH_RE = re.compile(r"^epoch_(\d+)\.pth$")


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_torch_save(obj: Any, path: Path) -> None:
    """torch.save to a temp file in the same folder, fsync, then os.replace — never a half-written file.
    A failed write is an OSError naming the file and the free space left on its disk (a full disk makes
    torch.save raise "[enforce fail at inline_container.cc:...] unexpected pos ...")."""
    path = Path(path)
    try:
        with atomic_open(path, "wb") as f:
            torch.save(obj, f)
    except (OSError, RuntimeError) as e:
        try:
            free = f"{shutil.disk_usage(path.parent).free / 2**20:.0f} MiB free on its disk"
        except OSError:
            free = "free space unknown"
        cause = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise OSError(f"could not write {path} ({free}): {cause}") from e
    _fsync_dir(path.parent)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``); one clear line if missing or unreadable."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise RuntimeError(f"cannot load checkpoint {path}: {type(e).__name__}: {e}") from e


def checkpoint_epochs(weights_dir: Path) -> list[int]:
    """Epoch numbers of the ``epoch_NNNN.pth`` files present."""
    if not Path(weights_dir).is_dir():
        return []
    return sorted(int(m.group(1)) for p in Path(weights_dir).iterdir() if (m := _EPOCH_RE.match(p.name)))


def _link(weights_dir: Path, name: str, target: Path) -> None:
    """Point ``name`` at ``target`` atomically (relative symlink; a copy where symlinks are unavailable)."""
    link = weights_dir / name
    tmp = weights_dir / f".{name}.tmp{os.getpid()}"
    if tmp.exists() or tmp.is_symlink():
        tmp.unlink()
    try:
        os.symlink(target.name, tmp)
    except OSError:
        shutil.copy2(target, tmp)
    os.replace(tmp, link)


def resolve_link(weights_dir: Path, name: str) -> Path | None:
    """Path of ``best.pth``/``last.pth`` if it exists (dangling links count as missing)."""
    p = Path(weights_dir) / name
    return p if p.exists() else None


def adopt_checkpoint(src: Path, weights_dir: Path, link_name: str) -> Path:
    """Bring another version's ``epoch_NNNN.pth`` into ``weights_dir`` (a hard link where the file system
    allows, else an atomic copy) and point ``link_name`` (e.g. ``best.pth``) at it."""
    src, weights_dir = Path(src), Path(weights_dir)
    weights_dir.mkdir(parents=True, exist_ok=True)
    dst = weights_dir / src.name
    if not dst.exists():
        try:
            os.link(src, dst)
        except OSError:
            tmp = weights_dir / f".{src.name}.tmp{os.getpid()}"
            shutil.copy2(src, tmp)
            os.replace(tmp, dst)
    _link(weights_dir, link_name, dst)
    _fsync_dir(weights_dir)
    return dst


def save_epoch_checkpoint(
    weights_dir: Path,
    epoch: int,
    state: dict[str, Any],
    is_best: bool,
    policy: str,
    previous: int | None = None,
) -> Path | None:
    """Write epoch ``epoch`` per ``policy``, update ``last.pth``/``best.pth`` and drop the previous "last".

    - ``all``: keep every epoch.
    - ``higher``: save only epochs that improve the best metric (``last.pth`` = last saved one).
    - ``last_and_peaks``: keep every improving epoch plus the latest one: ``previous`` (the epoch whose
      checkpoint this policy wrote last, None if there is none) is deleted unless it is a peak. Nothing
      else is ever deleted, so checkpoints an ``all`` phase (or another run) kept stay.
    """
    if policy not in SAVE_POLICIES:
        raise ValueError(f"save policy {policy!r} unknown; use one of {', '.join(SAVE_POLICIES)}")
    weights_dir = Path(weights_dir)
    weights_dir.mkdir(parents=True, exist_ok=True)
    path = weights_dir / f"epoch_{epoch:04d}.pth"
    if policy == "higher" and not is_best:
        logger.info("epoch %d did not improve the best metric; not saved (save policy 'higher')", epoch)
        return None
    peaks = set(state.get("peak_epochs", []))
    atomic_torch_save({**state, "save_policy": policy}, path)
    _link(weights_dir, "last.pth", path)
    if is_best:
        _link(weights_dir, "best.pth", path)
    if policy == "last_and_peaks" and previous is not None and previous != epoch and previous not in peaks:
        (weights_dir / f"epoch_{previous:04d}.pth").unlink(missing_ok=True)
    _fsync_dir(weights_dir)
    return path


def droppable_epoch(
    ckpt: dict[str, Any] | None, ckpt_path: Path | None, weights_dir: Path, recorded: str | None = None
) -> int | None:
    """The resumed checkpoint's epoch if ``last_and_peaks`` may drop it later: only when that policy
    wrote it (``recorded``, the version's policy, stands in for checkpoints written before they recorded
    it) and it lives in this run's ``weights_dir`` (a ``-l N`` source version is never touched)."""
    if ckpt is None or ckpt_path is None or ckpt.get("save_policy", recorded) != "last_and_peaks":
        return None
    if Path(ckpt_path).resolve().parent != Path(weights_dir).resolve():
        return None
    return int(ckpt["epoch"])
