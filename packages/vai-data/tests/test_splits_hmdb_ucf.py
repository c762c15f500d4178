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


@pytest.mark.parametrize("first,n", [(1, 150), (1, 10), (0, 150), (1, 9)])
def test_probe_unpadded_frame_numbers_keep_every_frame(tmp_path, first, n):
    # ffmpeg's %d.jpg: 1.jpg ... 150.jpg; grouping by digit count kept only 10..99
    info = probe_frame_folder(make_frames(tmp_path / "f", n, first=first, fmt="{:d}.jpg"))
    assert (info.num_frames, info.first, info.pattern) == (n, first, "{:d}.jpg")
    prefixed = probe_frame_folder(make_frames(tmp_path / "p", n, first=first, fmt="img_{:d}.jpg"))
    assert (prefixed.num_frames, prefixed.first, prefixed.pattern) == (n, first, "img_{:d}.jpg")


def test_probe_padded_numbers_that_outgrow_their_padding(tmp_path):
    # {:02d} over 0..100 writes 00 ... 99 and then 100
    info = probe_frame_folder(make_frames(tmp_path / "f", 101, fmt="{:02d}.jpg"))
    assert (info.num_frames, info.first, info.pattern) == (101, 0, "{:02d}.jpg")


def test_unpadded_pattern_reads_back_the_right_files(tmp_path):
    from vai_data.frame_sources import FrameFolderSource

    write_hmdb_lists(tmp_path / "lists")
    frames = tmp_path / "frames"
    for name in ("brush_hair/b1", "brush_hair/b2", "cartwheel/c1", "cartwheel/c2"):
        make_frames(frames / name, 12, first=1, fmt="{:d}.jpg")
    written = hmdb51_splits(tmp_path / "lists", tmp_path / "out", "frames", [1], frames_root=str(frames))
    row = read_split_file(written["train1"]).rows[0]
    assert (row.path, row.start, row.end) == ("brush_hair/b1/{:d}.jpg", 1, 12)
    source = FrameFolderSource(str(frames / row.path), row.start, row.end)
    clip = source.read_array([0, 9, 11])  # files 1.jpg, 10.jpg, 12.jpg: red = 10 * number
    assert [round(float(clip[i, ..., 0].mean()) / 10) for i in range(3)] == [1, 10, 12]


def test_probe_prefers_rgb_frames_over_flow(tmp_path):
    folder = tmp_path / "tie"
    for fmt in ("img_{:05d}.jpg", "flow_x_{:05d}.jpg", "flow_y_{:05d}.jpg"):
        make_frames(folder, 5, first=1, fmt=fmt)
    assert probe_frame_folder(folder).pattern == "img_{:05d}.jpg"
    make_frames(folder, 6, first=1, fmt="x_{:05d}.jpg")  # more flow files than RGB ones
    make_frames(folder, 6, first=1, fmt="flow_x_{:05d}.jpg")
    info = probe_frame_folder(folder)
    assert (info.pattern, info.first, info.num_frames) == ("img_{:05d}.jpg", 1, 5)


def test_probe_refuses_an_unbreakable_tie_and_gaps(tmp_path):
    tie = tmp_path / "tie"
    make_frames(tie, 3, fmt="a_{:05d}.jpg")
    make_frames(tie, 3, fmt="b_{:05d}.jpg")
    with pytest.raises(ValueError, match=r"tie holds 2 numbered sequences of 3 files \(a_\{:05d\}\.jpg, b_"):
        probe_frame_folder(tie)
    gap = make_frames(tmp_path / "gap", 10)
    (gap / "00004.jpg").unlink()
    with pytest.raises(
        ValueError, match=r"gap: \{:05d\}\.jpg numbers 0\.\.9 lack 1 file\(s\), the first 00004\.jpg"
    ):
        probe_frame_folder(gap)


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


