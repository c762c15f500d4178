import os

import numpy as np
import pytest
import torch
from vai_data import VideoDecodeError, probe_num_frames, probe_video, read_frames
from vai_data_test_media import torchcodec_loads

# torchcodec joins every backend test wherever it loads with FFmpeg's libraries (`nox -s tests-data` lends
# it PyAV's with `vai-data link-ffmpeg`); its glue is also tested against stand-ins below
BACKENDS = ["decord", "pyav"] + (["torchcodec"] if torchcodec_loads() else [])


def _bar_position(frame: torch.Tensor) -> int:
    """Column of the bright red bar that identifies the frame number in conftest.gradient_frames."""
    return int(frame[..., 0].float().mean(0).argmax()) // 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_frames_match_source(video_file, frames_array, backend):
    idx = [0, 3, 3, 11, 7]
    out = read_frames(video_file, idx, backend=backend)
    assert out.dtype == torch.uint8 and out.shape == (5, 48, 64, 3)
    assert [_bar_position(f) for f in out] == idx
    err = (out.float() - torch.from_numpy(frames_array[idx]).float()).abs().mean()
    assert err < 6  # H.264 at crf 18


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "pyav"])
def test_backends_agree(video_file, backend):
    idx = [1, 2, 9]
    a = read_frames(video_file, idx, backend).float()
    b = read_frames(video_file, idx, "pyav").float()
    assert (a - b).abs().mean() < 1.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_short_side_is_resize_frames_of_the_stored_size_frames(video_file, frames_array, backend):
    """Every backend decodes at the stored size and resizes with resize_frames (as JPEG frames are resized):
    the frames equal that resize of its own full-size frames, and stay within a few levels of the resize of
    the source frames (sharp 4-px bars: the worst case)."""
    from vai_data.video_stream import resize_frames

    idx = [1, 2, 9, 2]
    out = read_frames(video_file, idx, backend, short_side=24)
    assert out.shape == (4, 24, 32, 3) and out.is_contiguous()
    assert out.equal(resize_frames(read_frames(video_file, idx, backend), 32, 24))
    truth = resize_frames(torch.from_numpy(frames_array[idx]), 32, 24)
    assert (out.float() - truth.float()).abs().mean() < 3.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_inexact_reads_keep_the_stored_size_under_twice_the_short_side(video_file, backend):
    """exact=False (what train datasets ask for, to fuse the resize with the crop): 64x48 frames stay 64x48 for
    any short side above 24 (48 < 2 * short_side), also above the stored size; at 24 and below they are
    resized as with exact=True."""
    idx = [0, 5, 5]
    stored = read_frames(video_file, idx, backend)
    for short_side in (25, 40, 48, 60):
        assert read_frames(video_file, idx, backend, short_side=short_side, exact=False).equal(stored)
    assert read_frames(video_file, idx, backend, short_side=60).shape == (3, 60, 80, 3)  # exact: upscaled
    for short_side in (24, 12):
        exact = read_frames(video_file, idx, backend, short_side=short_side)
        assert read_frames(video_file, idx, backend, short_side=short_side, exact=False).equal(exact)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "pyav"])
def test_long_clips_decode_in_parts_resized_one_by_one(video_file, backend, monkeypatch):
    """decord and torchcodec decode at most _PART_BYTES of stored-size frames at once, each part resized
    before the next decodes (a dense clip of a 1080p video would hold ~200 MB otherwise), every wanted frame
    once and in order (a repeat in a later part would seek back): the same frames as one part."""
    import vai_data.decode as decode

    idx = [0, 3, 3, 11, 7, 1, 2, 3]
    whole = read_frames(video_file, idx, backend, short_side=24)
    asked, resized = [], []
    real_decode_resized, real_resize = decode._decode_resized, decode.resize_frames

    def recording(decode_part, *args):
        return real_decode_resized(lambda part: asked.append(list(part)) or decode_part(part), *args)

    monkeypatch.setattr(decode, "_decode_resized", recording)
    monkeypatch.setattr(
        decode, "resize_frames", lambda f, w, h: resized.append(len(f)) or real_resize(f, w, h)
    )
    monkeypatch.setattr(decode, "_PART_BYTES", 2 * 64 * 48 * 3)  # two frames
    assert read_frames(video_file, idx, backend, short_side=24).equal(whole)
    assert asked == [[0, 1], [2, 3], [7, 11]] and resized == [2, 2, 2]
    asked.clear()
    monkeypatch.setattr(decode, "_PART_BYTES", 1)  # less than a frame: one at a time
    assert read_frames(video_file, idx, backend, short_side=24).equal(whole)
    assert asked == [[0], [1], [2], [3], [7], [11]]
    asked.clear()
    monkeypatch.setattr(decode, "_PART_BYTES", 64 << 20)
    assert read_frames(video_file, idx, backend, short_side=24).equal(whole)
    assert asked == [idx]  # one part: the indices as given (the decoder copies repeats itself)


