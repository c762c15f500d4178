"""vai_papers.distributed.world_size: the processes the papers' LR rules scale with."""

from __future__ import annotations

import pytest
from vai_papers.distributed import world_size


def test_world_size_outside_torch_distributed_reads_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert world_size() == 1
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert world_size() == 4


@pytest.mark.parametrize("value", ["four", "0", "-2"])
def test_a_bad_world_size_is_one_line_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("WORLD_SIZE", value)
    with pytest.raises(ValueError, match="WORLD_SIZE") as e:
        world_size()
    assert "\n" not in str(e.value)
