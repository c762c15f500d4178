"""``VideoClipDataset.with_videos``: a test-mode dataset's pipeline on video files outside its split."""

import os

import pytest
import torch
from vai_data import VideoClipDataset

SMALL = dict(crop_size=16, scale_jitter=(20, 24), test_scale=20, num_frames=4)


def _val(synth_root: str, split: str = "val.csv", **kw) -> VideoClipDataset:
    return VideoClipDataset(
        os.path.join(synth_root, "splits", split), synth_root, train=False, **{**SMALL, **kw}
    )


def test_same_clips_as_the_split_reads(synth_root: str) -> None:
    ds = _val(synth_root, num_spatial_crops=3, num_temporal_views=2)
    rows = ds.split.rows[:2]
    other = ds.with_videos([os.path.join(synth_root, r.path) for r in rows])
    assert len(other) == 2 * 6 and other.video_ids == [0] * 6 + [1] * 6
    for i in range(len(other)):  # the same views, frames, crops and normalisation as the split's rows
        a, b = ds[i], other[i]
        assert torch.equal(a["video"], b["video"]) and torch.equal(
            torch.as_tensor(a["frame_indices"]), torch.as_tensor(b["frame_indices"])
        )
        assert (a["spatial_idx"], a["temporal_idx"]) == (b["spatial_idx"], b["temporal_idx"])
        assert b["label"] == 0 and b["video_id"] == i // 6
    assert len(ds) == len(ds.split.rows) * 6 and ds.split.rows[:2] == rows  # the original is untouched


def test_frames_dataset_reads_video_files_and_counters_are_its_own(synth_root: str, video_file: str) -> None:
    ds = _val(synth_root, "val_frames.csv", normalise_on_device=True)
    other = ds.with_videos(video_file)  # one path (not a list) is accepted
    sample = other[0]
    assert other.storage == "video" and sample["video"].dtype == torch.uint8  # the dataset's options kept
    other.set_epoch(3)
    assert ds.epoch == 0 and other.epoch == 3
    assert other.tracker is not ds.tracker and other.tracker.policy == "raise"


def test_refusals_are_one_line(synth_root: str, tmp_path) -> None:
    split = os.path.join(synth_root, "splits", "train.csv")
    train = VideoClipDataset(split, synth_root, train=True, **SMALL)
    with pytest.raises(ValueError, match="in train mode"):
        train.with_videos([os.path.join(synth_root, train.split.rows[0].path)])
    ds = _val(synth_root)
    with pytest.raises(ValueError, match=r"1 path\(s\) do not exist, e.g. .*nope.mp4"):
        ds.with_videos([str(tmp_path / "nope.mp4")])
    with pytest.raises(ValueError, match="is a folder; give video files"):
        ds.with_videos([str(tmp_path)])
    with pytest.raises(ValueError, match="no video paths given"):
        ds.with_videos([])
