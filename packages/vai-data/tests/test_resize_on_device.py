"""``resize_on_device``: a train dataset over JPEG frames with ``normalise_on_device`` leaves the resize of
its crops to ``device_transform``; the worker returns the source region, ``collate_fn`` pads the regions
of a batch, and the device's resize gives exactly the clips a dataset resizing in the worker gives."""

import os
import pickle

import pytest
import torch
from torch.utils.data import DataLoader, default_collate
from torchvision.transforms.v2 import functional as F
from vai_data import (
    DeviceNormalize,
    SplitRow,
    VideoClipDataset,
    collate_clips,
    read_split_file,
    write_split_file,
)
from vai_data.gulp import write_gulp_directory
from vai_data.packing import pack_split
from vai_data.transforms import (
    FLIP_PENDING,
    RESIZE_PENDING,
    MixupCutmixCollate,
    MultiScaleCrop,
    Normalize,
    RandAugment,
    apply_pending_resize,
    stack_channels_last,
    stack_channels_last_padded,
)
from vai_data_test_media import needs_lmdb

# 32x32 frames; short sides 24..40: downscales, the stored size itself, upscales
KW = dict(num_frames=4, crop_size=24, scale_jitter=(24, 40), seed=11, normalise_on_device=True)
NORM = Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def _frames_split(root):
    return f"{root}/splits/train_frames.csv"


def _pair(split, root, **kw):
    args = {**KW, "train": True, **kw}
    return (
        VideoClipDataset(split, root, resize_on_device=False, **args),
        VideoClipDataset(split, root, **args),
    )


def _finish(ds, batch):
    return ds.device_transform(batch["video"], **{k: batch[k] for k in ds.device_transform.batch_keys})


def _region_clip(h, w, seed, t=2):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (t, h, w, 3), dtype=torch.uint8, generator=g).permute(3, 0, 1, 2)


def _gulp_split(synth_root, tmp_path):
    """The synthetic frame folders as a GulpIO2 directory and its 5-column split."""
    rows = read_split_file(_frames_split(synth_root)).rows
    videos = {}
    for r in rows:
        folder = os.path.dirname(os.path.join(synth_root, r.path))
        videos[str(r.video_id)] = [
            open(os.path.join(folder, f), "rb").read() for f in sorted(os.listdir(folder))
        ]
    write_gulp_directory(str(tmp_path / "gulp"), videos)
    gulp_rows = [
        SplitRow(str(r.video_id), r.video_id, r.label, 0, len(videos[str(r.video_id)]) - 1) for r in rows
    ]
    write_split_file(tmp_path / "gulp.csv", gulp_rows, "gulp")
    return str(tmp_path / "gulp.csv"), str(tmp_path / "gulp")


