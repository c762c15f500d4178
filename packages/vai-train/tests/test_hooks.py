"""Optional exp-config hooks are called by the engine (each records its calls), and the engine drives
per-epoch dataset randomness (``set_epoch``) and reports substituted samples (``bad_samples``)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch
from torch.utils.data import DataLoader, Subset
from vai_train import run_eval, run_feature, run_train
from vai_train.dataset_hooks import device_input_func


def _calls(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_optional_hooks_are_called(base_args, tmp_path, monkeypatch):
    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("VAI_TEST_HOOK_LOG", str(log))
    args = [a if a != "base" else "hooks" for a in base_args]
    res = run_train(args + ["-p", "--plot-period", "1"])
    calls = _calls(log)
    hooks = Counter(c["hook"] for c in calls)
    assert hooks["load_pretrained"] == 1 and hooks["get_optim_policies"] == 1
    assert [c["epoch"] for c in calls if c["hook"] == "epoch_start_script"] == [1, 2, 3]
    assert hooks["early_stopping_condition"] >= 2  # after each epoch once a summary exists
    assert hooks["predictions_gatherer"] == 3 and hooks["metric_plotter"] >= 3
    shapes = {c["split"] for c in calls if c["hook"] == "input_reshape"}
    assert shapes == {"train", "val"}
    # the engine tells the datasets which epoch it is, so augmentation differs between epochs
    train_epochs = [c["epoch"] for c in calls if c["hook"] == "set_epoch" and c["split"] == "train"]
    assert train_epochs == [1, 2, 3]
    # substituted samples reported by the dataset end up in summary.csv
    assert [int(float(r["train_bad_samples"])) for r in res.summary] == [2, 2, 2]
    assert res.summary[-1]["epoch"] in (3, "3")


def test_load_pretrained_post_ddp_runs_on_fresh_starts_in_one_process_too(base_args, tmp_path, monkeypatch):
    """A config's load_pretrained_postDDP runs once per fresh start, after load_pretrained, also without
    DDP (it ran only under DDP, so a 1-GPU run silently skipped the weights it loads); never on -l -1, and
    eval without -l (load_pretrained() weights) applies it as training's start does."""
    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("VAI_TEST_HOOK_LOG", str(log))
    args = [a if a != "base" else "hooks" for a in base_args]
    run_train(args + ["-e", "1"])
    loads = [c for c in _calls(log) if c["hook"].startswith("load_pretrained")]
    assert loads == [{"hook": "load_pretrained"}, {"hook": "load_pretrained_postDDP", "wrapped": "TinyNet"}]
    run_train(args + ["-e", "2", "-l", "-1"])
    run_eval(args + ["-l", "-1"])
    assert [c["hook"] for c in _calls(log)].count("load_pretrained_postDDP") == 1
    run_eval(args)
    assert [c["hook"] for c in _calls(log)].count("load_pretrained_postDDP") == 2


def test_dataset_collate_and_device_transform_are_used(base_args, tmp_path, monkeypatch):
    """A dataset's ``collate_fn`` batches it and its ``device_transform`` runs on the device before the
    reshape hook, in training, validation, eval and feature extraction."""
    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("VAI_TEST_HOOK_LOG", str(log))
    args = [a if a != "base" else "hooks" for a in base_args]
    run_train(args + ["-e", "1"])
    run_eval(args + ["-l", "-1"])
    run_feature(args + ["-l", "-1"])
    calls = _calls(log)
    transforms = [c for c in calls if c["hook"] == "device_transform"]
    reshapes = [c for c in calls if c["hook"] == "input_reshape"]
    assert {c["split"] for c in transforms} == {"train", "val"}
    assert {c["dtype"] for c in transforms} == {"torch.float64"} and {c["device"] for c in transforms} == {
        "cpu"
    }
    assert len(reshapes) == len(transforms) and {c["dtype"] for c in reshapes} == {"torch.float32"}
    # a batch's flip_pending flags reach device_transform (train samples carry them: odd indices True)
    train_flags = [c["flags"] for c in transforms if c["split"] == "train"]
    assert all(len(f) == 8 for f in train_flags) and sum(map(sum, train_flags)) == 8 * 8 // 2
    assert all(c["flags"] is None for c in transforms if c["split"] == "val")
    # train 1 epoch (8 batches), its val (3), eval (3), feature (3): every batch came through collate_fn
    assert Counter(c["split"] for c in calls if c["hook"] == "collate") == {"train": 8, "val": 9}