def test_decode_parts_keep_the_first_parts_size_and_report_decoder_errors_only():
    """A later part of another size (a resolution change) is resized to the first part's output size; a
    decoder's own error is _DecodeFailed (the caller falls back to PyAV), vai's are not."""
    import vai_data.decode as decode

    sizes = iter([(48, 64), (24, 32), (96, 128)])

    def decode_part(part):
        h, w = next(sizes)
        return torch.full((len(part), h, w, 3), 100, dtype=torch.uint8)

    out = decode._decode_resized(decode_part, [0, 1, 2, 3, 4, 5], 24, True, (2, 2))  # a wrong size hint
    assert out.shape == (6, 24, 32, 3) and bool((out == 100).all())
    # exact=False: the first part's 64x48 frames are kept (48 < 60), the later part's 32x24 ones are brought
    # to 64x48 too (a 4000x4000 size hint makes the first part one frame; the rest is one more part)
    sizes = iter([(48, 64), (24, 32)])
    out = decode._decode_resized(decode_part, [0, 1, 2, 3, 4], 30, False, (4000, 4000))
    assert out.shape == (5, 48, 64, 3) and bool((out == 100).all())

    def failing(part):
        raise RuntimeError("a decoder error")

    with pytest.raises(decode._DecodeFailed) as ei:
        decode._decode_resized(failing, [0, 1], 24, True, (64, 48))
    assert isinstance(ei.value.__cause__, RuntimeError)
    with pytest.raises(RuntimeError) as ei:  # vai's resize of a 3-D result: not a fallback to PyAV
        decode._decode_resized(lambda part: torch.zeros(len(part), 4, 4), [0, 1], 2, True, (4, 4))
    assert not isinstance(ei.value, decode._DecodeFailed)


@pytest.mark.parametrize("backend", BACKENDS)
def test_video_file_source_reads_exactly_or_near_the_short_side(video_file, backend):
    from vai_data.frame_sources import VideoFileSource

    source = VideoFileSource(video_file, start=2, end=11, backend=backend)
    assert source.num_frames == 10
    near = source.read([0, 3], 30, exact=False)
    assert near.equal(read_frames(video_file, [2, 5], backend)) and near.shape == (2, 48, 64, 3)
    assert source.read([0, 3], 30).equal(read_frames(video_file, [2, 5], backend, short_side=30))
    assert source.read([0, 3], 30).shape == (2, 30, 40, 3)


def test_resize_frames_and_kept_size():
    from torchvision.transforms.v2 import functional as F
    from vai_data.video_stream import kept_size, resize_frames

    frames = torch.randint(0, 256, (3, 30, 40, 3), dtype=torch.uint8)
    out = resize_frames(frames, 20, 15)
    assert out.shape == (3, 15, 20, 3) and out.dtype == torch.uint8 and out.is_contiguous()
    ref = F.resize(frames.permute(0, 3, 1, 2).contiguous(), [15, 20], antialias=True).permute(0, 2, 3, 1)
    assert (out.int() - ref.int()).abs().max() <= 1  # the channels-last kernel and the planar one
    assert resize_frames(frames[:, :, ::2], 10, 15).shape == (3, 15, 10, 3)  # a strided view
    assert kept_size(640, 360, None, True) == (640, 360) == kept_size(640, 360, 181, False)
    assert kept_size(640, 360, 180, False) == (320, 180)  # 360 == 2 * 180: resized
    assert kept_size(640, 360, 256, True) == (455, 256) and kept_size(640, 360, 256, False) == (640, 360)
    assert kept_size(360, 640, 128, False) == (128, 227) and kept_size(64, 48, 100, False) == (64, 48)
    assert kept_size(64, 48, 100, True) == (133, 100)


