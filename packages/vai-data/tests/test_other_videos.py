"""``VideoClipDataset.with_videos``: a test-mode dataset's pipeline on video files, JPEG frame folders or
packed .vpk files outside its split."""

import os

import pytest
import torch
from PIL import Image
from vai_data import VideoClipDataset, pack_split
from vai_data.datasets.other_videos import frame_folder_row

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
    with pytest.raises(ValueError, match="holds no numbered JPEG frames"):
        ds.with_videos([str(tmp_path)])
    with pytest.raises(ValueError, match="no video paths given"):
        ds.with_videos([])


def test_frame_folders_read_as_the_splits_frames_rows(synth_root: str) -> None:
    ds = _val(synth_root, "val_frames.csv", num_spatial_crops=3)
    rows = ds.split.rows[:2]
    folders = [os.path.dirname(os.path.join(synth_root, r.path)) for r in rows]
    other = ds.with_videos(folders)
    assert other.storage == "frames" and [(r.start, r.end) for r in other.split.rows] == [
        (r.start, r.end) for r in rows
    ]
    for i in range(len(other)):
        assert torch.equal(ds[i]["video"], other[i]["video"])


def _folder(tmp_path, names) -> str:
    folder = tmp_path / "clip{1}"  # braces in a folder name must not reach the format pattern
    folder.mkdir()
    for name in names:
        Image.new("RGB", (8, 8)).save(folder / name)
    return str(folder)


@pytest.mark.parametrize(
    ("names", "pattern", "start", "end"),
    [
        ([f"{i:05d}.jpg" for i in range(1, 5)], "{:05d}.jpg", 1, 4),
        ([f"img_{i:05d}.jpg" for i in range(0, 3)], "img_{:05d}.jpg", 0, 2),
        ([f"frame_{i}.jpeg" for i in range(8, 12)], "frame_{:d}.jpeg", 8, 11),
    ],
)
def test_frame_folder_patterns(tmp_path, names, pattern, start, end) -> None:
    folder = _folder(tmp_path, names)
    row = frame_folder_row(folder, 3)
    assert row.path.format(start) == os.path.join(folder, names[0]) and row.path.endswith(pattern)
    assert (row.start, row.end, row.video_id) == (start, end, 3)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["a.png"], "holds no numbered JPEG frames"),
        (["00001.jpg", "00003.jpg"], "skips frame 2"),
        (["img_1.jpg", "frame_2.jpg"], "names its frames in several ways"),
        (["1.jpg", "02.jpg", "003.jpg"], "pads its frame numbers to several widths"),
    ],
)
def test_frame_folder_refusals(tmp_path, names, message) -> None:
    with pytest.raises(ValueError, match=message):
        frame_folder_row(_folder(tmp_path, names), 0)


def test_kinds_are_not_mixed(synth_root: str, video_file: str, tmp_path) -> None:
    folder = _folder(tmp_path, ["00000.jpg"])
    with pytest.raises(ValueError, match="one kind of input per call.*got frames, video"):
        _val(synth_root).with_videos([video_file, folder])
    vpk = tmp_path / "a.vpk"
    vpk.write_bytes(b"")
    with pytest.raises(ValueError, match="got packed, video"):
        _val(synth_root).with_videos([video_file, str(vpk)])


def test_packed_files_read_as_the_packed_splits_rows(synth_root: str, tmp_path) -> None:
    """.vpk files from vai-data pack: every frame of each, the same clips as the packed split's rows."""
    store = tmp_path / "packed"
    packed = VideoClipDataset(
        pack_split(os.path.join(synth_root, "splits", "val.csv"), synth_root, store),
        store,
        train=False,
        **{**SMALL, "num_spatial_crops": 3},
    )
    rows = packed.split.rows[1:3]
    other = packed.with_videos([str(store / r.path) for r in rows])
    assert other.storage == "packed" and other._probe_verdicts is None and len(other) == 2 * 3
    for i in range(len(other)):
        a, b = packed[3 + i], other[i]  # rows 1 and 2 of the split, 3 crops each
        assert torch.equal(a["video"], b["video"]) and b["video_id"] == i // 3 and b["label"] == 0
    # a video dataset reads packed files too, with its options
    from_video = _val(synth_root).with_videos([str(store / rows[0].path)])
    assert from_video.storage == "packed" and from_video[0]["video"].shape == packed[0]["video"].shape


def test_a_video_copy_has_its_own_probe_table(synth_root: str) -> None:
    ds = _val(synth_root)
    other = ds.with_videos([os.path.join(synth_root, r.path) for r in ds.split.rows[:2]])
    assert other._probe_verdicts is not ds._probe_verdicts and other._probe_verdicts.slots == 64


def test_a_torchcodec_frames_dataset_checks_torchcodec_when_given_videos(
    synth_root: str, video_file: str, monkeypatch
) -> None:
    from vai_data import decode

    ds = _val(synth_root, "val_frames.csv", backend="torchcodec")  # frames: torchcodec not needed yet

    def missing():
        raise ImportError("torchcodec is not installed: pip install 'vai-data[torchcodec]'")

    monkeypatch.setattr(decode, "_torchcodec_decoder", missing)
    with pytest.raises(ImportError, match="pip install"):
        ds.with_videos([video_file])
