import os

import numpy as np
import pytest
import torch
from vai_data import read_split_file
from vai_papers_test_datasets import BUILDERS, DATASETS, _env_name
from vai_papers_test_paper_configs import ENV_CLEARED, ROOT, _write_features
from vai_train.config import exec_config


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


# ------------------------------------------------------------------ fake prepared datasets


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No dataset variables from the caller's shell; VAI_DATA_ROOT in tmp_path."""
    for name in DATASETS:
        monkeypatch.delenv(_env_name(name), raising=False)
        monkeypatch.delenv(_env_name(name, "STORAGE"), raising=False)
    monkeypatch.delenv("VAI_SPLITNUM", raising=False)
    monkeypatch.delenv("VAI_EPIC100_MULTIVERB_CSV", raising=False)
    monkeypatch.setenv("VAI_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    """Tiny fake copies of the datasets the configs use, prepared by vai-data's generators, plus fake
    `vai-train feature` outputs of the `ce` runs; their variables set for the module."""
    base = tmp_path_factory.mktemp("paper_data")
    with pytest.MonkeyPatch.context() as mp:
        for name in ENV_CLEARED:
            mp.delenv(name, raising=False)
        mp.setenv("VAI_DATA_ROOT", str(base / "unused"))
        for name in (
            "something_v1",
            "something_v2",
            "cater_task2",
            "epic100_verb",
            "confusing_hmdb_102",
            "hmdb",
        ):
            root, ann = base / name, base / f"{name}_annotations"
            ann.mkdir()
            BUILDERS[name](root, ann)
            mp.setenv(f"VAI_{name.upper()}_ROOT", str(root))
        # EK-100-SPMV: one multi-verb clip of val, written by the dataset config as the docs say
        ek = exec_config(ROOT / "dataset_configs" / "epic100_verb.py", "test_full_cfg_epic100_verb")
        (base / "epic100_verb" / ek.multiverb_csv_name).write_text(
            'narration_id,verb_labels\nP01_11_1,"[1, 0]"\n'
        )
        ek.write_spmv_splits()
        # features of the ce runs: EK ids from its split files; Confusing-HMDB: enough videos for 15 neighbours
        feats = {"epic100_verb": base / "features_ek", "confusing_hmdb_102": base / "features_hmdb"}
        for split in ("traindata_testmode", "val"):
            rows = read_split_file(ek.split_file(split)).rows
            _write_features(
                feats["epic100_verb"] / f"features_epoch_0003_{split}_oneclip.npz",
                [r.video_id for r in rows],
                [r.label for r in rows],
            )
        g = np.random.default_rng(1)
        train_labels = g.integers(0, 102, size=24)
        _write_features(
            feats["confusing_hmdb_102"] / "features_epoch_0007_traindata_testmode_oneclip.npz",
            np.arange(100, 124),
            train_labels,
        )
        val = np.zeros((8, 102), np.float32)
        for i, c in enumerate(g.integers(0, 51, size=8)):
            val[i, [c, c + 51]] = 1.0
        _write_features(
            feats["confusing_hmdb_102"] / "features_epoch_0007_val_oneclip.npz", np.arange(200, 208), val
        )
        yield {"base": base, "features": feats}
