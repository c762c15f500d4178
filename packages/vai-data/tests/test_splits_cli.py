"""The `vai-data splits` CLI, partial splits, and generated splits loading in VideoClipDataset, on tiny fake annotation files in each dataset's official format."""

from __future__ import annotations

import pytest
from vai_data.split_file import read_split_file
from vai_data.splits import (
    hmdb51_splits,
    kinetics400_splits,
)
from vai_data.splits.cli import add_arguments, run
from vai_data_test_media import lines, make_frames, make_video, write_hmdb_lists

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
    videos = tmp_path / "videos"
    for name in ("b1", "b2"):  # one clip of each of split 2's lists: the others skipped with warnings
        make_video(videos / "brush_hair" / f"{name}.avi", frames=2)
    assert run(args) == 0
    assert "train2:" in capsys.readouterr().out
    assert lines(tmp_path / "out" / "train2.csv") == ["0", "brush_hair/b1 0 0 0 1"]
    assert "skipping cartwheel/c2: video" in caplog.text
    (videos / "brush_hair" / "b1.avi").unlink()  # every train clip missing: train2 left out and kept
    caplog.clear()
    assert run(args) == 0
    assert lines(tmp_path / "out" / "train2.csv") == ["0", "brush_hair/b1 0 0 0 1"]
    assert "HMDB split 2 train: none of the 2 listed clips has usable media" in caplog.text
    assert "train2.csv is not written" in caplog.text
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


CATER_LISTS = ("train.txt", "val.txt", "train_subsetT.txt", "train_subsetV.txt")


def upstream_cater_partial(lists_root, prob, seed=12):
    """Upstream's generate_cater_task1_2_splits.py --partial, restated: random.seed(seed) once; for
    actions_order_uniq then actions_present, for each list file, one random() per line, and the line is
    skipped when that draw is < 1 - prob. Returns {(task folder, list file): [kept video ids]}."""
    import random
    import re

    rng = random.Random(seed)
    kept = {}
    for task_dir in ("actions_order_uniq", "actions_present"):
        for name in CATER_LISTS:
            path = lists_root / task_dir / name
            if not path.exists():
                continue
            kept[task_dir, name] = []
            for line in path.read_text().splitlines(keepends=True):
                if rng.random() < 1 - prob:
                    continue
                kept[task_dir, name].append(int(re.search(r"CATER_new_(\d+)\.avi", line).group(1)))
    return kept


def upstream_lt_prob_partial(split_sizes, prob, seed=12):
    """SSv1/SSv2/Diving48 upstream, restated: random.seed(seed); one random() per clip over the splits in
    order; the clip is kept when the draw is < prob. Returns the kept positions of each split."""
    import random

    rng = random.Random(seed)
    return [[i for i in range(n) if rng.random() < prob] for n in split_sizes]


def _write_cater_list(path, first, n, labels):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"CATER_new_{first + i:06d}.avi {labels}\n" for i in range(n)))


def test_cater_partial_reproduces_upstream_subsets(tmp_path, capsys):
    from vai_data.cli import main

    lists = tmp_path / "lists"
    sizes = {
        "train.txt": (0, 40),
        "val.txt": (40, 20),
        "train_subsetT.txt": (0, 25),
        "train_subsetV.txt": (25, 15),
    }
    for name, (first, n) in sizes.items():
        _write_cater_list(lists / "actions_present" / name, first, n, "1,4")
    for name, (first, n) in list(sizes.items())[:2]:  # task 2 lists of other lengths: task 1 draws after them
        _write_cater_list(lists / "actions_order_uniq" / name, first + 100, n - 7, "17")
    expected = upstream_cater_partial(lists, 0.25)
    for task, folder in ((1, "actions_present"), (2, "actions_order_uniq")):
        out = tmp_path / f"task{task}"
        argv = [
            "splits",
            "cater",
            str(lists / folder),
            "--task",
            str(task),
            "-o",
            str(out),
            "--partial",
            "0.25",
        ]
        assert main(argv) == 0
        for name in CATER_LISTS:
            if (folder, name) in expected:
                split = read_split_file(out / name.replace(".txt", "_partial.csv"))
                assert [r.video_id for r in split.rows] == expected[folder, name], (task, name)
                assert split.num_classes == (14 if task == 1 else 301)
    assert "train_partial:" in capsys.readouterr().out
    assert (
        main(
            [
                "splits",
                "cater",
                str(lists / "actions_present"),
                "-o",
                str(tmp_path / "o2"),
                "--partial",
                "1.5",
            ]
        )
        == 1
    )


def test_cater_partial_draws_for_clips_skipped_for_missing_media(tmp_path):
    from vai_data.cli import main

    lists = tmp_path / "lists"
    _write_cater_list(lists / "actions_order_uniq" / "train.txt", 0, 30, "5")
    frames = tmp_path / "frames"
    present = [i for i in range(30) if i % 3]  # every third clip's frames are missing (upstream: corrupted)
    for i in present:
        make_frames(frames / f"CATER_new_{i:06d}", 1)
    out = tmp_path / "out"
    argv = ["splits", "cater", str(lists / "actions_order_uniq"), "--task", "2", "-o", str(out)]
    assert main(argv + ["--frames-root", str(frames), "--partial", "0.5"]) == 0
    kept = [v for v in upstream_cater_partial(lists, 0.5)["actions_order_uniq", "train.txt"] if v in present]
    assert [r.video_id for r in read_split_file(out / "train_partial.csv").rows] == kept


def test_cater_task1_partial_without_task2_lists_assumes_equal_lengths(tmp_path, caplog):
    from vai_data.cli import main

    alone = tmp_path / "alone" / "actions_present"
    _write_cater_list(alone / "train.txt", 0, 30, "2")
    full = tmp_path / "full"  # the official layout, task 2 listing the same videos
    _write_cater_list(full / "actions_present" / "train.txt", 0, 30, "2")
    _write_cater_list(full / "actions_order_uniq" / "train.txt", 0, 30, "9")
    assert main(["splits", "cater", str(alone), "-o", str(tmp_path / "out"), "--partial", "0.25"]) == 0
    assert "actions_order_uniq not found; assuming its lists have as many lines" in caplog.text
    rows = read_split_file(tmp_path / "out" / "train_partial.csv").rows
    assert [r.video_id for r in rows] == upstream_cater_partial(full, 0.25)["actions_present", "train.txt"]


def test_diving48_partial_keeps_draws_below_p(tmp_path):
    import json

    from vai_data.cli import main

    d = tmp_path / "ann"
    d.mkdir()
    names = {"train": [f"t_{i:03d}" for i in range(30)], "test": [f"v_{i:03d}" for i in range(12)]}
    for split, vids in names.items():
        entries = [{"vid_name": v, "label": i % 48} for i, v in enumerate(vids)]
        (d / f"Diving48_V2_{split}.json").write_text(json.dumps(entries))
        for v in vids:
            make_frames(tmp_path / "frames" / v, 1)
    argv = ["splits", "diving48", str(d), "-o", str(tmp_path / "out"), "--mode", "frames"]
    assert main(argv + ["--frames-root", str(tmp_path / "frames"), "--partial", "0.25"]) == 0
    keep_train, keep_test = upstream_lt_prob_partial([30, 12], 0.25)
    for split, keep in (("train", keep_train), ("test", keep_test)):
        rows = read_split_file(tmp_path / "out" / f"{split}_partial.csv").rows
        assert [r.path.split("/")[0] for r in rows] == [names[split][i] for i in keep]


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
