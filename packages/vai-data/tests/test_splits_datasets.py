"""Split generators on tiny fake annotation files written in each dataset's official format."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from vai_data.split_file import read_split_file
from vai_data.splits import (
    AnnotationError,
    cater_splits,
    diving48_splits,
    epic55_verb_splits,
    epic100_verb_splits,
    hmdb51_splits,
    imagenet_splits,
    kinetics400_splits,
    probe_frame_folder,
    probe_video_info,
    something_v1_splits,
    something_v2_splits,
    ucf101_splits,
)
from vai_data.splits.cli import add_arguments, run


def make_video(path: Path, frames: int = 3, width: int = 32, height: int = 24) -> Path:
    """Encode a tiny mpeg4 video with PyAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            img = np.full((height, width, 3), 40 * i, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def make_frames(folder: Path, n: int, first: int = 0, fmt: str = "{:05d}.jpg") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(first, first + n):
        Image.new("RGB", (8, 8), (i * 10 % 255, 0, 0)).save(folder / fmt.format(i))
    return folder


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


# ---------------------------------------------------------------- probing


def test_probe_video_and_frames(tmp_path):
    info = probe_video_info(make_video(tmp_path / "a.mp4", frames=4, width=32, height=24))
    assert (info.num_frames, info.width, info.height) == (4, 32, 24)
    f = probe_frame_folder(make_frames(tmp_path / "f", 3, first=1, fmt="img_{:04d}.jpg"))
    assert (f.num_frames, f.first, f.pattern) == (3, 1, "img_{:04d}.jpg")
    with pytest.raises(ValueError, match="cannot decode .*bad.mp4"):
        probe_video_info((tmp_path / "bad.mp4").write_bytes(b"not a video" * 10) and tmp_path / "bad.mp4")


# ---------------------------------------------------------------- HMDB-51


def write_hmdb_lists(d: Path) -> None:
    d.mkdir(parents=True)
    for k in (1, 2, 3):
        (d / f"brush_hair_test_split{k}.txt").write_text("b1.avi 1 \nb2.avi 2 \nb3.avi 0 \n")
        (d / f"cartwheel_test_split{k}.txt").write_text("c1.avi 2 \nc2.avi 1 \n")


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


# ---------------------------------------------------------------- EPIC-Kitchens


def test_epic100_gulp_and_frames(tmp_path):
    d = tmp_path / "ann"
    d.mkdir()
    head = "narration_id,participant_id,video_id,narration_timestamp,start_timestamp,stop_timestamp,start_frame,stop_frame,narration,verb,verb_class,noun,noun_class,all_nouns,all_noun_classes\n"
    (d / "EPIC_100_train.csv").write_text(
        head
        + "P01_01_0,P01,P01_01,00:00:01.089,00:00:00.14,00:00:03.37,8,202,open door,open,3,door,3,['door'],[3]\n"
        + "P01_01_1,P01,P01_01,00:00:02.629,00:00:04.37,00:00:06.17,262,370,turn on light,turn-on,6,light,114,['light'],[114]\n"
    )
    (d / "EPIC_100_validation.csv").write_text(
        head
        + "P01_11_0,P01,P01_11,00:00:00.560,00:00:00.00,00:00:01.89,1,113,take hand,take,0,hand,1,['hand'],[1]\n"
    )
    (d / "EPIC_100_verb_classes.csv").write_text("id,key,instances,category\n0,take,\"['take']\",retrieve\n")
    written = epic100_verb_splits(d, tmp_path / "gulp")
    assert lines(written["train"]) == ["0", "P01_01_0 0 3 0 194", "P01_01_1 1 6 0 108"]
    assert lines(written["val"]) == ["0", "P01_11_0 2 0 0 112"]
    assert lines(written["traindata_testmode"]) == lines(written["train"])
    assert lines(written["classes"]) == ["take"]
    frames = epic100_verb_splits(d, tmp_path / "frames", mode="frames")
    assert lines(frames["val"])[1] == "P01/rgb_frames/P01_11/frame_{:010d}.jpg 2 0 1 113"
    assert read_split_file(frames["val"]).fmt == "frames"
    (d / "EPIC_100_validation.csv").write_text(
        head + "P01_11_0,P01,P01_11,a,b,c,1,x,take hand,take,0,hand,1,[],[]\n"
    )
    with pytest.raises(AnnotationError, match=r"EPIC_100_validation\.csv:2: stop_frame 'x'"):
        epic100_verb_splits(d, tmp_path / "gulp")


def test_epic100_video_ids_follow_upstream_numeric_order(tmp_path):
    d = tmp_path / "ann"
    d.mkdir()
    head = "narration_id,participant_id,video_id,start_frame,stop_frame,verb_class\n"
    (d / "EPIC_100_train.csv").write_text(
        head + "P01_01_10,P01,P01_01,1,2,0\nP01_01_9,P01,P01_01,1,2,0\nP01_101_0,P01,P01_101,1,2,0\n"
    )
    (d / "EPIC_100_validation.csv").write_text(head + "P01_02_0,P01,P01_02,1,2,0\n")
    written = epic100_verb_splits(d, tmp_path / "out")
    assert lines(written["train"])[1:] == ["P01_01_9 0 0 0 1", "P01_01_10 1 0 0 1", "P01_101_0 2 0 0 1"]
    assert lines(written["val"])[1:] == ["P01_02_0 3 0 0 1"]


def test_epic55_uid_keys_and_heldout_participants(tmp_path):
    d = tmp_path / "ann"
    d.mkdir()
    head = "uid,participant_id,video_id,narration,start_timestamp,stop_timestamp,start_frame,stop_frame,verb,verb_class,noun,noun_class,all_nouns,all_noun_classes\n"
    (d / "EPIC_train_action_labels.csv").write_text(
        head
        + "0,P01,P01_01,open door,00:00:00.14,00:00:03.37,8,202,open,3,door,8,['door'],[8]\n"
        + "7,P02,P02_01,take cup,00:00:00.14,00:00:03.37,10,20,take,0,cup,1,['cup'],[1]\n"
    )
    written = epic55_verb_splits(d, tmp_path / "out", val_participants=["P02"])
    assert lines(written["train"]) == ["0", "0 0 3 0 194"]
    assert lines(written["val"]) == ["0", "7 7 0 0 10"]
    frames = epic55_verb_splits(d, tmp_path / "f", mode="frames", val_participants=[])
    assert lines(frames["train"])[2] == "P02/P02_01/frame_{:010d}.jpg 7 0 10 20" and "val" not in frames
    default = epic55_verb_splits(d, tmp_path / "d")  # upstream: P26-P31 validate
    assert len(lines(default["train"])) == 3 and lines(default["val"]) == ["0"]


# ---------------------------------------------------------------- Diving48


@pytest.mark.parametrize("version,prefix", [(1, "Diving48"), (2, "Diving48_V2")])
def test_diving48_versions(tmp_path, version, prefix):
    d = tmp_path / "ann"
    d.mkdir()
    (d / f"{prefix}_train.json").write_text(
        json.dumps(
            [
                {"vid_name": "b_00001", "label": 5, "start_frame": 0, "end_frame": 90},
                {"vid_name": "a_00002", "label": 47, "start_frame": 3, "end_frame": 50},
            ]
        )
    )
    (d / f"{prefix}_test.json").write_text(
        json.dumps([{"vid_name": "c_1", "label": 0, "start_frame": 0, "end_frame": 9}])
    )
    frames = tmp_path / "frames"
    for name, n in (("b_00001", 3), ("a_00002", 2), ("c_1", 4)):
        make_frames(frames / name, n)
    written = diving48_splits(d, tmp_path / "out", version=version, mode="frames", frames_root=str(frames))
    assert lines(written["train"]) == ["0", "b_00001/{:05d}.jpg 1 5 0 2", "a_00002/{:05d}.jpg 0 47 0 1"]
    assert lines(written["test"]) == ["0", "c_1/{:05d}.jpg 2 0 0 3"]
    (d / f"{prefix}_test.json").write_text(json.dumps([{"vid_name": "c_1", "label": 48}]))
    with pytest.raises(AnnotationError, match="entry 0 \\(c_1\\): label 48 outside"):
        diving48_splits(d, tmp_path / "out", version=version, mode="frames", frames_root=str(frames))


def test_diving48_video_mode_needs_videos_root(tmp_path):
    d = tmp_path / "ann"
    d.mkdir()
    for split in ("train", "test"):
        (d / f"Diving48_V2_{split}.json").write_text(json.dumps([{"vid_name": "x", "label": 1}]))
    with pytest.raises(ValueError, match="video mode needs --videos-root"):
        diving48_splits(d, tmp_path / "out")
    make_video(tmp_path / "rgb" / "x.mp4", frames=2)
    written = diving48_splits(d, tmp_path / "out", videos_root=str(tmp_path / "rgb"))
    assert lines(written["test"]) == ["0", "x.mp4 0 1 0 1 32 24"]


# ---------------------------------------------------------------- CATER


def test_cater_multilabel_task_lists(tmp_path):
    d = tmp_path / "lists" / "actions_present"
    d.mkdir(parents=True)
    (d / "train.txt").write_text(
        "CATER_new_005000.avi 3,17\n".replace("17", "13") + "CATER_new_000007.avi 0\n"
    )
    (d / "val.txt").write_text("CATER_new_000009.avi 1,2,2\n")
    written = cater_splits(d, tmp_path / "out", task=1)
    assert lines(written["train"]) == [
        "14",
        "CATER_new_005000/{:05d}.jpg 5000 3,13 0 300",
        "CATER_new_000007/{:05d}.jpg 7 0 0 300",
    ]
    val = read_split_file(written["val"])
    assert val.num_classes == 14 and val.rows[0].label == (1, 2)
    t2 = cater_splits(d, tmp_path / "out2", task=2, mode="gulp")
    assert lines(t2["train"])[:2] == ["301", "CATER_new_005000 5000 3,13 0 300"]
    (d / "val.txt").write_text("CATER_new_000009.avi 1,14\n")
    with pytest.raises(AnnotationError, match=r"val\.txt:1: labels '1,14' must be in 0\.\.13"):
        cater_splits(d, tmp_path / "out", task=1)


# ---------------------------------------------------------------- ImageNet


def test_imagenet_class_folders_and_flat_val(tmp_path):
    root = tmp_path / "imagenet"
    for wnid, files in (("n01440764", ["a.JPEG", "b.JPEG"]), ("n01443537", ["c.JPEG"])):
        for f in files:
            make_frames(root / "train" / wnid, 1, fmt=f.replace("{", ""))
    (root / "val").mkdir()
    sol = tmp_path / "LOC_val_solution.csv"
    sol.write_text(
        "ImageId,PredictionString\nILSVRC2012_val_00000002,n01443537 1 2 3 4\n"
        "ILSVRC2012_val_00000001,n01440764 5 6 7 8 n01440764 1 1 1 1\n"
    )
    written = imagenet_splits(root, tmp_path / "out", val_solution=sol)
    assert lines(written["train"]) == [
        "0",
        "train/n01440764/a.JPEG 0 0",
        "train/n01440764/b.JPEG 1 0",
        "train/n01443537/c.JPEG 2 1",
    ]
    assert lines(written["val"]) == [
        "0",
        "val/ILSVRC2012_val_00000001.JPEG 3 0",
        "val/ILSVRC2012_val_00000002.JPEG 4 1",
    ]
    assert read_split_file(written["val"]).fmt == "image"
    (root / "val" / "n01443537").mkdir()
    make_frames(root / "val" / "n01443537", 1, fmt="v.JPEG")
    folders = imagenet_splits(root, tmp_path / "out2")
    assert lines(folders["val"]) == ["0", "val/n01443537/v.JPEG 3 1"]


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