@pytest.mark.parametrize("backend", BACKENDS)
def test_short_side_at_decode(video_file, backend):
    out = read_frames(video_file, [0, 5], backend=backend, short_side=24)
    assert out.shape == (2, 24, 32, 3)
    assert [_bar_position(f.repeat_interleave(2, 1)) for f in out] == [0, 5]


@pytest.mark.parametrize("backend", BACKENDS)
def test_over_reported_frames_are_clamped(video_file, backend):
    out = read_frames(video_file, [10, 11, 40, 200], backend=backend)
    assert [_bar_position(f) for f in out] == [10, 11, 11, 11]


def test_probe(video_file):
    assert probe_num_frames(video_file) == 12
    assert probe_video(video_file) == (12, 64, 48)


def test_torchcodec_missing_is_one_clear_line(video_file):
    if torchcodec_loads():
        pytest.skip("torchcodec and its FFmpeg libraries load here")
    with pytest.raises(ImportError) as ei:
        read_frames(video_file, [0], backend="torchcodec")
    msg = str(ei.value)
    assert "pip install torchcodec" in msg and "\n" not in msg


def test_torchcodec_without_ffmpeg_is_one_clear_line_not_a_decode_error(video_file, monkeypatch):
    """torchcodec >= 0.9 imports without FFmpeg and fails at the first VideoDecoder: vai says what to install
    (every video was a 'bad sample' before, the skip policy replacing each by another that failed too)."""
    import sys
    import types

    class Unloadable:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("the JSON object must be str, bytes or bytearray, not tuple")

    Unloadable.__module__ = "torchcodec.decoders._video_decoder"
    package, decoders, ops = (
        types.ModuleType(n) for n in ("torchcodec", "torchcodec.decoders", "torchcodec._core.ops")
    )
    decoders.VideoDecoder, ops._FFMPEG_AVAILABLE = Unloadable, False
    for name, module in (
        ("torchcodec", package),
        ("torchcodec.decoders", decoders),
        ("torchcodec._core.ops", ops),
    ):
        monkeypatch.setitem(sys.modules, name, module)
    with pytest.raises(ImportError, match="FFmpeg's shared libraries were not found") as ei:
        read_frames(video_file, [0], backend="torchcodec")
    assert "pip install torchcodec" in str(ei.value) and "\n" not in str(ei.value)


class _StandInDecoder:
    """torchcodec's VideoDecoder API over PyAV frames: how vai's torchcodec glue is tested where torchcodec
    cannot load (its metadata over-reports by 8 frames, as a damaged header would; exact seek mode then
    counts what decodes, ``len``)."""

    calls: list = []

    def __init__(self, path, dimension_order="NCHW", stream_index=None):
        assert dimension_order == "NHWC" and stream_index == 0  # the stream PyAV picks, named
        from types import SimpleNamespace

        self.frames = read_frames(path, list(range(64)), backend="pyav")  # (clamped to what decodes)
        real = probe_num_frames(path)
        self.frames = self.frames[:real]
        self.metadata = SimpleNamespace(num_frames=None)
        self._len = real

    def __len__(self):
        return self._len

    def get_frames_at(self, indices):
        from types import SimpleNamespace

        type(self).calls.append(list(indices))
        if max(indices) >= self._len:
            raise IndexError(f"Invalid frame index={max(indices)}")
        return SimpleNamespace(data=self.frames[indices])


@pytest.fixture
def stand_in_torchcodec(monkeypatch):
    import sys
    import types

    module = types.ModuleType("torchcodec.decoders")
    module.VideoDecoder = _StandInDecoder
    monkeypatch.setitem(sys.modules, "torchcodec", types.ModuleType("torchcodec"))
    monkeypatch.setitem(sys.modules, "torchcodec.decoders", module)
    _StandInDecoder.calls = []
    return _StandInDecoder


