"""The vertical slice: synthetic videos -> vai-data -> vai-models -> vai-train -> experiment directory."""

from __future__ import annotations

import csv
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import torch
import vai_papers
from vai_papers.cli import demo_summary_line, latest_run_dir
from vai_papers_test_paper_configs import demo_args
from vai_train import list_configs_text, run_eval, run_train
from vai_train.config import discover_roots


def _train(model: str, tmp_path, epochs: int = 1):
    root = str(tmp_path / "exp")
    args = demo_args(root, model) + ["-e", str(epochs)]
    return run_train(args + ["--config-root", str(vai_papers.config_root())])


def test_config_root_is_registered_as_entry_point():
    eps = [ep for ep in entry_points(group="vai.config_roots") if ep.name == "vai_papers"]
    if not eps:
        pytest.skip("vai-papers is not installed (run through nox -s tests-papers)")
    roots = [r.path.resolve() for r in discover_roots([])]
    assert vai_papers.config_root().resolve() in roots


def test_shipped_configs_are_listed():
    text = list_configs_text(["--config-root", str(vai_papers.config_root())])
    assert "synthetic_motion" in text
    for model in ("tsn_resnet18", "tsm_resnet18", "tsn_resnet50", "tsm_resnet50"):
        assert model in text
    assert "_vai_model" not in text and "_demo_base" not in text


@pytest.mark.parametrize("model", ["tsm_resnet18", "tsn_resnet18"])
def test_demo_experiment_trains_and_writes_run_directory(demo_env, model):
    result = _train(model, demo_env)
    run_dir = result.run_dir
    assert run_dir == latest_run_dir(demo_env / "exp", "synthetic_motion", model, "demo")
    with (run_dir / "logs" / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1
    for field in ("train_loss", "val_loss", "val_acc", "val_acc_top5"):
        assert rows[0][field] != "", field
    assert 0.0 <= float(rows[0]["val_acc"]) <= 1.0
    weights = run_dir / "weights"
    assert (weights / "last.pth").exists() and (weights / "best.pth").exists()
    assert (run_dir / "configs" / "args.json").exists()
    # the shipped dataset config was generated on first use, with paths relative to its root
    data = demo_env / "data" / "synthetic_motion"
    assert (data / "splits" / "train.csv").exists() and any((data / "videos").glob("*.mp4"))
    line = demo_summary_line(run_dir, num_classes=8)
    assert line.startswith("demo: val top-1 = ") and "chance 0.125" in line


def test_eval_of_trained_demo_reproduces_val_accuracy(demo_env):
    result = _train("tsn_resnet18", demo_env)
    root = str(demo_env / "exp")
    ev = run_eval(demo_args(root) + ["-l", "-1", "--config-root", str(vai_papers.config_root())])
    with (result.run_dir / "logs" / "summary.csv").open() as f:
        row = list(csv.DictReader(f))[-1]
    assert ev.metrics["val_acc"] == pytest.approx(float(row["val_acc"]), abs=1e-6)


def test_unknown_model_config_names_searched_paths(demo_env):
    with pytest.raises(Exception, match="model_configs"):
        _train("tsm_resnet9000", demo_env)


def test_model_config_builds_model_with_clip_layout():
    from vai_train.config.loader import exec_config

    cfg = exec_config(vai_papers.config_root() / "model_configs" / "tsm_resnet18.py", "model_cfg")
    model = cfg.load_model(num_classes=8, input_frame_length=4).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 4, 32, 32))
    assert out.shape == (2, 8)


def test_mixup_on_uint8_clips_trains_and_scores_hard_labels(demo_env):
    """MixupCutmixCollate over normalise_on_device clips through vai-train: soft targets for the loss,
    hard labels for the train metrics, no mixing in validation."""
    test_root = str(Path(__file__).parent / "configs")
    args = ["-D", "synthetic_motion", "-M", "tsn_resnet18", "-E", "mixup", "-R", str(demo_env / "exp")]
    roots = ["--config-root", test_root, "--config-root", str(vai_papers.config_root())]
    result = run_train(args + roots + ["-e", "1", "-w", "0"])
    row = result.summary[-1]
    assert 0.0 <= float(row["train_acc"]) <= 1.0 and 0.0 <= float(row["val_acc"]) <= 1.0
    assert float(row["train_loss"]) > 0


