"""Something-Something v1/v2 and Kinetics-400 split generators, on tiny fake annotation files in each dataset's official format."""

from __future__ import annotations

import json

import pytest
from vai_data.split_file import read_split_file
from vai_data.splits import (
    AnnotationError,
    kinetics400_splits,
    something_v1_splits,
    something_v2_splits,
)
from vai_data_test_media import lines, make_frames, make_video

# ---------------------------------------------------------------- Something-Something


def test_something_v1_one_based_frames(tmp_path):
    d = tmp_path / "ann"
    d.mkdir()
    (d / "something-something-v1-labels.csv").write_text(
        "Holding something\nPushing something from left to right\n"
    )
    (d / "something-something-v1-train.csv").write_text("100218;Pushing something from left to right\n")
    (d / "something-something-v1-validation.csv").write_text("7;Holding something\n")
    frames = tmp_path / "20bn-something-something-v1"
    make_frames(frames / "100218", 37, first=1)
    make_frames(frames / "7", 2, first=1)
    written = something_v1_splits(d, tmp_path / "out", frames_root=str(frames))
    assert lines(written["train"]) == ["0", "100218/{:05d}.jpg 100218 1 1 37"]
    assert lines(written["val"]) == ["0", "7/{:05d}.jpg 7 0 1 2"]
    (d / "something-something-v1-labels.csv").write_text(
        "Zooming in\nHolding something\nPushing something from left to right\n"
    )
    ordered = something_v1_splits(d, tmp_path / "o1", frames_root=str(frames))
    srt = something_v1_splits(d, tmp_path / "o2", frames_root=str(frames), class_sorted=True)
    assert (
        lines(ordered["val"])[1] == "7/{:05d}.jpg 7 1 1 2" and lines(srt["val"])[1] == "7/{:05d}.jpg 7 0 1 2"
    )
    assert lines(srt["classes"])[-1] == "Zooming in"
    (d / "something-something-v1-validation.csv").write_text("7;Holding something\n8;Not a class\n")
    with pytest.raises(AnnotationError, match=r"validation\.csv:2: class 'Not a class'"):
        something_v1_splits(d, tmp_path / "out", frames_root=str(frames))


def test_something_v2_video_json(tmp_path):
    d = tmp_path / "ann"
    d.mkdir()
    labels = {"Holding something next to something": "0", "Pushing something from right to left": "1"}
    (d / "labels.json").write_text(json.dumps(labels))
    train = [
        {
            "id": "78687",
            "label": "holding a cup next to a pen",
            "template": "Holding [something] next to [something]",
            "placeholders": ["a cup", "a pen"],
        }
    ]
    val = [
        {
            "id": "42",
            "label": "pushing pen from right to left",
            "template": "Pushing [something] from right to left",
            "placeholders": ["pen"],
        }
    ]
    (d / "something-something-v2-train.json").write_text(json.dumps(train))  # the prefixed name
    (d / "validation.json").write_text(json.dumps(val))
    (d / "test-answers.csv").write_text("5;Holding something next to something\n")
    videos = tmp_path / "videos"
    for vid, n in (("78687", 3), ("42", 2), ("5", 4)):
        make_video(videos / f"{vid}.mp4", frames=n)
    written = something_v2_splits(
        d, tmp_path / "out", videos_root=str(videos), video_ext="mp4", test_answers=d / "test-answers.csv"
    )
    assert lines(written["train"]) == ["0", "78687.mp4 78687 0 0 2 32 24"]
    assert lines(written["val"]) == ["0", "42.mp4 42 1 0 1 32 24"]
    assert lines(written["test"]) == ["0", "5.mp4 5 0 0 3 32 24"]
    (d / "validation.json").write_text(json.dumps([{"id": "1", "template": "Unknown [something]"}]))
    with pytest.raises(AnnotationError, match=r"validation\.json: entry 0 \(id 1\): template"):
        something_v2_splits(d, tmp_path / "out", videos_root=str(videos), video_ext="mp4")


# ---------------------------------------------------------------- Kinetics-400


def test_kinetics_video_skips_missing_and_uses_stems(tmp_path, caplog):
    d = tmp_path / "ann"
    d.mkdir()
    header = "label,youtube_id,time_start,time_end,split\n"
    (d / "train.csv").write_text(
        header + "air drumming,abc,10,20,train\nabseiling,def,0,10,train\nabseiling,gone,5,15,train\n"
    )
    (d / "validate.csv").write_text(header + "air drumming,xyz,1,11,val\n")
    (d / "test.csv").write_text("youtube_id,time_start,time_end,split\nqqq,0,10,test\n")
    videos = tmp_path / "videos"
    make_video(videos / "train" / "air_drumming" / "abc_000010_000020.mp4", frames=2)
    make_video(videos / "train" / "abseiling" / "def_000000_000010.mp4", frames=3)
    make_video(videos / "xyz_000001_000011.mp4", frames=2)
    written = kinetics400_splits(d, tmp_path / "out", videos_root=str(videos))
    assert "test" not in written
    assert lines(written["train"]) == [
        "0",
        "train/air_drumming/abc_000010_000020.mp4 0 1 0 1 32 24",
        "train/abseiling/def_000000_000010.mp4 1 0 0 2 32 24",
    ]
    split = read_split_file(written["val"])
    assert [(r.path, r.video_id, r.label) for r in split.rows] == [("xyz_000001_000011.mp4", 3, 1)]
    assert "1 of 3 listed clips not found" in caplog.text
    assert lines(written["classes"]) == ["abseiling", "air drumming"]


def test_kinetics_bad_row(tmp_path):
    d = tmp_path / "ann"
    d.mkdir()
    (d / "train.csv").write_text("label,youtube_id,time_start,time_end,split\nabseiling,abc,ten,20,train\n")
    with pytest.raises(AnnotationError, match=r"train\.csv:2: time_start 'ten' is not an integer"):
        kinetics400_splits(d, tmp_path / "out", videos_root=str(tmp_path))
    (d / "train.csv").write_text("label,youtube_id,split\nabseiling,abc,train\n")
    with pytest.raises(AnnotationError, match=r"train\.csv:1: header lacks column\(s\) time_start, time_end"):
        kinetics400_splits(d, tmp_path / "out", videos_root=str(tmp_path))