def test_torchcodec_glue_frames_clamp_and_short_side(video_file, stand_in_torchcodec):
    out = read_frames(video_file, [0, 3, 11, 40], backend="torchcodec")
    assert out.shape == (4, 48, 64, 3) and out.is_contiguous()
    assert stand_in_torchcodec.calls == [[0, 3, 11, 11]]  # past the end: clamped before decoding
    assert torch.equal(out, read_frames(video_file, [0, 3, 11, 11], backend="pyav"))
    small = read_frames(video_file, [0, 5], backend="torchcodec", short_side=24)
    assert small.shape == (2, 24, 32, 3)
    assert [_bar_position(f.repeat_interleave(2, 1)) for f in small] == [0, 5]


def test_torchcodec_failing_past_an_over_reported_end_falls_back_to_pyav(
    video_file, stand_in_torchcodec, monkeypatch
):
    """A header that over-reports (torchcodec then fails on the missing frames, as the real one does on a cut
    tail): the frames that decode come back, clamped, as from every other backend."""
    from types import SimpleNamespace

    real_init = _StandInDecoder.__init__

    def over_reporting(self, path, dimension_order="NCHW", stream_index=None):
        real_init(self, path, dimension_order, stream_index)
        self.metadata = SimpleNamespace(num_frames=self._len + 8)

    monkeypatch.setattr(_StandInDecoder, "__init__", over_reporting)
    out = read_frames(video_file, [0, 3, 15], backend="torchcodec")
    assert stand_in_torchcodec.calls == [[0, 3, 15]]  # tried past the real end (12 frames), then PyAV
    assert torch.equal(out, read_frames(video_file, [0, 3, 11], backend="pyav"))


def test_torchcodec_glue_wraps_decoder_errors(tmp_path, video_file, stand_in_torchcodec):
    files = _corrupt_files(tmp_path, video_file)
    for kind in ("missing", "zero", "random"):
        with pytest.raises(VideoDecodeError) as ei:
            read_frames(files[kind], [0], backend="torchcodec")
        assert os.path.basename(files[kind]) in str(ei.value) and "\n" not in str(ei.value)
    with pytest.raises(
        VideoDecodeError, match=r"random.mp4: torchcodec cannot decode it \(.*\) and PyAV cannot decode it"
    ):
        read_frames(files["random"], [0], backend="torchcodec")


@pytest.mark.parametrize(
    "indices, message",
    [
        ([1.5, 2], "frame indices must be integers"),
        (["3"], "frame indices must be integers"),
        (None, "frame indices must be integers"),
        ([True, False], "frame indices must be integers"),
        ([], "at least one frame index"),
        ([2, -1], "negative frame index"),
        ([1, "2"], r"got \[1, '2'\]"),
        ([1e19], "frame indices must be integers"),
    ],
)
def test_bad_indices_raise_one_line(video_file, indices, message):
    with pytest.raises(ValueError, match=message) as ei:
        read_frames(video_file, indices)
    assert "\n" not in str(ei.value)


def test_non_integer_tensors_with_grad_or_on_a_device_get_the_same_message(video_file):
    with pytest.raises(ValueError, match=r"frame indices must be integers, got \[1\.5\]"):
        read_frames(video_file, torch.tensor([1.5], requires_grad=True))


def test_whole_float_and_tensor_indices_are_accepted(video_file):
    want = read_frames(video_file, [0, 3])
    assert torch.equal(read_frames(video_file, np.array([0.0, 3.0])), want)
    assert torch.equal(read_frames(video_file, torch.tensor([[0], [3]])), want)


@pytest.mark.parametrize("short_side", [0, -5, 2.5, "32", True])
def test_bad_short_side(video_file, short_side):
    with pytest.raises(ValueError, match="short_side=.* must be a positive int"):
        read_frames(video_file, [0], short_side=short_side)


def test_unknown_backend(video_file):
    with pytest.raises(ValueError, match="unknown video backend 'cv2'"):
        read_frames(video_file, [0], backend="cv2")


