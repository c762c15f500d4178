"""Bad media roots, options and output folders given to the split generators: one error line (the CLI
exits 1 without a traceback) and no good output file touched; partial misses stay warnings."""

from __future__ import annotations

import json

import pytest
from test_splits_annotation_errors import _cli_error
from vai_data.split_file import read_split_file
from vai_data.splits import (
    diving48_splits,
    epic100_verb_splits,
    imagenet_splits,
    kinetics400_splits,
    something_v1_splits,
    something_v2_splits,
)
from vai_data_test_media import lines, make_frames, make_video

K400_HEADER = "label,youtube_id,time_start,time_end,split\n"


def _ssv2_argv(tmp_path, ann) -> list[str]:
    """``vai-data splits something-v2`` over ``ann`` with videos in ``tmp_path/videos``, out to ``tmp_path/o``."""
    return [
        "splits",
        "something-v2",
        str(ann),
        "-o",
        str(tmp_path / "o"),
        "--videos-root",
        str(tmp_path / "videos"),
    ]


def _kinetics_ann(tmp_path):
    d = tmp_path / "ann"
    d.mkdir()
    (d / "train.csv").write_text(K400_HEADER + "abseiling,abc,10,20,train\nabseiling,def,0,10,train\n")
    (d / "validate.csv").write_text(K400_HEADER + "abseiling,xyz,1,11,val\n")
    return d


def _good_output(out):
    """A folder holding good split files from an earlier run; returns {name: text} to compare after."""
    out.mkdir()
    files = {"train.csv": "0\nold/a.mp4 0 0 0 9 32 24\n", "val.csv": "0\nold/b.mp4 1 0 0 9 32 24\n"}
    for name, text in files.items():
        (out / name).write_text(text)
    return files


def _untouched(out, files) -> bool:
    return sorted(p.name for p in out.iterdir()) == sorted(files) and all(
        (out / n).read_text() == t for n, t in files.items()
    )


# ---------------------------------------------------------------- every clip's media missing


def test_kinetics_wrong_videos_root_is_one_error_and_keeps_good_files(tmp_path, caplog):
    d = _kinetics_ann(tmp_path)
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    good = _good_output(out)
    argv = ["splits", "kinetics400", str(d), "-o", str(out), "--videos-root", str(tmp_path / "empty")]
    message = _cli_error(caplog, argv)
    assert message.startswith("Kinetics train: none of the 2 listed clips has usable media (first: no video")
    assert "abc_000010_000020" in message and "check --videos-root" in message
    assert _untouched(out, good)
    with pytest.raises(FileNotFoundError, match=r"Kinetics train: none of the 2 listed clips"):
        kinetics400_splits(d, out, videos_root=str(tmp_path / "empty"))
    assert _untouched(out, good)


def test_a_split_without_media_is_left_out_and_the_others_are_written(tmp_path, caplog):
    """E.g. Kinetics' labelled val or test list when only train was downloaded: that split is not written
    (its existing file is kept) and the run goes on; only a run where no split has media is an error."""
    d = _kinetics_ann(tmp_path)
    videos = tmp_path / "videos"
    make_video(videos / "abc_000010_000020.mp4", frames=2)  # train: one of two found (a warning)
    out = tmp_path / "out"
    good = _good_output(out)
    written = kinetics400_splits(d, out, videos_root=str(videos))
    assert sorted(written) == ["classes", "train"]
    assert (out / "val.csv").read_text() == good["val.csv"]  # left alone
    assert (out / "train.csv").read_text().splitlines()[1].startswith("abc_000010_000020.mp4 ")
    assert "Kinetics train: 1 of 2 listed clips not found" in caplog.text
    assert "Kinetics val: none of the 1 listed clips has usable media" in caplog.text
    assert "val.csv is not written" in caplog.text


