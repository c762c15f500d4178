"""The `vai-data splits` CLI, partial splits, and generated splits loading in VideoClipDataset, on tiny fake annotation files in each dataset's official format."""

from __future__ import annotations

import pytest
from vai_data.split_file import read_split_file
from vai_data.splits import (
    hmdb51_splits,
    kinetics400_splits,
)
from vai_data.splits.cli import add_arguments, run
from vai_data_test_media import lines, make_video, write_hmdb_lists

# ---------------------------------------------------------------- CLI


def test_cli_writes_and_reports_errors(tmp_path, capsys, caplog):
    import argparse

    write_hmdb_lists(tmp_path / "lists")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            "hmdb51",
            str(tmp_path / "lists"),
            "-o",
            str(tmp_path / "out"),
            "--mode",
            "gulp",
            "--splits",
            "2",
            "--videos-root",
            str(tmp_path / "videos"),
        ]
    )
    (tmp_path / "videos").mkdir()
    assert run(args) == 0  # every clip missing: rows skipped with warnings, files still written
    assert "train2:" in capsys.readouterr().out
    assert lines(tmp_path / "out" / "train2.csv") == ["0"]
    args.videos_root = str(tmp_path / "nope")
    assert run(args) == 1  # a wrong root is one error, not a warning per clip
    assert "--videos-root" in caplog.text and "is not a folder" in caplog.text
    (tmp_path / "lists" / "brush_hair_test_split2.txt").write_text("only-one-field\n")
    assert (
        run(
            parser.parse_args(["hmdb51", str(tmp_path / "lists"), "-o", str(tmp_path / "o"), "--splits", "2"])
        )
        == 1
    )


def test_top_level_cli_and_whitespace_paths(tmp_path, capsys):
    from vai_data.cli import main

    d = tmp_path / "lists"
    d.mkdir()
    (d / "train.txt").write_text("CATER_new_000001.avi 2\n")
    assert main(["splits", "cater", str(d), "-o", str(tmp_path / "out"), "--task", "2"]) == 0
    assert lines(tmp_path / "out" / "train.csv") == ["301", "CATER_new_000001/{:05d}.jpg 1 2 0 300"]
    assert "train:" in capsys.readouterr().out
    ann = tmp_path / "k"
    ann.mkdir()
    (ann / "train.csv").write_text("label,youtube_id,time_start,time_end,split\nair drumming,abc,1,2,train\n")
    make_video(tmp_path / "kv" / "air drumming" / "abc_000001_000002.mp4", frames=2)
    with pytest.raises(ValueError, match="contains whitespace.*rename"):
        kinetics400_splits(ann, tmp_path / "kout", videos_root=str(tmp_path / "kv"))


def test_partial_splits_follow_upstream_stream(tmp_path, capsys):
    import random

    from vai_data.cli import main

    d = tmp_path / "lists"
    d.mkdir()
    (d / "train.txt").write_text("".join(f"CATER_new_{i:06d}.avi 1\n" for i in range(40)))
    (d / "val.txt").write_text("".join(f"CATER_new_{i:06d}.avi 2\n" for i in range(40, 60)))
    assert main(["splits", "cater", str(d), "-o", str(tmp_path / "out"), "--partial", "0.25"]) == 0
    rng = random.Random(12)
    keep_train = [i for i in range(40) if rng.random() < 0.25]
    keep_val = [i for i in range(40, 60) if rng.random() < 0.25]
    train = read_split_file(tmp_path / "out" / "train_partial.csv")
    val = read_split_file(tmp_path / "out" / "val_partial.csv")
    assert [r.video_id for r in train.rows] == keep_train and [r.video_id for r in val.rows] == keep_val
    assert train.num_classes == 14 and "train_partial:" in capsys.readouterr().out
    assert main(["splits", "cater", str(d), "-o", str(tmp_path / "o2"), "--partial", "1.5"]) == 1


def test_extracted_frames_and_generated_splits_load_in_video_clip_dataset(tmp_path):
    from vai_data import VideoClipDataset
    from vai_data.frame_extraction import extract_frames_tree

    write_hmdb_lists(tmp_path / "lists")
    videos = tmp_path / "hmdb51_org"
    for name in ("brush_hair/b1", "brush_hair/b2", "cartwheel/c1", "cartwheel/c2"):
        make_video(videos / f"{name}.avi", frames=4)
    report = extract_frames_tree(videos, tmp_path / "frames", short_side=24)
    assert len(report.extracted) == 4 and not report.failed
    frames = hmdb51_splits(
        tmp_path / "lists", tmp_path / "sf", "frames", [1], frames_root=str(tmp_path / "frames")
    )
    video = hmdb51_splits(tmp_path / "lists", tmp_path / "sv", "video", [1], videos_root=str(videos))
    for split, root in ((frames["test1"], tmp_path / "frames"), (video["test1"], videos)):
        ds = VideoClipDataset(split, root, train=False, num_frames=2, crop_size=16, test_scale=24)
        sample = ds[1]
        assert sample["video"].shape == (3, 2, 16, 16) and sample["label"] == 1 and sample["video_id"] == 3
