"""``VideoClipDataset.__getitems__``: a DataLoader worker's batch, loaded step by step (every sample's draws,
then every decode, then every crop), gives exactly ``[ds[i] for i in indices]`` - values, layouts, labels,
bad-sample substitutes and counts."""

import os

import pytest
import torch
from torch.utils.data import DataLoader, Subset
from vai_data import VideoClipDataset, VideoDecodeError
from vai_data_test_media import FUZZ_NAMES, write_fuzz_split

SMALL = dict(crop_size=16, scale_jitter=(20, 24), test_scale=20, num_frames=4)


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, torch.Tensor):
            assert x.dtype == y.dtype and x.shape == y.shape and x.stride() == y.stride(), k
            assert torch.equal(x, y), k
        else:
            assert x == y, k


def _brighten(clip):  # a user transform drawing from torch's global RNG
    return (clip.float() * (0.5 + torch.rand(1))).clamp(0, 255).to(torch.uint8)


CONFIGS = {
    "frames, everything on the device": dict(split="train_frames.csv", normalise_on_device=True),
    "frames at their own size (window crops)": dict(
        split="train_frames.csv", normalise_on_device=True, scale_jitter=(32, 32)
    ),
    "frames, float in the worker": dict(split="train_frames.csv"),
    "frames, flips in the worker, on-device normalisation": dict(
        split="train_frames.csv", normalise_on_device=True, flip_on_device=False, resize_on_device=False
    ),
    "video, dense": dict(split="train.csv", sampling="dense", sampling_rate=1, normalise_on_device=True),
    "video, user transforms": dict(split="train.csv", train_transform=_brighten),
    "frames, spatial transform": dict(
        split="train_frames.csv", train_spatial_transform=lambda c: c[..., 2:14, 3:15], bgr=True
    ),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_a_train_batch_is_the_samples_one_by_one(synth_root, name):
    kw = {**SMALL, **CONFIGS[name]}
    split = os.path.join(synth_root, "splits", kw.pop("split"))
    ds = VideoClipDataset(split, synth_root, train=True, seed=4, **kw)
    for epoch in (0, 3):
        ds.set_epoch(epoch)
        indices = [5, 0, 3, 3, len(ds) - 1, 7]
        batch = ds.__getitems__(indices)
        assert len(batch) == len(indices)
        for i, got in zip(indices, batch, strict=True):
            _same(got, ds[i])


def test_a_test_batch_is_the_views_one_by_one(synth_root):
    split = os.path.join(synth_root, "splits", "val.csv")
    ds = VideoClipDataset(split, synth_root, train=False, num_spatial_crops=3, num_temporal_views=2, **SMALL)
    indices = list(range(13))
    for i, got in zip(indices, ds.__getitems__(indices), strict=True):
        _same(got, ds[i])


def test_a_dataloader_batch_comes_from_getitems_and_equals_the_collated_samples(synth_root, monkeypatch):
    split = os.path.join(synth_root, "splits", "train_frames.csv")
    ds = VideoClipDataset(split, synth_root, train=True, normalise_on_device=True, **SMALL)
    calls = []
    real = VideoClipDataset.__getitems__
    monkeypatch.setattr(
        VideoClipDataset, "__getitems__", lambda self, ix: calls.append(list(ix)) or real(self, ix)
    )
    batches = list(DataLoader(ds, batch_size=5, collate_fn=ds.collate_fn))
    n = len(ds)
    assert calls == [list(range(i, min(i + 5, n))) for i in range(0, n, 5)]
    for b, ix in zip(batches, calls, strict=True):
        ref = ds.collate_fn([ds[i] for i in ix])
        assert torch.equal(b["video"], ref["video"]) and torch.equal(b["label"], ref["label"])
        assert b["flip_pending"].tolist() == ref["flip_pending"].tolist()
    # a Subset hands its batches to the dataset's __getitems__ too
    sub = Subset(ds, [9, 2, 4])
    got = next(iter(DataLoader(sub, batch_size=3, collate_fn=ds.collate_fn)))
    assert calls[-1] == [9, 2, 4]
    assert torch.equal(got["video"], ds.collate_fn([ds[9], ds[2], ds[4]])["video"])


def _fuzz_split(tmp_path, video_file):
    return write_fuzz_split(tmp_path, video_file, (*FUZZ_NAMES, "good.mp4"))


def test_bad_samples_in_a_batch_are_substituted_and_counted_once_each(tmp_path, video_file, caplog):
    split = _fuzz_split(tmp_path, video_file)
    one_by_one = VideoClipDataset(split, tmp_path, train=True, **SMALL)
    ref = [one_by_one[i] for i in range(6)]
    ds = VideoClipDataset(split, tmp_path, train=True, **SMALL)
    caplog.clear()
    with caplog.at_level("WARNING"):
        batch = ds.__getitems__(list(range(6)))
    for got, want in zip(batch, ref, strict=True):
        _same(got, want)
    assert {s["video_id"] for s in batch} == {1, 5}  # the bad rows' substitutes are the good videos
    assert batch[1]["video_id"] == 1 and batch[5]["video_id"] == 5
    assert ds.bad_samples == one_by_one.bad_samples == 4
    warned = [r.getMessage() for r in caplog.records if "bad sample" in r.getMessage()]
    assert len(warned) == 4 and any("missing.mp4" in m for m in warned)  # once per bad path


def test_a_bad_sample_in_a_batch_raises_under_raise(tmp_path, video_file):
    ds = VideoClipDataset(
        _fuzz_split(tmp_path, video_file), tmp_path, train=True, bad_sample_policy="raise", **SMALL
    )
    assert ds.__getitems__([1, 5])[1]["video_id"] == 5
    with pytest.raises(VideoDecodeError, match="trunc.mp4"):
        ds.__getitems__([1, 2])
    assert ds.bad_samples == 0


def test_bad_batch_indices_and_late_transforms_fail_before_any_loading(synth_root, monkeypatch):
    split = os.path.join(synth_root, "splits", "train_frames.csv")
    ds = VideoClipDataset(split, synth_root, train=True, normalise_on_device=True, **SMALL)
    reads = []
    monkeypatch.setattr(VideoClipDataset, "_read_train", lambda self, plan: reads.append(plan))
    with pytest.raises(IndexError, match=f"index {len(ds)} out of range for a dataset of {len(ds)} samples"):
        ds.__getitems__([0, len(ds)])
    with pytest.raises(IndexError, match="index -1 out of range"):
        ds.__getitems__([-1])
    ds.train_transform = _brighten  # set after construction, with flips and resizes left to the device
    with pytest.raises(ValueError, match="pass it to the constructor"):
        ds.__getitems__([0, 1])
    assert reads == []
    assert VideoClipDataset(split, synth_root, train=True, **SMALL).__getitems__([]) == []


def test_a_subclass_that_loads_its_own_way_gets_its_own_samples(synth_root):
    class Tagged(VideoClipDataset):
        def _load(self, index, attempt):
            return {**super()._load(index, attempt), "tag": index}

    split = os.path.join(synth_root, "splits", "train_frames.csv")
    ds = Tagged(split, synth_root, train=True, **SMALL)
    assert [s["tag"] for s in ds.__getitems__([3, 1])] == [3, 1]
