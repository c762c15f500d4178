"""``--sync-bn`` / ``sync_bn = True``: SyncBatchNorm across the processes of a multi-GPU run; nothing to do in
one process; refused for several CPU processes (PyTorch synchronises on GPUs only)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from vai_train import run_train
from vai_train.cli import main
from vai_train.config.loader import ConfigError
from vai_train.engine.builders import sync_batchnorms, sync_bn_wanted
from vai_train.engine.distributed import DistInfo
from vai_train_test_configs import exp_variant

SRC = Path(__file__).resolve().parents[1] / "src"

BN_EXP = """include({base!r})
from torch import nn


class _BN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 4, kernel_size=1)
        self.bn = nn.BatchNorm3d(4)
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(self.bn(self.conv(x)).relu().mean(dim=(2, 3, 4)))


def load_model():
    return _BN()
"""


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv3d(3, 4, 1), nn.BatchNorm3d(4), nn.Flatten(), nn.BatchNorm1d(4 * 8))


def _two_gpus() -> DistInfo:  # only the device type is read: nothing is allocated on it
    return DistInfo(rank=0, world_size=2, device=torch.device("cuda"))


def _synced(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, nn.SyncBatchNorm)]


def test_the_flag_overrides_the_config() -> None:
    on, off = SimpleNamespace(sync_bn=True), SimpleNamespace(sync_bn=False)
    assert sync_bn_wanted(on, _two_gpus()) and not sync_bn_wanted(off, _two_gpus())
    assert not sync_bn_wanted(on, _two_gpus(), flag=False) and sync_bn_wanted(off, _two_gpus(), flag=True)
    assert sync_bn_wanted(on, DistInfo())  # one CPU process: allowed (nothing to synchronise)


def test_several_cpu_processes_are_refused_in_one_line() -> None:
    info = DistInfo(rank=0, world_size=2, device=torch.device("cpu"))
    with pytest.raises(
        ConfigError, match=r"on GPUs only, and this run's 2 processes are on cpu; .*--no-sync-bn"
    ):
        sync_bn_wanted(SimpleNamespace(sync_bn=True), info)
    assert not sync_bn_wanted(SimpleNamespace(sync_bn=True), info, flag=False)


def test_several_gpu_processes_convert_every_batchnorm_in_place(caplog) -> None:
    caplog.set_level(logging.INFO, logger="vai_train")
    model = _net()
    weight, mean = model[1].weight, model[1].running_mean
    sync_batchnorms(model, _two_gpus())
    assert _synced(model) == ["1", "3"]
    assert model[1].weight is weight and model[1].running_mean is mean  # optimisers built later see them
    assert (
        "sync_bn: 2 BatchNorm layers synchronise their statistics across 2 processes (2 converted)"
        in caplog.text
    )


class _FrozenBN(nn.BatchNorm2d):
    """A user's BatchNorm that never trains: a SyncBatchNorm in its place would."""

    def train(self, mode: bool = True) -> _FrozenBN:
        return super().train(False)


def test_subclasses_hooked_layers_and_existing_syncbatchnorms_are_kept(caplog) -> None:
    caplog.set_level(logging.INFO, logger="vai_train")
    group = object()  # stands for a process group: only kept, never used here
    model = nn.Sequential(
        nn.BatchNorm2d(2),
        _FrozenBN(2),
        nn.BatchNorm2d(2),
        nn.SyncBatchNorm(2, process_group=group),
        nn.BatchNorm2d(2),
    )
    model[2].register_forward_hook(lambda *_: None)
    model[4].register_full_backward_pre_hook(lambda *_: None)
    sync_batchnorms(model, _two_gpus())
    assert (
        type(model[1]) is _FrozenBN and type(model[2]) is nn.BatchNorm2d and type(model[4]) is nn.BatchNorm2d
    )
    assert _synced(model) == ["0", "3"] and model[3].process_group is group
    assert "3 BatchNorm layers left unsynchronised" in caplog.text
    assert "1 (_FrozenBN), 2 (BatchNorm2d, hooked), 4 (BatchNorm2d, hooked)" in caplog.text
    assert "2 BatchNorm layers synchronise their statistics across 2 processes (1 converted)" in caplog.text