def test_mixing_collate_wrapped_datasets_and_a_swapped_loader(base_args, tmp_path, monkeypatch):
    """Soft-label (mixup) batches train while train metrics score ``hard_label``; ``device_transform`` is
    found through ``Subset`` and follows a loader that ``epoch_start_script`` swapped in; eval and feature
    extraction of the train split do not mix clips."""
    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("VAI_TEST_HOOK_LOG", str(log))
    args = [a if a != "base" else "mix" for a in base_args]
    res = run_train(args)
    accs = [float(r["train_acc"]) for r in res.summary]
    assert len(accs) == 2 and all(0.0 <= a <= 1.0 for a in accs)
    calls = _calls(log)
    tags = Counter((c["tag"], c["split"]) for c in calls if c["hook"] == "device_transform")
    # epoch 1 trains on the original Subset-wrapped dataset, epoch 2 on the swapped one: 8 batches each
    assert tags[("original", "train")] == 8 and tags[("swapped", "train")] == 8
    assert tags[("original", "val")] == 2 * 3
    mixes = sum(c["hook"] == "mix" for c in calls)
    assert mixes == 16
    run_eval(args + ["-l", "-1", "-s", "train"])
    run_feature(args + ["-l", "-1", "-s", "train"])
    assert sum(c["hook"] == "mix" for c in _calls(log)) == mixes


class _PendingWork(torch.utils.data.Dataset):
    """Two samples; its ``device_transform`` doubles the inputs and records the pending work it was given."""

    def __init__(self):
        self.calls = []

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return {"video": torch.zeros(1)}

    def device_transform(self, video, flip_pending=None, resize_pending=None):
        self.calls.append((flip_pending, resize_pending))
        return video * 2


def test_device_input_func_passes_a_batchs_flip_flags():
    """``device_transform`` gets ``flip_pending`` from batches that carry it (through ``Subset`` too), is
    called without it otherwise; datasets without a ``device_transform`` only get the reshape, and their
    batches must not carry flags (their clips would go unmirrored with mirrored labels) or regions."""
    ds = _PendingWork()
    fn = device_input_func(DataLoader(Subset(ds, [0, 1])), lambda x: x + 1)
    video = torch.ones(2)
    assert fn(video, {"video": video, "flip_pending": torch.tensor([True, False])}).tolist() == [3.0, 3.0]
    assert fn(video, {"video": video, "flip_pending": [False, True]}).tolist() == [3.0, 3.0]
    fn(video, {"video": video})
    fn(video)
    flags = [None if f is None else f.tolist() for f, _ in ds.calls]
    assert flags == [[True, False], [False, True], None, None] and {r for _, r in ds.calls} == {None}
    plain = device_input_func(DataLoader([{"video": torch.zeros(1)}]), lambda x: x + 1)
    assert plain(video, {"video": video}).tolist() == [2.0, 2.0] and plain(video).tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="flip_pending but its dataset has no device_transform"):
        plain(video, {"flip_pending": torch.tensor([True, False])})  # flags nobody would apply
    with pytest.raises(ValueError, match="resize_pending but its dataset has no device_transform"):
        plain(video, {"resize_pending": torch.tensor([[4, 4, 2, 2]] * 2)})  # regions nobody would resize


def test_device_input_func_passes_pending_resizes_with_the_flags():
    """``resize_pending`` rows reach ``device_transform`` as they came (host tensors: they choose slices),
    together with the flip flags when a batch has both."""
    ds = _PendingWork()
    fn = device_input_func(DataLoader(ds), lambda x: x)
    rows = torch.tensor([[6, 5, 4, 4], [4, 4, 4, 4]])
    video = torch.zeros(2, 3, 1, 6, 5)
    fn(video, {"video": video, "resize_pending": rows})
    fn(video, {"video": video, "resize_pending": rows, "flip_pending": [True, False]})
    (f0, r0), (f1, r1) = ds.calls
    assert f0 is None and r0 is rows and r1 is rows
    assert f1.dtype == torch.bool and f1.tolist() == [True, False]


class _EpochCounted(torch.utils.data.Dataset):
    """Three samples; records set_epoch and reports a bad-sample count."""

    def __init__(self, bad: int):
        self.epochs, self.bad_samples = [], bad

    def __len__(self):
        return 3

    def __getitem__(self, i):
        return {"video": torch.zeros(1)}

    def set_epoch(self, epoch):
        self.epochs.append(epoch)


