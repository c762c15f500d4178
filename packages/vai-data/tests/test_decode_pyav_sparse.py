"""Sparse PyAV decoding returns exactly the frames of a full sequential decode, on H.264 with and without
B-frames, short and long GOPs, and falls back to sequential decoding where timestamps cannot be trusted."""

from collections import Counter
from fractions import Fraction

import av
import numpy as np
import pytest
import torch
import vai_data.decode_pyav as dp
from av.video.frame import PictureType
from vai_data import read_frames
from vai_data.decode_pyav import _pyav_read
from vai_data.sampling import sparse_indices

NUM_FRAMES = 90


def _encode(path, frames: np.ndarray, options: dict, fps: int | Fraction = 25, pts=None) -> str:
    """libx264 (default preset: 3 B-frames with b-pyramid unless ``bf=0``) in mp4; ``pts`` in ms sets VFR."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = dict(options, threads="1")
        if pts is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for t, arr in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[t], Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return str(path)


def _sequential(path: str, idx: np.ndarray, short_side=None) -> np.ndarray:
    """The reference: every frame decoded in order from the start and counted."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(dp, "SEEK_MIN_FRAMES", 10**9)
        return _pyav_read(path, idx, short_side, sparse=False)


def _picture_types(path: str) -> Counter:
    with av.open(path) as c:
        return Counter(PictureType(int(f.pict_type)).name for f in c.decode(video=0))


VIDEOS = {  # name: (libx264 options, frame rate, file extension)
    "gop4": ({"g": "4"}, 25, "mp4"),
    "gop12": ({"g": "12"}, 25, "mp4"),
    "gop250": ({"g": "250", "sc_threshold": "0"}, 25, "mp4"),  # one keyframe: only NONREF skipping helps
    "gop12_no_bframes": ({"g": "12", "bf": "0"}, 25, "mp4"),
    "gop12_ntsc_mkv": ({"g": "12"}, Fraction(30000, 1001), "mkv"),  # pts in ms: indices are near-integral
}


@pytest.fixture(scope="module")
def videos(tmp_path_factory, make_gradient_frames):
    d = tmp_path_factory.mktemp("sparse")
    frames = make_gradient_frames(NUM_FRAMES, 48, 64)
    return {
        name: _encode(d / f"{name}.{ext}", frames, opts, fps=fps) for name, (opts, fps, ext) in VIDEOS.items()
    }