def test_wrong_frames_root_names_the_frames_option(tmp_path, caplog):
    d = tmp_path / "ann"
    d.mkdir()
    for split in ("train", "test"):
        (d / f"Diving48_V2_{split}.json").write_text(json.dumps([{"vid_name": f"{split}_1", "label": 1}]))
    (tmp_path / "frames").mkdir()
    argv = ["splits", "diving48", str(d), "-o", str(tmp_path / "o"), "--mode", "frames"]
    message = _cli_error(caplog, argv + ["--frames-root", str(tmp_path / "frames")])
    assert message.startswith(
        "Diving48 v2 train: none of the 1 listed clips has usable media (first: frame folder"
    )
    assert "train_1 not found" in message and message.endswith("check --frames-root. Nothing was written")
    assert not (tmp_path / "o").exists()


def test_wrong_video_ext_names_the_extension_option(tmp_path, caplog):
    d = _ssv2_ann(tmp_path)
    make_video(tmp_path / "videos" / "78687.mp4", frames=3)  # webm expected by default
    make_video(tmp_path / "videos" / "42.mp4", frames=2)
    argv = _ssv2_argv(tmp_path, d)
    message = _cli_error(caplog, argv)
    assert "SSv2 train: none of the 1 listed clips" in message and "78687.webm not found" in message
    assert message.endswith("check --videos-root / --video-ext. Nothing was written")


# ---------------------------------------------------------------- --video-ext with or without its dot


def _ssv2_ann(tmp_path):
    d = tmp_path / "ann"
    d.mkdir()
    (d / "labels.json").write_text(json.dumps({"Holding something": "0", "Pushing something": "1"}))
    (d / "train.json").write_text(json.dumps([{"id": "78687", "template": "Holding [something]"}]))
    (d / "validation.json").write_text(json.dumps([{"id": "42", "template": "Pushing [something]"}]))
    return d


@pytest.mark.parametrize("ext", ["mp4", ".mp4", " .mp4"])
def test_video_ext_with_or_without_dot(tmp_path, ext):
    d = _ssv2_ann(tmp_path)
    videos = tmp_path / "videos"
    for name in ("78687", "42", "dv_a", "dv_b"):
        make_video(videos / f"{name}.mp4", frames=2)
    written = something_v2_splits(d, tmp_path / "o2", videos_root=str(videos), video_ext=ext)
    assert lines(written["train"]) == ["0", "78687.mp4 78687 0 0 1 32 24"]
    frames = something_v2_splits(d, tmp_path / "of", "frames", videos_root=str(videos), video_ext=ext)
    assert lines(frames["val"]) == ["0", "42/{:05d}.jpg 42 1 0 1"]  # frames counted from 42.mp4
    for split, name in (("train", "dv_a"), ("test", "dv_b")):
        (d / f"Diving48_V2_{split}.json").write_text(
            json.dumps([{"vid_name": name, "label": 2, "start_frame": 0, "end_frame": 1}])
        )
    diving = diving48_splits(d, tmp_path / "od", videos_root=str(videos), video_ext=ext)
    assert lines(diving["test"]) == ["0", "dv_b.mp4 1 2 0 1 32 24"]
    (d / "something-something-v1-labels.csv").write_text("Holding something\n")
    (d / "something-something-v1-train.csv").write_text("78687;Holding something\n")
    (d / "something-something-v1-validation.csv").write_text("42;Holding something\n")
    v1 = something_v1_splits(d, tmp_path / "o1", "video", videos_root=str(videos), video_ext=ext)
    assert lines(v1["val"]) == ["0", "42.mp4 42 0 0 1 32 24"]


def test_empty_video_ext_is_one_error(tmp_path, caplog):
    d = _ssv2_ann(tmp_path)
    (tmp_path / "videos").mkdir()
    argv = _ssv2_argv(tmp_path, d)
    assert (
        _cli_error(caplog, argv + ["--video-ext", "."])
        == "--video-ext '.' is not a file extension; pass e.g. mp4 or .mp4"
    )


# ---------------------------------------------------------------- ImageNet's flat val/


