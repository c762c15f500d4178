"""vai-papers: PyVideoAI's papers and the shipped config library (found via ``vai.config_roots``).

``vai_papers.channel_sampling`` (TC, TC+2, GreyST), ``vai_papers.verb_ambiguity`` (single-positive
multi-label losses, kNN pseudo-labels) and ``vai_papers.proselflc`` (ProSelfLC) are imported on their own,
so that finding the config root stays cheap."""

from __future__ import annotations

from pathlib import Path

__all__ = ["config_root"]


def config_root() -> Path:
    """The directory holding the shipped ``dataset_configs/``, ``model_configs/`` and ``exp_configs/``."""
    return Path(__file__).resolve().parent / "configs"
