"""Frame extraction: folder layout, sizes, skipping finished videos, failures reported without stopping."""

from __future__ import annotations

import os
import random
from functools import partial

import numpy as np
import pytest
import vai_data_test_media
from PIL import Image
from vai_data.cli import main
from vai_data.frame_extraction import (
    FrameExtractionError,
    extract_frames,
    extract_frames_tree,
    find_videos,
    remove_stale_partials,
)

# 40x30 videos whose frame i is grey 60*i (the assertions below read those values)
make_video = partial(vai_data_test_media.make_video, width=40, height=30, step=60)


def test_extract_frames_zero_based_and_resized(tmp_path):
    n = extract_frames(
        make_video(tmp_path / "v.mp4", frames=3), tmp_path / "out" / "v", short_side=16, quality=80
    )
    assert n == 3
    assert sorted(os.listdir(tmp_path / "out" / "v")) == ["00000.jpg", "00001.jpg", "00002.jpg"]
    img = Image.open(tmp_path / "out" / "v" / "00002.jpg")
    assert img.size == (21, 16)  # 40x30 -> short side 16, aspect kept
    assert abs(int(np.asarray(img).mean()) - 120) < 10  # frame 2 is grey 120: frames are in order
    assert Image.open(tmp_path / "out" / "v" / "00000.jpg").size == (21, 16)
    full = extract_frames(tmp_path / "v.mp4", tmp_path / "full", short_side=None)
    assert full == 3 and Image.open(tmp_path / "full" / "00000.jpg").size == (40, 30)
    assert not [p for p in os.listdir(tmp_path) if ".partial-" in p]


def test_bad_inputs_raise_one_clear_error(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    # fixed junk: random bytes sometimes probe as an audio-only container (then "no video stream")
    (tmp_path / "junk.mp4").write_bytes(random.Random(0).randbytes(2000))
    with pytest.raises(FrameExtractionError, match=r"empty\.mp4: missing or empty"):
        extract_frames(tmp_path / "empty.mp4", tmp_path / "o1")
    with pytest.raises(
        FrameExtractionError, match=r"junk\.mp4: (not a decodable video|no frame|no video stream)"
    ):
        extract_frames(tmp_path / "junk.mp4", tmp_path / "o2")
    assert not (tmp_path / "o2").exists() and not [p for p in os.listdir(tmp_path) if ".partial-" in p]
    with pytest.raises(ValueError, match="quality"):
        extract_frames(tmp_path / "junk.mp4", tmp_path / "o3", quality=0)


def test_tree_layout_skip_and_failures(tmp_path, caplog):
    videos = tmp_path / "videos"
    make_video(videos / "brush_hair" / "a.avi", frames=2)
    make_video(videos / "cartwheel" / "b.mp4", frames=3)
    (videos / "cartwheel" / "broken.mp4").write_bytes(b"\x00" * 100)
    (videos / "notes.txt").write_text("not a video")
    assert find_videos(videos) == ["brush_hair/a.avi", "cartwheel/b.mp4", "cartwheel/broken.mp4"]
    report = extract_frames_tree(videos, tmp_path / "frames", short_side=16)
    assert report.extracted == {"brush_hair/a.avi": 2, "cartwheel/b.mp4": 3}
    assert list(report.failed) == ["cartwheel/broken.mp4"] and "broken.mp4" in caplog.text
    assert (tmp_path / "frames" / "brush_hair" / "a" / "00001.jpg").is_file()
    again = extract_frames_tree(videos, tmp_path / "frames", short_side=16)
    assert sorted(again.skipped) == ["brush_hair/a.avi", "cartwheel/b.mp4"] and not again.extracted
    assert "failed 1" in again.summary()


def test_workers_pool(tmp_path, monkeypatch):
    import vai_data.frame_extraction_tree as fe

    videos = tmp_path / "videos"
    for i in range(3):
        make_video(videos / f"v{i}.mp4", frames=2)
    (videos / "bad.mp4").write_bytes(b"junk")
    methods = []
    real = fe.ProcessPoolExecutor

    def pool(**kw):
        methods.append(kw["mp_context"].get_start_method())
        return real(**kw)

    monkeypatch.setattr(fe, "ProcessPoolExecutor", pool)
    report = extract_frames_tree(videos, tmp_path / "frames", short_side=16, workers=2)
    assert report.extracted == {f"v{i}.mp4": 2 for i in range(3)}
    assert list(report.failed) == ["bad.mp4"]  # a failing video in a worker is reported, not fatal
    # forked workers inherit the locks of this process's threads and hung on a 16-core machine
    assert methods == ["spawn"]


def test_cli(tmp_path, capsys):
    make_video(tmp_path / "videos" / "x.mp4", frames=2)
    rc = main(["extract-frames", str(tmp_path / "videos"), str(tmp_path / "frames"), "--short-side", "16"])
    assert rc == 0 and "extracted 1 videos (2 frames)" in capsys.readouterr().out
    (tmp_path / "videos" / "bad.mp4").write_bytes(b"junk")
    assert main(["extract-frames", str(tmp_path / "videos"), str(tmp_path / "frames")]) == 1
    assert "skipped 1 done, failed 1" in capsys.readouterr().out
    assert main(["extract-frames", str(tmp_path / "nope"), str(tmp_path / "frames")]) == 1


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(short_side=-5), r"short_side must be a number of pixels >= 0 .*got -5"),
        (dict(quality=0), r"JPEG quality must be an integer in 1\.\.100, got 0"),
        (dict(quality=101), r"got 101"),
        (dict(quality=90.5), r"got 90\.5"),
    ],
)
def test_out_of_range_options_raise_before_any_work(tmp_path, kw, match):
    video = make_video(tmp_path / "videos" / "x.mp4", frames=2)
    with pytest.raises(ValueError, match=match):
        extract_frames(video, tmp_path / "one", **kw)
    with pytest.raises(ValueError, match=match):
        extract_frames_tree(tmp_path / "videos", tmp_path / "tree", **kw)
    with pytest.raises(ValueError, match="workers must be an integer >= 1, got 0"):
        extract_frames_tree(tmp_path / "videos", tmp_path / "tree", workers=0)
    assert sorted(os.listdir(tmp_path)) == ["videos"]  # nothing written