def _corrupt_files(tmp_path, video_file):
    data = open(video_file, "rb").read()
    files = {
        "missing": str(tmp_path / "missing.mp4"),
        "zero": str(tmp_path / "zero.mp4"),
        "truncated": str(tmp_path / "trunc.mp4"),
        "random": str(tmp_path / "random.mp4"),
        "text": str(tmp_path / "text.mp4"),
    }
    open(files["zero"], "wb").close()
    with open(files["truncated"], "wb") as f:
        f.write(data[: len(data) // 3])
    with open(files["random"], "wb") as f:
        f.write(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with open(files["text"], "w") as f:
        f.write("not a video at all\n" * 50)
    return files


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["missing", "zero", "truncated", "random", "text"])
def test_unreadable_inputs_raise_video_decode_error(tmp_path, video_file, backend, kind):
    path = _corrupt_files(tmp_path, video_file)[kind]
    with pytest.raises(VideoDecodeError) as ei:
        read_frames(path, [0, 5], backend=backend)
    assert os.path.basename(path) in str(ei.value)
    assert "\n" not in str(ei.value)


@pytest.mark.parametrize("kind", ["missing", "zero", "random"])
def test_probe_raises_video_decode_error(tmp_path, video_file, kind):
    with pytest.raises(VideoDecodeError):
        probe_num_frames(_corrupt_files(tmp_path, video_file)[kind])


@pytest.mark.parametrize("backend", BACKENDS)
def test_unknown_codec(tmp_path, frames_array, backend):
    from vai_data.synth import write_mp4

    good = tmp_path / "a.mkv"
    write_mp4(str(good), frames_array[:4], container_format="matroska")
    data = good.read_bytes()
    assert b"V_MPEG4/ISO/AVC" in data
    bad = tmp_path / "b.mkv"
    bad.write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_VAI_UNKNOWN_X"))
    with pytest.raises(VideoDecodeError, match="b.mkv: .*unknown video codec"):
        read_frames(str(bad), [0], backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_metadata_over_reports_after_truncation(tmp_path, frames_array, backend):
    """moov at the front says 12 frames; the tail of the data is gone: indices clamp to what decodes."""
    from vai_data.synth import write_mp4

    full = tmp_path / "fs.mp4"
    write_mp4(str(full), frames_array, faststart=True)
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.85)])
    assert probe_num_frames(str(cut)) == 12  # metadata still claims every frame
    out = read_frames(str(cut), [0, 3, 11], backend=backend)
    got = [_bar_position(f) for f in out]
    assert got[:2] == [0, 3] and 3 <= got[2] < 11


def test_pyav_seek_matches_sequential(tmp_path, monkeypatch, make_gradient_frames):
    """Far-in frames are reached by seeking to a keyframe; the frames equal a full sequential decode."""
    import vai_data.decode_pyav as dec
    from vai_data.synth import write_mp4

    path = str(tmp_path / "long.mp4")
    write_mp4(path, make_gradient_frames(80, 16, 16 * 4 * 20), fps=25)  # bar position encodes t up to 80
    idx = [60, 61, 79, 70]
    seek = read_frames(path, idx, backend="pyav")
    monkeypatch.setattr(dec, "SEEK_MIN_FRAMES", 10**9)
    seq = read_frames(path, idx, backend="pyav")
    assert torch.equal(seek, seq)
    assert [_bar_position(f) for f in seek] == idx


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("idx", [[2**62], [3, 2**62, 0], [2**63 - 1]])
def test_absurd_indices_clamp_like_any_past_the_end(video_file, backend, idx):
    """An index no seek can reach (its pts overflows int64) clamps to the last frame, as 40 or 200 do."""
    out = read_frames(video_file, idx, backend=backend)
    assert [_bar_position(f) for f in out] == [min(i, 11) for i in idx]


def test_a_torchcodec_video_dataset_without_torchcodec_fails_at_construction(synth_root):
    from vai_data import VideoClipDataset

    if torchcodec_loads():
        pytest.skip("torchcodec and its FFmpeg libraries load here")
    split = os.path.join(synth_root, "splits", "val.csv")
    with pytest.raises(ImportError, match="pip install torchcodec"):
        VideoClipDataset(split, synth_root, train=False, backend="torchcodec")
    frames = os.path.join(synth_root, "splits", "val_frames.csv")  # frames storage: the backend is unused
    assert len(
        VideoClipDataset(frames, synth_root, train=False, backend="torchcodec", crop_size=16, test_scale=20)
    )


def test_a_path_through_a_file_is_one_decode_error(video_file):
    bad = os.path.join(video_file, "inside.mp4")  # a file is not a folder: NotADirectoryError
    with pytest.raises(VideoDecodeError, match="inside.mp4: cannot access it") as ei:
        read_frames(bad, [0])
    assert "\n" not in str(ei.value)
