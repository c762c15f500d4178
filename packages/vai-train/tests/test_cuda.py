"""The engine on a CUDA GPU: fp16 AMP with a GradScaler (saved and resumed), NCCL collectives and
DDP, ``predict`` and ``confusion`` on a run trained on CUDA, ``--channels-last``, ``--compile`` (Inductor's
Triton kernels), and with two or more
GPUs torchrun over NCCL matching one process and ``--sync-bn`` giving every rank the same BatchNorm statistics. Skipped where CUDA is not available (CI); on a GPU machine: ``pytest packages/vai-train/tests/test_cuda.py``."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from vai_train import run_confusion, run_eval, run_predict, run_train
from vai_train.engine.checkpoint import load_checkpoint
from vai_train.engine.distributed import (
    DistInfo,
    all_gather_object,
    all_reduce_sum,
    broadcast_object,
    broadcast_tensors,
    gather_to_main,
)
from vai_train.reporting import load_predictions
from vai_train.summary import read_summary
from vai_train_test_configs import CONV_EXP, NET_EXP, PICKABLE_EXP, exp_variant, last_conv_layouts

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
SRC = Path(__file__).resolve().parents[1] / "src"


def _cuda_args(base_args: list[str]) -> list[str]:
    args = list(base_args)
    args[args.index("--device") + 1] = "cuda"
    return args


def test_amp_fp16_train_and_resume_on_cuda(base_args: list[str]) -> None:
    args = _cuda_args(base_args) + ["--amp"]
    first = run_train(args + ["-e", "2"])
    rows = first.summary
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(torch.isfinite(torch.tensor(r["train_loss"])) for r in rows)
    assert first.best_metric >= 0.5  # 4 classes, chance 0.25
    ckpt = load_checkpoint(first.run_dir / "weights" / "last.pth")
    assert ckpt["amp_scaler_state"] and ckpt["amp_scaler_state"]["scale"] > 0
    assert next(iter(ckpt["model_state"].values())).device.type == "cpu"  # loads on a CPU-only machine

    resumed = run_train(args + ["-e", "3", "-l", "-1"])
    assert resumed.run_dir == first.run_dir
    assert [r["epoch"] for r in resumed.summary] == [1, 2, 3]
    evaluated = run_eval(_cuda_args(base_args) + ["-l", "-1"])
    assert evaluated.metrics["val_acc"] == pytest.approx(resumed.summary[-1]["val_acc"], abs=1e-9)


def test_predict_and_confusion_of_a_run_trained_on_cuda(base_args: list[str], tmp_path: Path) -> None:
    """predict on CUDA scores videos as eval -p on CUDA does, and as predict on the CPU within fp32
    rounding; confusion reads the predictions the CUDA run saved."""
    args = _cuda_args(exp_variant(tmp_path, base_args, "pick", PICKABLE_EXP))
    run_dir = run_train(args + ["-e", "2", "--amp"]).run_dir
    run_eval(args + ["-l", "-1", "-p"])
    saved = load_predictions(run_dir / "predictions" / "epoch_0002_val_oneclip.npz")
    on_cuda = run_predict(args + ["-l", "-1", "6.vid", "2.vid"]).metrics["probs"].numpy()
    assert np.allclose(on_cuda, saved["probs"][[6, 2]], atol=1e-5)  # other batches: other cuDNN kernels
    cpu_args = [a if a != "cuda" else "cpu" for a in args]
    on_cpu = run_predict(cpu_args + ["-l", "-1", "6.vid", "2.vid"])
    assert np.allclose(on_cpu.metrics["probs"].numpy(), on_cuda, atol=1e-4)
    res = run_confusion(args + ["-l", "-1"])
    assert "top-1" in res.summary_line()
    assert (run_dir / "plots" / "per_class_accuracy").is_dir()


def test_compile_on_cuda_trains_as_eager(base_args: list[str], tmp_path: Path, caplog) -> None:
    """--compile with the default backend (Inductor, Triton kernels on the GPU), with --amp: the epochs'
    losses equal the eager run's to fp16 rounding, and nothing falls back to eager (recompile limit)."""
    caplog.set_level(logging.INFO)
    picked = _cuda_args(exp_variant(tmp_path, base_args, "net", NET_EXP)) + ["--amp"]
    args = picked + ["-e", "2"]
    eager = run_train(args + ["-v", "0"])
    torch._dynamo.reset()
    compiled = run_train(args + ["-v", "1", "--compile"])
    assert "runs through torch.compile (defaults)" in caplog.text
    assert "recompile_limit" not in caplog.text
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 2
    for want, got in zip(eager.summary, compiled.summary, strict=True):
        for key in ("train_loss", "val_loss"):
            assert got[key] == pytest.approx(want[key], rel=2e-2), (got["epoch"], key)
    evaluated = run_eval(picked + ["-l", "-1", "--compile"])  # the compiled run's last epoch
    assert evaluated.metrics["val_loss"] == pytest.approx(compiled.summary[-1]["val_loss"], rel=1e-3)