# clips in the order of upstream's hmdb_videos_list.txt (video_datasets_api), which `find | sort` made in
# an en_US.UTF-8 locale: case and punctuation ignored first, numbers compared with the .avi that followed
UPSTREAM_ORDER = [
    "brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0",
    "brush_hair/atempting_to_brush_my_hair_brush_hair_u_nm_np2_le_goo_0",
    "brush_hair/Aussie_Brunette_Brushing_Hair_II_brush_hair_u_nm_np1_ba_goo_4",
    "brush_hair/brushing_hair_2_brush_hair_h_nm_np1_ba_med_0",
    "brush_hair/brushing_hair_brush_hair_f_nm_np2_ri_goo_3",
    "brush_hair/Brushing_hair__the_right_way_brush_hair_u_nm_np1_fr_goo_0",
    "brush_hair/brush_my_hair_without_wearing_the_glasses_brush_hair_u_nm_np1_fr_goo_0",
    "shoot_bow/ArcheryFastShooting_shoot_bow_u_nm_np1_fr_med_0",
    "shoot_bow/ArcheryFastShooting_shoot_bow_u_nm_np1_fr_med_10",
    "shoot_bow/ArcheryFastShooting_shoot_bow_u_nm_np1_fr_med_19",
    "shoot_bow/ArcheryFastShooting_shoot_bow_u_nm_np1_fr_med_1",
    "shoot_bow/ArcheryFastShooting_shoot_bow_u_nm_np1_fr_med_20",
    "shoot_bow/ArcheryFastShooting_shoot_bow_u_nm_np1_fr_med_2",
    "sit/TrumanShow_sit_u_nm_np1_fr_med_14",
    "situp/5_Min_Tone_Abs_Workout_2__Fitness_Training_w__Tammy_situp_f_nm_np1_fr_goo_2",
    "situp/situps_situp_f_nm_np1_le_med_0",
    "situp/Sit_ups_situp_f_nm_np1_ri_goo_0",
    "situp/situps_situp_f_nm_np1_ri_med_3",
    "situp/Waschbrettbauch_I-__bung_von_fitness_com_situp_f_nm_np1_ba_goo_0",
    "sit/Veoh_Alpha_Dog_2_sit_f_nm_np1_fr_med_0",
    "smile/My_smileEh_smile_h_nm_np1_fr_goo_0",
    "smile/my_smile_smile_h_cm_np1_fr_goo_0",
    "smile/MySmile_smile_h_nm_np1_fr_goo_0",
    "smile/Re-_Re-_Show_your_Smile!_smile_h_nm_np1_fr_med_0",
    "smile/Re-_Show_your_Smile!_10_smile_h_nm_np1_fr_goo_0",
    "smile/Re-_Show_your_Smile!_1_smile_h_nm_np1_fr_goo_0",
    "smile/Re-_Show_your_Smile!_smile_h_nm_np1_fr_goo_0",
    "smile/Re-_Show_Your_Smile_smile_h_nm_np1_fr_goo_0",
    "smile/Smile!_smile_h_cm_np1_fr_goo_0",
    "smile/Smile_smile_h_cm_np1_fr_goo_0",
    "smile/Smile_-]_smile_h_nm_np1_fr_goo_0",
    "somersault/Bodenk_r_somersault_f_cm_np1_ri_med_1",
    "somersault/Boden-K_r_somersault_f_cm_np1_ri_med_1",
    "somersault/Bodenk_r_somersault_f_cm_np1_ri_med_2",
    "somersault/Boden-K_r_somersault_f_cm_np1_ri_med_2",
    "somersault/_Jumper_Boys___Pedrim_Naruto_-_Dive_Roll_Over_13_People_somersault_f_cm_np1_ri_bad_0",
    "somersault/Kristina_Goryunova_-_Floor_Exercise_-_2009_Tyson_American_Cu_somersault_f_cm_np1_le_med_1",
]


def test_hmdb_video_ids_follow_upstream_sort_order():
    import random

    from vai_data.splits.hmdb import hmdb_video_ids

    names = [f"{n}.avi" for n in UPSTREAM_ORDER]
    random.Random(0).shuffle(names)
    ids = hmdb_video_ids(set(names))
    assert sorted(ids, key=ids.get) == [f"{n}.avi" for n in UPSTREAM_ORDER]