def test_cli_rejects_out_of_range_options_in_one_line(tmp_path, caplog):
    (tmp_path / "videos").mkdir()
    for opt, value, message in (
        ("--short-side", "-5", "--short-side must be a number of pixels >= 0 (0 keeps the size), got -5"),
        ("--quality", "101", "--quality must be in 1..100, got 101"),
        ("--workers", "0", "--workers must be at least 1, got 0"),
    ):
        caplog.clear()
        assert main(["extract-frames", str(tmp_path / "videos"), str(tmp_path / "f"), opt, value]) == 1
        assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [message]
    assert not (tmp_path / "f").exists()


def test_python_m_cli_with_workers(tmp_path):
    """``python -m vai_data extract-frames --workers 2`` end to end, with spawned worker processes."""
    import subprocess
    import sys

    for i in range(2):
        make_video(tmp_path / "videos" / f"v{i}.mp4", frames=2)
    cmd = [sys.executable, "-m", "vai_data", "extract-frames", str(tmp_path / "videos"), str(tmp_path / "f")]
    out = subprocess.run([*cmd, "--workers", "2"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "extracted 2 videos (4 frames)" in out.stdout
    assert sorted(p.name for p in (tmp_path / "f" / "v1").iterdir()) == ["00000.jpg", "00001.jpg"]


@pytest.mark.skipif(os.name != "posix", reason="process checks are POSIX-only")
def test_folders_left_by_killed_extractions_are_removed(tmp_path):
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process that no longer runs, as a SIGKILLed worker
    out = tmp_path / "out" / "v"
    stale = tmp_path / "out" / f"v.partial-{gone.pid}"
    live = tmp_path / "out" / f"v.partial-{os.getppid()}"  # a running process's work in progress
    other = tmp_path / "out" / f"w.partial-{gone.pid}"  # another video's: not this call's business
    for d in (stale, live, other):
        os.makedirs(d)
        (d / "00000.jpg").write_bytes(b"x")
    assert extract_frames(make_video(tmp_path / "v.mp4", frames=2), out, short_side=16) == 2
    assert not stale.exists() and live.exists() and other.exists()
    assert sorted(os.listdir(out)) == ["00000.jpg", "00001.jpg"]
    assert remove_stale_partials(tmp_path / "out" / "w") == [str(other)]
    assert remove_stale_partials(tmp_path / "nowhere" / "v") == []


@pytest.mark.skipif(os.name != "posix", reason="process checks are POSIX-only")
def test_only_this_machines_leftovers_are_judged(tmp_path, monkeypatch):
    """Partial folders are named ``.partial-<host>-<pid>``: on a filesystem shared by several machines, a
    pid that does not run here may run on the machine that wrote the folder, so only this host's go."""
    import subprocess
    import sys

    import vai_data.frame_extraction as fe
    import vai_data.partial_folders as pf

    monkeypatch.setattr(pf, "_HOST", "node_a")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    ours = tmp_path / f"v.partial-node_a-{gone.pid}"
    theirs = tmp_path / f"v.partial-node_b-{gone.pid}"  # in progress on node_b, for all this host knows
    for d in (ours, theirs):
        os.makedirs(d)
    assert remove_stale_partials(tmp_path / "v") == [str(ours)] and theirs.exists()
    out = tmp_path / "w"
    assert extract_frames(make_video(tmp_path / "w.mp4", frames=2), out, short_side=16) == 2
    assert not [p for p in os.listdir(tmp_path) if p.startswith("w.partial-")]
    assert fe.host_tag("gpu-node-12.lab") == "gpu_node_12.lab" and fe.host_tag("") == "localhost"


@pytest.mark.skipif(os.name != "posix", reason="process checks are POSIX-only")
def test_a_tree_sweeps_each_output_folder_once(tmp_path, monkeypatch):
    """Leftovers of killed extractions go, with one listing of each output folder for the whole tree (one
    per video made a flat 220k-video layout list 220k names 220k times)."""
    import subprocess
    import sys

    import vai_data.frame_extraction as fe

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    for i in range(3):
        make_video(tmp_path / "videos" / f"v{i}.mp4", frames=2)
    stale = [tmp_path / "frames" / f"v{i}.partial-{gone.pid}" for i in range(3)]
    for d in stale:
        os.makedirs(d)
    listed = []
    real = os.listdir
    monkeypatch.setattr(fe.os, "listdir", lambda p=".": listed.append(os.fspath(p)) or real(p))
    report = fe.extract_frames_tree(tmp_path / "videos", tmp_path / "frames", short_side=16)
    assert sorted(report.extracted) == ["v0.mp4", "v1.mp4", "v2.mp4"]
    assert not any(d.exists() for d in stale)
    assert listed.count(str(tmp_path / "frames")) == 1
