"""Phone videos (a display rotation), files with several video streams and AVI headers that over-report:
every backend, probe, extract-frames and pack see the same upright picture of the same stream."""

from __future__ import annotations

import struct
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest
from PIL import Image
from vai_data import decode_jpeg, extract_frames, probe_video, read_frames
from vai_data import decode_probe as probe
from vai_data.mov_display_matrix import mov_rotation_degrees
from vai_data.packing import video_to_jpegs
from vai_data.video_stream import pick_video_stream, rotation_steps, upright_size
from vai_data_test_media import torchcodec_loads

BACKENDS = ["decord", "pyav"] + (["torchcodec"] if torchcodec_loads() else [])
W, H, N = 64, 48, 6


def marked_frames(n: int = N, h: int = H, w: int = W) -> np.ndarray:
    """Frames with a white block in the top-left corner (orientation) and a grey level per frame (index)."""
    out = np.zeros((n, h, w, 3), dtype=np.uint8)
    for t in range(n):
        out[t, :, :, 1] = 30 * t
        out[t, 4:16, 4:20] = 255
    return out


def encode(
    path: Path,
    frames: np.ndarray,
    rotation: int = 0,
    extra_stream: np.ndarray | None = None,
    options: dict | None = None,
) -> str:
    """H.264 mp4 of ``frames``, with a display rotation (degrees counter-clockwise) when not 0; with
    ``extra_stream``, those frames form a first, small video stream and ``frames`` the second."""
    with av.open(str(path), "w", options=options or {}) as out:
        streams = []
        for clip in ([extra_stream] if extra_stream is not None else []) + [frames]:
            s = out.add_stream("libx264", rate=10, options={"crf": "1", "g": "3", "bf": "0"})
            s.width, s.height, s.pix_fmt = clip.shape[2], clip.shape[1], "yuv444p"
            streams.append((s, clip))
        if rotation:
            if not hasattr(streams[-1][0], "set_display_rotation"):
                pytest.skip("this PyAV cannot write a display rotation")
            streams[-1][0].set_display_rotation(rotation)
        for s, clip in streams:
            for img in clip:
                for packet in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    out.mux(packet)
            for packet in s.encode():
                out.mux(packet)
    return str(path)


def stored_frames(path: str, index: int = 0) -> np.ndarray:
    """Every frame of stream ``index`` as PyAV decodes it, unrotated."""
    with av.open(path) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[index])])


