import os

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _single_thread():
    torch.set_num_threads(1)


_KEPT = ("VAI_DATA_ROOT", "VAI_EXPERIMENT_ROOT")  # set per test by the fixtures that need them

# settings a user's shell may hold after following docs/papers.md; the tests set their own
_USER_SETTINGS = (
    "VAI_PRETRAINED",
    "VAI_NUM_NEIGHBOURS",
    "VAI_PSEUDOLABEL_THR",
    "VAI_USE_NEIGHBOUR_CACHE",
    "VAI_NEIGHBOUR_CACHE_DIR",
    "VAI_NOISE_RATE",
    "VAI_SPLITNUM",
    "VAI_FEATURES_DIR",
    "VAI_FEATURES_EPOCH",
    "VAI_FLOW_FEATURES_DIR",
    "VAI_EPIC100_MULTIVERB_CSV",
)


@pytest.fixture(autouse=True, scope="session")
def _no_user_settings():
    """Run every test without the caller's VAI_* paper settings (a checkpoint in VAI_PRETRAINED, ...)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in _USER_SETTINGS:
            mp.delenv(name, raising=False)
        for name in list(os.environ):  # a real dataset's folder or storage (VAI_HMDB_ROOT, ...)
            if name.startswith("VAI_") and name.endswith(("_ROOT", "_STORAGE")) and name not in _KEPT:
                mp.delenv(name)
        yield


@pytest.fixture
def demo_env(tmp_path, monkeypatch):
    """A tiny synthetic dataset and experiment root in tmp_path for end-to-end runs."""
    monkeypatch.setenv("VAI_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("VAI_EXPERIMENT_ROOT", str(tmp_path / "exp"))
    monkeypatch.setenv("VAI_SYNTH_NUM_VIDEOS", "24")
    monkeypatch.chdir(tmp_path)
    return tmp_path
