"""decord's ``get_batch`` seeks to other frames on open GOPs (MPEG-4 Part 2 with B-frames in AVI or mp4, H.264
``open-gop``), MPEG-TS and AVI with codec delay: ``read_frames(backend="decord")`` must still return the
frames asked for (vai hands such files to its PyAV decoder), while ordinary closed-GOP files keep decord's
direct path."""

from __future__ import annotations

import logging

import av
import numpy as np
import pytest
import vai_data.decode as decode
import vai_data.decode_probe as probe
from vai_data import read_frames
from vai_data_test_media import torchcodec_loads

SEEK_FRAMES = 96
SEEK_W, SEEK_H = 64, 32


def _seek_barcode(i: int) -> np.ndarray:
    """Frame ``i`` as a barcode: bit b of i sets the b-th 8-pixel column block white."""
    img = np.zeros((SEEK_H, SEEK_W, 3), np.uint8)
    for b in range(8):
        if (i >> b) & 1:
            img[:, 8 * b : 8 * b + 8] = 255
    return img


def _seek_read_barcode(frame) -> int:
    f = np.asarray(frame, dtype=np.float32).mean(-1)
    return sum(1 << b for b in range(8) if f[4:-4, 8 * b + 2 : 8 * b + 6].mean() > 128)


def _seek_encode(path, codec: str, options: dict, fmt: str | None = None) -> str:
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=25, options=dict(options))
        stream.width, stream.height, stream.pix_fmt = SEEK_W, SEEK_H, "yuv420p"
        for i in range(SEEK_FRAMES):
            for packet in stream.encode(av.VideoFrame.from_ndarray(_seek_barcode(i), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return str(path)


def _seek_truth(path: str) -> list[int]:
    """The barcode of every frame, decoding them all in order."""
    with av.open(path) as c:
        return [_seek_read_barcode(f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]


_X264 = {"g": "24", "bf": "3", "threads": "1"}
_OPEN_GOP = dict(_X264, **{"x264-params": "open-gop=1:scenecut=0:b-adapt=0"})
_MPEG4_B = {"g": "24", "bf": "2", "qscale": "2"}

# name: (codec, options, container format or None, file name)
UNRELIABLE = {
    "mpeg4_bframes_avi": ("mpeg4", _MPEG4_B, None, "a.avi"),  # HMDB / UCF-101 style
    "mpeg4_bframes_mp4": ("mpeg4", _MPEG4_B, None, "a.mp4"),
    "h264_open_gop_mp4": ("libx264", _OPEN_GOP, None, "o.mp4"),
    "h264_open_gop_mkv": ("libx264", _OPEN_GOP, None, "o.mkv"),
    "h264_mpegts": ("libx264", _X264, "mpegts", "t.ts"),
    "h264_avi": ("libx264", _X264, None, "h.avi"),  # first pts 1, start 0
}
RELIABLE = {
    "h264_closed_gop_mp4": ("libx264", _X264, None, "c.mp4"),
    "h264_closed_gop_mkv": ("libx264", _X264, None, "c.mkv"),
    "mpeg4_no_bframes_avi": ("mpeg4", {"g": "24", "qscale": "2"}, None, "n.avi"),
}


@pytest.fixture(scope="module")
def seek_videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("seek_accuracy")
    out = {}
    for name, (codec, options, fmt, fname) in {**UNRELIABLE, **RELIABLE}.items():
        path = _seek_encode(d / fname, codec, options, fmt)
        out[name] = (path, _seek_truth(path))
    return out


def _seek_index_sets(n: int) -> list[list[int]]:
    rng = np.random.default_rng(0)
    sets = [
        [10, 50, 90],
        [5, 33, 53, 62, 65, 80],
        [n - 1],
        [0, n - 1, 200],
        [47, 47, 12, 70],
        list(range(0, n, 7)),
    ]
    sets += [sorted(rng.integers(0, n, 8).tolist()) for _ in range(6)]
    sets += [rng.integers(0, n, 5).tolist() for _ in range(4)]
    return sets


def _seek_check(path: str, truth: list[int], backend: str) -> None:
    n = len(truth)
    for idx in _seek_index_sets(n):
        out = read_frames(path, idx, backend=backend)
        assert out.shape == (len(idx), SEEK_H, SEEK_W, 3)
        got = [_seek_read_barcode(f) for f in out.numpy()]
        assert got == [truth[min(i, n - 1)] for i in idx], (backend, idx)


@pytest.mark.parametrize("backend", ["decord", "pyav"])
@pytest.mark.parametrize("name", list(UNRELIABLE))
def test_files_decord_seeks_wrongly_in_give_the_asked_frames(seek_videos, name, backend):
    path, truth = seek_videos[name]
    assert truth == list(range(SEEK_FRAMES))
    assert probe.seek_probe(path)[0] is not None
    _seek_check(path, truth, backend)


@pytest.mark.parametrize("name", list(RELIABLE))
def test_closed_gop_files_keep_decords_direct_path(seek_videos, name, monkeypatch):
    path, truth = seek_videos[name]
    assert probe.seek_probe(path)[0] is None

    def no_pyav(*args, **kwargs):
        raise AssertionError("went to PyAV")

    monkeypatch.setattr(decode, "_pyav_read", no_pyav)
    _seek_check(path, truth, "decord")


def test_decord_and_pyav_pixels_agree_on_rerouted_files(seek_videos):
    path, _ = seek_videos["mpeg4_bframes_avi"]
    idx = [3, 40, 41, 95]
    a = read_frames(path, idx, "decord").float()
    b = read_frames(path, idx, "pyav").float()
    assert (a - b).abs().mean() < 1.0


def test_verdict_is_probed_once_per_path_and_the_cache_is_bounded(seek_videos, monkeypatch):
    calls = []
    real = probe._probe
    monkeypatch.setattr(probe, "_probe", lambda p: calls.append(p) or real(p))
    monkeypatch.setattr(probe, "_verdicts", {})
    monkeypatch.setattr(probe, "MAX_CACHED", 2)
    closed, _ = seek_videos["h264_closed_gop_mp4"]
    opened, _ = seek_videos["h264_open_gop_mp4"]
    for _ in range(3):
        read_frames(closed, [1, 60], "decord")
        read_frames(opened, [1, 60], "decord")
    assert calls == [closed, opened]
    read_frames(seek_videos["h264_mpegts"][0], [1], "decord")
    assert len(probe._verdicts) == 2 and closed not in probe._verdicts  # the oldest went
    probe.clear_cache()
    assert not probe._verdicts


def test_rerouting_is_logged_once_at_info(seek_videos, monkeypatch, caplog):
    monkeypatch.setattr(probe, "_logged", False)
    with caplog.at_level(logging.DEBUG, logger="vai_data.decode_probe"):
        read_frames(seek_videos["mpeg4_bframes_avi"][0], [60], "decord")
        read_frames(seek_videos["h264_mpegts"][0], [60], "decord")
        read_frames(seek_videos["h264_closed_gop_mp4"][0], [60], "decord")
    records = [r for r in caplog.records if r.name == "vai_data.decode_probe"]
    info = [r for r in records if r.levelno == logging.INFO]
    assert (
        len(info) == 1 and "a.avi" in info[0].getMessage() and "mpeg4 with B-frames" in info[0].getMessage()
    )
    assert len(records) == 2 and "MPEG-TS" in records[1].getMessage()


def test_unreadable_files_are_not_judged(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    assert probe.seek_probe(str(bad))[0] is None  # decord's and PyAV's own errors apply


def test_decord_reads_open_the_file_with_pyav_once_for_the_probe(seek_videos, monkeypatch):
    """The seek probe is the only PyAV open of a file decord reads (it also gives the size the parts of a long
    clip are sized by), with or without a split row's size."""
    path, _ = seek_videos["h264_closed_gop_mp4"]
    monkeypatch.setattr(probe, "_verdicts", {})
    opens = []
    real_open = av.open
    monkeypatch.setattr(av, "open", lambda *a, **k: opens.append(a[0]) or real_open(*a, **k))
    first = read_frames(path, [1, 60], "decord", short_side=SEEK_H // 2)
    assert opens == [path]  # the seek probe, cached: no probe_video
    again = read_frames(path, [1, 60], "decord", short_side=SEEK_H // 2)
    assert opens == [path] and again.equal(first)
    assert probe.seek_probe(path)[:2] == (None, (SEEK_W, SEEK_H))
    hinted = read_frames(path, [1, 60], "decord", short_side=SEEK_H // 2, size_hint=(SEEK_W, SEEK_H))
    assert hinted.equal(first) and first.shape[1] == SEEK_H // 2


@pytest.mark.skipif(not torchcodec_loads(), reason="torchcodec or its FFmpeg libraries are not installed")
@pytest.mark.parametrize("name", list(UNRELIABLE) + list(RELIABLE))
def test_torchcodec_gives_the_asked_frames_on_every_seek_file(seek_videos, name):
    path, truth = seek_videos[name]
    _seek_check(path, truth, "torchcodec")


def test_torchcodec_backend_hands_the_files_it_seeks_wrongly_in_to_pyav(seek_videos, monkeypatch):
    """Without torchcodec installed: a stand-in module records which files reach its VideoDecoder."""
    import sys
    import types

    opened = []

    class Recording:
        def __init__(self, path, **kwargs):
            opened.append(path)
            raise RuntimeError("stand-in: no decoding here")  # -> vai's PyAV fallback

    module = types.ModuleType("torchcodec.decoders")
    module.VideoDecoder = Recording
    monkeypatch.setitem(sys.modules, "torchcodec", types.ModuleType("torchcodec"))
    monkeypatch.setitem(sys.modules, "torchcodec.decoders", module)
    for name in UNRELIABLE:
        path, truth = seek_videos[name]
        got = [_seek_read_barcode(f) for f in read_frames(path, [10, 50, 90], "torchcodec").numpy()]
        assert got == [truth[10], truth[50], truth[90]], name
    assert opened == []
    closed = seek_videos["h264_closed_gop_mp4"][0]
    read_frames(closed, [1], "torchcodec")
    assert opened == [closed]


@pytest.mark.parametrize("backend", ["decord"] + (["torchcodec"] if torchcodec_loads() else []))
def test_inexact_reads_of_files_handed_to_pyav_keep_the_stored_size(seek_videos, backend):
    """exact=False reaches vai's PyAV decoder when decord or torchcodec hand it a file (an open GOP): 64x32
    frames are kept for a short side of 20 (32 < 40) and resized for 16, the frames asked for either way."""
    path, truth = seek_videos["mpeg4_bframes_avi"]
    assert probe.seek_probe(path)[0] is not None
    idx = [5, 60, 6, 90]
    kept = read_frames(path, idx, backend, short_side=20, exact=False)
    assert kept.shape == (4, SEEK_H, SEEK_W, 3)
    assert [_seek_read_barcode(f) for f in kept.numpy()] == [truth[i] for i in idx]
    assert kept.equal(read_frames(path, idx, "pyav"))
    small = read_frames(path, idx, backend, short_side=16, exact=False)
    assert small.shape == (4, 16, 32, 3) and small.equal(read_frames(path, idx, "pyav", short_side=16))
