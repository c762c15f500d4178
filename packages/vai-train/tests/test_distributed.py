"""torchrun DDP on CPU (gloo, 2 processes): training works and validation/eval metrics equal 1 process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from vai_train import run_eval
from vai_train.engine.distributed import ShardSampler, reorder_shards
from vai_train.summary import read_summary
from vai_train_test_configs import torchrun

SRC = Path(__file__).resolve().parents[1] / "src"
CONFIG_ROOT = Path(__file__).resolve().parent / "configs_tiny"


PADDED_WORKER = """
import json, sys
import torch, torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
from vai_train.engine.distributed import DistInfo
from vai_train.engine.loop import AmpSettings, train_one_epoch

rank, store, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
dist.init_process_group("gloo", store=dist.FileStore(store, 2), rank=rank, world_size=2)
torch.manual_seed(0)
ds = TensorDataset(torch.randn(9, 4), torch.arange(9), torch.arange(9) % 3)
model = nn.Linear(4, 3)  # frozen: only the loss/output bookkeeping is tested


class Frozen:  # an optimiser that never changes the weights (torch.optim's first use costs seconds)
    param_groups = [{"lr": 0.0}]

    def step(self):
        pass

    def zero_grad(self, set_to_none=True):
        pass


results = {}
for bs in (1, 3):  # rank 1's last batch: only the padding duplicate / 1 sample + the duplicate
    sampler = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=0)
    sampler.set_epoch(bs)
    kit = {
        "model": model,
        "optimiser": Frozen(),
        "scheduler": None,
        "criterions": {"train": nn.CrossEntropyLoss()},
        "data_unpack_funcs": {"train": lambda b: (b[0], b[1], b[2], {})},
        "input_reshape_funcs": {"train": lambda x: x},
        "train_loader": DataLoader(ds, batch_size=bs, sampler=sampler),
        "scaler": torch.amp.GradScaler("cpu", enabled=False),
        "ema": None,
    }
    opts = {"amp": AmpSettings(False), "progress": False, "activation": lambda x: x.softmax(1)}
    tr = train_one_epoch(kit, 1, DistInfo(rank, 2), opts)
    if rank == 0:
        results[bs] = {"loss": tr["loss"], "ids": tr["video_ids"].tolist(), "probs": tr["probs"].tolist()}
if rank == 0:
    with open(out, "w") as f:
        json.dump(results, f)
dist.destroy_process_group()
"""


def test_train_loss_and_outputs_skip_sampler_padding(tmp_path: Path) -> None:
    """9 samples on 2 gloo ranks: DistributedSampler pads to 10, the loss and gathered outputs keep 9."""
    script, out = tmp_path / "worker.py", tmp_path / "out.json"
    script.write_text(PADDED_WORKER)
    env = dict(
        os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(r), str(tmp_path / "store"), str(out)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-3000:]
    torch.manual_seed(0)
    x, y = torch.randn(9, 4), torch.arange(9) % 3
    model = torch.nn.Linear(4, 3)  # the workers' (frozen) weights
    with torch.no_grad():
        ref_loss = float(torch.nn.functional.cross_entropy(model(x), y))
        ref_probs = model(x).softmax(1)
    for bs, res in json.loads(out.read_text()).items():
        assert sorted(res["ids"]) == list(range(9)), bs
        assert res["loss"] == pytest.approx(ref_loss, rel=1e-6), bs
        assert torch.allclose(torch.tensor(res["probs"]), ref_probs[res["ids"]], atol=1e-6), bs


def test_shard_sampler_no_padding_and_reorder() -> None:
    shards = [list(ShardSampler(7, r, 3)) for r in range(3)]
    assert sorted(sum(shards, [])) == list(range(7)) and [len(s) for s in shards] == [3, 2, 2]
    gathered = torch.tensor(sum(shards, []))
    assert reorder_shards(gathered, 3).tolist() == list(range(7))


@pytest.mark.slow
def test_two_gloo_processes_match_one(base_args: list[str]) -> None:
    proc = torchrun(["train", *base_args, "-e", "2", "-t", "2"])
    assert "best val_acc" in proc.stdout and proc.stdout.count("results in") == 1  # only rank 0 prints
    root = Path(base_args[base_args.index("-R") + 1])
    rd = root / "tiny" / "tinynet" / "base" / "version_000"
    rows = read_summary(rd / "logs" / "summary.csv")
    assert [r["epoch"] for r in rows] == [1, 2]
    ddp_val = {k: rows[1][k] for k in ("val_loss", "val_acc", "val_acc_top5", "multicropval_vid_acc")}

    one = run_eval(base_args + ["-l", "-1"])  # 1 process, same weights and data
    assert one.metrics["val_acc"] == pytest.approx(ddp_val["val_acc"], abs=1e-9)
    assert one.metrics["val_acc_top5"] == pytest.approx(ddp_val["val_acc_top5"], abs=1e-9)
    assert one.metrics["val_loss"] == pytest.approx(ddp_val["val_loss"], rel=1e-6)

    # an odd-sized split: 2 ranks get 12 + 11 clips, nothing padded or duplicated
    torchrun(["eval", *base_args, "-l", "-1", "-s", "odd", "-p"])
    ddp_odd = read_summary(rd / "logs" / "summary.csv")[1]
    single = run_eval(base_args + ["-l", "-1", "-s", "odd"])
    for key in ("odd_loss", "odd_acc", "odd_acc_top5"):
        assert single.metrics[key] == pytest.approx(ddp_odd[key], rel=1e-6), key
    assert len(list((rd / "predictions").glob("epoch_0002_odd_oneclip.npz"))) == 1


@pytest.mark.slow
def test_rank_without_samples(base_args: list[str]) -> None:
    """A 1-clip split on 2 ranks: rank 1 has nothing to evaluate and the gather still works."""
    from vai_train import run_train

    run_train(base_args + ["-e", "1"])
    torchrun(["eval", *base_args, "-l", "-1", "-s", "one"])
    root = Path(base_args[base_args.index("-R") + 1])
    row = read_summary(root / "tiny" / "tinynet" / "base" / "version_000" / "logs" / "summary.csv")[0]
    single = run_eval(base_args + ["-l", "-1", "-s", "one"])
    assert row["one_loss"] == pytest.approx(single.metrics["one_loss"], rel=1e-6)
    assert row["one_acc"] == single.metrics["one_acc"]


def _bn_args(root: Path, exp: str) -> list[str]:
    """The BatchNorm net (tiny data): each rank's running statistics differ after a training epoch."""
    return [
        *("-D", "tiny", "-M", "bnnet", "-E", exp, "-R", str(root), "--config-root", str(CONFIG_ROOT)),
        *("-w", "0", "--no-progress", "--plot-period", "-1", "--device", "cpu"),
    ]


