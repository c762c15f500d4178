"""The data side of a training run (datasets, loaders, criterions, unpack/reshape functions per split).

Built before the run directory exists: a missing dataset root, a ``get_torch_dataset`` returning None
or a bad ``-w`` then fails without leaving an empty ``version_NNN`` behind.
"""

from __future__ import annotations

import argparse
from typing import Any

from vai_train.config import ExpConfig
from vai_train.engine import builders as B
from vai_train.engine.criterion import criterion_on_device
from vai_train.engine.distributed import DistInfo

SPLITS = ("train", "val", "multicropval")


def build_data_kit(
    cfg: ExpConfig, args: argparse.Namespace, info: DistInfo, workers: int
) -> tuple[dict[str, Any], int]:
    """(train_kit entries for the data, multi-crop validation period); ``multicropval`` only with ``-t``."""
    train_ds = cfg.get_torch_dataset("train")
    val_ds = cfg.get_torch_dataset("val")
    keep = cfg.persistent_workers  # (checked even when the flag decides)
    flag = getattr(args, "persistent_workers", None)  # --persistent-workers / --no-persistent-workers
    keep = keep if flag is None else flag
    kit: dict[str, Any] = {
        "train_loader": B.make_train_loader(train_ds, cfg, info, args.seed, workers, keep),
        "val_loader": B.make_eval_loader(
            val_ds, cfg.val_batch_size, info, args.seed, workers, cfg.get_collate_fn("val", val_ds), keep
        ),
    }
    mc_period = args.multicropval_period or 0
    if mc_period > 0:
        mc_ds = cfg.get_torch_dataset("multicropval")
        mc_collate = cfg.get_collate_fn("multicropval", mc_ds)
        kit["multicropval_loader"] = B.make_eval_loader(
            mc_ds, cfg.val_batch_size, info, args.seed, workers, mc_collate, keep
        )
    kit["criterions"] = {s: criterion_on_device(cfg.get_criterion(s), info.device) for s in SPLITS}
    kit["data_unpack_funcs"] = {s: cfg.get_data_unpack_func(s) for s in SPLITS}
    kit["input_reshape_funcs"] = {s: cfg.get_input_reshape_func(s) for s in SPLITS}
    return kit, mc_period