@pytest.mark.parametrize("storage", ["frames", "packed", pytest.param("lmdb", marks=needs_lmdb), "gulp"])
def test_device_resizes_give_the_clips_of_worker_resizes(synth_root, tmp_path, storage):
    """Same seed, same draws: every region the worker hands over, resized on the device, is the worker's
    resized crop bit for bit; batches of regions of different sizes (padded) give the worker's batch."""
    split, root = _frames_split(synth_root), synth_root
    if storage == "packed":
        split, root = pack_split(split, synth_root, tmp_path / "packed"), str(tmp_path / "packed")
    elif storage == "lmdb":
        root = str(tmp_path / "l" / "frames.lmdb")
        split = pack_split(split, synth_root, tmp_path / "l", "lmdb")
    elif storage == "gulp":
        split, root = _gulp_split(synth_root, tmp_path)
    worker, device = _pair(split, root)
    assert device.storage == storage
    assert device.resize_on_device and not worker.resize_on_device
    assert device.device_transform.resizes_pending and not worker.device_transform.resizes_pending
    assert device.device_transform.batch_keys == (FLIP_PENDING, RESIZE_PENDING)
    samples, refs = [device[i] for i in range(12)], [worker[i] for i in range(12)]
    sizes = set()
    for s, r in zip(samples, refs, strict=True):
        assert RESIZE_PENDING not in r and r["video"].shape == (3, 4, 24, 24)
        h, w = s["video"].shape[-2:]
        assert s[RESIZE_PENDING] == (h, w, 24, 24)
        assert s[FLIP_PENDING] == r[FLIP_PENDING]
        if (h, w) != (24, 24):  # a region still to be resized: a view of the whole decoded clip, uncopied
            assert s["video"].stride() == (1, 32 * 32 * 3, 32 * 3, 3)  # strides of the 32 x 32 frames
        assert s["label"] == r["label"] and torch.equal(s["frame_indices"], r["frame_indices"])
        assert torch.equal(apply_pending_resize(s["video"], s[RESIZE_PENDING]), r["video"])
        sizes.add((h, w))
    # downscaled (> 24) and upscaled (< 24) regions both occur
    assert any(h > 24 for h, _ in sizes) and any(h < 24 for h, _ in sizes)
    kinds = [(s[RESIZE_PENDING][0] > 24, s[RESIZE_PENDING][0] < 24) for s in samples]
    order = sorted(range(12), key=lambda i: kinds[i])  # batches of mixed kinds: one of each first
    mixed = [order[0], order[-1], order[len(order) // 2], order[1]]
    rest = [i for i in range(12) if i not in mixed]
    for ids in (mixed, rest[:4], rest[4:]):
        batch = device.collate_fn([samples[i] for i in ids])
        ref_batch = worker.collate_fn([refs[i] for i in ids])
        assert batch[RESIZE_PENDING].shape == (4, 4) and batch[RESIZE_PENDING].dtype == torch.int64
        assert torch.equal(_finish(device, batch), _finish(worker, ref_batch))
    assert len({samples[i][RESIZE_PENDING][:2] for i in mixed}) >= 3  # three region sizes in one batch


def test_padded_crops_stay_in_the_worker(synth_root):
    """A crop wider than the frames pads in the worker (as RandomCrop): such clips arrive at the crop size.
    The constructor refuses such a crop_size (a side larger than the scale), so it is set afterwards here."""
    worker, device = _pair(_frames_split(synth_root), synth_root, crop_size=16, scale_jitter=(16, 16))
    worker.crop_size = device.crop_size = (16, 40)
    for i in range(3):
        s, r = device[i], worker[i]
        assert s[RESIZE_PENDING] == (16, 40, 16, 40) and s[FLIP_PENDING] == r[FLIP_PENDING]
        assert torch.equal(s["video"], r["video"])  # both leave the flip to the device


def test_regions_far_above_the_crop_are_resized_in_the_worker(synth_root):
    """A region more than DEVICE_RESIZE_MAX_SCALE (1.5) times the crop's side is resized in the worker:
    32-pixel frames at short side 20 (1.6x) arrive as crops, at short side 22 (1.45x) as regions."""
    from vai_data.datasets.video_clip import DEVICE_RESIZE_MAX_SCALE

    assert DEVICE_RESIZE_MAX_SCALE == 1.5
    split = _frames_split(synth_root)
    for short, want in ((20, (16, 16)), (22, (23, 23))):
        worker, device = _pair(split, synth_root, crop_size=16, scale_jitter=(short, short))
        for i in range(3):
            s, r = device[i], worker[i]
            assert s[RESIZE_PENDING] == (*want, 16, 16)
            assert torch.equal(apply_pending_resize(s["video"], s[RESIZE_PENDING]), r["video"])


def test_regions_through_dataloader_workers(synth_root):
    """Padded batches come out of worker processes (shared memory) as the in-process collate makes them."""
    _, device = _pair(_frames_split(synth_root), synth_root)
    loader = DataLoader(device, batch_size=5, num_workers=1, collate_fn=device.collate_fn)
    batch = next(iter(loader))
    assert len({tuple(r[:2]) for r in batch[RESIZE_PENDING].tolist()}) > 1  # padded: sizes differ
    want = device.collate_fn([device[i] for i in range(5)])
    assert torch.equal(batch["video"], want["video"]) and torch.equal(
        batch[RESIZE_PENDING], want[RESIZE_PENDING]
    )
    assert torch.equal(_finish(device, batch), _finish(device, want))


def test_resize_on_device_with_worker_flips_and_pickling(synth_root):
    """``flip_on_device=False``: the worker mirrors the region, the device resizes it - the same clips."""
    split = _frames_split(synth_root)
    worker, device = _pair(split, synth_root, flip_on_device=False)
    device = pickle.loads(pickle.dumps(device))  # as DataLoader workers get it
    assert device.device_transform.batch_keys == (RESIZE_PENDING,)
    samples, refs = [device[i] for i in range(8)], [worker[i] for i in range(8)]
    assert torch.equal(_finish(device, device.collate_fn(samples)), _finish(worker, worker.collate_fn(refs)))


def test_resize_on_device_defaults_and_invalid_requests(synth_root):
    frames = _frames_split(synth_root)

    def make(split=frames, **kw):
        return VideoClipDataset(split, synth_root, **{**KW, "train": True, **kw})

    assert make().resize_on_device
    off = {
        "normalise_on_device=True": dict(normalise_on_device=False),
        "train=True": dict(train=False),
        "no train_transform": dict(train_transform=RandAugment(num_ops=1)),
        "or train_spatial_transform": dict(train_spatial_transform=MultiScaleCrop(24)),
    }
    for reason, kw in off.items():
        assert not make(**kw).resize_on_device
        with pytest.raises(ValueError, match=f"resize_on_device=True needs .*{reason}"):
            make(resize_on_device=True, **kw)
    assert RESIZE_PENDING not in make(resize_on_device=False)[0]
    videos = make(split=f"{synth_root}/splits/train.csv")  # mp4 too: decoded at the stored size
    rows = [videos[i][RESIZE_PENDING] for i in range(6)]
    assert videos.resize_on_device and any(r[:2] != r[2:] for r in rows)  # regions left to resize


def test_device_transform_requires_the_rows_it_was_promised(synth_root):
    _, device = _pair(_frames_split(synth_root), synth_root)
    batch = device.collate_fn([device[i] for i in range(3)])
    with pytest.raises(
        ValueError, match=r"leaves resize_pending work .*resize_pending=batch\['resize_pending'\]"
    ):
        device.device_transform(batch["video"], flip_pending=batch[FLIP_PENDING])
    with pytest.raises(ValueError, match="flip_pending and resize_pending"):
        device.device_transform(batch["video"])
    plain = DeviceNormalize(NORM)
    assert plain.batch_keys == () and "resizes_pending=False" in repr(plain)
    old = DeviceNormalize(NORM)
    del old.__dict__["resizes_pending"]  # a pickle from before resize_on_device
    old.__setstate__(dict(old.__dict__))
    assert old.resizes_pending is False


def test_apply_pending_resize_resizes_each_region():
    clips = [_region_clip(9, 7, 0), _region_clip(6, 6, 1), _region_clip(4, 5, 2), _region_clip(9, 7, 3)]
    batch = stack_channels_last_padded(clips)
    assert batch.shape == (4, 3, 2, 9, 7)
    rows = torch.tensor([[9, 7, 6, 6], [6, 6, 6, 6], [4, 5, 6, 6], [9, 7, 6, 6]])
    out = apply_pending_resize(batch, rows)
    assert out.shape == (4, 3, 2, 6, 6) and out.dtype == torch.uint8
    assert out.permute(0, 2, 3, 4, 1).is_contiguous()  # channels-last, as collated batches are
    for i, clip in enumerate(clips):
        want = F.resize(clip.transpose(0, 1), [6, 6], antialias=True).transpose(0, 1)
        assert torch.equal(out[i], want)
    # one clip with its 4 numbers; nothing to resize: the same tensor back; an empty batch
    assert torch.equal(apply_pending_resize(clips[0], (9, 7, 6, 6)), out[0])
    same = stack_channels_last([_region_clip(6, 6, 5)] * 2)
    assert apply_pending_resize(same, [[6, 6, 6, 6]] * 2) is same
    empty = torch.zeros(0, 3, 2, 6, 6, dtype=torch.uint8)
    assert apply_pending_resize(empty, torch.zeros(0, 4, dtype=torch.int64)) is empty
    assert apply_pending_resize(empty, []) is empty
    # every region the same size: one call over the batch, the same pixels
    two = stack_channels_last_padded([clips[0], clips[3]])
    assert torch.equal(apply_pending_resize(two, [[9, 7, 6, 6]] * 2), out[[0, 3]])


@pytest.mark.parametrize(
    "rows,match",
    [
        ([[9, 7, 6, 6]], r"shape \(2, 4\)"),  # one row for two clips
        ([[9.0, 7.0, 6.0, 6.0]] * 2, "integer"),
        ([[9, 7, 6]] * 2, r"shape \(2, 4\)"),
        ([[10, 7, 6, 6]] * 2, "do not fit clips of 9x7"),  # taller than the padded clip
        ([[9, 7, 0, 6]] * 2, "positive output size"),
        ([[9, 7, 6, 6], [9, 7, 5, 5]], "share one output size"),
    ],
)
def test_apply_pending_resize_rejects_bad_rows(rows, match):
    batch = stack_channels_last([_region_clip(9, 7, 0)] * 2)
    with pytest.raises(ValueError, match=match):
        apply_pending_resize(batch, rows)


def test_default_collated_rows_are_refused_with_the_fix(synth_root):
    """torch's default collate turns the rows into four column tensors: refused, naming the way out."""
    _, device = _pair(_frames_split(synth_root), synth_root, scale_jitter=(32, 32))  # one region size
    batch = default_collate([device[i] for i in range(2)])
    with pytest.raises(ValueError, match="collate_fn=dataset.collate_fn"):
        _finish(device, batch)


def test_late_train_transforms_are_refused(synth_root):
    _, device = _pair(_frames_split(synth_root), synth_root, flip_on_device=False)
    device.train_spatial_transform = MultiScaleCrop(24)
    with pytest.raises(ValueError, match="set after the dataset was built"):
        device[0]


def test_apply_pending_resize_rejects_bad_clips():
    with pytest.raises(ValueError, match=r"expected \(N, C, T, H, W\)"):
        apply_pending_resize(torch.zeros(3, 4, 4), (4, 4, 2, 2))
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        apply_pending_resize(_region_clip(4, 4, 0), [[4, 4, 2, 2]] * 2)


def test_padded_collate_and_its_errors():
    a, b = _region_clip(5, 3, 0), _region_clip(3, 4, 1)
    samples = [
        {"video": a, "label": 0, RESIZE_PENDING: (5, 3, 2, 2)},
        {"video": b, "label": 1, RESIZE_PENDING: (3, 4, 2, 2)},
    ]
    batch = collate_clips(samples)
    assert batch["video"].shape == (2, 3, 2, 5, 4) and batch[RESIZE_PENDING].tolist() == [
        [5, 3, 2, 2],
        [3, 4, 2, 2],
    ]
    assert torch.equal(batch["video"][0, ..., :5, :3], a) and torch.equal(batch["video"][1, ..., :3, :4], b)
    assert not batch["video"][0, ..., :, 3:].any() and not batch["video"][1, ..., 3:, :].any()  # zero padding
    assert batch["label"].tolist() == [0, 1]
    with pytest.raises(
        ValueError, match="some samples of the batch have 'resize_pending'.*same resize_on_device"
    ):
        collate_clips([samples[0], {"video": b, "label": 1}])
    with pytest.raises(ValueError, match="some samples of the batch have 'resize_pending'"):
        collate_clips([{"video": b, "label": 1}, samples[0]])  # whichever comes first
    with pytest.raises(ValueError, match=r"rows must be \(h, w, out_h, out_w\)"):
        collate_clips([samples[0], {**samples[1], RESIZE_PENDING: (4, 4, 2, 2)}])
    with pytest.raises(ValueError, match="different frame counts, channels or dtypes"):
        stack_channels_last_padded([a, _region_clip(3, 4, 1, t=3)])


def test_mixing_collate_resizes_regions_before_mixing(synth_root):
    worker, device = _pair(_frames_split(synth_root), synth_root)
    mix = MixupCutmixCollate(device.num_classes, prob=1.0, generator=torch.Generator().manual_seed(0))
    ref_mix = MixupCutmixCollate(worker.num_classes, prob=1.0, generator=torch.Generator().manual_seed(0))
    batch = mix([device[i] for i in range(4)])
    ref = ref_mix([worker[i] for i in range(4)])
    assert batch["video"].shape[-2:] == (24, 24)
    assert batch[RESIZE_PENDING].tolist() == [[24, 24, 24, 24]] * 4  # nothing left for the device
    assert torch.equal(batch["video"], ref["video"]) and torch.equal(batch["label"], ref["label"])
    assert torch.allclose(_finish(device, batch), _finish(worker, ref))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("jitter", [(24, 40), (28, 28)])  # regions of many sizes; all of one size
def test_device_resizes_on_cuda_match_the_cpu(synth_root, jitter):
    """On CUDA the regions are resized in float32 and rounded: within one grey level of the CPU kernel."""
    _, device = _pair(_frames_split(synth_root), synth_root, scale_jitter=jitter)
    batch = device.collate_fn([device[i] for i in range(8)])
    sizes = {tuple(r[:2]) for r in batch[RESIZE_PENDING].tolist()}
    assert len(sizes) == 1 if jitter[0] == jitter[1] else len(sizes) > 2
    cpu = apply_pending_resize(batch["video"], batch[RESIZE_PENDING])
    cuda = apply_pending_resize(batch["video"].cuda(), batch[RESIZE_PENDING])
    assert cuda.device.type == "cuda" and cuda.dtype == torch.uint8 and cuda.shape == cpu.shape
    assert (cuda.cpu().int() - cpu.int()).abs().max() <= 1
    got = _finish(device, {**batch, "video": batch["video"].cuda(), FLIP_PENDING: batch[FLIP_PENDING].cuda()})
    assert torch.allclose(got.cpu(), _finish(device, batch), atol=1.1 / 255 / 0.224)
