"""Frame extraction when things go wrong: write errors, colliding or occupied output folders, dying
workers, the JPEG encoder and non-local paths."""

from __future__ import annotations

import errno
import glob
import io
import logging
import os
import signal
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest
import vai_data.frame_extraction as fe
import vai_data.frame_extraction_tree as fet
from iopath.common.file_io import PathHandler
from PIL import Image, JpegImagePlugin
from vai_data import path_manager
from vai_data.cli import main
from vai_data.frame_extraction import FrameExtractionError, extract_frames, extract_frames_tree
from vai_data.synth import render_video, write_mp4
from vai_data_test_media import JPEG_BACKENDS


def make_video(path, frames: int = 3, seed: int = 0, size=(24, 32)) -> str:
    """A tiny H.264 video of the synthetic dataset (a moving shape on a textured background)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_mp4(str(path), render_video(0, frames, size, np.random.default_rng(seed)))
    return str(path)


def partials(folder) -> list[str]:
    return sorted(p for p in os.listdir(folder) if ".partial-" in p) if os.path.isdir(folder) else []


# --- 1. a failure to write a frame is not a truncated video ----------------------------------------


def _disk_full_for(video_name: str, from_frame: int):
    """An ``open`` for frame_extraction whose files of ``video_name``'s partial folder fail from frame
    ``from_frame`` on as on a full disk: half the bytes land, then ENOSPC."""
    real_open = open

    class FullDisk(io.FileIO):
        def write(self, data):
            super().write(bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fake_open(path, mode="r", *args, **kwargs):
        name = os.path.basename(path)
        in_partial = f"{video_name}.partial-" in os.path.basename(os.path.dirname(path))
        if in_partial and "w" in mode and int(name[:-4]) >= from_frame:
            return FullDisk(path, "w")
        return real_open(path, mode, *args, **kwargs)

    return fake_open


def test_a_write_error_fails_the_video_and_publishes_nothing(tmp_path, monkeypatch, caplog):
    videos, frames = tmp_path / "videos", tmp_path / "frames"
    make_video(videos / "full.mp4", frames=4)
    make_video(videos / "ok.mp4", frames=2, seed=1)
    monkeypatch.setattr(fe, "open", _disk_full_for("full", from_frame=2), raising=False)
    with caplog.at_level(logging.WARNING):
        report = extract_frames_tree(videos, frames, short_side=None)
    assert report.extracted == {"ok.mp4": 2}  # the other video goes on
    error = report.failed["full.mp4"]
    assert "full.mp4: cannot write frame " in error and "00002.jpg" in error
    assert "No space left on device" in error
    assert not (frames / "full").exists() and partials(frames) == []  # no folder that looks done
    assert "keeping them" not in caplog.text and "No space left on device" in caplog.text
    with pytest.raises(FrameExtractionError, match=r"full\.mp4: cannot write frame .*00002\.jpg.*Errno 28"):
        extract_frames(videos / "full.mp4", tmp_path / "one" / "full")
    assert os.listdir(tmp_path / "one") == []  # neither the folder nor its partial one
    monkeypatch.undo()  # space again: the next run extracts it (it was not published as complete)
    again = extract_frames_tree(videos, frames, short_side=None)
    assert again.extracted == {"full.mp4": 4} and again.skipped == ["ok.mp4"]


def test_a_decode_error_after_some_frames_still_keeps_them(tmp_path, monkeypatch, caplog):
    real = fe._rgb_frames

    def stops_after_two(container, short_side):
        for i, rgb in enumerate(real(container, short_side)):
            if i == 2:
                raise ValueError("Invalid data found when processing input")
            yield rgb

    monkeypatch.setattr(fe, "_rgb_frames", stops_after_two)
    with caplog.at_level(logging.WARNING):
        n = extract_frames(make_video(tmp_path / "v.mp4", frames=4), tmp_path / "out", short_side=None)
    assert n == 2 and sorted(os.listdir(tmp_path / "out")) == ["00000.jpg", "00001.jpg"]
    assert "decoding stopped after 2 frames" in caplog.text


# --- 2. output folders that collide, nest or hold other content ------------------------------------


def test_videos_with_the_same_stem_are_refused_before_anything_is_written(tmp_path, caplog):
    videos = tmp_path / "videos"
    make_video(videos / "cls" / "a.mp4")
    make_video(videos / "cls" / "a.mkv", seed=1)
    folder = os.path.join(str(tmp_path / "frames"), "cls", "a")
    with pytest.raises(ValueError, match=rf"videos cls/a\.mkv and cls/a\.mp4 would both be .* {folder} "):
        extract_frames_tree(videos, tmp_path / "frames")
    assert main(["extract-frames", str(videos), str(tmp_path / "frames")]) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "cls/a.mkv and cls/a.mp4" in errors[0] and "\n" not in errors[0]
    assert not (tmp_path / "frames").exists()
    # one kind at a time is fine
    report = extract_frames_tree(videos, tmp_path / "frames", short_side=None, extensions=[".mkv"])
    assert list(report.extracted) == ["cls/a.mkv"]


def test_a_frame_folder_inside_another_videos_is_refused(tmp_path):
    videos = tmp_path / "videos"
    make_video(videos / "a.mp4")
    make_video(videos / "a" / "x.mp4", seed=1)
    make_video(videos / "b" / "y.mp4", seed=2)
    with pytest.raises(
        ValueError, match=r"video a/x\.mp4 would be .*frames/a/x, inside .*frames/a, .* a\.mp4"
    ):
        extract_frames_tree(videos, tmp_path / "frames", workers=2)
    assert not (tmp_path / "frames").exists()


def test_an_output_folder_holding_other_content_is_left_alone(tmp_path, caplog):
    videos, frames = tmp_path / "videos", tmp_path / "frames"
    make_video(videos / "clip.mp4")
    make_video(videos / "empty.mp4", seed=1)
    for d in ("u", "v"):  # optical flow extracted earlier into the same per-video folder
        (frames / "clip" / d).mkdir(parents=True)
        (frames / "clip" / d / "00000.jpg").write_bytes(b"flow")
    (frames / "empty").mkdir()  # an empty folder may be replaced
    with caplog.at_level(logging.WARNING):
        report = extract_frames_tree(videos, frames, short_side=None)
    assert report.extracted == {"empty.mp4": 3} and list(report.failed) == ["clip.mp4"]
    assert "holds other content (u, v); it is left alone" in report.failed["clip.mp4"]
    assert "clip.mp4" in caplog.text
    assert sorted(os.listdir(frames / "clip")) == ["u", "v"]
    assert (frames / "clip" / "u" / "00000.jpg").read_bytes() == b"flow"
    assert partials(frames) == []


def test_extract_frames_replaces_only_its_own_kind_of_folder(tmp_path):
    video = make_video(tmp_path / "v.mp4", frames=2)
    out = tmp_path / "out"
    assert extract_frames(video, out, short_side=None) == 2
    assert extract_frames(video, out, short_side=12) == 2  # a frame folder is re-extracted
    assert Image.open(out / "00000.jpg").size == (16, 12)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FrameExtractionError, match=r"holds other content \(notes\.txt\); it is left alone"):
        extract_frames(video, out, short_side=None)
    assert sorted(os.listdir(out)) == ["00000.jpg", "00001.jpg", "notes.txt"]  # untouched
    (tmp_path / "file").write_text("a file where the folder would go")
    with pytest.raises(FrameExtractionError, match="is not a folder"):
        extract_frames(video, tmp_path / "file")
    assert (tmp_path / "file").read_text() == "a file where the folder would go"
    assert partials(tmp_path) == []


# --- 3. a worker process that dies ------------------------------------------------------------------

_REAL_WRITE_FRAME = fe._write_frame


def _write_frame_with_faults(video_path, path, rgb, quality):
    """In a spawned worker: ``slow.mp4`` writes slowly; ``crash.mp4``'s worker dies by SIGKILL (as the
    OOM killer kills) at its first frame, once ``slow.mp4``'s worker is mid-video."""
    name = os.path.basename(video_path)
    if name == "slow.mp4":
        time.sleep(0.4)
    elif name == "crash.mp4":
        frames_dir = os.path.dirname(os.path.dirname(path))
        deadline = time.monotonic() + 60
        while not glob.glob(os.path.join(frames_dir, "slow.partial-*")) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGKILL)
    _REAL_WRITE_FRAME(video_path, path, rgb, quality)


