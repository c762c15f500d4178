import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _single_thread():
    torch.set_num_threads(1)


@pytest.fixture
def demo_env(tmp_path, monkeypatch):
    """A tiny synthetic dataset and experiment root in tmp_path for end-to-end runs."""
    monkeypatch.setenv("VAI_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("VAI_EXPERIMENT_ROOT", str(tmp_path / "exp"))
    monkeypatch.setenv("VAI_SYNTH_NUM_VIDEOS", "24")
    monkeypatch.chdir(tmp_path)
    return tmp_path
