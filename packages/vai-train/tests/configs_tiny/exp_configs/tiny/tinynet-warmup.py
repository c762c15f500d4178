"""Base + a 2-epoch linear warmup handing over to a ReduceLROnPlateau that never sees an improvement."""
# ruff: noqa: F821

include("tinynet-base.py")
from vai_train.schedulers import ReduceLROnPlateau, WarmupScheduler  # noqa: E402

num_epochs = 4


def scheduler(optimiser, iters_per_epoch, last_epoch=-1):
    # threshold 1e9 (abs): every validation after the first is "bad", so with patience 0 each one halves the LR
    plateau = ReduceLROnPlateau(optimiser, patience=0, factor=0.5, threshold=1e9, threshold_mode="abs")
    return WarmupScheduler(optimiser, 2 * iters_per_epoch, plateau, start_factor=0.0)