def test_channels_last_on_cuda_trains_as_the_default_format(
    base_args: list[str], tmp_path: Path, caplog
) -> None:
    """--channels-last (cuDNN's NDHWC kernels for a 3x3x3 conv net) with and without --amp: the epoch's
    losses equal the default format's within cuDNN's (TF32) rounding."""
    caplog.set_level(logging.INFO, logger="vai_train")
    args = _cuda_args(exp_variant(tmp_path, base_args, "conv", CONV_EXP)) + ["-e", "1"]
    for amp in ([], ["--amp"]):
        plain = run_train(args + amp + ["-v", "auto"]).summary[0]
        fast = run_train(args + amp + ["-v", "auto", "--channels-last"]).summary[0]
        assert all(last_conv_layouts()), amp  # the activations too, not only the weights
        for key in ("train_loss", "val_loss"):
            assert fast[key] == pytest.approx(plain[key], rel=1e-2), (amp, key)
    assert caplog.text.count("5-D weight tensors as channels_last_3d") == 2


class _OneRankDDP(DistInfo):
    """A one-process NCCL group treated as distributed, so the helpers take their collective paths."""

    @property
    def distributed(self) -> bool:
        return True


@pytest.fixture
def nccl_group(tmp_path: Path):
    if not dist.is_nccl_available():
        pytest.skip("this PyTorch build has no NCCL")
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("nccl", store=store, rank=0, world_size=1, device_id=torch.device("cuda", 0))
    yield _OneRankDDP(0, 1, 0, torch.device("cuda", 0))
    dist.destroy_process_group()


def test_nccl_collectives_and_ddp_step(nccl_group: DistInfo) -> None:
    info = nccl_group
    assert dist.get_backend() == "nccl"
    x = torch.arange(12.0, device="cuda").reshape(4, 3)
    torch.testing.assert_close(gather_to_main(x, info), x)
    empty = gather_to_main(torch.zeros(0, 3, device="cuda"), info)
    assert empty.shape == (0, 3)
    assert all_reduce_sum([1.5, 2.0], info) == [1.5, 2.0]
    assert broadcast_object({"stop": True}, info) == {"stop": True}
    assert all_gather_object(("a", 1), info) == [("a", 1)]
    # an EMA model on the GPU keeps its n_averaged counter on the CPU: it is broadcast through a copy
    ema = torch.optim.swa_utils.AveragedModel(torch.nn.BatchNorm1d(3).cuda(), use_buffers=True)
    assert ema.n_averaged.device.type == "cpu"
    broadcast_tensors([*ema.parameters(), *ema.buffers()], info)
    assert ema.n_averaged.device.type == "cpu" and int(ema.n_averaged) == 0

    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(3, 2).cuda(), device_ids=[0])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = model.module.weight.detach().clone()
    model(x).square().mean().backward()
    opt.step()
    assert not torch.equal(before, model.module.weight)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs")
def test_two_nccl_processes_match_one(base_args: list[str]) -> None:
    args = _cuda_args(base_args)
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    proc = subprocess.run(
        [*cmd, "-m", "vai_train.cli", "train", *args, "-e", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    root = Path(args[args.index("-R") + 1])
    rows = read_summary(root / "tiny" / "tinynet" / "base" / "version_000" / "logs" / "summary.csv")
    one = run_eval(args + ["-l", "-1"])
    assert one.metrics["val_acc"] == pytest.approx(rows[-1]["val_acc"], abs=1e-9)
    assert one.metrics["val_loss"] == pytest.approx(rows[-1]["val_loss"], rel=1e-4)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs")
def test_sync_bn_gives_every_rank_the_same_batchnorm_statistics(tmp_path: Path, config_root: Path) -> None:
    """Two NCCL processes with --sync-bn: each rank's running mean after an epoch is the same (without it
    they differ: test_distributed.py), the run log says how many layers were converted."""
    import json

    log = tmp_path / "hooks.jsonl"
    args = [
        *(
            "-D",
            "tiny",
            "-M",
            "bnnet",
            "-E",
            "ddp",
            "-R",
            str(tmp_path / "exp"),
            "--config-root",
            str(config_root),
        ),
        *("-w", "0", "--no-progress", "--plot-period", "-1", "--device", "cuda", "--sync-bn"),
    ]
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env["VAI_TEST_HOOK_LOG"] = str(log)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    proc = subprocess.run(
        [*cmd, "-m", "vai_train.cli", "train", *args], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "sync_bn: 1 BatchNorm layers synchronise their statistics across 2 processes" in proc.stderr
    means = {
        c["rank"]: c["bn_mean"] for c in map(json.loads, log.read_text().splitlines()) if c["epoch"] == 2
    }
    assert set(means) == {0, 1}
    assert means[0] == pytest.approx(means[1], rel=1e-5, abs=1e-7)
