"""``normalise_on_device``: uint8 channels-last clips from the datasets, ``collate_clips`` keeping that
layout, and ``DeviceNormalize`` giving exactly the clips the in-worker normalisation gives."""

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, default_collate
from vai_data import (
    DeviceNormalize,
    ImageDataset,
    SplitRow,
    VideoClipDataset,
    collate_clips,
    write_split_file,
)
from vai_data.transforms import MixupCutmixCollate, Normalize, is_channels_last_clip, stack_channels_last

KW = dict(num_frames=4, crop_size=24, scale_jitter=(28, 36), test_scale=28)


def _channels_last_clip(c=3, t=4, h=6, w=5, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (t, h, w, c), dtype=torch.uint8, generator=g).permute(3, 0, 1, 2)


NORMS = [
    Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), bgr=True),
    Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), greyscale=True),
    Normalize((114.75,), (57.375,), scale_255=False),
]
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("norm", NORMS)
def test_device_normalize_equals_per_clip_normalize(norm):
    clips = [_channels_last_clip(seed=s) for s in range(3)]
    expected = torch.stack([norm(c.permute(1, 0, 2, 3)) for c in clips])
    batch = DeviceNormalize(norm)(stack_channels_last(clips))
    assert batch.dtype == torch.float32 and batch.is_contiguous()
    assert torch.equal(batch, expected)
    assert torch.equal(DeviceNormalize(norm)(clips[1]), expected[1])  # one (C, T, H, W) clip


def test_normalize_statistics_are_prepared_once_and_never_pickled():
    import pickle

    norm = Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    clip = _channels_last_clip()  # (C, T, H, W)
    first = norm(clip.permute(1, 0, 2, 3))
    (entry,) = norm._affine.values()
    assert torch.equal(norm(clip.permute(1, 0, 2, 3)), first)
    assert next(iter(norm._affine.values())) is entry  # reused, not recomputed
    copy = pickle.loads(pickle.dumps(norm))  # as a dataset goes to a DataLoader worker
    assert copy._affine == {} and torch.equal(copy(clip.permute(1, 0, 2, 3)), first)
    old = copy.__dict__.copy()
    del old["_affine"]  # a Normalize pickled before the cache existed
    legacy = Normalize.__new__(Normalize)
    legacy.__setstate__(old)
    assert torch.equal(legacy(clip.permute(1, 0, 2, 3)), first)


def _reference(clip, mean, std):
    return (clip.float() / 255 - torch.tensor(mean).view(-1, 1, 1, 1)) / torch.tensor(std).view(-1, 1, 1, 1)


def test_normalize_follows_changed_statistics():
    norm = Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    clip = _channels_last_clip()
    means = [(0.1 * k, 0.2, 0.3) for k in range(7)]
    for i in range(60):  # reassigned statistics, cycling (freed tensors' ids are reused)
        norm.mean = torch.tensor(means[i % 7])
        got = norm(clip.permute(1, 0, 2, 3))
        assert torch.allclose(got, _reference(clip, means[i % 7], (0.229, 0.224, 0.225)), atol=1e-5), i
    assert len(norm._affine) == 1  # one entry per (channels, device), replaced, not accumulated
    norm.std.fill_(0.5)  # changed in place
    assert torch.allclose(
        norm(clip.permute(1, 0, 2, 3)), _reference(clip, means[59 % 7], (0.5,) * 3), atol=1e-5
    )
    norm.scale_255 = False
    expected = (clip.float() - torch.tensor(means[59 % 7]).view(-1, 1, 1, 1)) / 0.5
    assert torch.allclose(norm(clip.permute(1, 0, 2, 3)), expected, atol=1e-4)


@needs_cuda
@pytest.mark.parametrize("norm", NORMS)
def test_device_normalize_on_cuda_matches_cpu(norm):
    batch = stack_channels_last([_channels_last_clip(h=16, w=12, seed=s) for s in range(4)])
    cpu = DeviceNormalize(norm)(batch)
    gpu = DeviceNormalize(norm)(batch.pin_memory().cuda(non_blocking=True))
    assert gpu.device.type == "cuda" and gpu.dtype == torch.float32
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-6, atol=1e-5)


@needs_cuda
def test_pinned_loader_batches_keep_channels_last_on_cuda():
    clips = [_channels_last_clip(h=16, w=12, seed=s) for s in range(6)]
    loader = DataLoader(clips, batch_size=3, collate_fn=stack_channels_last, pin_memory=True)
    for i, batch in enumerate(loader):
        assert batch.is_pinned()
        on_gpu = batch.cuda(non_blocking=True)
        assert torch.equal(on_gpu.cpu(), torch.stack(clips[3 * i : 3 * i + 3]))