def test_imagenet_flat_val_without_solution_points_to_the_option(tmp_path, caplog):
    root = tmp_path / "imagenet"
    make_frames(root / "train" / "n01440764", 1, fmt="a.JPEG")
    make_frames(root / "val", 2, first=1, fmt="ILSVRC2012_val_{:08d}.JPEG")  # the official flat val/
    out = tmp_path / "out"
    good = _good_output(out)
    message = _cli_error(caplog, ["splits", "imagenet", str(root), "-o", str(out)])
    assert message == (
        f"ImageNet val folder {root / 'val'} holds 2 images but no <wnid>/ class folders (the flat official "
        "val/); pass --val-solution LOC_val_solution.csv to label them"
    )
    assert _untouched(out, good)
    for f in (root / "val").iterdir():
        f.unlink()
    with pytest.raises(ValueError, match=r"val folder .* has no <wnid>/ class folders; pass --val-solution"):
        imagenet_splits(root, out)
    (root / "train" / "n01440764" / "a.JPEG").rename(root / "train" / "a.JPEG")
    with pytest.raises(ValueError, match=r"ImageNet train: the 1 class folders under .* hold no"):
        imagenet_splits(root, out)
    (root / "train" / "n01440764").rmdir()
    with pytest.raises(ValueError, match=r"train folder .* has no <wnid>/ class folders \(1 images lie"):
        imagenet_splits(root, out)
    (root / "train" / "n01440764").mkdir()
    (root / "train" / "a.JPEG").rename(root / "train" / "n01440764" / "a.JPEG")
    missing = _cli_error(
        caplog, ["splits", "imagenet", str(root), "-o", str(out), "--val-solution", str(root)]
    )
    assert "LOC_val_solution.csv not found at" in missing
    assert _untouched(out, good)


# ---------------------------------------------------------------- EPIC --frame-template


def _epic_dir(tmp_path):
    d = tmp_path / "ann"
    d.mkdir()
    head = "narration_id,participant_id,video_id,start_frame,stop_frame,verb_class\n"
    (d / "EPIC_100_train.csv").write_text(head + "P01_01_0,P01,P01_01,8,202,3\n")
    (d / "EPIC_100_validation.csv").write_text(head + "P01_11_0,P01,P01_11,1,113,0\n")
    return d


@pytest.mark.parametrize(
    "template,problem",
    [
        (
            "{participant_id}/{video_id}/frame_{:010d}.jpg",
            "a positional field such as {:010d} in single braces",
        ),
        ("{participant}/{video_id}/frame_{{:010d}}.jpg", "unknown field 'participant'"),
        ("{video_id}/frame_{{:010d}.jpg", "Single '}' encountered in format string"),
        ("{video_id:d}/frame_{{:010d}}.jpg", "Unknown format code 'd'"),
        ("{video_id}/{{number:05d}}.jpg", "unknown frame number field 'number'"),
    ],
)
def test_epic_bad_frame_template_is_one_error(tmp_path, caplog, template, problem):
    d = _epic_dir(tmp_path)
    argv = [
        "splits",
        "epic100",
        str(d),
        "-o",
        str(tmp_path / "o"),
        "--mode",
        "frames",
        "--frame-template",
        template,
    ]
    message = _cli_error(caplog, argv)
    assert message.startswith(f"--frame-template {template!r}: {problem}")
    assert "allowed fields are {participant_id} and {video_id}" in message
    assert "frame number must be written with doubled braces" in message
    with pytest.raises(ValueError, match="allowed fields are"):
        epic100_verb_splits(d, tmp_path / "o", "frames", template)
    assert not (tmp_path / "o").exists()


def test_epic_frame_template_without_frame_number_and_good_ones(tmp_path):
    d = _epic_dir(tmp_path)
    with pytest.raises(ValueError, match=r"'\{video_id\}/x\.jpg' has no frame number field"):
        epic100_verb_splits(d, tmp_path / "o", "frames", "{video_id}/x.jpg")
    named = epic100_verb_splits(d, tmp_path / "o", "frames", "{video_id}/{{frame:06d}}.jpg")
    assert lines(named["train"])[1] == "P01_01/{frame:06d}.jpg 0 3 8 202"