def _index_sets(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    sets = [sparse_indices(NUM_FRAMES, 8, True, g).numpy() for _ in range(4)]
    sets.append(sparse_indices(NUM_FRAMES, 8, False).numpy())
    sets += [np.array([5, 5, 2, 80, 40]), np.array([0]), np.array([89, 120, 3]), np.array([60, 61, 62, 63])]
    return sets


@pytest.mark.parametrize("name", list(VIDEOS))
@pytest.mark.parametrize("short_side", [None, 24])
def test_sparse_equals_sequential(videos, name, short_side):
    path = videos[name]
    totals = {True: Counter(), False: Counter()}
    for idx in _index_sets():
        ref = _sequential(path, idx, short_side)
        for skip_nonref in (True, False):
            stats = {}
            out = _pyav_read(path, idx, short_side, skip_nonref=skip_nonref, stats=stats)
            assert stats["sparse"], f"{name} {idx}: fell back to sequential decoding"
            assert out.dtype == np.uint8 and np.array_equal(out, ref), f"{name} {idx} skip={skip_nonref}"
            totals[skip_nonref] += Counter(stats)
    # the savings are real: with NONREF, FFmpeg returned fewer frames for the same packets (B-frames skipped)
    types = _picture_types(path)
    assert totals[True]["fed"] == totals[False]["fed"]
    skipped = totals[False]["frames_out"] - totals[True]["frames_out"]
    if name == "gop12_no_bframes":
        assert types["B"] == 0 and skipped == 0
    else:
        assert types["B"] > 0
        # in 4-frame GOPs a wanted frame rarely has a non-reference frame before it in decode order
        assert skipped > 0 or name == "gop4"
    if name == "gop250":
        assert types["I"] == 1
    else:
        assert totals[True]["gops_dropped"] > 0
    assert totals[True]["fed"] < len(_index_sets()) * NUM_FRAMES


def test_read_frames_uses_sparse_path(videos, make_gradient_frames):
    idx = [70, 3, 33, 34, 88]
    out = read_frames(videos["gop12"], idx, backend="pyav")
    assert [int(f[..., 0].float().mean(0).argmax()) // 4 for f in out] == [t % 16 for t in idx]


def test_far_gaps_are_seeked_over(tmp_path, make_gradient_frames):
    path = _encode(tmp_path / "long.mp4", make_gradient_frames(160, 16, 64), {"g": "8"})
    idx = np.array([2, 150, 75, 76, 159])
    stats = {}
    out = _pyav_read(path, idx, None, stats=stats)
    assert stats["sparse"] and stats["seeks"] >= 2
    assert np.array_equal(out, _sequential(path, idx, None))


def test_mpeg4_without_bframes(tmp_path):
    from vai_data_test_media import make_video

    path = str(make_video(tmp_path / "m.mp4", frames=6, step=40))
    idx = np.array([5, 1, 9])
    stats = {}
    out = _pyav_read(path, idx, None, stats=stats)
    assert stats["sparse"]
    assert np.array_equal(out, _sequential(path, idx, None))


def test_variable_frame_rate_falls_back_to_counting_frames(tmp_path, make_gradient_frames):
    """Timestamps with gaps do not count frames: the sparse path gives up, frames are counted in order."""
    frames = make_gradient_frames(40, 16, 64)
    pts = [40 * t + (200 if t >= 20 else 0) for t in range(40)]  # a 200 ms hole after frame 19
    path = _encode(tmp_path / "vfr.mp4", frames, {"g": "8"}, pts=pts)
    idx = np.array([3, 25, 39])
    stats = {}
    out = _pyav_read(path, idx, None, stats=stats)
    assert not stats["sparse"]
    assert np.array_equal(out, _sequential(path, idx, None))
    assert [int(f[..., 0].astype(float).mean(0).argmax()) // 4 for f in out] == [3, 25 % 16, 39 % 16]


def test_holes_in_frame_indices_fall_back(videos, monkeypatch):
    """A constant-rate file whose timestamps skip a frame: indices from pts stop counting frames. (Only
    demuxed stretches are checked: across a seek the timestamps are trusted, as a seek must.)"""
    index = dp._SparseDecoder.index
    monkeypatch.setattr(
        dp._SparseDecoder, "index", lambda self, pts: (lambda i: i + (i >= 40))(index(self, pts))
    )
    idx = np.array([10, 50])  # 50 is less than SEEK_MIN_FRAMES past the keyframe after 10: no seek
    stats = {}
    out = _pyav_read(videos["gop12"], idx, None, stats=stats)
    assert not stats["sparse"]
    assert np.array_equal(out, _sequential(videos["gop12"], idx, None))


@pytest.mark.parametrize("short_side", [None, 24, 30])
def test_pixels_equal_plain_pyav_to_ndarray_then_resize_frames(videos, short_side):
    """The shared reformatter gives the pixels of ``frame.to_ndarray(format="rgb24")``, resized (where asked)
    with ``resize_frames``, as the other backends' frames."""
    from vai_data.video_stream import output_size, resize_frames

    path = videos["gop12"]
    with av.open(path) as c:
        frames = list(c.decode(video=0))
    w, h = output_size(frames[0].width, frames[0].height, short_side)
    plain = torch.from_numpy(np.stack([f.to_ndarray(format="rgb24") for f in frames]))
    if short_side is not None:
        plain = resize_frames(plain, w, h)
    idx = np.array([0, 7, 7, 30, 89, 44])
    assert read_frames(path, idx, backend="pyav", short_side=short_side).equal(plain[idx])


def test_failed_seek_of_the_fallback_decodes_from_the_start(videos, monkeypatch):
    """When the sparse path gives up and the fallback's first seek is unusable too, every frame is decoded
    from the start: same frames."""
    monkeypatch.setattr(dp, "SEEK_MIN_FRAMES", 8)

    def give_up(self):
        raise dp._Fallback("forced")

    sequential = dp._sequential_decode
    seeks = []

    def seek_fails(container, stream, path, wanted, last, seek_frame, convert):
        seeks.append(seek_frame)
        if seek_frame:
            raise dp._SeekFailed()
        return sequential(container, stream, path, wanted, last, seek_frame, convert)

    monkeypatch.setattr(dp._SparseDecoder, "run", give_up)
    monkeypatch.setattr(dp, "_sequential_decode", seek_fails)
    idx = np.array([20, 45, 70])
    out = _pyav_read(videos["gop12"], idx, 24)
    assert seeks == [20, 0]
    monkeypatch.undo()
    assert np.array_equal(out, _sequential(videos["gop12"], idx, 24))


def _leading_pictures(path: str) -> int:
    """Packets after a keyframe in decode order that are shown before it (open-GOP leading pictures)."""
    count, key_pts = 0, None
    with av.open(path) as c:
        for p in c.demux(video=0):
            if not p.size:
                continue
            if p.is_keyframe:
                key_pts = p.pts
            elif key_pts is not None and p.pts < key_pts:
                count += 1
    return count


def test_open_gop_with_leading_pictures(tmp_path, make_gradient_frames):
    """Open GOPs: B-frames after a (non-IDR) keyframe in decode order reference the previous GOP. Dropping
    a GOP or resetting the decoder at such a keyframe must not change any returned frame."""
    opts = {"g": "12", "bf": "3", "x264-params": "open-gop=1:scenecut=0:b-adapt=0"}
    path = _encode(tmp_path / "open.mp4", make_gradient_frames(NUM_FRAMES, 48, 64), opts)
    assert _leading_pictures(path) > 0
    sets = _index_sets(1) + [np.array([i]) for i in range(0, NUM_FRAMES, 7)]
    sparse = 0
    for idx in sets:
        stats = {}
        out = _pyav_read(path, idx, None, stats=stats)
        assert np.array_equal(out, _sequential(path, idx, None)), idx
        sparse += stats["sparse"]
    assert sparse >= len(sets) * 3 // 4  # mostly decoded sparsely, not by the fallback


def _encode_any(path, frames: np.ndarray, codec: str, options: dict, fmt: str | None = None) -> str:
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = options
        for t, arr in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts = t
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return str(path)


@pytest.mark.parametrize("codec", ["mpeg4", "libx264"])
def test_avi_with_bframes_counts_frames(tmp_path, make_gradient_frames, codec):
    """AVI with B-frames: start_time 0 but the first frame's pts is 1, so pts do not number frames; vai
    counts them instead (frames one late before this was checked)."""
    opts = {"bf": "2", "g": "12"} if codec == "mpeg4" else {"g": "12", "threads": "1"}
    path = _encode_any(tmp_path / "b.avi", make_gradient_frames(NUM_FRAMES, 48, 64), codec, opts)
    for idx in [np.array([10, 60]), np.array([50, 89]), np.array([5, 5, 2, 80, 40]), np.array([120])]:
        assert np.array_equal(_pyav_read(path, idx, None), _sequential(path, idx, None)), idx


def test_mpegts_only_frames_past_the_end_clamp(tmp_path, make_gradient_frames):
    """A seek past the end of an MPEG-TS file yields nothing: decode from the start and clamp."""
    path = _encode_any(
        tmp_path / "a.ts", make_gradient_frames(NUM_FRAMES, 48, 64), "libx264", {"g": "12"}, "mpegts"
    )
    out = _pyav_read(path, np.array([300]), None)
    assert np.array_equal(out, _sequential(path, np.array([NUM_FRAMES - 1]), None))


VFR_FRAMES = 120


@pytest.fixture(scope="module")
def vfr_mp4(tmp_path_factory, make_gradient_frames):
    """libx264 mp4 at a variable frame rate throughout: frames last 40 ms, then 20 ms from frame 40, then 60 ms
    from frame 80, each with a few ms of jitter; frame t shows a bar at x = 4 t (unique over the 512-pixel
    width), GOP 16 so that frames >= 48 lie behind keyframes."""
    durations = [(40, 20, 60)[t // 40] + (0, 3, -2, 5, -4)[t % 5] for t in range(VFR_FRAMES)]
    pts = [0] + np.cumsum(durations[:-1]).tolist()
    frames = make_gradient_frames(VFR_FRAMES, 16, 4 * 128)
    return _encode(tmp_path_factory.mktemp("vfr") / "vfr.mp4", frames, {"g": "16"}, fps=25, pts=pts)


def _every_frame(path: str) -> np.ndarray:
    with av.open(path) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


@pytest.mark.parametrize(
    "idx",
    [[3, 10, 30, 47], [68, 77, 90, 103, 116], [119], [48, 119, 5], [60, 119, 500], [100, 2**62]],
    ids=["below48", "from48", "last", "mixed", "past_end", "absurd"],
)
def test_variable_frame_rate_far_in_counts_frames(vfr_mp4, idx):
    """Timestamps that do not count frames are never sought by: frames >= SEEK_MIN_FRAMES and the last one
    are counted from the start too (they came out several frames off, and [119] raised IndexError)."""
    every = _every_frame(vfr_mp4)
    assert len(every) == VFR_FRAMES
    want = np.minimum(np.array(idx), VFR_FRAMES - 1)
    for sparse in (True, False):
        stats = {}
        out = _pyav_read(vfr_mp4, np.array(idx), None, sparse=sparse, stats=stats)
        assert np.array_equal(out, every[want]), (idx, sparse)
        assert not stats.get("sparse")
    for backend in ("pyav", "decord"):
        out = read_frames(vfr_mp4, idx, backend=backend)
        assert [int(f[..., 0].float().mean(0).argmax()) // 4 for f in out] == want.tolist(), backend


def test_variable_frame_rate_is_seen_in_the_container_counts(tmp_path, make_gradient_frames):
    """An mp4 at 25 fps for its first 48 frames, at 50 fps after: the first packets' timestamps count frames,
    but the container's frame count and duration disagree with its rate, so no frame is numbered from pts
    (a seek to frame 100 numbered by pts landed elsewhere)."""
    frames = make_gradient_frames(VFR_FRAMES, 16, 4 * 128)
    pts = [40 * t if t < 48 else 40 * 48 + 20 * (t - 48) for t in range(VFR_FRAMES)]
    path = _encode(tmp_path / "faster.mp4", frames, {"g": "16"}, fps=25, pts=pts)
    with av.open(path) as c:
        assert not dp._constant_rate(c.streams.video[0])
    every = _every_frame(path)
    for idx in (np.array([100, 119]), np.array([30, 70])):
        for sparse in (True, False):
            assert np.array_equal(_pyav_read(path, idx, None, sparse=sparse), every[idx]), (idx, sparse)


def test_hole_after_a_seek_restarts_counting(tmp_path, make_gradient_frames):
    """Matroska (no frame count) at 25 fps with a 200 ms hole after frame 80: the first packets pass, so
    frames >= SEEK_MIN_FRAMES are reached by seeking; the hole then shows in what is decoded after the seek,
    and frames are counted from the start instead (sparse and sequential paths)."""
    frames = make_gradient_frames(VFR_FRAMES, 16, 4 * 128)
    pts = [40 * t + (200 if t > 80 else 0) for t in range(VFR_FRAMES)]
    path = _encode(tmp_path / "hole.mkv", frames, {"g": "16"}, fps=25, pts=pts)
    every = _every_frame(path)
    idx = np.array([60, 100, 119])
    for sparse in (True, False):
        stats = {}
        out = _pyav_read(path, idx, None, sparse=sparse, stats=stats)
        assert np.array_equal(out, every[idx]), sparse
        assert not stats.get("sparse")
