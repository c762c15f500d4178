import hashlib
import json
import os

import numpy as np
import pytest
from vai_data import SYNTH_CLASSES, make_synthetic_dataset, read_frames, read_split_file
from vai_data.synth import MARKER, render_video


def test_layout_and_splits(synth_root):
    assert json.load(open(os.path.join(synth_root, "classes.json"))) == SYNTH_CLASSES
    train = read_split_file(os.path.join(synth_root, "splits", "train.csv"))
    val = read_split_file(os.path.join(synth_root, "splits", "val.csv"))
    assert train.fmt == "video" and len(train) + len(val) == 16 and len(val) >= 1
    assert not {r.video_id for r in train.rows} & {r.video_id for r in val.rows}
    r = train.rows[0]
    assert r.path == f"videos/{r.video_id}.mp4" and (r.start, r.end, r.width, r.height) == (0, 7, 32, 32)
    frames = read_split_file(os.path.join(synth_root, "splits", "val_frames.csv"))
    assert frames.fmt == "frames" and frames.rows[0].path == f"frames/{frames.rows[0].video_id}/{{:05d}}.jpg"
    assert os.path.isfile(os.path.join(synth_root, "frames", str(frames.rows[0].video_id), "00007.jpg"))
    clip = read_frames(os.path.join(synth_root, r.path), list(range(8)))
    assert clip.shape == (8, 32, 32, 3)


def test_deterministic_and_independent_of_count():
    a = render_video(2, 6, (32, 32), np.random.default_rng([5, 1]))
    b = render_video(2, 6, (32, 32), np.random.default_rng([5, 1]))
    assert np.array_equal(a, b)


def test_encoding_is_reproducible(tmp_path):
    """The same frames always give the same mp4 bytes (x264's macroblock tree made about 1 video in 9
    differ between encodes, so regenerated datasets and the demo's accuracy differed)."""
    from vai_data.synth import write_mp4

    digests = []
    for rep in range(2):
        h = hashlib.md5()
        for vid in range(40):
            path = tmp_path / f"{rep}_{vid}.mp4"
            write_mp4(str(path), render_video(vid % 8, 16, (48, 48), np.random.default_rng([0, vid])))
            h.update(path.read_bytes())
        digests.append(h.hexdigest())
    assert digests[0] == digests[1]


def test_needs_motion_single_frame_statistics_do_not_tell_class():
    # first frames of "moving_left" and "moving_right" share the same distribution of object positions
    rng = np.random.default_rng(0)
    first_x = {0: [], 1: []}
    for label in (0, 1):
        for _ in range(40):
            v = render_video(label, 6, (32, 32), np.random.default_rng(rng.integers(1 << 30)))
            diff = np.abs(v[-1].astype(int) - v[0].astype(int)).sum()
            assert diff > 0  # something moves
            bright = v[0].max(-1) > 150
            first_x[label].append(np.nonzero(bright)[1].mean() if bright.any() else 16)
    assert abs(np.mean(first_x[0]) - np.mean(first_x[1])) < 32 * 0.45


def test_reuse_and_regenerate_half_written(tmp_path):
    root = tmp_path / "d"
    make_synthetic_dataset(root, num_videos=8, num_frames=4, size=(16, 16), seed=1)
    assert (root / MARKER).exists()
    mtime = (root / "splits" / "train.csv").stat().st_mtime_ns
    make_synthetic_dataset(root, num_videos=8, num_frames=4, size=(16, 16), seed=1)
    assert (root / "splits" / "train.csv").stat().st_mtime_ns == mtime  # reused
    (root / MARKER).unlink()  # simulate an interrupted run
    os.remove(root / "videos" / "0.mp4")
    make_synthetic_dataset(root, num_videos=8, num_frames=4, size=(16, 16), seed=1)
    assert (root / "videos" / "0.mp4").exists() and (root / MARKER).exists()


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="must be even"):
        make_synthetic_dataset(tmp_path, size=(31, 32))
    with pytest.raises(ValueError, match="unknown synthetic format"):
        make_synthetic_dataset(tmp_path, fmt="gif")


def test_cli(tmp_path, capsys):
    from vai_data.cli import main

    rc = main(
        [
            "synth",
            "--out",
            str(tmp_path / "c"),
            "--num-videos",
            "8",
            "--frames",
            "4",
            "--size",
            "16x16",
            "--format",
            "frames",
        ]
    )
    assert rc == 0
    assert "8 videos, 8 classes" in capsys.readouterr().out
    assert (tmp_path / "c" / "splits" / "train_frames.csv").exists()
    assert not (tmp_path / "c" / "videos").exists()


def test_cli_format_defaults_to_video(tmp_path, capsys):
    from vai_data.cli import main

    with pytest.raises(SystemExit) as e:
        main(["synth", "--help"])
    assert e.value.code == 0
    assert "(default video)" in " ".join(capsys.readouterr().out.split())
    out = tmp_path / "d"
    rc = main(["synth", "--out", str(out), "--num-videos", "4", "--frames", "2", "--size", "16x16"])
    assert rc == 0
    assert sorted(os.listdir(out / "splits")) == ["train.csv", "val.csv"]  # no *_frames.csv
    assert (out / "videos").is_dir() and not (out / "frames").exists()


def test_flip_label_map_matches_class_names():
    from vai_data import SYNTH_FLIP_LABEL_MAP

    pairs = {("moving_left", "moving_right"), ("rotating_clockwise", "rotating_anticlockwise")}
    for a, b in SYNTH_FLIP_LABEL_MAP.items():
        assert tuple(sorted((SYNTH_CLASSES[a], SYNTH_CLASSES[b]))) in {tuple(sorted(p)) for p in pairs}
    assert len(SYNTH_FLIP_LABEL_MAP) == 4


def _make_small(out_dir):
    make_synthetic_dataset(out_dir, num_videos=48, num_frames=8, size=(32, 32))


def test_processes_generating_one_dataset_at_once_take_turns(tmp_path):
    """Every rank of a torchrun job builds the demo data on first use: they must not delete each other's
    files (one failed renaming its own half-written video)."""
    import multiprocessing

    ctx = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    procs = [ctx.Process(target=_make_small, args=(str(tmp_path / "synth"),)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert len(os.listdir(tmp_path / "synth" / "videos")) == 48
    rows = read_split_file(str(tmp_path / "synth" / "splits" / "train.csv")).rows
    assert all(os.path.isfile(tmp_path / "synth" / r.path) for r in rows)


def test_other_parameters_replace_a_dataset_with_a_warning(tmp_path, caplog):
    make_synthetic_dataset(tmp_path, num_videos=12, num_frames=4, size=(16, 16))
    with caplog.at_level("WARNING", logger="vai_data.synth"):
        make_synthetic_dataset(tmp_path, num_videos=12, num_frames=6, size=(16, 16))
    assert "other parameters (num_frames 4 -> 6)" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="vai_data.synth"):
        make_synthetic_dataset(tmp_path, num_videos=12, num_frames=6, size=(16, 16))  # reused: quiet
    assert not caplog.text
