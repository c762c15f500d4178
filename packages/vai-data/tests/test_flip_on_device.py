"""``flip_on_device``: a train dataset with ``normalise_on_device`` leaves its random flips to
``device_transform``, which gives exactly the clips a dataset flipping in the worker gives."""

import pickle

import pytest
import torch
from vai_data import DeviceNormalize, VideoClipDataset, collate_clips
from vai_data.transforms import FLIP_PENDING, Normalize, RandAugment, hflip_flagged, stack_channels_last

KW = dict(num_frames=4, crop_size=24, scale_jitter=(28, 36), test_scale=28, seed=3)
NORM = Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def _split(root, storage):
    return f"{root}/splits/train{'_frames' if storage == 'frames' else ''}.csv"


def _batch(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    clips = [
        torch.randint(0, 256, (2, 5, 6, 3), dtype=torch.uint8, generator=g).permute(3, 0, 1, 2)
        for _ in range(n)
    ]
    return stack_channels_last(clips)


@pytest.mark.parametrize("storage", ["video", "frames"])
def test_device_flips_give_the_clips_of_worker_flips(synth_root, storage):
    """Same seed, same draws: the worker-flipping dataset's clips and labels equal the device-flipped ones,
    and the flags are exactly the flips the worker made (some clips flipped, some not)."""
    flip_map = {0: 1, 1: 0}
    args = dict(KW, storage=storage, flip_label_map=flip_map, normalise_on_device=True)
    worker = VideoClipDataset(
        _split(synth_root, storage), synth_root, train=True, flip_on_device=False, **args
    )
    device = VideoClipDataset(_split(synth_root, storage), synth_root, train=True, **args)
    assert device.flip_on_device and not worker.flip_on_device
    assert device.device_transform.flips_pending and not worker.device_transform.flips_pending
    samples = [device[i] for i in range(8)]
    flags = [s[FLIP_PENDING] for s in samples]
    assert all(isinstance(f, bool) for f in flags) and 0 < sum(flags) < len(flags)
    refs = [worker[i] for i in range(8)]
    assert all(FLIP_PENDING not in r for r in refs)
    for s, r, f in zip(samples, refs, flags, strict=True):
        assert s["label"] == r["label"]  # labels are remapped in the worker either way
        assert torch.equal(s["video"].flip(-1) if f else s["video"], r["video"])
    batch = device.collate_fn(samples)
    assert batch[FLIP_PENDING].dtype == torch.bool and batch[FLIP_PENDING].tolist() == flags
    ref_batch = worker.collate_fn(refs)
    got = device.device_transform(batch["video"], **{k: batch[k] for k in device.device_transform.batch_keys})
    want = worker.device_transform(
        ref_batch["video"], **{k: ref_batch[k] for k in worker.device_transform.batch_keys}
    )
    assert torch.equal(got, want)


def test_flip_on_device_defaults_and_invalid_requests(synth_root):
    split = _split(synth_root, "video")

    def make(**kw):
        return VideoClipDataset(split, synth_root, **{**KW, "train": True, "normalise_on_device": True, **kw})

    assert make().flip_on_device
    assert not make(normalise_on_device=False).flip_on_device  # floats from the worker: flipped there
    assert not make(horizontal_flip=False).flip_on_device
    assert not make(train=False).flip_on_device
    assert not make(train_transform=RandAugment(num_ops=1)).flip_on_device  # it runs after the flip
    assert FLIP_PENDING not in make(horizontal_flip=False)[0]
    for kw, reason in (
        (dict(normalise_on_device=False), "normalise_on_device=True"),
        (dict(horizontal_flip=False), "horizontal_flip=True"),
        (dict(train=False), "train=True"),
        (dict(train_transform=RandAugment(num_ops=1)), "no train_transform"),
    ):
        with pytest.raises(ValueError, match=f"flip_on_device=True needs .*{reason}"):
            make(flip_on_device=True, **kw)


def test_device_transform_without_the_flags_fails_loudly(synth_root):
    ds = VideoClipDataset(
        _split(synth_root, "video"),
        synth_root,
        train=True,
        normalise_on_device=True,
        resize_on_device=False,
        **KW,
    )
    batch = collate_clips([ds[i] for i in range(2)])
    with pytest.raises(ValueError, match=r"flip_pending=batch\['flip_pending'\]"):
        ds.device_transform(batch["video"])
    assert ds.device_transform(batch["video"], flip_pending=batch[FLIP_PENDING]).dtype == torch.float32


def test_hflip_flagged_mirrors_only_flagged_clips_and_keeps_the_input():
    video = _batch()
    before = video.clone()
    out = hflip_flagged(video, [True, False, False, True])
    assert torch.equal(video, before)  # input untouched
    for i, f in enumerate((True, False, False, True)):
        assert torch.equal(out[i], video[i].flip(-1) if f else video[i])
    assert out.stride(1) == 1  # still channels-last
    assert hflip_flagged(video, torch.zeros(4, dtype=torch.bool)) is video  # nothing to do: no copy
    clip = video[0]
    assert torch.equal(hflip_flagged(clip, True), clip.flip(-1))
    assert hflip_flagged(clip, torch.tensor(False)) is clip


def test_hflip_flagged_flag_shapes():
    """A single bool for a batch of one, numpy flags and an empty batch; never a (N, 1) flag column."""
    import numpy as np

    video = _batch()
    one = video[:1]
    for flag in (True, torch.tensor(True), np.bool_(True), [True], torch.tensor([True])):
        assert torch.equal(hflip_flagged(one, flag), one.flip(-1))
    assert torch.equal(hflip_flagged(video, np.array([False, True, False, False]))[1], video[1].flip(-1))
    assert hflip_flagged(video[:0], []).shape[0] == 0
    with pytest.raises(ValueError, match=r"shape \(4, 1\)"):
        hflip_flagged(video, torch.tensor([[False], [True], [False], [False]]))


@pytest.mark.parametrize(
    "flags,match",
    [([True, False], "4 bool value"), ([1, 0, 0, 1], "4 bool value"), (torch.ones(4), "4 bool value")],
)
def test_hflip_flagged_rejects_bad_flags(flags, match):
    with pytest.raises(ValueError, match=match):
        hflip_flagged(_batch(), flags)
    with pytest.raises(ValueError, match="expected"):
        hflip_flagged(torch.zeros(2, 3, dtype=torch.uint8), [True])


def test_device_normalize_with_flags_equals_flip_then_normalise():
    video = _batch()
    flags = torch.tensor([False, True, True, False])
    got = DeviceNormalize(NORM, flips_pending=True)(video, flip_pending=flags)
    want = DeviceNormalize(NORM)(hflip_flagged(video, flags))
    assert torch.equal(got, want) and got.is_contiguous()
    assert "flips_pending=True" in repr(DeviceNormalize(NORM, flips_pending=True))
    old = DeviceNormalize(NORM).__dict__.copy()
    del old["flips_pending"]  # a DeviceNormalize pickled before flip_on_device existed
    legacy = DeviceNormalize.__new__(DeviceNormalize)
    legacy.__setstate__(old)
    assert not legacy.flips_pending
    assert pickle.loads(pickle.dumps(DeviceNormalize(NORM, flips_pending=True))).flips_pending


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_device_flips_on_cuda_equal_cpu():
    video, flags = _batch(), torch.tensor([True, False, True, False])
    dn = DeviceNormalize(NORM, flips_pending=True)
    got = dn(video.cuda(), flip_pending=flags.cuda())
    assert torch.equal(got.cpu(), dn(video, flip_pending=flags))
