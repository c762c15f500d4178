"""Build the pieces of a run from an ExpConfig: data loaders, model (DDP-wrapped), optimiser, AMP, EMA, metrics."""

from __future__ import annotations

import logging
import math
import os
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from vai_train.config.experiment import ExpConfig
from vai_train.config.loader import ConfigError
from vai_train.dataset_hooks import dataset_parts, set_dataset_epoch, total_bad_samples
from vai_train.engine.distributed import DistInfo, ShardSampler, all_reduce_sum
from vai_train.engine.memory_format import to_channels_last
from vai_train.engine.rng import EpochSeededCollate, epoch_seed, worker_init_fn
from vai_train.metrics import Metric, default_metrics

logger = logging.getLogger(__name__)


def resolve_num_workers(cli_workers: int | None, cfg: ExpConfig) -> int:
    """``-w`` beats the exp config's ``num_workers``; default min(4, CPU count)."""
    if cli_workers is not None:
        if cli_workers < 0:
            raise ValueError(
                f"-w {cli_workers}: DataLoader workers cannot be negative; use 0 to load in-process"
            )
        return cli_workers
    if cfg.num_workers is not None:
        if int(cfg.num_workers) < 0:
            raise ConfigError(f"{cfg.exp_cfg.__file__}: num_workers = {cfg.num_workers} cannot be negative")
        return int(cfg.num_workers)
    return min(4, os.cpu_count() or 1)


def make_train_loader(
    ds: Any, cfg: ExpConfig, info: DistInfo, seed: int, workers: int, persistent: bool = False
) -> DataLoader:
    """Shuffling loader (a DistributedSampler for any world size, re-seeded per epoch by ``set_epoch``);
    ``persistent`` keeps its workers between epochs (see :func:`check_persistent_dataset`)."""
    if len(ds) == 0:
        raise ConfigError(f"{cfg.exp_cfg.__file__}: get_torch_dataset('train') returned an empty dataset")
    sampler = DistributedSampler(ds, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=seed)
    persistent = persistent and workers > 0
    collate = cfg.get_collate_fn("train", ds)
    if persistent:
        check_persistent_dataset(ds)
        collate = EpochSeededCollate(collate, seed, info.rank)
    return DataLoader(
        ds,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=info.device.type == "cuda",
        drop_last=False,
        worker_init_fn=worker_init_fn if workers > 0 else None,
        generator=torch.Generator().manual_seed(seed),
        persistent_workers=persistent,
        collate_fn=collate,
    )


def check_persistent_dataset(ds: Any) -> None:
    """Warn when persistent workers would keep a dataset's epoch at its first value: a dataset (or part)
    whose ``set_epoch`` changes only the main process's copy. vai_data's datasets keep the epoch in shared
    memory and say so with ``epoch_reaches_workers = True``."""
    # the datasets set_dataset_epoch calls: the dataset's own set_epoch, else its parts'
    parts = [ds] if callable(getattr(ds, "set_epoch", None)) else dataset_parts(ds)
    for part in parts:
        if callable(getattr(part, "set_epoch", None)) and not getattr(part, "epoch_reaches_workers", False):
            logger.warning(
                "persistent workers: %s.set_epoch may not reach workers that are already running (it does not"
                " declare epoch_reaches_workers = True), so its per-epoch randomness could repeat every"
                " epoch; keep the epoch in shared memory, or train without persistent workers",
                type(part).__name__,
            )
            return


def make_eval_loader(
    ds: Any,
    batch_size: int,
    info: DistInfo,
    seed: int,
    workers: int,
    collate_fn: Any = None,
    persistent: bool = False,
) -> DataLoader:
    """Non-shuffling loader whose ShardSampler neither pads nor duplicates (exact gathered metrics);
    ``persistent`` keeps its workers between the epochs' validations."""
    return DataLoader(
        ds,
        batch_size=batch_size,
        collate_fn=collate_fn,
        sampler=ShardSampler(len(ds), info.rank, info.world_size),
        num_workers=workers,
        pin_memory=info.device.type == "cuda",
        worker_init_fn=worker_init_fn if workers > 0 else None,
        generator=torch.Generator().manual_seed(seed),
        persistent_workers=persistent and workers > 0,
    )


LOADER_KEYS = ("train_loader", "val_loader", "multicropval_loader")