def _job_with_faults(args):
    """The tree's job, run in a spawned worker with :func:`_write_frame_with_faults` (a monkeypatch in
    the test process would not reach the workers)."""
    fe._write_frame = _write_frame_with_faults
    return fet._job(args)


@pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL")
def test_a_dying_worker_fails_its_video_and_the_others_go_on(tmp_path, monkeypatch, caplog):
    videos, frames = tmp_path / "videos", tmp_path / "frames"
    for i, name in enumerate(("crash", "ok", "slow")):
        make_video(videos / f"{name}.mp4", frames=3, seed=i)
    monkeypatch.setattr(fet, "_job", _job_with_faults)
    with caplog.at_level(logging.WARNING):
        report = extract_frames_tree(videos, frames, short_side=None, workers=2)
    # slow.mp4's worker was terminated when the pool broke: it is not to blame, and went on in a new pool
    assert report.extracted == {"ok.mp4": 3, "slow.mp4": 3}
    assert list(report.failed) == ["crash.mp4"]
    assert "crash.mp4: the worker process died while extracting it (killed" in report.failed["crash.mp4"]
    assert "crash.mp4" in caplog.text
    assert sorted(os.listdir(frames)) == ["ok", "slow"] and len(os.listdir(frames / "slow")) == 3


class _BrokenPool:
    """A ProcessPoolExecutor whose every worker dies at once, leaving nothing to tell which video."""

    created = 0

    def __init__(self, **kwargs):
        type(self).created += 1

    def submit(self, fn, *args):
        future = Future()
        future.set_exception(BrokenProcessPool("A process in the process pool was terminated abruptly"))
        return future

    def shutdown(self, wait=True, cancel_futures=False):
        pass


