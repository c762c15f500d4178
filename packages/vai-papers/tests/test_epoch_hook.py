"""The pseudo-label epoch_start_script (PseudoLabelRefresher): it rebuilds the train loader on schedule,
sets a dataset's video_id_to_label in place, refuses bad settings, and clones loaders keeping the sampler
kind."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DistributedSampler
from vai_data import FeatureDataset, VideoClipDataset, make_synthetic_dataset, read_split_file
from vai_papers.verb_ambiguity import (
    PseudoLabelRefresher,
    labels_for,
    make_epoch_start_script,
    pseudo_video_id_to_label,
)
from vai_papers_test_pseudo_labels import _kit, _separated_features, _TinyModel


def test_epoch_start_script_rebuilds_the_train_loader_on_schedule(tmp_path):
    labels = [0, 1, 2, 3] * 4
    vids = list(range(100, 116))
    feats = _separated_features([lab % 2 for lab in labels])  # classes 0/2 and 1/3 look alike
    model = _TinyModel(feats.shape[1], 4)
    calls = []

    def get_torch_dataset(split):
        calls.append(split)
        return FeatureDataset(vids, labels, feats)

    def rebuild(mapping):
        return FeatureDataset(vids, labels_for(vids, mapping), feats)

    hook = make_epoch_start_script(
        get_torch_dataset,
        loss_type="mask_binary_ce",
        num_classes=4,
        k=4,
        threshold=0.2,
        period=3,
        rebuild_train_dataset=rebuild,
    )
    kit = _kit(model, FeatureDataset(vids, labels, feats))
    exp = SimpleNamespace(run_dir=SimpleNamespace(predictions=tmp_path / "predictions"))
    args = SimpleNamespace(seed=0, no_progress=True)
    ret = hook(1, exp, args, 0, 1, kit)
    assert set(ret) == {"train_loader"} and calls == ["traindata_testmode"]
    new_loader = ret["train_loader"]
    assert isinstance(new_loader.sampler, DistributedSampler) and new_loader.batch_size == 4
    expected, _ = pseudo_video_id_to_label(
        vids, feats, labels, "mask_binary_ce", num_classes=4, k=4, threshold=0.2
    )
    for sample in new_loader.dataset:
        assert torch.equal(sample["label"], torch.from_numpy(expected[sample["video_id"]]))
    assert any((v == -1).any() for v in expected.values())  # the look-alike class is masked somewhere
    assert (tmp_path / "predictions" / "pseudo_labels" / "epoch_0001.npz").is_file()
    assert hook(2, exp, args, 0, 1, kit) is None and hook(3, exp, args, 0, 1, kit) is None
    # epoch 4 = 1 + period: new features from the (changed) model
    with torch.no_grad():
        model.proj.weight.mul_(0.0)  # every feature 0: all distances tie, lowest indices win
    ret = hook(4, exp, args, 0, 1, kit)
    assert (tmp_path / "predictions" / "pseudo_labels" / "epoch_0004.npz").is_file()
    after, _ = pseudo_video_id_to_label(vids, np.zeros_like(feats), labels, num_classes=4, k=4, threshold=0.2)
    assert all(np.array_equal(hook.video_id_to_label[v], after[v]) for v in vids)
    assert calls == ["traindata_testmode"]  # the feature loader is built once

    # a resumed process at epoch 5 reads epoch 4's refresh back instead of recomputing it
    resumed = PseudoLabelRefresher(
        lambda split: pytest.fail("extracted again"),
        num_classes=4,
        k=4,
        threshold=0.2,
        period=3,
        rebuild_train_dataset=rebuild,
    )
    resumed(5, exp, args, 0, 1, kit)
    assert all(np.array_equal(resumed.video_id_to_label[v], after[v]) for v in vids)


def test_epoch_start_script_sets_video_id_to_label_in_place(tmp_path):
    synth = make_synthetic_dataset(
        tmp_path / "synth", num_videos=10, num_frames=4, size=(16, 16), fmt="frames"
    )
    path = synth.splits["train_frames"]

    def get_torch_dataset(split):
        return VideoClipDataset(
            path,
            data_root=synth.root,
            train=split == "train",
            num_frames=2,
            crop_size=16,
            test_scale=16,
            scale_jitter=(16, 16),
        )

    train_ds = get_torch_dataset("train")
    model = _TinyModel(3 * 2 * 16 * 16, synth.num_classes)
    kit = _kit(model, train_ds)
    hook = PseudoLabelRefresher(
        get_torch_dataset, loss_type="pseudo_single_binary_ce", num_classes=synth.num_classes, k=2, save=False
    )
    assert hook(1, SimpleNamespace(run_dir=None), SimpleNamespace(), 0, 1, kit) is None
    assert train_ds.video_id_to_label is hook.video_id_to_label
    split = read_split_file(path)
    for i in range(len(train_ds)):
        sample = train_ds[i]
        label = split.rows[i].label
        assert sample["label"].shape == (synth.num_classes,) and sample["label"][label] == 1
        assert torch.equal(sample["label"], torch.from_numpy(hook.video_id_to_label[sample["video_id"]]))


def test_epoch_start_script_bad_settings():
    with pytest.raises(ValueError, match="unknown loss_type 'nope'"):
        PseudoLabelRefresher(lambda s: None, loss_type="nope")
    # losses that do not train on kNN pseudo-labels: refused before any feature pass
    for other in ("assume_negative", "ideal_mask_binary_ce", "ideal_pseudo_single_binary_ce"):
        with pytest.raises(ValueError, match=rf"loss_type '{other}' does not train on kNN pseudo-labels"):
            PseudoLabelRefresher(lambda s: None, loss_type=other)
    assert PseudoLabelRefresher(lambda s: None, loss_type="pseudo_single_binary_ce").loss_type
    with pytest.raises(ValueError, match="period must be a positive number of epochs"):
        PseudoLabelRefresher(lambda s: None, period=0)
    for bad in (True, 2.0, "3"):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            PseudoLabelRefresher(lambda s: None, k=bad)
        with pytest.raises(ValueError, match="period must be a positive number of epochs"):
            PseudoLabelRefresher(lambda s: None, period=bad)
    # numpy integers are integers, as for nearest_neighbours and ProSelfLC
    hook = PseudoLabelRefresher(lambda s: None, k=np.int64(15), period=np.int32(5))
    assert (hook.k, hook.period) == (15, 5) and type(hook.k) is int and type(hook.period) is int
    feats = np.eye(4, dtype=np.float32)
    ds = FeatureDataset([1, 2, 3, 4], [0, 1, 0, 1], feats)
    hook = PseudoLabelRefresher(lambda s: ds, k=1, save=False)
    with pytest.raises(ValueError, match="has no video_id_to_label to set; pass rebuild_train_dataset"):
        hook(1, None, SimpleNamespace(), 0, 1, _kit(_TinyModel(4, 2), ds))
    no_features = nn.Linear(4, 2)
    with pytest.raises(ValueError, match="has no forward_features"):
        PseudoLabelRefresher(lambda s: ds, k=1, save=False)(
            1, None, SimpleNamespace(), 0, 1, _kit(no_features, ds)
        )


def test_clone_loader_keeps_the_sampler_kind_and_refuses_others():
    from torch.utils.data import DataLoader, RandomSampler, TensorDataset, WeightedRandomSampler
    from vai_papers.verb_ambiguity import clone_loader

    old_ds, new_ds = TensorDataset(torch.arange(10)), TensorDataset(torch.arange(10) + 100)
    old = DataLoader(old_ds, batch_size=4, sampler=RandomSampler(old_ds, replacement=True, num_samples=6))
    new = clone_loader(old, new_ds)
    assert isinstance(new.sampler, RandomSampler) and new.sampler.replacement and len(new.sampler) == 6
    assert sum(len(b[0]) for b in new) == 6 and all(int(x) >= 100 for b in new for x in b[0])
    weighted = DataLoader(old_ds, batch_size=4, sampler=WeightedRandomSampler([1.0] * 10, 10))
    with pytest.raises(ValueError, match="WeightedRandomSampler cannot be rebuilt") as e:
        clone_loader(weighted, new_ds)
    assert "\n" not in str(e.value)
