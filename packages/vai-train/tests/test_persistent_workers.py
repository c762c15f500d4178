"""``--persistent-workers`` / ``persistent_workers = True``: the train and validation loaders keep their
workers between epochs, a collate's randomness is reseeded per epoch (a resumed run draws what the
uninterrupted one drew), and a dataset whose epoch would not reach running workers is warned about."""

from __future__ import annotations

import logging
import multiprocessing
import pickle
from pathlib import Path

import pytest
import torch
from torch.utils.data import ConcatDataset, Dataset
from vai_train import run_train
from vai_train.cli import main
from vai_train.engine import builders
from vai_train.engine.rng import EpochSeededCollate
from vai_train_test_configs import exp_variant

# the collate draws from the worker's global RNG (as mixup/CutMix do); the dataset itself draws nothing
NOISY_COLLATE_EXP = """# ruff: noqa: F821
include({base!r})
from torch.utils.data import default_collate

persistent_workers = {persistent}


def get_torch_dataset(split):
    return dataset_cfg.TinyDataset(split, num_crops=2 if split == "multicropval" else 1, augment=False)


def _noisy(batch):
    out = default_collate(batch)
    out["video"] = out["video"] + 0.3 * torch.randn_like(out["video"])
    return out


def get_collate_fn(split):
    return _noisy if split == "train" else None
"""


def _exp(tmp_path: Path, base_args: list[str], name: str, persistent: bool) -> list[str]:
    body = NOISY_COLLATE_EXP.replace("{persistent}", str(persistent))
    return exp_variant(tmp_path, base_args, name, body) + ["-w", "2"]


@pytest.fixture
def loaders(monkeypatch) -> list:
    """Every loader the engine builds, as built."""
    built: list = []
    for name in ("make_train_loader", "make_eval_loader"):
        real = getattr(builders, name)

        def record(*a, _real=real, **k):
            built.append(_real(*a, **k))
            return built[-1]

        monkeypatch.setattr(builders, name, record)
    return built


@pytest.mark.slow
def test_the_config_setting_keeps_train_and_val_workers(tmp_path, base_args, loaders) -> None:
    result = run_train(_exp(tmp_path, base_args, "keep", True) + ["-e", "2"])
    assert [r["epoch"] for r in result.summary] == [1, 2]
    assert len(loaders) == 2 and all(loader.persistent_workers for loader in loaders)
    assert isinstance(loaders[0].collate_fn, EpochSeededCollate) and loaders[0].collate_fn.epoch.value == 2
    # the workers end with the run (left to garbage collection, a late shutdown waited 5 s per worker)
    assert all(loader._iterator is None for loader in loaders)


def test_a_replaced_loaders_workers_are_stopped() -> None:
    data = torch.utils.data.TensorDataset(torch.arange(8.0))
    old = torch.utils.data.DataLoader(data, batch_size=2, num_workers=2, persistent_workers=True)
    new = torch.utils.data.DataLoader(data, batch_size=2)
    assert len(list(old)) == 4
    workers = list(old._iterator._workers)
    assert len(workers) == 2 and all(w.is_alive() for w in workers)
    builders.stop_replaced_workers(
        {"train_loader": old, "val_loader": new}, {"train_loader": new, "val_loader": new}
    )
    assert old._iterator is None and not any(w.is_alive() for w in workers)
    assert len(list(old)) == 4  # a stopped loader starts new workers if iterated again
    builders.stop_workers(old)
    builders.stop_workers(new)  # no workers: nothing to do


@pytest.mark.slow
def test_the_flag_turns_them_on_and_the_default_is_off(tmp_path, base_args, loaders) -> None:
    args = _exp(tmp_path, base_args, "off", False)
    run_train(args + ["-e", "1"])
    assert [loader.persistent_workers for loader in loaders] == [False, False]
    loaders.clear()
    run_train(args + ["-e", "1", "--persistent-workers", "-v", "1"])
    assert [loader.persistent_workers for loader in loaders] == [True, True]
    loaders.clear()
    run_train([a if a != "2" else "0" for a in args] + ["-e", "1", "--persistent-workers", "-v", "2"])
    assert [loader.persistent_workers for loader in loaders] == [False, False]  # no workers to keep
    loaders.clear()
    on = _exp(tmp_path, base_args, "on", True)
    run_train(on + ["-e", "1", "--no-persistent-workers"])  # the flag beats the config either way
    assert [loader.persistent_workers for loader in loaders] == [False, False]