# ---------------------------------------------------------------- output folder and other file-system errors


def test_out_dir_that_is_a_file_is_one_error(tmp_path, caplog):
    d = tmp_path / "lists"
    d.mkdir()
    (d / "train.txt").write_text("CATER_new_000001.avi 2\n")
    out = tmp_path / "splits.csv"
    out.write_text("keep me\n")
    for target in (out, out / "sub"):
        message = _cli_error(caplog, ["splits", "cater", str(d), "-o", str(target)])
        assert (
            message
            == f"-o/--out-dir {target}: {out} is a file, not a folder; pass a folder for the split files"
        )
    assert out.read_text() == "keep me\n"
    from vai_data.splits import cater_splits

    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        cater_splits(d, out)


def test_other_file_system_errors_are_one_line(tmp_path, caplog):
    from vai_data_test_media import write_hmdb_lists

    write_hmdb_lists(tmp_path / "lists")
    make_frames(tmp_path / "frames" / "brush_hair" / "b1", 2)
    argv = ["splits", "hmdb51", str(tmp_path / "lists"), "-o", str(tmp_path / "o"), "--splits", "1"]
    argv += ["--frames-root", str(tmp_path / "frames"), "--video-list", str(tmp_path)]  # a folder, not a file
    assert "Is a directory" in _cli_error(caplog, argv)


# ---------------------------------------------------------------- Kinetics: one clip name in several places


def test_kinetics_duplicates_prefer_the_replacement_copy(tmp_path, caplog):
    d = tmp_path / "ann"
    d.mkdir()
    (d / "train.csv").write_text(
        K400_HEADER + "abseiling,abc,10,20,train\nabseiling,def,0,10,train\nabseiling,ghi,0,10,train\n"
    )
    videos = tmp_path / "k400"  # the CVDF mirror's replacement folder beside class folders
    make_video(videos / "abseiling" / "abc_000010_000020.mp4", frames=2)  # corrupted original, sorts first
    make_video(videos / "replacement" / "replacement_for_corrupted_k400" / "abc_000010_000020.mp4", frames=4)
    make_video(videos / "train" / "def_000000_000010.mp4", frames=3)
    make_video(videos / "b_copy" / "def_000000_000010.mp4", frames=5)  # no replacement: sorted path order
    make_video(videos / "train" / "ghi_000000_000010.mp4", frames=2)
    written = kinetics400_splits(d, tmp_path / "out", videos_root=str(videos))
    assert lines(written["train"])[1:] == [
        "replacement/replacement_for_corrupted_k400/abc_000010_000020.mp4 0 0 0 3 32 24",
        "b_copy/def_000000_000010.mp4 1 0 0 4 32 24",
        "train/ghi_000000_000010.mp4 2 0 0 1 32 24",
    ]
    warnings = [r.getMessage() for r in caplog.records if "more than once" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].startswith("Kinetics: 2 listed clip name(s) exist more than once under")
    assert (
        "(e.g. abc_000010_000020: replacement/replacement_for_corrupted_k400/abc_000010_000020.mp4, "
        "not abseiling/abc_000010_000020.mp4)" in warnings[0]
    )


def test_kinetics_duplicate_frame_folders_are_chosen_the_same_way(tmp_path):
    d = tmp_path / "ann"
    d.mkdir()
    (d / "train.csv").write_text(K400_HEADER + "abseiling,abc,10,20,train\n")
    frames = tmp_path / "frames"
    make_frames(frames / "abseiling" / "abc_000010_000020", 2)
    make_frames(frames / "replacement_for_corrupted_k400" / "abc_000010_000020", 3)
    written = kinetics400_splits(d, tmp_path / "out", "frames", frames_root=str(frames))
    row = read_split_file(written["train"]).rows[0]
    assert (row.path, row.end) == ("replacement_for_corrupted_k400/abc_000010_000020/{:05d}.jpg", 2)