@pytest.fixture(scope="module", params=[90, 180, 270, -90])
def rotated(request, tmp_path_factory) -> tuple[str, int]:
    path = encode(tmp_path_factory.mktemp("rot") / f"rot{request.param}.mp4", marked_frames(), request.param)
    return path, rotation_steps(request.param)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rotated_videos_come_upright_on_every_backend(rotated, backend):
    path, steps = rotated
    want = np.rot90(stored_frames(path), steps, axes=(1, 2))[[0, 4, 2]]
    got = read_frames(path, [0, 4, 2], backend=backend).numpy()
    assert got.shape == want.shape
    assert np.abs(got.astype(int) - want).mean() < 1.0
    # the white corner block: the counter-clockwise turn takes the top-left corner to the bottom-left
    corner = {0: (0, 0), 1: (-1, 0), 2: (-1, -1), 3: (0, -1)}[steps]
    ys, xs = np.nonzero(got[0, ..., 0] > 200)
    assert (ys.min() < 20) == (corner[0] == 0) and (xs.min() < 20) == (corner[1] == 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_short_side_keeps_a_rotated_videos_shape(rotated, backend):
    path, steps = rotated
    got = read_frames(path, [0, 5], backend=backend, short_side=24).numpy()
    ref = read_frames(path, [0, 5], backend="pyav", short_side=24).numpy()
    assert got.shape == ((2, 32, 24, 3) if steps % 2 else (2, 24, 32, 3))
    assert np.abs(got.astype(int) - ref).mean() < 4.0  # decoders scale after rotating, PyAV before


def test_probe_extract_and_pack_see_the_upright_picture(rotated, tmp_path):
    path, steps = rotated
    upright = (H, W) if steps % 2 else (W, H)
    assert probe_video(path) == (N, *upright)
    assert probe.seek_probe(path).size == upright
    want = read_frames(path, [0, 1], backend="pyav").numpy()
    assert extract_frames(path, tmp_path / "frames", short_side=None, quality=95) == N
    jpg = np.asarray(Image.open(tmp_path / "frames" / "00001.jpg").convert("RGB"))
    assert jpg.shape == want[1].shape and np.abs(jpg.astype(int) - want[1]).mean() < 3.0
    packed = decode_jpeg(video_to_jpegs(path, 0, 0, quality=95)[0])
    assert np.asarray(packed).shape == want[0].shape
    assert np.abs(np.asarray(packed).astype(int) - want[0]).mean() < 3.0


def test_rotation_steps():
    assert [rotation_steps(d) for d in (0, None, 90, -90, 180, -180, 270, 360, 44, 46)] == [
        0,
        0,
        1,
        3,
        2,
        2,
        3,
        0,
        0,
        1,
    ]
    assert upright_size(64, 48, 1) == (48, 64) and upright_size(64, 48, 2) == (64, 48)


@pytest.fixture(scope="module")
def two_streams(tmp_path_factory) -> str:
    small = np.full((4, 24, 32, 3), 90, dtype=np.uint8)
    return encode(tmp_path_factory.mktemp("two") / "two.mp4", marked_frames(), extra_stream=small)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_decodes_the_stream_ffmpeg_picks(two_streams, backend):
    with av.open(two_streams) as c:
        chosen = c.streams.best("video").index
    want = stored_frames(two_streams, chosen)[[0, 3]]
    got = read_frames(two_streams, [0, 3], backend=backend).numpy()
    assert got.shape == want.shape and np.abs(got.astype(int) - want).mean() < 1.0
    sized = read_frames(two_streams, [0, 3], backend=backend, short_side=12).numpy()
    assert sized.shape[1:3] == (12, 12 * want.shape[2] // want.shape[1])
    verdict = probe.seek_probe(two_streams)
    assert verdict.stream_index == chosen and verdict.several_streams


def _stand_in(*dispositions, best=None):
    streams = [SimpleNamespace(disposition=d, index=i) for i, d in enumerate(dispositions)]

    def pick_best(kind):
        return streams[best] if best is not None else streams[0]

    return SimpleNamespace(streams=SimpleNamespace(video=streams, best=pick_best)), streams


def test_cover_art_is_never_the_video():
    container, s = _stand_in(0x0400, 0, best=0)  # FFmpeg's pick a picture: the real stream instead
    assert pick_video_stream(container) is s[1]
    container, s = _stand_in(0x0400, 1, 0, best=2)
    assert pick_video_stream(container) is s[2]
    container, s = _stand_in(0x0400, 0x0400)
    assert pick_video_stream(container) is s[0]  # only pictures: a one-frame video
    assert pick_video_stream(_stand_in()[0]) is None


def test_an_avi_header_that_over_reports_frames_is_checked_against_its_index(tmp_path):
    path = tmp_path / "huge.avi"
    with av.open(str(path), "w") as out:
        s = out.add_stream("mjpeg", rate=10)
        s.width, s.height, s.pix_fmt = W, H, "yuvj420p"
        for img in marked_frames():
            for packet in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in s.encode():
            out.mux(packet)
    data = bytearray(path.read_bytes())
    avih, strh = data.find(b"avih"), data.find(b"strh")
    struct.pack_into("<I", data, avih + 8 + 16, 1_000_000)  # dwTotalFrames
    struct.pack_into("<I", data, strh + 8 + 32, 1_000_000)  # dwLength
    path.write_bytes(bytes(data))
    with av.open(str(path)) as c:
        assert c.streams.video[0].frames == 1_000_000  # what the header says
    assert probe_video(str(path)) == (N, W, H)


@pytest.mark.parametrize(
    "suffix, options", [(".mp4", None), (".mp4", {"movflags": "faststart"}), (".mov", None)]
)
@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_the_mov_display_matrix_reads_as_ffmpeg_reads_it(tmp_path, suffix, options, degrees):
    path = encode(tmp_path / f"r{suffix}", marked_frames(2), degrees, options=options)
    with av.open(path) as c:
        frame_rotation = next(c.decode(video=0)).rotation
    assert rotation_steps(mov_rotation_degrees(path, 0)) == rotation_steps(frame_rotation)
    assert rotation_steps(frame_rotation) == rotation_steps(degrees)
    assert mov_rotation_degrees(path, 1) is None  # no such track


def _box(kind: bytes, payload: bytes, large: bool = False) -> bytes:
    if large:
        return struct.pack(">I4sQ", 1, kind, 16 + len(payload)) + payload
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _matrix(degrees: float) -> bytes:
    """A display matrix as a phone writes it, for a clip to be shown turned ``degrees`` clockwise."""
    r = np.radians(degrees)
    a, b = round(np.cos(r) * 65536), round(np.sin(r) * 65536)
    return struct.pack(">9i", a, b, 0, -b, a, 0, 0, 0, 1 << 30)


def _moov(degrees: float, version: int = 0, large: bool = False) -> bytes:
    times = bytes(32 if version else 20)
    tkhd = _box(b"tkhd", bytes([version, 0, 0, 3]) + times + bytes(16) + _matrix(degrees) + bytes(8))
    mvhd = _box(b"mvhd", bytes(4 + 16 + 16) + _matrix(0) + bytes(28))
    return _box(b"moov", mvhd + _box(b"trak", tkhd, large=large), large=large)


@pytest.mark.parametrize("version, large", [(0, False), (1, False), (0, True)])
def test_mov_boxes_are_walked_whatever_their_layout(tmp_path, version, large):
    body = _box(b"ftyp", b"isom" + bytes(4)) + _box(b"mdat", bytes(100), large=large)
    path = tmp_path / "phone.mp4"
    path.write_bytes(body + _moov(90, version, large))  # the movie header after the media, as phones write
    assert rotation_steps(mov_rotation_degrees(str(path), 0)) == rotation_steps(-90)  # shown turned clockwise


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a video at all",
        bytes(7),
        struct.pack(">I4s", 3, b"ftyp"),
        struct.pack(">I4s", 4096, b"moov"),
    ],
)
def test_unreadable_mov_boxes_give_none(tmp_path, data):
    path = tmp_path / "bad.mp4"
    path.write_bytes(data)
    assert mov_rotation_degrees(str(path), 0) is None
    assert mov_rotation_degrees(str(tmp_path / "missing.mp4"), 0) is None
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(_moov(90)[:-20])
    assert mov_rotation_degrees(str(truncated), 0) is None


@pytest.mark.parametrize(
    "moov",
    [
        struct.pack(">I4s", 4, b"moov") + bytes(64),  # a size smaller than its own header
        _box(b"moov", _box(b"trak", _box(b"tkhd", b""))),  # an empty track header
        _box(b"moov", _box(b"trak", _box(b"tkhd", bytes([0, 0, 0, 3]) + bytes(20))) + _box(b"mvhd", b"")),
    ],
)
def test_malformed_movie_headers_give_none_not_an_exception(tmp_path, moov):
    path = tmp_path / "odd.mp4"
    path.write_bytes(_box(b"ftyp", b"isom" + bytes(4)) + moov)
    assert mov_rotation_degrees(str(path), 0) is None