def test_an_unfinished_epoch_does_not_take_the_next_epochs_reseed() -> None:
    """Batches of an epoch left unfinished would be collated after the epoch changed, taking the reseed:
    set_loader_epoch stops such workers first, so the next epoch equals a fresh loader's."""

    def noisy(batch):
        return torch.stack(batch) + torch.rand(len(batch))

    def loader():
        return torch.utils.data.DataLoader(
            [torch.tensor(0.0)] * 16,
            batch_size=2,
            num_workers=2,
            persistent_workers=True,
            collate_fn=EpochSeededCollate(noisy, seed=5),
        )

    left, fresh = loader(), loader()
    builders.set_loader_epoch(left, 5, 1, 0)
    next(iter(left))  # epoch 1 abandoned after one batch, others queued
    builders.set_loader_epoch(left, 5, 2, 0)
    builders.set_loader_epoch(fresh, 5, 2, 0)
    epoch2 = torch.cat(list(fresh))
    assert torch.equal(torch.cat(list(left)), epoch2)
    builders.set_loader_epoch(fresh, 5, 3, 0)
    assert not torch.equal(torch.cat(list(fresh)), epoch2)  # each epoch reseeds to its own draws
    builders.set_loader_epoch(fresh, 5, 2, 0)
    assert torch.equal(torch.cat(list(fresh)), epoch2)  # ... a function of the epoch alone
    builders.stop_workers(left)
    builders.stop_workers(fresh)


@pytest.mark.slow
def test_a_resumed_run_draws_the_collates_randomness_of_the_uninterrupted_one(tmp_path, base_args) -> None:
    args = _exp(tmp_path, base_args, "keep", True)
    whole = run_train(args + ["-e", "3"]).summary
    run_train(args + ["-e", "2", "-v", "1"])
    resumed = run_train(args + ["-e", "3", "-v", "1", "-l", "-1"]).summary
    assert [r["epoch"] for r in resumed] == [1, 2, 3]
    for a, b in zip(whole, resumed, strict=True):
        assert a["train_loss"] == b["train_loss"] and a["val_loss"] == b["val_loss"]
    assert whole[0]["train_loss"] != whole[1]["train_loss"]


class _PlainEpoch(Dataset):
    """A dataset whose ``set_epoch`` sets a plain attribute: running workers never see it."""

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> int:
        return i

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


class _SharedEpoch(_PlainEpoch):
    epoch_reaches_workers = True


def test_a_dataset_whose_epoch_stays_in_the_main_process_is_warned_about(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="vai_train.engine.builders"):
        builders.check_persistent_dataset(_SharedEpoch())
        builders.check_persistent_dataset(ConcatDataset([_SharedEpoch(), _SharedEpoch()]))
        builders.check_persistent_dataset(torch.utils.data.TensorDataset(torch.zeros(2)))  # no epoch at all
        assert caplog.records == []
        builders.check_persistent_dataset(ConcatDataset([_SharedEpoch(), _PlainEpoch()]))
    assert len(caplog.records) == 1 and "_PlainEpoch.set_epoch may not reach workers" in caplog.text


def test_the_collate_reseeds_only_in_workers_and_travels_to_them() -> None:
    collate = EpochSeededCollate(None, seed=3)
    torch.manual_seed(0)
    before = torch.get_rng_state()
    assert torch.equal(collate([torch.tensor(1), torch.tensor(2)]), torch.tensor([1, 2]))  # default_collate
    assert torch.equal(torch.get_rng_state(), before)  # the main process (no worker): no reseed
    collate.epoch.value = 4
    clone = pickle.loads(pickle.dumps(collate))  # a plain copy: the value, not the shared memory
    assert clone.seed == 3 and clone.epoch.value == 4
    clone.epoch.value = 5
    assert collate.epoch.value == 4


def _report_epoch(collate, queue) -> None:
    queue.put(collate.epoch.value)


@pytest.mark.parametrize(
    "method", [m for m in ("fork", "spawn") if m in multiprocessing.get_all_start_methods()]
)
def test_the_epoch_reaches_a_started_worker(method) -> None:
    ctx = multiprocessing.get_context(method)
    collate, queue = EpochSeededCollate(None, seed=1), ctx.SimpleQueue()
    collate.epoch.value = 7
    child = ctx.Process(target=_report_epoch, args=(collate, queue))
    child.start()
    child.join(120)
    assert child.exitcode == 0 and queue.get() == 7


def test_a_setting_that_is_not_a_bool_is_one_line(tmp_path, base_args, capsys) -> None:
    args = exp_variant(tmp_path, base_args, "bad", "include({base!r})\npersistent_workers = 'yes'\n")
    assert main(["train", *args, "-w", "1", "-e", "1"]) == 1
    err = capsys.readouterr().err
    assert "persistent_workers = 'yes'; use True or False" in err