def test_frames_with_resizes_and_flips_left_to_the_device_train(demo_env):
    """JPEG frame folders through vai-train with a DataLoader worker: the train crops' resizes and flips
    happen in the engine's device transform (padded batches of regions), validation reads plain clips."""
    test_root = str(Path(__file__).parent / "configs")
    args = ["-D", "synthetic_motion", "-M", "tsn_resnet18", "-E", "frames", "-R", str(demo_env / "exp")]
    roots = ["--config-root", test_root, "--config-root", str(vai_papers.config_root())]
    result = run_train(args + roots + ["-e", "1"])
    row = result.summary[-1]
    assert 0.0 <= float(row["train_acc"]) <= 1.0 and 0.0 <= float(row["val_acc"]) <= 1.0
    assert float(row["train_loss"]) > 0
    assert any((demo_env / "data" / "synthetic_motion_frames" / "frames").iterdir())


def test_concat_dataset_of_videos_and_frames_trains(demo_env):
    """A ConcatDataset train split (the videos and the frame folders of one split): the engine batches it
    with the parts' collate_fn and finishes its clips with their shared device_transform (flips pending)."""
    test_root = str(Path(__file__).parent / "configs")
    args = ["-D", "synthetic_motion", "-M", "tsn_resnet18", "-E", "concat", "-R", str(demo_env / "exp")]
    roots = ["--config-root", test_root, "--config-root", str(vai_papers.config_root())]
    result = run_train(args + roots + ["-e", "1", "-w", "0"])
    row = result.summary[-1]
    assert 0.0 <= float(row["train_acc"]) <= 1.0 and 0.0 <= float(row["val_acc"]) <= 1.0
    assert float(row["train_loss"]) > 0 and int(float(row["train_bad_samples"])) == 0


def test_the_synthetic_dataset_configs_environment_errors_name_the_variable(tmp_path, monkeypatch):
    from vai_train.config import ConfigError
    from vai_train.config.loader import exec_config

    path = vai_papers.config_root() / "dataset_configs" / "synthetic_motion.py"
    monkeypatch.setenv("VAI_SYNTH_NUM_VIDEOS", "abc")
    with pytest.raises(ConfigError, match="VAI_SYNTH_NUM_VIDEOS='abc' is not a whole number"):
        exec_config(path, "dataset_cfg")
    monkeypatch.setenv("VAI_SYNTH_NUM_VIDEOS", "16")
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("VAI_DATA_ROOT", str(tmp_path / "afile"))
    with pytest.raises(NotADirectoryError, match="VAI_DATA_ROOT=.* is a file, not a directory"):
        exec_config(path, "dataset_cfg").ensure_data()


CHECKPOINTED_EXP = """include({demo!r})
from vai_models import enable_activation_checkpointing

_included_load_model = load_model  # the demo's (dropout 0.2)


def load_model():
    model = _included_load_model()
    enable_activation_checkpointing(model)
    return model
"""


def _checkpointed_root(demo_env) -> list[str]:
    demo = vai_papers.config_root() / "exp_configs" / "synthetic_motion" / "tsm_resnet18-demo.py"
    root = demo_env / "cfg"
    (root / "exp_configs" / "synthetic_motion").mkdir(parents=True)
    (root / "exp_configs" / "synthetic_motion" / "tsm_resnet18-ckpt.py").write_text(
        CHECKPOINTED_EXP.format(demo=str(demo))
    )
    return ["--config-root", str(root), "--config-root", str(vai_papers.config_root())]


def test_an_exp_config_turns_on_activation_checkpointing(demo_env):
    """docs/models.md's recipe: an exp config that checkpoints the demo's TSM blocks trains one epoch with
    the plain demo's loss and accuracy (the same float32 arithmetic, done twice in backward)."""
    roots = _checkpointed_root(demo_env)
    plain = _train("tsm_resnet18", demo_env)
    ckpt = run_train(demo_args(str(demo_env / "exp"), "tsm_resnet18", "ckpt") + ["-e", "1", *roots])
    for key in ("train_loss", "val_loss", "val_acc"):
        assert ckpt.summary[0][key] == pytest.approx(plain.summary[0][key], rel=1e-5), key


def test_activation_checkpointing_under_two_gloo_processes(demo_env):
    """DDP (2 gloo processes): the checkpointed demo trains an epoch as the plain one does."""
    import os
    import subprocess
    import sys

    roots = _checkpointed_root(demo_env)
    rows = []
    for exp in ("demo", "ckpt"):
        args = demo_args(str(demo_env / "exp"), "tsm_resnet18", exp) + ["-e", "1", "--no-progress", *roots]
        proc = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
            + ["-m", "vai_train.cli", "train", *args],
            env=dict(os.environ, OMP_NUM_THREADS="1"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        run_dir = demo_env / "exp" / "synthetic_motion" / "tsm_resnet18" / exp / "version_000"
        with (run_dir / "logs" / "summary.csv").open() as f:
            rows.append(list(csv.DictReader(f))[0])
    for key in ("train_loss", "val_loss", "val_acc"):
        assert float(rows[1][key]) == pytest.approx(float(rows[0][key]), rel=1e-5), key