def _assert_val_is_the_checkpoints(args: list[str], rd: Path, two_process_eval: bool) -> None:
    """The last epoch's val metrics written in training equal those of evaluating its checkpoint."""
    trained = read_summary(rd / "logs" / "summary.csv")[-1]
    one = run_eval(args + ["-l", "-1"])  # 1 process: the same clips in one shard, summed in another order
    assert one.metrics["val_acc"] == trained["val_acc"]
    assert one.metrics["val_loss"] == pytest.approx(trained["val_loss"], rel=1e-6)
    if two_process_eval:  # the same shards as in training: equal to the last bit
        torchrun(["eval", *args, "-l", "-1"])
        evaluated = read_summary(rd / "logs" / "summary.csv")[-1]
        assert evaluated["val_acc"] == trained["val_acc"] and evaluated["val_loss"] == trained["val_loss"]


@pytest.fixture(scope="module")
def bn_ddp_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path, Path]:
    """2 gloo processes train the BatchNorm net for 2 epochs; its hook logs what each rank sees."""
    tmp = tmp_path_factory.mktemp("bn_ddp")
    args, log = _bn_args(tmp / "exp", "ddp"), tmp / "hooks.jsonl"
    torchrun(["train", *args], VAI_TEST_HOOK_LOG=str(log))
    return args, tmp / "exp" / "tiny" / "bnnet" / "ddp" / "version_000", log


@pytest.mark.slow
def test_ddp_validation_uses_the_checkpointed_batchnorm_statistics(
    bn_ddp_run: tuple[list[str], Path, Path],
) -> None:
    """Rank 1 validates with rank 0's BatchNorm buffers, so summary.csv's val_* are the checkpoint's."""
    args, rd, _ = bn_ddp_run
    _assert_val_is_the_checkpoints(args, rd, two_process_eval=True)


@pytest.mark.slow
def test_epoch_start_script_sees_the_same_summary_on_every_rank(
    bn_ddp_run: tuple[list[str], Path, Path],
) -> None:
    _, _, log = bn_ddp_run
    seen: dict[int, dict[int, list[int]]] = {}
    for line in log.read_text().splitlines():
        call = json.loads(line)
        seen.setdefault(call["epoch"], {})[call["rank"]] = call["summary_epochs"]
    assert seen == {1: {0: [], 1: []}, 2: {0: [1], 1: [1]}}


@pytest.mark.slow
def test_without_sync_bn_each_rank_keeps_its_own_batchnorm_statistics(
    bn_ddp_run: tuple[list[str], Path, Path],
) -> None:
    """What ``--sync-bn`` changes (on GPUs: test_cuda.py): here the ranks' running means differ after an
    epoch, each updated from its own shard."""
    _, _, log = bn_ddp_run
    means = {
        c["rank"]: c["bn_mean"] for c in map(json.loads, log.read_text().splitlines()) if c["epoch"] == 2
    }
    assert set(means) == {0, 1} and means[0] != means[1]


@pytest.mark.slow
def test_ddp_validation_uses_rank0s_ema_copy(tmp_path: Path) -> None:
    """With EMA (buffers averaged too) every rank validates rank 0's EMA copy, the one checkpointed."""
    args = _bn_args(tmp_path / "exp", "ema")
    torchrun(["train", *args, "-e", "1"])
    _assert_val_is_the_checkpoints(args, tmp_path / "exp" / "tiny" / "bnnet" / "ema" / "version_000", False)