def test_hmdb_video_ids_in_generated_splits_ignore_case(tmp_path):
    d = tmp_path / "lists"
    d.mkdir()
    (d / "brush_hair_test_split1.txt").write_text("Aussie_z.avi 1\natempting_y.avi 2\nApril_09_x.avi 0\n")
    (d / "cartwheel_test_split1.txt").write_text("c1.avi 2\n")
    for name in ("brush_hair/Aussie_z", "brush_hair/atempting_y", "cartwheel/c1"):
        make_frames(tmp_path / "frames" / name, 2)
    written = hmdb51_splits(d, tmp_path / "out", "gulp", [1], frames_root=str(tmp_path / "frames"))
    assert lines(written["train1"]) == ["0", "brush_hair/Aussie_z 2 0 0 1"]  # byte order gave 1
    assert lines(written["test1"]) == ["0", "brush_hair/atempting_y 1 0 0 1", "cartwheel/c1 3 1 0 1"]


def test_hmdb_video_list_numbers_clips_by_line(tmp_path, caplog):
    from vai_data.cli import main

    write_hmdb_lists(tmp_path / "lists")
    for name in ("brush_hair/b1", "brush_hair/b2", "cartwheel/c1", "cartwheel/c2"):
        make_frames(tmp_path / "frames" / name, 2)
    video_list = tmp_path / "hmdb_videos_list.txt"
    video_list.write_text("cartwheel/c2\nbrush_hair/b3\nbrush_hair/b1.avi\ncartwheel/c1\nbrush_hair/b2\n")
    kw = dict(frames_root=str(tmp_path / "frames"), video_list=video_list)
    written = hmdb51_splits(tmp_path / "lists", tmp_path / "out", "gulp", [1], **kw)
    assert lines(written["train1"]) == ["0", "brush_hair/b1 2 0 0 1", "cartwheel/c2 0 1 0 1"]
    assert lines(written["test1"]) == ["0", "brush_hair/b2 4 0 0 1", "cartwheel/c1 3 1 0 1"]
    video_list.write_text("cartwheel/c2\nbrush_hair/b3\nbrush_hair/b1\nbrush_hair/b2\n")
    with pytest.raises(
        AnnotationError, match=r"list\.txt: has no line for 1 clip\(s\) .*e\.g\. cartwheel/c1;"
    ):
        hmdb51_splits(tmp_path / "lists", tmp_path / "out", "gulp", [1], **kw)
    video_list.write_text("cartwheel/c2\nbrush_hair/b3\nbrush_hair/b1\nbrush_hair/b3\n")
    argv = ["splits", "hmdb51", str(tmp_path / "lists"), "-o", str(tmp_path / "o"), "--splits", "1"]
    assert main(argv + ["--frames-root", str(tmp_path / "frames"), "--video-list", str(video_list)]) == 1
    assert "hmdb_videos_list.txt:4: brush_hair/b3 is listed twice (first at line 2)" in caplog.text


# ---------------------------------------------------------------- UCF-101


UCF_CLIPS = (  # the official layout: folder HandstandPushups, files v_HandStandPushups_...
    "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01",
    "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c02",
    "Archery/v_Archery_g01_c01",
    "HandstandPushups/v_HandStandPushups_g01_c01",
    "HandstandPushups/v_HandStandPushups_g08_c01",
)


def _ucf_lists(d, class_ind="1 ApplyEyeMakeup\n2 Archery\n3 HandstandPushups\n"):
    d.mkdir(exist_ok=True)
    (d / "classInd.txt").write_text(class_ind)
    (d / "trainlist01.txt").write_text(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\nArchery/v_Archery_g01_c01.avi 2\n"
        "HandstandPushups/v_HandStandPushups_g08_c01.avi 3\n"
    )
    (d / "testlist01.txt").write_text(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c02.avi\nHandstandPushups/v_HandStandPushups_g01_c01.avi\n"
    )
    return d


def test_ucf101_video_ids_number_the_frame_folders_as_upstream(tmp_path):
    # upstream: get_unique_video_ids_from_videos(frames_root, search_dirs=True) walks the tree top-down with
    # sorted folder names, numbering all folders of a parent before entering the first of them. By hand:
    # ApplyEyeMakeup 0, Archery 1, HandstandPushups 2, then ApplyEyeMakeup's clips 3 and 4, Archery's
    # clip 5, the folder inside it 6, then HandstandPushups' clips 7 and 8.
    d = _ucf_lists(tmp_path / "ucfTrainTestlist")
    frames = tmp_path / "frames"
    for i, name in enumerate(UCF_CLIPS):
        make_frames(frames / name, 2 + i)
    (frames / "Archery/v_Archery_g01_c01/flow").mkdir()  # a folder in a clip folder takes a number too
    written = ucf101_splits(d, tmp_path / "out", splits=[1], frames_root=str(frames))
    assert lines(written["train1"]) == [
        "0",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01/{:05d}.jpg 3 0 0 1",
        "Archery/v_Archery_g01_c01/{:05d}.jpg 5 1 0 3",
        "HandstandPushups/v_HandStandPushups_g08_c01/{:05d}.jpg 8 2 0 5",
    ]
    assert lines(written["test1"]) == [
        "0",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c02/{:05d}.jpg 4 0 0 2",
        "HandstandPushups/v_HandStandPushups_g01_c01/{:05d}.jpg 7 2 0 4",
    ]


