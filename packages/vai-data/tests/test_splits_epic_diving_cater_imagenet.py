"""EPIC-Kitchens-55/100, Diving48, CATER and ImageNet split generators, on tiny fake annotation files in each dataset's official format."""

from __future__ import annotations

import json

import pytest
from vai_data.split_file import read_split_file
from vai_data.splits import (
    AnnotationError,
    cater_splits,
    diving48_splits,
    epic55_verb_splits,
    epic100_verb_splits,
    imagenet_splits,
)
from vai_data_test_media import lines, make_frames, make_video

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
    assert "classes" not in written  # no vocabulary file: no classes.txt (a WARNING says so)
    vocab = [["Back", "15som", "05Twis", "FREE"]] + [
        ["Inward", f"{i}som", "NoTwis", "TUCK"] for i in range(47)
    ]
    (d / "Diving48_vocab.json").write_text(json.dumps(vocab))
    written = diving48_splits(d, tmp_path / "out", version=version, mode="frames", frames_root=str(frames))
    names = lines(written["classes"])
    assert (
        len(names) == 48 and names[0] == "Back 15som 05Twis FREE" and names[47] == "Inward 46som NoTwis TUCK"
    )
    (d / "Diving48_vocab.json").write_text(json.dumps(vocab[:47]))
    with pytest.raises(AnnotationError, match=r"Diving48_vocab\.json: expected a JSON list of 48"):
        diving48_splits(d, tmp_path / "out", version=version, mode="frames", frames_root=str(frames))
    (d / "Diving48_vocab.json").unlink()
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
    classes = lines(written["classes"])  # named from the class definitions of CATER's generator
    assert len(classes) == 14 and classes[:3] == ["sphere_slide", "sphere_pick_place", "spl_slide"]
    assert classes[11] == "cone_contain"
    t2 = cater_splits(d, tmp_path / "out2", task=2, mode="gulp")
    assert lines(t2["train"])[:2] == ["301", "CATER_new_005000 5000 3,13 0 300"]
    pairs = lines(t2["classes"])  # "A before B" and "B after A" are one class
    assert len(pairs) == len(set(pairs)) == 301
    assert pairs[:3] == [
        "sphere_slide before sphere_slide",
        "sphere_slide during sphere_slide",
        "sphere_slide before sphere_pick_place",
    ]
    assert (
        "sphere_slide after sphere_slide" not in pairs and "sphere_pick_place after sphere_slide" not in pairs
    )
    assert "classes" not in cater_splits(d, tmp_path / "out3", task=1, num_classes=20)  # names would not fit
    (d / "val.txt").write_text("CATER_new_000009.avi 1,14\n")
    with pytest.raises(
        AnnotationError, match=r"val\.txt:1: labels '1,14' must be in 0\.\.13 \(task 1 has 14 cl"
    ):
        cater_splits(d, tmp_path / "out", task=1)  # a task 2 list read as task 1: the hint says --task 2
    (d / "val.txt").write_text("CATER_new_000009.avi 1,400\n")
    with pytest.raises(AnnotationError, match=r"labels '1,400' must be in 0\.\.13$"):
        cater_splits(d, tmp_path / "out", task=1)  # out of range for task 2 too: no hint


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
