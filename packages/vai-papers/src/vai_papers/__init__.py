"""vai-papers: PyVideoAI's papers and the shipped config library (found via ``vai.config_roots``)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["config_root"]


def config_root() -> Path:
    """The directory holding the shipped ``dataset_configs/``, ``model_configs/`` and ``exp_configs/``."""
    return Path(__file__).resolve().parent / "configs"