def test_a_model_without_batchnorm_is_warned_about(caplog) -> None:
    model = nn.Sequential(nn.Conv3d(3, 4, 1), nn.GroupNorm(2, 4))
    sync_batchnorms(model, _two_gpus())
    assert "sync_bn: the model has no BatchNorm layers to synchronise" in caplog.text


def test_one_process_leaves_the_model_alone(caplog) -> None:
    caplog.set_level(logging.INFO, logger="vai_train")
    model = _net()
    sync_batchnorms(model, DistInfo())
    assert not _synced(model) and "sync_bn: one process, so nothing to synchronise" in caplog.text


def test_one_process_trains_as_without_it(base_args, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="vai_train")
    args = exp_variant(tmp_path, base_args, "bn", BN_EXP)
    plain = run_train(args + ["-e", "1", "-v", "0"])
    synced = run_train(args + ["-e", "1", "-v", "1", "--sync-bn"])
    assert caplog.text.count("sync_bn: one process, so nothing to synchronise") == 1
    assert synced.summary[0]["train_loss"] == plain.summary[0]["train_loss"]


def test_the_config_setting_and_the_flag_that_overrides_it(base_args, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="vai_train")
    args = exp_variant(tmp_path, base_args, "bn", BN_EXP + "\nsync_bn = True\n")
    run_train(args + ["-e", "1", "-v", "0"])
    assert caplog.text.count("sync_bn: one process") == 1
    run_train(args + ["-e", "1", "-v", "1", "--no-sync-bn"])
    assert caplog.text.count("sync_bn: ") == 1


def test_a_model_config_setting_is_reported_in_its_own_file() -> None:
    from vai_train.config.experiment import ExpConfig

    exp = SimpleNamespace(__file__="exp.py")
    model = SimpleNamespace(__file__="model.py", sync_bn="yes", channels_last=True)
    cfg = ExpConfig("d", "m", "e", SimpleNamespace(), model, exp)
    with pytest.raises(ConfigError, match=r"^model.py: sync_bn = 'yes'; use True or False$"):
        _ = cfg.sync_bn
    assert cfg.channels_last is True
    exp.sync_bn = False  # the exp config's value wins
    assert cfg.sync_bn is False


def test_a_setting_that_is_not_a_bool_is_one_line(tmp_path, base_args, capsys) -> None:
    args = exp_variant(tmp_path, base_args, "bad", BN_EXP + "\nsync_bn = 'yes'\n")
    assert main(["train", *args, "-e", "1"]) == 1
    assert "sync_bn = 'yes'; use True or False" in capsys.readouterr().err


@pytest.mark.slow
def test_two_gloo_processes_asking_for_it_stop_before_touching_the_run(base_args, tmp_path) -> None:
    """A new run leaves no version, a resumed one (-l -1) no new args or log files in its version."""
    args = exp_variant(tmp_path, base_args, "bn", BN_EXP)
    run_dir = run_train(args + ["-e", "1"]).run_dir
    before = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*"))
    env = dict(
        os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1"
    )
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    line = (
        "vai-train train: error: sync_bn: PyTorch's SyncBatchNorm synchronises on GPUs only, and this run's 2"
    )
    for extra in (["-v", "1"], ["-l", "-1"]):
        proc = subprocess.run(
            [*cmd, "-m", "vai_train.cli", "train", *args, "-e", "2", "--sync-bn", *extra],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert proc.returncode != 0
        assert proc.stderr.count(line) == 2, proc.stderr[
            -2000:
        ]  # one line per rank; torchrun's report follows
        assert "vai_train/" not in proc.stderr  # no traceback through vai-train's code
    assert sorted(p.relative_to(run_dir) for p in run_dir.rglob("*")) == before
    assert sorted(p.name for p in run_dir.parent.iterdir()) == [run_dir.name]
