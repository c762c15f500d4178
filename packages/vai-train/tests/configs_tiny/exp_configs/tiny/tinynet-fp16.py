"""Base + fp16 autocast with a GradScaler and clipping (the CUDA AMP path, exercised on CPU)."""
# ruff: noqa: F821

include("tinynet-base.py")
use_amp = True
amp_dtype = "float16"
clip_grad_max_norm = 5.0
