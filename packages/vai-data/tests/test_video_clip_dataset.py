import os

import pytest
import torch
from torch.utils.data import DataLoader
from vai_data import SplitRow, VideoClipDataset, VideoDecodeError, write_split_file
from vai_data_test_media import write_fuzz_split

SMALL = dict(crop_size=16, scale_jitter=(20, 24), test_scale=20, num_frames=4)


def test_train_sample_dict(synth_root):
    ds = VideoClipDataset(os.path.join(synth_root, "splits", "train.csv"), synth_root, train=True, **SMALL)
    s = ds[0]
    assert set(s) == {"video", "label", "video_id", "spatial_idx", "temporal_idx", "frame_indices"}
    assert s["video"].shape == (3, 4, 16, 16) and s["video"].dtype == torch.float32
    assert isinstance(s["label"], int) and isinstance(s["video_id"], int)
    assert s["frame_indices"].dtype == torch.long and len(s["frame_indices"]) == 4
    assert ds.num_classes <= 8 and not ds.multilabel and len(ds.labels) == len(ds)


def test_same_seed_epoch_same_clip_and_epochs_differ(synth_root):
    split = os.path.join(synth_root, "splits", "train.csv")
    a = VideoClipDataset(split, synth_root, train=True, seed=1, **SMALL)
    b = VideoClipDataset(split, synth_root, train=True, seed=1, **SMALL)
    assert torch.equal(a[2]["video"], b[2]["video"])
    outs = []
    for epoch in range(4):
        a.set_epoch(epoch)
        outs.append(torch.cat([a[2]["video"].flatten(), a[2]["frame_indices"].float()]))
    assert any(not torch.equal(outs[0], o) for o in outs[1:])


def test_workers_do_not_change_clips(synth_root):
    split = os.path.join(synth_root, "splits", "train.csv")
    ds = VideoClipDataset(split, synth_root, train=True, seed=5, **SMALL)
    ds.set_epoch(3)
    ref = torch.stack([ds[i]["video"] for i in range(4)])
    loader = DataLoader(torch.utils.data.Subset(ds, range(4)), batch_size=2, num_workers=2)
    got = torch.cat([b["video"] for b in loader])
    assert torch.equal(ref, got)


def test_sample_seed_is_stable_well_mixed_and_takes_any_int():
    import hashlib
    import struct

    import numpy as np
    from vai_data.datasets import sample_seed

    seeds = {sample_seed(s, e, i, a) for s in (0, 1) for e in range(4) for i in range(200) for a in (0, 1)}
    assert len(seeds) == 2 * 4 * 200 * 2  # no collisions among neighbours
    assert all(0 <= v < 2**63 for v in seeds)
    # pinned: a release must not change every clip's draws
    assert sample_seed(5, 3, 17, 1) == 5199409030475428698
    words = struct.pack("<4Q", 5, 3, 17, 1)  # the documented definition, computed independently
    assert (
        sample_seed(5, 3, 17, 1)
        == int.from_bytes(hashlib.blake2b(words, digest_size=8).digest(), "little") >> 1
    )
    assert sample_seed(7, 2, 5) == sample_seed(np.int64(7), np.int32(2), np.uint8(5))
    assert sample_seed(-1, 0, 0) == sample_seed(2**64 - 1, 0, 0)  # taken mod 2**64
    # neighbouring indices differ in about half their bits (no low-bit correlation)
    flips = [bin(sample_seed(0, 0, i) ^ sample_seed(0, 0, i + 1)).count("1") for i in range(500)]
    assert 28 < sum(flips) / len(flips) < 35
    low = [sample_seed(0, 0, i) & 1 for i in range(2000)]
    assert 900 < sum(low) < 1100


def test_test_mode_views(synth_root):
    split = os.path.join(synth_root, "splits", "val_frames.csv")
    ds = VideoClipDataset(split, synth_root, train=False, num_spatial_crops=3, num_temporal_views=2, **SMALL)
    n_videos = len(ds.split.rows)
    assert len(ds) == n_videos * 6
    samples = [ds[i] for i in range(6)]
    assert {s["video_id"] for s in samples} == {ds.split.rows[0].video_id}
    assert [(s["temporal_idx"], s["spatial_idx"]) for s in samples] == [
        (t, c) for t in range(2) for c in range(3)
    ]
    assert samples[0]["video"].shape == (3, 4, 16, 16)
    assert not torch.equal(samples[0]["frame_indices"], samples[3]["frame_indices"])
    assert ds.video_ids[:6] == [ds.split.rows[0].video_id] * 6