def stop_workers(loader: Any) -> None:
    """Shut down a loader's persistent workers now (at the end of a run, or when a hook replaced the
    loader): left to garbage collection they linger, and a late shutdown can wait seconds per worker."""
    iterator = getattr(loader, "_iterator", None)
    if iterator is None or not getattr(loader, "persistent_workers", False):
        return
    shutdown = getattr(iterator, "_shutdown_workers", None)  # torch's (private) iterator API
    if callable(shutdown):
        shutdown()
    loader._iterator = None


def stop_kit_workers(kit: dict[str, Any]) -> None:
    """Stop the persistent workers of every loader in a train kit (the run ended); a failure is logged, so
    it never hides the run's own error nor skips the other loaders."""
    for name in LOADER_KEYS:
        if name in kit:
            try:
                stop_workers(kit[name])
            except Exception as e:
                logger.warning("could not stop the %s's workers: %s: %s", name, type(e).__name__, e)


def stop_replaced_workers(before: dict[str, Any], kit: dict[str, Any]) -> None:
    """Stop the workers of the loaders in ``before`` (name -> loader) that ``kit`` no longer holds."""
    for name, loader in before.items():
        if kit.get(name) is not loader:
            stop_workers(loader)


def set_loader_epoch(loader: DataLoader, seed: int, epoch: int, rank: int) -> None:
    """Make shuffling, worker seeds and the dataset's per-epoch randomness a pure function of
    (seed, epoch, rank) — needed for exact resume and for fresh augmentation every epoch."""
    if isinstance(loader.sampler, DistributedSampler):
        loader.sampler.set_epoch(epoch)
    set_dataset_epoch(
        loader.dataset, epoch
    )  # e.g. vai_data datasets seed each sample from (seed, epoch, index)
    if loader.generator is not None:
        loader.generator.manual_seed(epoch_seed(seed, epoch, rank))
    if isinstance(loader.collate_fn, EpochSeededCollate):  # persistent workers reseed from it
        if getattr(getattr(loader, "_iterator", None), "_tasks_outstanding", 0):
            stop_workers(loader)  # an epoch left unfinished: its queued batches must not take the reseed
        loader.collate_fn.epoch.value = epoch


def bad_sample_count(loader: DataLoader, info: DistInfo) -> int | None:
    """Unreadable samples the dataset substituted so far, summed over ranks (datasets exposing
    ``bad_samples``, e.g. vai_data's); None for datasets that do not count them."""
    count = total_bad_samples(loader.dataset)
    if count is None:
        return None
    total = int(all_reduce_sum([float(count)], info)[0])
    if total:
        logger.warning("%d unreadable training samples were replaced so far (see the data warnings)", total)
    return total


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (or the model itself)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def build_model(
    cfg: ExpConfig, info: DistInfo, pretrained: bool, channels_last: bool | None = None
) -> nn.Module:
    """``load_model()`` (+ ``load_pretrained`` when starting fresh) on this rank's device, its weights
    channels-last when ``channels_last`` (None: the config's ``channels_last``) asks."""
    model = cfg.load_model()
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"{cfg.exp_cfg.__file__}: load_model() returned {type(model).__name__}, not an nn.Module"
        )
    if pretrained:
        cfg.load_pretrained(model)
    model = model.to(info.device)
    if cfg.channels_last if channels_last is None else channels_last:
        done = to_channels_last(model)
        (logger.warning if done.mixed else logger.info)(done.describe())
    return model


#: the BatchNorms --sync-bn converts: PyTorch's own (a subclass may override train() or forward)
PLAIN_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def sync_bn_wanted(cfg: ExpConfig, info: DistInfo, flag: bool | None = None) -> bool:
    """Whether ``flag`` (None: the config's ``sync_bn``) asks for SyncBatchNorm; refused in one line for a
    run of several processes that are not on GPUs (PyTorch synchronises on GPUs only). Resolved before
    any run directory is touched."""
    if not (cfg.sync_bn if flag is None else flag):
        return False
    if info.distributed and info.device.type != "cuda":
        raise ConfigError(
            f"sync_bn: PyTorch's SyncBatchNorm synchronises on GPUs only, and this run's {info.world_size}"
            f" processes are on {info.device.type}; train without it (--no-sync-bn overrides a config's True)"
        )
    return True