def test_set_epoch_and_bad_samples_reach_every_part_of_a_concat_dataset():
    from torch.utils.data import ConcatDataset
    from vai_train.dataset_hooks import dataset_parts, set_dataset_epoch, total_bad_samples

    a, b = _EpochCounted(2), _EpochCounted(5)
    wrapped = Subset(ConcatDataset([a, Subset(b, [0, 1])]), [0, 4])
    assert dataset_parts(wrapped) == [a, b]
    set_dataset_epoch(wrapped, 3)
    assert a.epochs == [3] and b.epochs == [3]  # (it reached only a dataset with its own set_epoch before)
    assert total_bad_samples(wrapped) == 7
    assert (
        total_bad_samples(ConcatDataset([Subset(torch.utils.data.TensorDataset(torch.zeros(2)), [0])]))
        is None
    )
    assert total_bad_samples(a) == 2


class _Normalising(torch.utils.data.Dataset):
    """One sample; ``device_transform`` multiplies by ``factor`` and compares equal to one with the same
    factor (as vai_data's ``DeviceNormalize`` does for datasets built alike); a shared ``collate_fn``."""

    def __init__(self, factor):
        self.device_transform = _Scale(factor)

    def __len__(self):
        return 1

    def __getitem__(self, i):
        return {"video": torch.ones(1)}

    @staticmethod
    def collate_fn(samples):
        return {"video": torch.stack([s["video"] for s in samples]), "collated": True}


class _Scale:
    def __init__(self, factor):
        self.factor = factor

    def __call__(self, video):
        return video * self.factor

    def __eq__(self, other):
        return isinstance(other, _Scale) and other.factor == self.factor

    def __hash__(self):
        return hash(self.factor)


def test_collate_fn_and_device_transform_are_found_in_the_parts_of_a_concat_dataset():
    from torch.utils.data import ConcatDataset
    from vai_train.dataset_hooks import dataset_attr

    a, b = _Normalising(3.0), _Normalising(3.0)
    concat = Subset(ConcatDataset([a, Subset(b, [0])]), [0, 1])
    assert dataset_attr(concat, "collate_fn") is _Normalising.collate_fn
    assert dataset_attr(concat, "device_transform") is a.device_transform
    loader = DataLoader(concat, batch_size=2, collate_fn=dataset_attr(concat, "collate_fn"))
    batch = next(iter(loader))
    assert batch["collated"] and batch["video"].shape == (2, 1)
    out = device_input_func(loader, lambda x: x + 1)(batch["video"], batch)
    assert torch.equal(out, torch.full((2, 1), 4.0))  # 1 * 3 + 1: the parts' transform, then the reshape
    # parts without the attribute give the default; an attribute of the concatenation itself comes first
    plain = ConcatDataset([torch.utils.data.TensorDataset(torch.zeros(2))] * 2)
    assert dataset_attr(plain, "device_transform") is None and dataset_attr(plain, "x", 5) == 5
    own = ConcatDataset([_Normalising(1.0), _Normalising(2.0)])
    own.device_transform = _Scale(7.0)
    assert dataset_attr(own, "device_transform") is own.device_transform


def test_parts_of_a_concat_dataset_that_disagree_are_refused():
    from torch.utils.data import ConcatDataset
    from vai_train.dataset_hooks import dataset_attr

    mixed = ConcatDataset([_Normalising(3.0), _Normalising(2.0)])
    with pytest.raises(ValueError, match="different values of device_transform .*part 1"):
        dataset_attr(mixed, "device_transform")
    half = ConcatDataset([_Normalising(3.0), torch.utils.data.TensorDataset(torch.zeros(1))])
    with pytest.raises(ValueError, match="different values of collate_fn"):  # one part would go uncollated
        dataset_attr(half, "collate_fn")
    loader = DataLoader(mixed, batch_size=2)
    with pytest.raises(ValueError, match="set the concatenation's own device_transform"):
        device_input_func(loader, lambda x: x)
    # values whose == is not a bool (tensors) are compared as unlike, not crashed on
    t1, t2 = _Normalising(1.0), _Normalising(1.0)
    t1.device_transform, t2.device_transform = torch.ones(2), torch.ones(2)
    with pytest.raises(ValueError, match="different values of device_transform"):
        dataset_attr(ConcatDataset([t1, t2]), "device_transform")