def test_video_and_frames_storage_agree(synth_root):
    kw = dict(train=False, **SMALL)
    v = VideoClipDataset(os.path.join(synth_root, "splits", "val.csv"), synth_root, **kw)[0]
    f = VideoClipDataset(os.path.join(synth_root, "splits", "val_frames.csv"), synth_root, **kw)[0]
    assert torch.equal(v["frame_indices"], f["frame_indices"]) and v["video_id"] == f["video_id"]
    assert (v["video"] - f["video"]).abs().mean() < 0.15  # H.264 vs JPEG compression


def test_multilabel_and_flip_label_map(tmp_path, video_file):
    rows = [SplitRow(os.path.basename(video_file), 7, (1, 3), 0, 11, 64, 48)]
    split = tmp_path / "ml.csv"
    write_split_file(split, rows, "video", num_classes=5)
    ds = VideoClipDataset(split, os.path.dirname(video_file), train=False, **SMALL)
    assert ds.multilabel and ds.num_classes == 5
    assert ds[0]["label"].tolist() == [0, 1, 0, 1, 0]
    single = tmp_path / "s.csv"
    write_split_file(single, [SplitRow(os.path.basename(video_file), 7, 2, 0, 11, 64, 48)], "video")
    labels = set()
    ds = VideoClipDataset(
        single, os.path.dirname(video_file), train=True, flip_label_map={2: 4, 4: 2}, **SMALL
    )
    for epoch in range(12):
        ds.set_epoch(epoch)
        labels.add(ds[0]["label"])
    assert labels == {2, 4}


def test_dense_sampling(tmp_path, video_file):
    split = tmp_path / "s.csv"
    write_split_file(split, [SplitRow(os.path.basename(video_file), 1, 0, 0, 11, 64, 48)], "video")
    ds = VideoClipDataset(
        split,
        os.path.dirname(video_file),
        train=False,
        sampling="dense",
        sampling_rate=2,
        num_temporal_views=2,
        **SMALL,
    )
    assert ds[0]["frame_indices"].tolist() == [0, 2, 4, 6]
    assert ds[1]["frame_indices"].tolist() == [5, 7, 9, 11]


def _fuzz_split(tmp_path, video_file):
    return write_fuzz_split(tmp_path, video_file)


def test_bad_samples_skip(tmp_path, video_file, caplog):
    split = _fuzz_split(tmp_path, video_file)
    ds = VideoClipDataset(split, tmp_path, train=True, **SMALL)
    with caplog.at_level("WARNING"):
        out = [ds[i] for i in range(len(ds))] + [ds[0]]
    assert all(o["video_id"] == 1 for o in out)  # every bad sample replaced by the good video
    assert ds.bad_samples == 5  # four bad rows and the first again: one per substituted sample
    warned = [r for r in caplog.records if "bad sample" in r.getMessage()]
    assert len(warned) == 4  # once per bad path
    assert any("zero.mp4" in r.getMessage() for r in warned)


def test_bad_samples_raise(tmp_path, video_file):
    split = _fuzz_split(tmp_path, video_file)
    ds = VideoClipDataset(split, tmp_path, train=False, **SMALL)  # test mode defaults to raise
    with pytest.raises(VideoDecodeError, match="zero.mp4"):
        ds[0]
    assert ds[1]["video_id"] == 1


def test_a_crop_side_longer_than_the_scale_is_refused(synth_root):
    """Frames are resized to short side = scale (32 here, square videos): a (28, 40) crop would have 8 zero
    columns in every clip, so it is refused whichever side is the longer; crops within the scale are kept."""
    split = os.path.join(synth_root, "splits", "val.csv")
    for crop in ((28, 40), (40, 28)):
        with pytest.raises(
            ValueError, match=r"is larger than test_scale \(32\): crops would be zero-padded \("
        ):
            VideoClipDataset(split, synth_root, train=False, crop_size=crop, test_scale=32, num_frames=2)
        with pytest.raises(
            ValueError, match=r"is larger than the smallest short side of scale_jitter \(32\)"
        ):
            VideoClipDataset(
                split, synth_root, train=True, crop_size=crop, scale_jitter=(32, 34), num_frames=2
            )
    ds = VideoClipDataset(split, synth_root, train=False, crop_size=(24, 32), test_scale=32, num_frames=2)
    assert ds[0]["video"].shape[-2:] == (24, 32)


