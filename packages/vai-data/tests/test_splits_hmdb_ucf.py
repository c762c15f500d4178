"""HMDB-51 and UCF-101 split generators, media probing and progress bars, on tiny fake annotation files in each dataset's official format."""

from __future__ import annotations

import pytest
from vai_data.split_file import read_split_file
from vai_data.splits import (
    AnnotationError,
    hmdb51_splits,
    probe_frame_folder,
    probe_video_info,
    ucf101_splits,
)
from vai_data_test_media import lines, make_frames, make_video, write_hmdb_lists

# ---------------------------------------------------------------- probing


def test_probe_video_and_frames(tmp_path):
    info = probe_video_info(make_video(tmp_path / "a.mp4", frames=4, width=32, height=24))
    assert (info.num_frames, info.width, info.height) == (4, 32, 24)
    f = probe_frame_folder(make_frames(tmp_path / "f", 3, first=1, fmt="img_{:04d}.jpg"))
    assert (f.num_frames, f.first, f.pattern) == (3, 1, "img_{:04d}.jpg")
    with pytest.raises(ValueError, match="cannot decode .*bad.mp4"):
        probe_video_info((tmp_path / "bad.mp4").write_bytes(b"not a video" * 10) and tmp_path / "bad.mp4")


# ---------------------------------------------------------------- HMDB-51


def test_hmdb_frames_three_splits(tmp_path):
    write_hmdb_lists(tmp_path / "lists")
    frames = tmp_path / "frames"
    for name in ("brush_hair/b1", "brush_hair/b2", "cartwheel/c1", "cartwheel/c2"):
        make_frames(frames / name, 3)
    written = hmdb51_splits(tmp_path / "lists", tmp_path / "out", mode="frames", frames_root=str(frames))
    assert set(written) == {f"{s}{k}" for s in ("train", "test") for k in (1, 2, 3)} | {"classes"}
    assert lines(written["train1"]) == [
        "0",
        "brush_hair/b1/{:05d}.jpg 0 0 0 2",
        "cartwheel/c2/{:05d}.jpg 4 1 0 2",
    ]
    assert lines(written["test1"]) == [
        "0",
        "brush_hair/b2/{:05d}.jpg 1 0 0 2",
        "cartwheel/c1/{:05d}.jpg 3 1 0 2",
    ]
    assert lines(written["classes"]) == ["brush_hair", "cartwheel"]
    assert read_split_file(written["test3"]).fmt == "frames"


def test_long_scans_show_a_progress_bar(tmp_path, monkeypatch, capsys):
    from vai_data.splits import common

    write_hmdb_lists(tmp_path / "lists")
    for name in ("brush_hair/b1", "brush_hair/b2", "cartwheel/c1", "cartwheel/c2"):
        make_frames(tmp_path / "frames" / name, 2)
    kw = dict(mode="frames", frames_root=str(tmp_path / "frames"))
    hmdb51_splits(tmp_path / "lists", tmp_path / "out", **kw)
    assert "clip/s" not in capsys.readouterr().err  # 4 clips: below the threshold, no bar
    monkeypatch.setattr(common, "PROGRESS_MIN_ITEMS", 2)
    hmdb51_splits(tmp_path / "lists", tmp_path / "out2", **kw)
    err = capsys.readouterr().err
    assert "100%" in err and "clip/s" in err


def test_hmdb_video_mode_writes_seven_columns(tmp_path):
    write_hmdb_lists(tmp_path / "lists")
    videos = tmp_path / "videos"
    for name in ("brush_hair/b1", "brush_hair/b2", "cartwheel/c1", "cartwheel/c2"):
        make_video(videos / f"{name}.avi", frames=3)
    written = hmdb51_splits(tmp_path / "lists", tmp_path / "out", "video", [1], videos_root=str(videos))
    assert lines(written["train1"])[1] == "brush_hair/b1.avi 0 0 0 2 32 24"
    split = read_split_file(written["test1"])
    assert split.fmt == "video" and split.rows[0].width == 32 and split.rows[0].height == 24