def test_device_normalize_channel_repeat_and_errors():
    norm = Normalize((0.5, 0.25), (0.25, 0.5))
    x = torch.randint(0, 256, (2, 6, 3, 4, 4), dtype=torch.uint8)  # 3 (u, v) pairs
    out = DeviceNormalize(norm, channel_repeat=3)(x)
    for k in range(3):
        assert torch.allclose(out[:, 2 * k], (x[:, 2 * k] / 255.0 - 0.5) / 0.25, atol=1e-5)
        assert torch.allclose(out[:, 2 * k + 1], (x[:, 2 * k + 1] / 255.0 - 0.25) / 0.5, atol=1e-5)
    with pytest.raises(ValueError, match="expected \\(N, C, T, H, W\\)"):
        DeviceNormalize(norm)(torch.zeros(3, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match="expected a clip \\(T, C, H, W\\)"):
        norm(torch.zeros(2, 3, 4, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match="channel_repeat"):
        DeviceNormalize(norm, channel_repeat=0)
    with pytest.raises(ValueError, match="has 2 values but the clip has 3 channels"):
        DeviceNormalize(norm)(torch.zeros(1, 3, 1, 2, 2, dtype=torch.uint8))


def test_collate_clips_keeps_the_layout_and_the_values():
    samples = [{"video": _channels_last_clip(seed=s), "label": s, "video_id": 10 + s} for s in range(3)]
    assert all(is_channels_last_clip(s["video"]) for s in samples)
    batch = collate_clips(samples)
    expected = default_collate(samples)
    assert batch.keys() == expected.keys()
    assert torch.equal(batch["video"], expected["video"]) and torch.equal(batch["label"], expected["label"])
    assert batch["video"].is_contiguous(memory_format=torch.channels_last_3d)
    # a clip in the standard layout among channels-last ones, and plain contiguous batches, still work
    samples[1]["video"] = samples[1]["video"].contiguous()
    assert torch.equal(collate_clips(samples)["video"], expected["video"])
    plain = [{"video": torch.zeros(3, 2, 4, 4), "label": 0}] * 2
    assert torch.equal(collate_clips(plain)["video"], torch.zeros(2, 3, 2, 4, 4))
    assert torch.equal(collate_clips([(1, 2), (3, 4)])[0], torch.tensor([1, 3]))


def test_collate_clips_rejects_mixed_shapes():
    samples = [{"video": _channels_last_clip(h=6, seed=0)}, {"video": _channels_last_clip(h=8, seed=1)}]
    with pytest.raises(ValueError, match="cannot batch clips of different shapes"):
        collate_clips(samples)


def _pair(synth_root, train, storage="video", **kw):
    split = f"{synth_root}/splits/{'train' if train else 'val'}.csv"
    if storage == "frames":
        split = split.replace(".csv", "_frames.csv")
    args = dict(KW, storage=storage, seed=5, **kw)
    return (
        VideoClipDataset(split, synth_root, train=train, **args),
        VideoClipDataset(split, synth_root, train=train, normalise_on_device=True, **args),
    )


@pytest.mark.parametrize("train,storage", [(True, "video"), (True, "frames"), (False, "video")])
def test_video_dataset_on_device_matches_in_worker(synth_root, train, storage):
    extra = {} if train else dict(num_spatial_crops=3, num_temporal_views=2)
    ref, dev = _pair(synth_root, train, storage, **extra)
    assert ref.device_transform is None and isinstance(dev.device_transform, DeviceNormalize)
    # train crops are also left to the device to resize (JPEG frames and videos alike): the worker returns
    # the region
    assert dev.resize_on_device == train
    for i in range(4):
        a, b = ref[i], dev[i]
        assert b["video"].dtype == torch.uint8 and is_channels_last_clip(b["video"])
        assert a["video"].shape == (3, 4, 24, 24)
        if dev.resize_on_device:
            assert b["resize_pending"] == (*b["video"].shape[-2:], 24, 24)
        else:
            assert b["video"].shape == a["video"].shape and "resize_pending" not in b
        assert torch.equal(b["frame_indices"], a["frame_indices"]) and b["label"] == a["label"]
        assert ("flip_pending" in b) == train  # train flips are left to the device transform
        batch = collate_clips([b])
        got = dev.device_transform(batch["video"], **{k: batch[k] for k in dev.device_transform.batch_keys})
        assert torch.equal(got[0], a["video"])


def test_on_device_batches_through_worker_processes(synth_root):
    ref, dev = _pair(synth_root, train=True, greyscale=True)
    loader = DataLoader(dev, batch_size=3, num_workers=1, collate_fn=dev.collate_fn)
    batch = next(iter(loader))
    assert batch["video"].dtype == torch.uint8 and batch["video"].shape[:3] == (3, 3, 4)
    expected = torch.stack([ref[i]["video"] for i in range(3)])
    assert expected.shape[1] == 1  # grey: the conversion happens in the device transform
    keys = dev.device_transform.batch_keys
    assert keys == ("flip_pending", "resize_pending")  # the regions' resizes are left to it too
    got = dev.device_transform(batch["video"], **{k: batch[k] for k in keys})
    assert torch.equal(got, expected)


def test_mixup_of_uint8_clips_then_normalised_equals_mixing_normalised_clips(synth_root):
    ref, dev = _pair(synth_root, train=True)
    samples = [dev[i] for i in range(4)]
    mixed = MixupCutmixCollate(
        8, mixup_alpha=0.8, cutmix_alpha=0.0, generator=torch.Generator().manual_seed(1)
    )
    mixed_ref = MixupCutmixCollate(
        8, mixup_alpha=0.8, cutmix_alpha=0.0, generator=torch.Generator().manual_seed(1)
    )
    batch = mixed(samples)  # resizes and mirrors the clips left to the device before mixing them
    assert batch["flip_pending"].tolist() == [False] * 4
    assert batch["resize_pending"].tolist() == [[24, 24, 24, 24]] * 4
    got = dev.device_transform(
        batch["video"], flip_pending=batch["flip_pending"], resize_pending=batch["resize_pending"]
    )
    want = mixed_ref([ref[i] for i in range(4)])["video"]
    assert torch.allclose(got, want, atol=1e-5)


def test_flow_on_device(tmp_path):
    rows = []
    for d, val in (("u", 40), ("v", 200)):
        (tmp_path / "vid" / d).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(np.full((24, 32), val + i, np.uint8)).save(tmp_path / "vid" / d / f"{i:05d}.jpg")
    rows.append(SplitRow("vid/{flow_direction}/{:05d}.jpg", 0, 1, 0, 5))
    write_split_file(tmp_path / "flow.csv", rows, "frames")
    kw = dict(
        flow="RR", num_frames=2, flow_neighbours=3, crop_size=16, test_scale=24, mean=(0.5,), std=(0.25,)
    )
    ref = VideoClipDataset(tmp_path / "flow.csv", tmp_path, train=False, **kw)
    dev = VideoClipDataset(tmp_path / "flow.csv", tmp_path, train=False, normalise_on_device=True, **kw)
    b = dev[0]
    assert b["video"].dtype == torch.uint8 and b["video"].shape == (6, 2, 16, 16)
    assert torch.equal(dev.device_transform(b["video"]), ref[0]["video"])


def test_image_dataset_on_device(tmp_path):
    for i in range(2):
        Image.fromarray(np.full((30, 40, 3), 60 * i + 10, np.uint8)).save(tmp_path / f"im{i}.jpg")
    write_split_file(tmp_path / "img.csv", [SplitRow(f"im{i}.jpg", i, i) for i in range(2)], "image")
    kw = dict(crop_size=16, scale_jitter=(20, 24), test_scale=20, seed=2)
    for train in (True, False):
        ref = ImageDataset(tmp_path / "img.csv", tmp_path, train=train, **kw)
        dev = ImageDataset(tmp_path / "img.csv", tmp_path, train=train, normalise_on_device=True, **kw)
        b = dev[1]
        assert b["video"].dtype == torch.uint8 and b["video"].shape == (3, 1, 16, 16)
        assert torch.equal(dev.device_transform(collate_clips([b])["video"])[0], ref[1]["video"])


def test_float_transforms_with_on_device_normalisation_fail_clearly(synth_root):
    _, dev = _pair(
        synth_root, train=True, train_transform=lambda clip: clip.float(), bad_sample_policy="raise"
    )
    with pytest.raises(TypeError, match="normalise_on_device expects uint8 clips"):
        dev[0]


def test_device_transforms_of_datasets_built_alike_compare_equal(synth_root):
    """The parts of a ``ConcatDataset`` share batches and so one ``device_transform``: those of datasets
    built alike compare equal (vai-train then uses it), those that normalise differently do not."""
    norm = Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert norm == Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]) and norm != NORMS[1]
    assert hash(norm) == hash(Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)))
    assert norm != Normalize((0.5, 0.456, 0.406), (0.229, 0.224, 0.225)) and norm != "Normalize"
    assert DeviceNormalize(norm) == DeviceNormalize(NORMS[0]) != DeviceNormalize(norm, channel_repeat=5)
    assert DeviceNormalize(norm) != DeviceNormalize(norm, flips_pending=True)
    assert len({DeviceNormalize(norm), DeviceNormalize(NORMS[0])}) == 1
    split = f"{synth_root}/splits/train.csv"
    a, b = (VideoClipDataset(split, synth_root, train=True, normalise_on_device=True, **KW) for _ in range(2))
    assert a.device_transform == b.device_transform and a.collate_fn is b.collate_fn
    grey = VideoClipDataset(split, synth_root, train=True, normalise_on_device=True, greyscale=True, **KW)
    frames_split = f"{synth_root}/splits/train_frames.csv"
    frames = VideoClipDataset(
        frames_split, synth_root, train=True, storage="frames", normalise_on_device=True, **KW
    )
    assert grey.device_transform != a.device_transform  # other statistics
    assert frames.device_transform == a.device_transform  # both leave their resizes to the device
    kept = VideoClipDataset(
        split, synth_root, train=True, normalise_on_device=True, resize_on_device=False, **KW
    )
    assert kept.device_transform != a.device_transform  # resizes done in the worker