def test_bad_arguments(synth_root):
    split = os.path.join(synth_root, "splits", "train.csv")
    with pytest.raises(ValueError, match="storage='tape'"):
        VideoClipDataset(split, synth_root, train=True, storage="tape")
    for train in (False, True):  # (refused in train mode too, where it is unused)
        with pytest.raises(ValueError, match=r"num_spatial_crops=4; choose one of \(1, 3, 5, 10\)"):
            VideoClipDataset(split, synth_root, train=train, num_spatial_crops=4)
    with pytest.raises(ValueError, match="bad_sample_policy='ignore'"):
        VideoClipDataset(split, synth_root, train=True, bad_sample_policy="ignore")
    with pytest.raises(ValueError, match="backend='opencv'; choose one of"):
        VideoClipDataset(split, synth_root, train=True, backend="opencv")
    for name, value in [
        ("num_frames", 0),
        ("num_frames", "8"),
        ("num_frames", 8.0),
        ("sampling_rate", 0),
        ("num_temporal_views", 0),
        ("test_scale", -1),
    ]:
        with pytest.raises(ValueError, match=f"{name}={value!r} must be a positive int"):
            VideoClipDataset(split, synth_root, train=False, sampling="dense", **{name: value})
    with pytest.raises(
        ValueError, match=r"num_spatial_crops=3\.0; choose one of"
    ):  # (3.0 == 3 passed before)
        VideoClipDataset(split, synth_root, train=False, num_spatial_crops=3.0)
    # neighbour counts are checked at construction, not at the first sample
    for kwargs, message in [
        (dict(num_neighbours=-1), "num_neighbours=-1 must be an int >= 0"),
        (dict(num_neighbours=1.5), "num_neighbours=1.5 must be an int >= 0"),
        (dict(flow="RG", flow_neighbours=2.0), "flow_neighbours=2.0 must be a positive int"),
        (dict(flow="RG", flow_neighbours="5"), "flow_neighbours='5' must be a positive int"),
        (dict(flow_neighbours=0), "flow_neighbours=0 must be a positive int"),  # without flow too
        (dict(flow_neighbours="5"), "flow_neighbours='5' must be a positive int"),
    ]:
        with pytest.raises(ValueError, match=message):
            VideoClipDataset(split, synth_root, train=False, **kwargs)
    VideoClipDataset(split, synth_root, train=False, sampling="sparse", sampling_rate=None)  # unused there
    # crops larger than the frames would be zero-padded
    with pytest.raises(
        ValueError, match=r"crop_size=224 is larger than the smallest short side of scale_jitter \(200\)"
    ):
        VideoClipDataset(split, synth_root, train=True, crop_size=224, scale_jitter=(200, 320))
    with pytest.raises(ValueError, match=r"crop_size=\(112, 160\) is larger than test_scale \(100\)"):
        VideoClipDataset(split, synth_root, train=False, crop_size=(112, 160), test_scale=100)
    VideoClipDataset(split, synth_root, train=True, crop_size=224, scale_jitter=(224, 224))  # equal is fine
    # an (h, w) crop is checked by its longer side: the frames' short side is the scale in either orientation
    with pytest.raises(ValueError, match=r"crop_size=\(100, 300\) is larger than the smallest short side"):
        VideoClipDataset(split, synth_root, train=True, crop_size=(100, 300), scale_jitter=(128, 128))
    VideoClipDataset(
        split, synth_root, train=True, crop_size=(100, 128), scale_jitter=(128, 128)
    )  # wide crop
    # a train_spatial_transform crops train clips itself: crop_size is not used
    VideoClipDataset(split, synth_root, train=True, test_scale=20, train_spatial_transform=lambda c: c)
    assert VideoClipDataset(split, synth_root, train=False, num_frames=torch.tensor(4)).num_frames == 4
    import numpy as np

    assert (
        len(VideoClipDataset(split, synth_root, train=True, num_frames=np.int64(4))[0]["frame_indices"]) == 4
    )