def sync_batchnorms(model: nn.Module, info: DistInfo) -> None:
    """Replace the model's ``BatchNorm1d/2d/3d`` layers by SyncBatchNorms holding the same parameters and
    buffers, before DDP wraps it (see :func:`sync_bn_wanted`). Subclasses and layers with hooks are kept
    (converting would drop their behaviour) and named in a WARNING; existing SyncBatchNorms stay as they
    are (with their process group). In one process there is nothing to synchronise."""
    if not info.distributed:
        logger.info("sync_bn: one process, so nothing to synchronise: the BatchNorms are left as they are")
        return
    converted, kept = 0, []
    for parent_name, parent in list(model.named_modules()):
        for name, child in list(parent.named_children()):
            path = f"{parent_name}.{name}" if parent_name else name
            if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, nn.SyncBatchNorm):
                hooked = (
                    child._forward_hooks
                    or child._forward_pre_hooks
                    or child._backward_hooks
                    or child._backward_pre_hooks
                )
                if type(child) not in PLAIN_BATCHNORMS or hooked:
                    kept.append(f"{path} ({type(child).__name__}{', hooked' if hooked else ''})")
                    continue
                setattr(parent, name, nn.SyncBatchNorm.convert_sync_batchnorm(child))
                converted += 1
    if kept:
        logger.warning(
            "sync_bn: %d BatchNorm layers left unsynchronised (a subclass or a layer with hooks would lose"
            " its behaviour as a SyncBatchNorm): %s",
            len(kept),
            ", ".join(kept[:5]) + (", ..." if len(kept) > 5 else ""),
        )
    synced = sum(isinstance(m, nn.SyncBatchNorm) for m in model.modules())
    if synced:
        logger.info(
            "sync_bn: %d BatchNorm layers synchronise their statistics across %d processes (%d converted)",
            synced,
            info.world_size,
            converted,
        )
    elif not kept:
        logger.warning("sync_bn: the model has no BatchNorm layers to synchronise, so it has no effect")


def wrap_ddp(model: nn.Module, cfg: ExpConfig, info: DistInfo, pretrained: bool = False) -> nn.Module:
    """Wrap in DistributedDataParallel when world size > 1; then, when starting fresh (``pretrained``),
    ``load_pretrained_postDDP`` on what was returned (the unwrapped model in a 1-process run), so a
    config behaves alike on one GPU and many."""
    if info.distributed:
        ids = [info.device.index] if info.device.type == "cuda" else None
        model = DistributedDataParallel(
            model, device_ids=ids, find_unused_parameters=cfg.ddp_find_unused_parameters
        )
    if pretrained:
        cfg.load_pretrained_post_ddp(model)
    return model


def iters_per_epoch(loader: DataLoader, accum: int) -> int:
    """Optimiser steps per epoch (what ``scheduler(optimiser, iters_per_epoch)`` receives)."""
    return math.ceil(len(loader) / max(1, accum))


def make_ema(model: nn.Module, decay: float | None) -> torch.optim.swa_utils.AveragedModel | None:
    """EMA copy of ``model`` (parameters and buffers) when ``decay`` is set."""
    if decay is None:
        return None
    if not 0.0 < float(decay) < 1.0:
        raise ConfigError(f"ema_decay must be in (0, 1), got {decay}")
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(float(decay)), use_buffers=True)


def split_metrics(cfg: ExpConfig, split: str, multicrop: bool = False) -> list[Metric]:
    """Exp config ``metrics[split]`` (dict or callable returning one); default per task (train-metrics)."""
    m = getattr(cfg.exp_cfg, "metrics", None)
    if callable(m):
        m = m()
    if isinstance(m, dict) and split in m:
        return list(m[split])
    return default_metrics(cfg.task, split, multicrop=multicrop)


def best_metric_info(cfg: ExpConfig, val_metrics: list[Metric]) -> tuple[str, bool]:
    """(CSV field, higher_is_better) of the exp config's ``best_metric``; default the first val metric."""
    bm = getattr(cfg.exp_cfg, "best_metric", None)
    if bm is None:
        if not val_metrics:
            raise ConfigError(
                f"{cfg.exp_cfg.__file__}: metrics['val'] is empty; define best_metric or val metrics"
            )
        bm = val_metrics[0]
    if isinstance(bm, str):
        for m in val_metrics:
            if bm in m.fields():
                return bm, m.higher_is_better
        raise ConfigError(f"{cfg.exp_cfg.__file__}: best_metric {bm!r} is not a field of metrics['val']")
    return bm.fields()[0], bool(bm.higher_is_better)


def compute_metrics(metrics: list[Metric], out: dict[str, Any]) -> dict[str, float]:
    """Feed gathered (probs, labels, video_ids) to each metric and merge their fields."""
    row: dict[str, float] = {}
    if out.get("probs") is None or out["probs"].shape[0] == 0:
        return row
    for m in metrics:
        m.reset()
        m.update(out["probs"], out["labels"], out["video_ids"])
        row.update(m.compute())
    return row
