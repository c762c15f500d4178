"""bnnet-ddp with EMA weights (averaged parameters and BatchNorm buffers), which validation uses."""
# ruff: noqa: F821

include("bnnet-ddp.py")
ema_decay = 0.5