def test_hmdb_confusing_102(tmp_path):
    import random

    write_hmdb_lists(tmp_path / "lists")
    frames = tmp_path / "frames"
    for name in ("brush_hair/b1", "brush_hair/b2", "cartwheel/c1", "cartwheel/c2"):
        make_frames(frames / name, 2)
    written = hmdb51_splits(
        tmp_path / "lists", tmp_path / "o", "gulp", [1, 2, 3], frames_root=str(frames), confusion=2
    )
    # upstream: random.seed(12), one randint(0, 1) per train clip over splits 1, 2, 3 in order
    rng = random.Random(12)
    expected = [[c + 2 * rng.randint(0, 1) for c in (0, 1)] for _ in range(3)]
    for k in (1, 2, 3):
        train = read_split_file(written[f"train{k}"])
        assert train.num_classes == 0 and [r.label for r in train.rows] == expected[k - 1]
    only3 = hmdb51_splits(
        tmp_path / "lists", tmp_path / "o3", "gulp", [3], frames_root=str(frames), confusion=2
    )
    assert set(only3) == {"train3", "test3", "classes"}
    assert lines(only3["train3"]) == lines(written["train3"])  # same labels whichever splits are asked for
    test = read_split_file(written["test1"])
    assert test.num_classes == 4 and [r.label for r in test.rows] == [(0, 2), (1, 3)]
    assert lines(written["test1"])[1] == "brush_hair/b2 1 0,2 0 1"
    assert lines(written["classes"]) == ["brush_hair", "cartwheel", "brush_hair_2", "cartwheel_2"]
    three = hmdb51_splits(
        tmp_path / "lists", tmp_path / "c3", "gulp", [1], frames_root=str(frames), confusion=3
    )
    assert lines(three["test1"])[:2] == ["6", "brush_hair/b2 1 0,2,4 0 1"]


def test_hmdb_gulp_counts_from_gulp_directory(tmp_path):
    from vai_data.gulp import write_gulp_directory

    write_hmdb_lists(tmp_path / "lists")
    jpeg = (make_frames(tmp_path / "one", 1) / "00000.jpg").read_bytes()
    counts = {"brush_hair/b1": 4, "brush_hair/b2": 2, "cartwheel/c1": 3}  # c2 missing from the gulp
    write_gulp_directory(str(tmp_path / "gulp_rgb"), {k: [jpeg] * n for k, n in counts.items()})
    written = hmdb51_splits(
        tmp_path / "lists", tmp_path / "out", "gulp", [1], gulp_root=str(tmp_path / "gulp_rgb")
    )
    assert lines(written["train1"]) == ["0", "brush_hair/b1 0 0 0 3"]
    assert lines(written["test1"]) == ["0", "brush_hair/b2 1 0 0 1", "cartwheel/c1 3 1 0 2"]
    with pytest.raises(ValueError, match="--gulp-root only counts frames for --mode gulp"):
        hmdb51_splits(
            tmp_path / "lists", tmp_path / "out", "frames", [1], gulp_root=str(tmp_path / "gulp_rgb")
        )


def test_hmdb_malformed_line_names_file_and_line(tmp_path):
    write_hmdb_lists(tmp_path / "lists")
    (tmp_path / "lists" / "cartwheel_test_split1.txt").write_text("c1.avi 2\nc2.avi train\n")
    with pytest.raises(AnnotationError, match=r"cartwheel_test_split1\.txt:2: expected"):
        hmdb51_splits(tmp_path / "lists", tmp_path / "out", splits=[1], frames_root=str(tmp_path))


# ---------------------------------------------------------------- UCF-101


def test_ucf101_frames_and_case_mismatch(tmp_path):
    d = tmp_path / "ucfTrainTestlist"
    d.mkdir()
    (d / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 HandstandPushups\n")
    (d / "trainlist01.txt").write_text(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\nHandstandPushups/v_HandStandPushups_g08_c01.avi 2\n"
    )
    (d / "testlist01.txt").write_text("HandStandPushups/v_HandStandPushups_g01_c01.avi\n")
    frames = tmp_path / "frames"
    make_frames(frames / "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01", 4)
    make_frames(frames / "HandstandPushups/v_HandStandPushups_g08_c01", 2)
    make_frames(frames / "HandStandPushups/v_HandStandPushups_g01_c01", 3)
    written = ucf101_splits(d, tmp_path / "out", splits=[1], frames_root=str(frames))
    assert lines(written["train1"]) == [
        "0",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01/{:05d}.jpg 0 0 0 3",
        "HandstandPushups/v_HandStandPushups_g08_c01/{:05d}.jpg 2 1 0 1",
    ]
    assert lines(written["test1"]) == ["0", "HandStandPushups/v_HandStandPushups_g01_c01/{:05d}.jpg 1 1 0 2"]
    (d / "trainlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 2\n")
    with pytest.raises(AnnotationError, match=r"trainlist01\.txt:1: index 2 disagrees"):
        ucf101_splits(d, tmp_path / "out", splits=[1], frames_root=str(frames))