def test_bad_sample_count_shared_across_workers(tmp_path, video_file):
    split = _fuzz_split(tmp_path, video_file)
    ds = VideoClipDataset(split, tmp_path, train=True, **SMALL)
    batches = list(DataLoader(ds, batch_size=1, num_workers=2))
    assert [int(b["video_id"]) for b in batches] == [1] * 5
    assert ds.bad_samples == 4  # counted in the workers, read in the main process


def test_datasets_pickle_and_deepcopy_with_their_bad_sample_count(tmp_path, video_file):
    """A plain pickle or deepcopy (not a spawned worker) used to fail on the shared counter; the copy now
    counts on from the original's count, in a counter of its own."""
    import copy
    import pickle

    ds = VideoClipDataset(_fuzz_split(tmp_path, video_file), tmp_path, train=True, **SMALL)
    ds[0]
    seen = ds.bad_samples
    for clone in (copy.deepcopy(ds), pickle.loads(pickle.dumps(ds))):
        assert clone.bad_samples == seen
        clone[2]
        assert clone.bad_samples == seen + 1 and ds.bad_samples == seen


def test_bad_sample_count_shared_with_spawned_workers(tmp_path, video_file):
    split = _fuzz_split(tmp_path, video_file)
    ds = VideoClipDataset(split, tmp_path, train=True, **SMALL)
    loader = DataLoader(ds, batch_size=1, num_workers=1, multiprocessing_context="spawn")
    assert [int(b["video_id"]) for b in loader] == [1] * 5
    assert ds.bad_samples == 4


def test_train_spatial_and_extra_transforms(synth_root):
    from vai_data.transforms import CenterCrop

    seen = []

    def spy(clip):
        seen.append((clip.dtype, tuple(clip.shape)))
        return clip

    split = os.path.join(synth_root, "splits", "train.csv")
    ds = VideoClipDataset(
        split,
        synth_root,
        train=True,
        train_spatial_transform=CenterCrop(12),
        train_transform=spy,
        horizontal_flip=False,
        num_frames=4,
        test_scale=20,
    )
    assert ds[0]["video"].shape == (3, 4, 12, 12)
    assert seen == [(torch.uint8, (4, 3, 12, 12))]


def test_spatial_views_decode_once_and_match_uncached(synth_root, monkeypatch):
    from vai_data import FrameFolderSource

    split = os.path.join(synth_root, "splits", "val_frames.csv")
    kw = dict(train=False, num_spatial_crops=3, num_temporal_views=2, **SMALL)
    ref = [VideoClipDataset(split, synth_root, **kw)[i]["video"] for i in range(7)]  # fresh dataset per view
    reads = []
    orig = FrameFolderSource.read
    monkeypatch.setattr(
        FrameFolderSource, "read", lambda self, *a, **k: reads.append(1) or orig(self, *a, **k)
    )
    ds = VideoClipDataset(split, synth_root, **kw)
    got = [ds[i]["video"] for i in range(7)]
    assert all(torch.equal(a, b) for a, b in zip(ref, got, strict=True))
    assert len(reads) == 3  # (video 0, view 0), (video 0, view 1), (video 1, view 0)
    assert ds._test_clip_cache is not None and ds.__getstate__()["_test_clip_cache"] is None


def test_frame_folder_fuzz_set_is_skipped(tmp_path, caplog):
    from PIL import Image

    for name in ("good", "zero", "rand", "text", "gap"):
        os.makedirs(tmp_path / name)
        for i in range(4):
            Image.new("RGB", (24, 20), (40 * i, 0, 0)).save(tmp_path / name / f"{i:05d}.jpg")
    (tmp_path / "zero" / "00001.jpg").write_bytes(b"")
    (tmp_path / "rand" / "00002.jpg").write_bytes(os.urandom(500))
    (tmp_path / "text" / "00000.jpg").write_text("not a jpeg\n")
    os.remove(tmp_path / "gap" / "00003.jpg")
    names = ["zero", "good", "rand", "text", "gap", "missing"]
    rows = [SplitRow(f"{n}/{{:05d}}.jpg", i, 0, 0, 3) for i, n in enumerate(names)]
    write_split_file(tmp_path / "f.csv", rows, "frames")
    ds = VideoClipDataset(
        tmp_path / "f.csv", tmp_path, train=True, num_frames=4, crop_size=16, scale_jitter=(20, 20)
    )
    with caplog.at_level("WARNING"):
        out = [ds[i] for i in range(len(ds))]
    assert [o["video_id"] for o in out] == [1] * 6
    assert ds.bad_samples == 5
    with pytest.raises(VideoDecodeError, match="zero"):
        VideoClipDataset(tmp_path / "f.csv", tmp_path, train=True, bad_sample_policy="raise", num_frames=4)[0]


