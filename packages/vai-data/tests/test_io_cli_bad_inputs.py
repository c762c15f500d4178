"""Users' realistic mistakes in the IO and CLI modules fail early with one line naming the argument or path,
the bad value and what is accepted, and leave nothing behind; pathlib paths work wherever a path is taken."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from vai_data import (
    FrameFolderSource,
    PackedFileSource,
    SplitRow,
    VideoFileSource,
    decode_jpeg,
    encode_jpeg,
    extract_frames,
    extract_frames_tree,
    make_synthetic_dataset,
    probe_num_frames,
    probe_video,
    read_frames,
    read_split_file,
    write_packed,
    write_split_file,
)
from vai_data.cli import main
from vai_data.jpeg import JpegDecodeError
from vai_data.pathio import is_native, read_bytes
from vai_data_test_media import JPEG_BACKENDS, make_frames, needs_lmdb


def _cli(caplog, capsys, argv):
    """Run ``vai-data argv``: (exit status, ERROR lines, stderr)."""
    caplog.clear()
    rc = main(argv)
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    return rc, errors, capsys.readouterr().err


def _one_line(errors, *parts):
    assert len(errors) == 1 and "\n" not in errors[0], errors
    for part in parts:
        assert part in errors[0], (part, errors[0])


# 1. vai-data synth ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra, parts",
    [
        (["--num-videos", "0"], ["--num-videos", "at least 2", "got 0"]),
        (["--size", "63x64"], ["--size", "even", "63x64"]),
        (["--frames", "0"], ["--frames", "at least 2", "got 0"]),
        (["--val-fraction", "1.5"], ["--val-fraction", "(0, 1)", "1.5"]),
        (["--seed", "-1"], ["--seed", ">= 0", "-1"]),
    ],
)
def test_synth_cli_bad_options_are_one_line(tmp_path, caplog, capsys, extra, parts):
    out = tmp_path / "ds"
    rc, errors, err = _cli(caplog, capsys, ["synth", "--out", str(out), *extra])
    assert rc == 1 and "Traceback" not in err
    _one_line(errors, *parts)
    assert not out.exists()  # validated before anything is written


def test_synth_cli_out_that_is_a_file(tmp_path, caplog, capsys):
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    rc, errors, err = _cli(caplog, capsys, ["synth", "--out", str(afile), "--num-videos", "2"])
    assert rc == 1 and "Traceback" not in err
    _one_line(errors, "--out", str(afile), "is a file, not a folder")
    rc, errors, _ = _cli(caplog, capsys, ["synth", "--out", str(afile / "x"), "--num-videos", "2"])
    assert rc == 1
    _one_line(errors, str(afile / "x"), f"parent {afile} is not a folder")
    assert afile.read_text() == "keep me"


def test_make_synthetic_dataset_refuses_a_file_and_a_negative_seed(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(NotADirectoryError, match="out_dir .*afile is a file, not a folder"):
        make_synthetic_dataset(afile, num_videos=2, num_frames=2, size=(16, 16))
    with pytest.raises(ValueError, match=r"seed=-1 must be an int >= 0"):
        make_synthetic_dataset(tmp_path / "neg", num_videos=2, num_frames=2, size=(16, 16), seed=-1)
    assert not (tmp_path / "neg").exists()


# 2. -L --------------------------------------------------------------------------------------------------


def test_unknown_log_level_is_an_argparse_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["-L", "verbose", "synth", "--out", str(tmp_path / "ds")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Unknown level" not in err
    line = [x for x in err.splitlines() if "error:" in x]
    assert len(line) == 1 and "-L/--log-level" in line[0] and "'verbose'" in line[0]
    assert "DEBUG, INFO, WARNING, ERROR, CRITICAL" in line[0]
    assert not (tmp_path / "ds").exists()


def test_log_level_is_case_insensitive(tmp_path, caplog, capsys):
    rc, errors, _ = _cli(
        caplog, capsys, ["-L", "debug", "synth", "--out", str(tmp_path / "ds"), "--num-videos", "1"]
    )
    assert rc == 1 and "--num-videos" in errors[0]  # parsed, then the sub-command's own check


# 3. pathlib paths ---------------------------------------------------------------------------------------


def test_pathlib_paths_are_accepted(tmp_path, video_file):
    v = Path(video_file)
    assert probe_video(v) == probe_video(video_file) == (12, 64, 48)
    assert probe_num_frames(v) == 12
    src = VideoFileSource(v)
    assert src.num_frames == 12 and isinstance(src.path, str)
    assert torch.equal(src.read([0, 5]), VideoFileSource(video_file).read([0, 5]))
    assert is_native(v) and read_bytes(v) == v.read_bytes()
    folder = make_frames(tmp_path / "f", 3)
    assert FrameFolderSource(folder / "{:05d}.jpg", 0, 2).read([0, 2]).shape == (2, 8, 8, 3)
    from vai_data.packing import frames_to_jpegs, video_to_jpegs

    assert len(video_to_jpegs(v, 0, 2)) == 3 and len(frames_to_jpegs(folder / "{:05d}.jpg", 0, 2)) == 3
    jpegs = [encode_jpeg(np.zeros((8, 8, 3), np.uint8))] * 2
    write_packed(tmp_path / "p.vpk", jpegs)
    assert PackedFileSource(tmp_path / "p.vpk").read([1]).shape == (1, 8, 8, 3)


def test_split_rows_with_pathlib_paths_are_written_as_strings(tmp_path):
    path = tmp_path / "s.csv"
    write_split_file(path, [SplitRow(Path("a") / "b.mp4", 0, 1, 0, 11, 64, 48)], "video")
    assert path.read_text() == "0\na/b.mp4 0 1 0 11 64 48\n"
    assert read_split_file(path).rows[0].path == "a/b.mp4"
    with pytest.raises(ValueError, match=r"rows\[0\]: path 5 must be a str or os.PathLike"):
        write_split_file(path, [SplitRow(5, 0, 1, 0, 11, 64, 48)], "video")


# 4. split files: folders and files in the way ----------------------------------------------------------


def test_split_file_paths_that_are_folders_or_under_a_file(tmp_path):
    rows = [SplitRow("a.mp4", 0, 1, 0, 11, 64, 48)]
    folder = tmp_path / "d"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match=rf"split file {folder}: it is a folder") as e:
        write_split_file(folder, rows, "video")
    assert ".tmp" not in str(e.value) and "\n" not in str(e.value)
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(NotADirectoryError, match=rf"{afile / 's.csv'}: its parent {afile} is not a folder"):
        write_split_file(afile / "s.csv", rows, "video")
    with pytest.raises(IsADirectoryError, match=rf"split file {folder} is a folder, not a split CSV"):
        read_split_file(folder)
    assert sorted(os.listdir(tmp_path)) == ["afile", "d"] and not os.listdir(folder)  # no temporary left


def test_write_packed_into_a_folder_names_it(tmp_path):
    jpegs = [encode_jpeg(np.zeros((8, 8, 3), np.uint8))]
    with pytest.raises(IsADirectoryError, match=rf"packed file {tmp_path}: it is a folder"):
        write_packed(tmp_path, jpegs)


# 5. JPEG ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("quality", [0, 101, 150, -5, 90.0, True])
def test_encode_jpeg_refuses_quality_outside_1_100(quality):
    with pytest.raises(ValueError, match=rf"quality must be an integer in 1..100, got {quality!r}"):
        encode_jpeg(np.zeros((8, 8, 3), np.uint8), quality)


@pytest.mark.parametrize(
    "image, hint",
    [
        (np.zeros((8, 8, 3), np.float32), "float32 of shape (8, 8, 3)"),
        (np.zeros((3, 48, 64), np.uint8), "channels first"),
        (np.zeros((8, 8), np.uint8), "uint8 of shape (8, 8)"),
        (np.zeros((8, 8, 4), np.uint8), "(8, 8, 4)"),
    ],
)
def test_encode_jpeg_refuses_other_arrays(image, hint):
    with pytest.raises(ValueError, match=r"image must be a uint8 \(H, W, 3\) RGB array") as e:
        encode_jpeg(image)
    assert hint in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("backend", JPEG_BACKENDS)
def test_decode_jpeg_bad_data_is_one_line(backend):
    with pytest.raises(JpegDecodeError, match=r"not a readable JPEG: unrecognised image data") as e:
        decode_jpeg(b"junk", backend=backend)
    assert isinstance(e.value, ValueError) and isinstance(e.value, OSError)  # (Pillow's were OSErrors)
    assert "BytesIO" not in str(e.value) and "b'junk'" in str(e.value)
    data = encode_jpeg(np.zeros((48, 64, 3), np.uint8))
    with pytest.raises(JpegDecodeError, match=r"(?i)truncated") as e:
        decode_jpeg(data[:100], backend=backend)
    assert "\n" not in str(e.value) and "100 bytes" in str(e.value)


@pytest.mark.parametrize("backend", JPEG_BACKENDS)
def test_decode_jpeg_short_side_0_keeps_the_size(backend):
    img = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    data = encode_jpeg(img)
    full = decode_jpeg(data, backend=backend)
    assert full.shape == (48, 64, 3)
    assert np.array_equal(decode_jpeg(data, short_side=0, backend=backend), full)
    assert decode_jpeg(data, short_side=6, backend=backend).shape == (6, 8, 3)  # (1/8 still used)
    with pytest.raises(ValueError, match=r"short_side=-1 must be a number of pixels >= 0"):
        decode_jpeg(data, short_side=-1, backend=backend)


def test_decode_jpeg_refuses_unknown_backends():
    data = encode_jpeg(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(
        ValueError, match=r"unknown backend 'turbo'; choose one of \['simplejpeg', 'pillow'\]"
    ):
        decode_jpeg(data, backend="turbo")


# 6. packed store and frame folders ----------------------------------------------------------------------


def test_write_packed_refuses_frames_that_are_not_bytes(tmp_path):
    path = tmp_path / "v.vpk"
    with pytest.raises(
        ValueError, match=r"frame 0 is not JPEG bytes \(a ndarray of shape \(8, 8, 3\)\); encode frames"
    ):
        write_packed(path, [np.zeros((8, 8, 3), np.uint8)])
    with pytest.raises(ValueError, match="list of JPEG byte strings"):
        write_packed(path, encode_jpeg(np.zeros((8, 8, 3), np.uint8)))
    with pytest.raises(ValueError, match=r"frame 1 is not JPEG bytes \(a ndarray of shape \(4,\)\)"):
        write_packed(path, [b"\xff\xd8", np.zeros(4, np.float32)])
    with pytest.raises(ValueError, match=r"frame 0 is not JPEG bytes \(a str\)"):
        write_packed(path, ["a.jpg"])
    with pytest.raises(ValueError, match=r"frame 0 is not JPEG bytes \(a ndarray of shape \(8, 8\)\)"):
        write_packed(path, [np.zeros((8, 8), np.uint8)])  # a decoded grey frame, not bytes
    with pytest.raises(ValueError, match=r"frame 0 is not JPEG bytes \(a Tensor of shape \(8, 8, 3\)\)"):
        write_packed(path, [torch.zeros(8, 8, 3, dtype=torch.uint8)])
    assert not os.listdir(tmp_path)


def test_write_packed_takes_any_buffer_of_jpeg_bytes(tmp_path):
    """Encoded frames held as uint8 buffers pack byte for byte: an (N, 1) array (cv2.imencode), a 1-D
    memoryview (np.frombuffer), a uint8 tensor (torchvision.io.encode_jpeg); they were refused or, as 2-D
    memoryviews, sized by their first dimension."""
    from vai_data.packed import PackedFile

    a = encode_jpeg(np.full((8, 8, 3), 40, np.uint8))
    b = encode_jpeg(np.full((8, 8, 3), 200, np.uint8))
    frames = [
        np.frombuffer(a, np.uint8).reshape(-1, 1),
        memoryview(np.frombuffer(b, np.uint8)),
        torch.frombuffer(bytearray(a), dtype=torch.uint8),
    ]
    write_packed(tmp_path / "v.vpk", frames)
    assert PackedFile(tmp_path / "v.vpk").read_jpeg_bytes([0, 1, 2]) == [a, b, a]


def test_frame_folder_source_refuses_a_pattern_without_placeholder_and_empty_ranges(tmp_path):
    make_frames(tmp_path, 10)
    with pytest.raises(ValueError, match=r"00000\.jpg' has no frame-number placeholder"):
        FrameFolderSource(str(tmp_path / "00000.jpg"), 0, 9)
    for start, end in ((5, 2), (-1, 3)):
        with pytest.raises(ValueError, match=rf"start={start}, end={end} is empty or negative"):
            FrameFolderSource(str(tmp_path / "{:05d}.jpg"), start, end)
    assert FrameFolderSource(str(tmp_path / "{:05d}.jpg"), 3, 3).num_frames == 1  # one frame is fine


# 7. frame extraction ------------------------------------------------------------------------------------


def test_extract_frames_tree_extension_string_and_file_as_folder(tmp_path, video_file):
    videos = tmp_path / "videos"
    videos.mkdir()
    os.symlink(video_file, videos / "a.mp4")
    report = extract_frames_tree(videos, tmp_path / "out", None, extensions="mp4")
    assert report.extracted == {"a.mp4": 12}
    assert extract_frames_tree(videos, tmp_path / "out2", None, extensions=".MP4").extracted == {"a.mp4": 12}
    for bad in ([], [3], ["."]):
        with pytest.raises(ValueError, match="must be a non-empty list of file extensions"):
            extract_frames_tree(videos, tmp_path / "out3", extensions=bad)
    with pytest.raises(NotADirectoryError, match=r"video folder .*clip\.mp4 is a file, not a folder"):
        extract_frames_tree(video_file, tmp_path / "out3")
    assert not (tmp_path / "out3").exists()


def test_extract_frames_cli_file_as_folder_is_one_line(tmp_path, video_file, caplog, capsys):
    rc, errors, err = _cli(caplog, capsys, ["extract-frames", video_file, str(tmp_path / "out")])
    assert rc == 1 and "Traceback" not in err
    _one_line(errors, video_file, "is a file, not a folder")


def test_extract_frames_help_names_the_defaults(capsys):
    from vai_data.frame_extraction import VIDEO_EXTENSIONS

    with pytest.raises(SystemExit) as e:
        main(["extract-frames", "--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps help to the terminal width
    assert "resize shorter side to this (0 keeps size) (default 256)" in text
    assert f"(default {' '.join(VIDEO_EXTENSIONS)})" in text
    assert "(default .mp4 .avi .webm .mkv .mov .m4v .mpg .mpeg .flv)" in text


def test_absurd_short_side_blames_the_argument_not_the_file(tmp_path, video_file, caplog, capsys):
    with pytest.raises(ValueError, match=r"short_side=100000 is larger than 16384 pixels"):
        extract_frames(video_file, tmp_path / "out", short_side=100000)
    for backend in ("pyav", "decord"):
        with pytest.raises(ValueError, match=r"short_side=100000 is larger than 16384 pixels"):
            read_frames(video_file, [0], backend, short_side=100000)
    assert not (tmp_path / "out").exists()
    for cmd in (
        ["extract-frames", os.path.dirname(video_file), str(tmp_path / "out")],
        ["pack", "--split", "x.csv", "--out", str(tmp_path / "out")],
    ):
        rc, errors, _ = _cli(caplog, capsys, [*cmd, "--short-side", "100000"])
        assert rc == 1
        _one_line(errors, "--short-side must be at most 16384 pixels", "100000")
    assert not (tmp_path / "out").exists()
    # large resizes below the limit still work
    assert read_frames(video_file, [0], "pyav", short_side=1024).shape == (1, 1024, 1365, 3)


# 8. vai-data pack leaves no empty --out behind ----------------------------------------------------------


def _unpackable_split(tmp_path) -> str:
    path = tmp_path / "bad.csv"
    path.write_text("0\nnope.mp4 0 1 0 11 64 48\n")
    return str(path)


@pytest.mark.parametrize("store", ["file", pytest.param("lmdb", marks=needs_lmdb)])
def test_pack_removes_the_out_folder_it_created_when_nothing_packs(
    tmp_path, caplog, capsys, video_file, store
):
    split = _unpackable_split(tmp_path)
    out = tmp_path / "packed" / "deep"
    rc, errors, _ = _cli(caplog, capsys, ["pack", "--split", split, "--out", str(out), "--store", store])
    assert rc == 1
    _one_line(errors, "none of its 1 rows could be packed")
    assert not (tmp_path / "packed").exists()
    # a wrong --data-root: every row fails alike
    good = tmp_path / "good.csv"
    good.write_text(f"0\n{os.path.basename(video_file)} 0 1 0 11 64 48\n")
    rc, errors, _ = _cli(
        caplog,
        capsys,
        ["pack", "--split", str(good), "--data-root", str(tmp_path / "wrong"), "--out", str(out)],
    )
    assert rc == 1 and not (tmp_path / "packed").exists()
    # a folder that was there before is kept, with what it holds
    out.mkdir(parents=True)
    (out / "mine.txt").write_text("keep")
    rc, _, _ = _cli(caplog, capsys, ["pack", "--split", split, "--out", str(out), "--store", store])
    assert rc == 1 and sorted(os.listdir(out)) == ["mine.txt"]


def test_pack_out_that_is_a_file_is_one_line(tmp_path, caplog, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    rc, errors, err = _cli(
        caplog, capsys, ["pack", "--split", _unpackable_split(tmp_path), "--out", str(afile)]
    )
    assert rc == 1 and "Traceback" not in err
    _one_line(errors, f"--out {afile} is a file, not a folder")
    assert afile.read_text() == "x"
