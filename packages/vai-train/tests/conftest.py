"""Shared fixtures for vai-train's engine tests: tiny configs, thread limits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

CONFIG_ROOT = Path(__file__).parent / "configs_tiny"


@pytest.fixture
def config_root() -> Path:
    return CONFIG_ROOT


@pytest.fixture
def base_args(tmp_path: Path) -> list[str]:
    """CLI args for the tiny base experiment in an isolated experiment root."""
    return [
        "-D",
        "tiny",
        "-M",
        "tinynet",
        "-E",
        "base",
        "-R",
        str(tmp_path / "exp"),
        "--config-root",
        str(CONFIG_ROOT),
        "-w",
        "0",
        "--no-progress",
        "--plot-period",
        "-1",
        "--device",
        "cpu",
    ]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than ~5 s (subprocesses, torchrun)")