def upstream_ucf_ids(root):
    """Upstream's get_unique_video_ids_from_videos(root, search_dirs=True), restated: {<dir>.avi: id}."""
    import os

    ids, base = {}, os.path.join(str(root), "")
    for parent, dirs, _ in os.walk(base):
        dirs.sort()
        for name in dirs:
            ids[os.path.join(parent.replace(base, ""), name) + ".avi"] = len(ids)
    return ids


def test_ucf101_video_and_gulp_ids_match_upstream_on_the_extracted_frames(tmp_path):
    from vai_data.gulp import write_gulp_directory

    d = _ucf_lists(tmp_path / "ucfTrainTestlist")
    videos, frames = tmp_path / "UCF-101", tmp_path / "frames"
    for name in UCF_CLIPS:
        make_video(videos / f"{name}.avi", frames=3)
        make_frames(frames / name, 3)
    expected = upstream_ucf_ids(frames)  # the frames extract-frames makes of these videos
    assert expected["Archery/v_Archery_g01_c01.avi"] == 5
    by_video = ucf101_splits(d, tmp_path / "v", "video", [1], videos_root=str(videos))
    rows = read_split_file(by_video["train1"]).rows + read_split_file(by_video["test1"]).rows
    assert len(rows) == 5 and all(r.video_id == expected[r.path] for r in rows)
    assert lines(by_video["train1"])[1] == "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 3 0 0 2 32 24"
    jpeg = (make_frames(tmp_path / "one", 1) / "00000.jpg").read_bytes()
    write_gulp_directory(str(tmp_path / "gulp"), {name: [jpeg] * 2 for name in UCF_CLIPS})
    by_gulp = ucf101_splits(d, tmp_path / "g", "gulp", [1], gulp_root=str(tmp_path / "gulp"))
    rows = read_split_file(by_gulp["train1"]).rows + read_split_file(by_gulp["test1"]).rows
    assert len(rows) == 5 and all(r.video_id == expected[r.path + ".avi"] for r in rows)


def test_ucf101_missing_folders_and_class_case(tmp_path, caplog):
    d = _ucf_lists(tmp_path / "ucfTrainTestlist", "1 ApplyEyeMakeup\n2 Archery\n3 HandStandPushups\n")
    frames = tmp_path / "frames"
    for name in UCF_CLIPS[:3] + UCF_CLIPS[4:]:  # HandStandPushups_g01_c01 not extracted
        make_frames(frames / name, 2)
    written = ucf101_splits(d, tmp_path / "out", splits=[1], frames_root=str(frames))
    # classInd's HandStandPushups matches the folder HandstandPushups case-insensitively: label 2
    assert lines(written["train1"])[3] == "HandstandPushups/v_HandStandPushups_g08_c01/{:05d}.jpg 6 2 0 1"
    assert lines(written["test1"]) == ["0", "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c02/{:05d}.jpg 4 0 0 1"]
    assert (
        "UCF-101 test1: 1 of 2 listed clips not found (e.g. no HandstandPushups/v_HandStandPushups_g01_c01 in --frames-root"
        in caplog.text
    )
    with pytest.raises(
        FileNotFoundError, match=r"UCF-101 train1: none of the 3 listed clips .*check --frames-root"
    ):
        ucf101_splits(d, tmp_path / "out", splits=[1], frames_root=str(make_frames(tmp_path / "one", 1)))
    (d / "trainlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 2\n")
    with pytest.raises(AnnotationError, match=r"trainlist01\.txt:1: index 2 disagrees"):
        ucf101_splits(d, tmp_path / "out", splits=[1], frames_root=str(frames))