def test_ten_crop_test_views_warn_about_direction_bearing_classes(synth_root):
    import warnings

    split = os.path.join(synth_root, "splits", "val.csv")
    with pytest.warns(UserWarning, match="views 5-9 are mirrored"):
        VideoClipDataset(split, synth_root, train=False, num_spatial_crops=10, flip_label_map={0: 1, 1: 0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        VideoClipDataset(split, synth_root, train=False, num_spatial_crops=10)  # no map: upstream's views
        VideoClipDataset(split, synth_root, train=False, num_spatial_crops=5, flip_label_map={0: 1, 1: 0})


def test_a_flip_inside_user_transforms_warns_when_labels_have_directions(synth_root):
    import warnings

    from torchvision.transforms import v2
    from vai_data.transforms import CenterCrop, Compose, RandomHorizontalFlip

    split = os.path.join(synth_root, "splits", "train.csv")
    flips = {0: 1, 1: 0}
    for transform in (
        RandomHorizontalFlip(),
        Compose([CenterCrop(12), RandomHorizontalFlip()]),
        v2.RandomHorizontalFlip(),
    ):
        with pytest.warns(UserWarning, match="without remapping their labels through flip_label_map"):
            VideoClipDataset(
                split, synth_root, train=True, train_transform=transform, flip_label_map=flips, **SMALL
            )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no flip map, no flip, or test mode: silent
        VideoClipDataset(split, synth_root, train=True, train_transform=RandomHorizontalFlip(), **SMALL)
        VideoClipDataset(
            split, synth_root, train=True, train_transform=CenterCrop(12), flip_label_map=flips, **SMALL
        )
        VideoClipDataset(
            split,
            synth_root,
            train=False,
            train_transform=RandomHorizontalFlip(),
            flip_label_map=flips,
            **SMALL,
        )


def _epoch_clips(ds, epoch, **loader_kw):
    ds.set_epoch(epoch)
    return [b["video"] for b in DataLoader(ds, batch_size=4, **loader_kw)]


def test_set_epoch_reaches_persistent_workers(synth_root):
    """The epoch lives in shared memory: persistent workers (started at epoch 0) draw epoch 1's clips after
    set_epoch(1), the clips num_workers=0 gives, instead of repeating epoch 0's."""
    split = os.path.join(synth_root, "splits", "train_frames.csv")
    kw = dict(train=True, num_frames=4, crop_size=16, scale_jitter=(20, 24))
    ref = VideoClipDataset(split, synth_root, **kw)
    want = [_epoch_clips(ref, e) for e in (0, 1)]
    ds = VideoClipDataset(split, synth_root, **kw)
    loader = DataLoader(ds, batch_size=4, num_workers=1, persistent_workers=True)
    got = []
    for e in (0, 1):
        ds.set_epoch(e)
        got.append([b["video"] for b in loader])
    for g, w in zip(got, want, strict=True):
        assert all(torch.equal(a, b) for a, b in zip(g, w, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(want[0], want[1], strict=True))


def test_a_forgotten_set_epoch_warns_once(synth_root, caplog):
    import logging

    split = os.path.join(synth_root, "splits", "train_frames.csv")
    ds = VideoClipDataset(split, synth_root, train=True, num_frames=2, crop_size=16, scale_jitter=(20, 20))
    with caplog.at_level(logging.WARNING, logger="vai_data.datasets.split_dataset"):
        for _ in range(2):
            list(DataLoader(ds, batch_size=4))
        assert not caplog.records  # two passes: maybe a legitimate second look
        for _ in range(2):
            list(DataLoader(ds, batch_size=4))
        assert len(caplog.records) == 1 and "set_epoch" in caplog.records[0].getMessage()
        ds.set_epoch(1)
        for _ in range(2):
            list(DataLoader(ds, batch_size=4))
    assert len(caplog.records) == 1
    test = VideoClipDataset(split, synth_root, train=False, num_frames=2, crop_size=16, test_scale=20)
    caplog.clear()
    for _ in range(4):
        list(DataLoader(test, batch_size=4))
    assert not caplog.records  # test clips are deterministic: no epochs there
