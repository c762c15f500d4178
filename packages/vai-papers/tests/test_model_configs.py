"""Every registered model has a shipped model config, and representative ones train through vai-train."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
import vai_models
import vai_papers
from PIL import Image
from vai_data import SplitRow, write_split_file
from vai_papers_test_paper_configs import demo_args
from vai_train import run_feature, run_train
from vai_train.config.loader import exec_config

MODEL_CONFIGS = vai_papers.config_root() / "model_configs"
TEST_CONFIGS = Path(__file__).parent / "configs"
ROOTS = ["--config-root", str(TEST_CONFIGS), "--config-root", str(vai_papers.config_root())]


def _config_path(name: str) -> Path:
    return (
        MODEL_CONFIGS / "ch_image" / f"{name}.py"
        if name.startswith("resnet")
        else MODEL_CONFIGS / f"{name}.py"
    )


def test_every_video_model_has_a_synthetic_motion_demo():
    """docs/papers.md: `-D synthetic_motion -M <model> -E demo` for every video model (not the image
    ResNets or the feature MLP, which take no clips)."""
    demos = vai_papers.config_root() / "exp_configs" / "synthetic_motion"
    video = [n for n in vai_models.list_models() if not n.startswith("resnet") and n != "feature_mlp"]
    assert [n for n in video if not (demos / f"{n}-demo.py").is_file()] == []


@pytest.mark.parametrize("name", vai_models.list_models())
def test_model_config_matches_model_default_cfg(name):
    path = _config_path(name)
    assert path.is_file(), f"no shipped model config for registered model {name}"
    cfg = exec_config(path, "model_cfg")
    assert cfg.MODEL_NAME == name
    model = cfg.load_model(num_classes=3, input_frame_length=getattr(cfg, "input_frame_length", 8))
    dc = model.default_cfg
    if name == "feature_mlp":
        return
    assert np.allclose(cfg.input_mean, dc["mean"]) and np.allclose(cfg.input_std, dc["std"])
    assert cfg.input_normalise == (dc["input_range"] == 1.0)
    assert cfg.input_bgr == dc["bgr"]


# one model of each family: 2D segment models, TDN's frame stacks, 3D CNNs, a torchvision video model
@pytest.mark.parametrize(
    "model",
    [
        "trn_resnet18",
        "mtrn_resnet18",
        "mvf_resnet18",
        "tdn_resnet18",
        "i3d_resnet50",
        "x3d_xs",
        "r2plus1d_18",
    ],
)
def test_model_family_trains_through_vai_train(demo_env, model):
    args = demo_args(demo_env / "exp", model) + ["-e", "1"]
    result = run_train(args + ["--no-progress", "--plot-period", "-1"] + ROOTS)
    with (result.run_dir / "logs" / "summary.csv").open() as f:
        row = next(csv.DictReader(f))
    assert np.isfinite(float(row["train_loss"])) and 0.0 <= float(row["val_acc"]) <= 1.0


def test_feature_mlp_trains_on_features_extracted_by_vai_train(demo_env, monkeypatch):
    exp = str(demo_env / "exp")
    base = demo_args(exp) + ["--no-progress"]
    run_train(base + ["-e", "1", "--plot-period", "-1"] + ROOTS)
    feat = run_feature(base + ["-l", "-1", "-s", "train"] + ROOTS)
    monkeypatch.setenv("VAI_TEST_FEATURES", feat.metrics["path"])
    args = ["-D", "tiny_features", "-M", "feature_mlp", "-E", "test", "-R", exp, "-w", "0", "--no-progress"]
    result = run_train(args + ["--plot-period", "-1"] + ROOTS)
    assert len(result.summary) == 2 and np.isfinite(float(result.summary[-1]["train_loss"]))


def test_image_resnet_trains_with_channel_model_config(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(8):
        colour = (255, 0, 0) if i % 2 else (0, 0, 255)
        pixels = np.clip(np.array(colour) + rng.integers(-30, 30, (40, 40, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"{i}.jpg")
        rows.append(SplitRow(f"{i}.jpg", i, i % 2))
    for split in ("train", "val"):
        write_split_file(tmp_path / f"{split}.csv", rows, "image")
    monkeypatch.setenv("VAI_TEST_IMAGES", str(tmp_path))
    args = ["-D", "tiny_images", "-M", "resnet18", "-c:m", "image", "-E", "test", "-R", str(tmp_path / "exp")]
    result = run_train(args + ["-w", "0", "--no-progress", "--plot-period", "-1"] + ROOTS)
    assert torch.isfinite(torch.tensor(float(result.summary[-1]["val_loss"])))