def test_pools_that_keep_breaking_without_a_culprit_end_the_run_cleanly(tmp_path, monkeypatch):
    for i in range(3):
        make_video(tmp_path / "videos" / f"v{i}.mp4", frames=2, seed=i)
    monkeypatch.setattr(fet, "ProcessPoolExecutor", _BrokenPool)
    _BrokenPool.created = 0
    report = extract_frames_tree(tmp_path / "videos", tmp_path / "frames", workers=2)
    assert _BrokenPool.created == 2  # a second try, then the rest is given up
    assert sorted(report.failed) == ["v0.mp4", "v1.mp4", "v2.mp4"] and not report.extracted
    assert all("died 2 times without a video to blame" in e for e in report.failed.values())


# --- 4. the same JPEG encoding as pack, whatever encoder is installed --------------------------------


@pytest.mark.parametrize("backend", JPEG_BACKENDS)
def test_frames_are_encoded_exactly_as_pack_encodes_them(tmp_path, monkeypatch, backend):
    import vai_data.jpeg as vj
    from vai_data.packing import video_to_jpegs

    if backend == "pillow":
        monkeypatch.setattr(vj, "_simplejpeg", None)
    video = make_video(tmp_path / "v.mp4", frames=2, size=(48, 64))
    assert extract_frames(video, tmp_path / "f", short_side=32, quality=85) == 2
    written = [(tmp_path / "f" / f"{i:05d}.jpg").read_bytes() for i in range(2)]
    assert written == video_to_jpegs(video, short_side=32, quality=85)
    img = Image.open(tmp_path / "f" / "00001.jpg")
    assert img.size == (42, 32) and JpegImagePlugin.get_sampling(img) == 2  # 2: 4:2:0 chroma


# --- 5. paths served by an iopath handler ------------------------------------------------------------


class _LocalPrefixHandler(PathHandler):
    """Serves ``vaiextract://<rel>`` from a local folder, as a user's remote store handler would."""

    PREFIX = "vaiextract://"

    def __init__(self, root):
        super().__init__()
        self.root = root

    def _get_supported_prefixes(self):
        return [self.PREFIX]

    def _get_local_path(self, path, **kwargs):
        return os.path.join(self.root, path[len(self.PREFIX) :])

    def _exists(self, path, **kwargs):
        return os.path.exists(self._get_local_path(path))

    def _isdir(self, path, **kwargs):
        return os.path.isdir(self._get_local_path(path))


def test_folders_behind_an_iopath_handler_are_refused_in_one_line(tmp_path, caplog):
    make_video(tmp_path / "videos" / "x.mp4", frames=2)
    path_manager.register_handler(_LocalPrefixHandler(str(tmp_path)), allow_override=True)
    needs_local = r"is not a local path: frame extraction needs local folders \(copy or mount them first\)"
    with pytest.raises(ValueError, match=r"video folder vaiextract://videos " + needs_local):
        extract_frames_tree("vaiextract://videos", tmp_path / "frames")
    with pytest.raises(ValueError, match=r"output folder vaiextract://frames " + needs_local):
        extract_frames_tree(tmp_path / "videos", "vaiextract://frames")
    with pytest.raises(ValueError, match=needs_local):
        extract_frames("vaiextract://videos/x.mp4", tmp_path / "frames" / "x")
    assert main(["extract-frames", "vaiextract://videos", str(tmp_path / "frames")]) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "frame extraction needs local folders" in errors[0]
    assert sorted(os.listdir(tmp_path)) == ["videos"]  # nothing written
