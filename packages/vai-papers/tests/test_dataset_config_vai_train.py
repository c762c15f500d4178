"""The shipped dataset configs through vai-train: an exp config on a prepared fake dataset loads and trains
an epoch, and `vai-train list` shows the dataset configs."""

from __future__ import annotations

import numpy as np
import vai_papers
from vai_papers_test_datasets import DATASETS, _prepare
from vai_train import list_configs_text, run_train
from vai_train.config import discover_roots, load_exp_config

EXP_CONFIG = """\
from vai_data import VideoClipDataset

batch_size = 2
num_epochs = 1
input_frame_length = 4
num_workers = 0


def get_torch_dataset(split):
    return VideoClipDataset(
        dataset_cfg.split_file(split),
        dataset_cfg.media_root(split),
        train=dataset_cfg.split2mode[split] == "train",
        num_frames=input_frame_length,
        crop_size=32,
        scale_jitter=(32, 36),
        test_scale=32,
        horizontal_flip=dataset_cfg.horizontal_flip,
        flip_label_map=dataset_cfg.flip_label_map(),
        mean=model_cfg.input_mean,
        std=model_cfg.input_std,
    )
"""


def test_vai_train_loads_and_trains_on_a_prepared_dataset(tmp_path, clean_env):
    _prepare("something_v1", tmp_path, clean_env)
    exp_root = tmp_path / "my_configs"
    (exp_root / "exp_configs" / "something_v1").mkdir(parents=True)
    (exp_root / "exp_configs" / "something_v1" / "tsn_resnet18-tiny.py").write_text(EXP_CONFIG)
    roots = discover_roots([exp_root, vai_papers.config_root()], use_entry_points=False)
    cfg = load_exp_config(roots, "something_v1", "tsn_resnet18", "tiny")
    assert cfg.num_classes == 174 and cfg.task == "single_label"
    assert cfg.exp_cfg.get_torch_dataset("train")[0]["video"].shape == (3, 4, 32, 32)
    args = ["-D", "something_v1", "-M", "tsn_resnet18", "-E", "tiny", "-R", str(tmp_path / "exp"), "-w", "0"]
    roots_args = ["--config-root", str(exp_root), "--config-root", str(vai_papers.config_root())]
    result = run_train(args + roots_args + ["--no-progress", "--plot-period", "-1"])
    assert result.last_epoch == 1 and np.isfinite(float(result.summary[-1]["train_loss"]))
    # every executed dataset config file (the include too) is kept with the run
    copied = {p.name for p in (result.run_dir / "configs" / "dataset_configs").rglob("*.py")}
    assert {"something_v1.py", "_prepared_dataset.py"} <= copied


def test_vai_train_list_shows_the_dataset_configs_without_the_building_block():
    text = list_configs_text(["--config-root", str(vai_papers.config_root())])
    for name in DATASETS:
        assert f"\n  {name} " in text
    assert "_prepared_dataset" not in text
