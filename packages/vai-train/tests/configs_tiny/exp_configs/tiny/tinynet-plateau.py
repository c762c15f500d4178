"""Base + ReduceLROnPlateauMultiple, early stopping patience and EMA (composition via include)."""
# ruff: noqa: F821

include("tinynet-base.py")
from vai_train.schedulers import ReduceLROnPlateauMultiple  # noqa: E402

early_stopping_patience = 2
ema_decay = 0.9
clip_grad_max_norm = 1.0
grad_accum_steps = 2


def scheduler(optimiser, iters_per_epoch, last_epoch=-1):
    return ReduceLROnPlateauMultiple(optimiser, patience=0, factor=0.5)
