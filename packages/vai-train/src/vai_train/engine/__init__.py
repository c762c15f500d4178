"""The training/evaluation engine: loop, checkpointing, distributed helpers, resume, reports."""
