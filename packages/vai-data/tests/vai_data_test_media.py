"""Tiny media for vai-data's tests (videos via PyAV, JPEG frame folders via Pillow).

A uniquely named module, not conftest: test directories of several packages share one sys.path in
a combined pytest run, and a second ``conftest`` module would shadow this one.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

# optional extras (vai-data[fastjpeg] / [lmdb], both in [test]): tests that need one skip without it
needs_simplejpeg = pytest.mark.skipif(
    importlib.util.find_spec("simplejpeg") is None, reason="simplejpeg is not installed (vai-data[fastjpeg])"
)
needs_lmdb = pytest.mark.skipif(
    importlib.util.find_spec("lmdb") is None, reason="lmdb is not installed (vai-data[lmdb])"
)
JPEG_BACKENDS = [pytest.param("simplejpeg", marks=needs_simplejpeg), "pillow"]


def torchcodec_loads() -> bool:
    """True where torchcodec loads with FFmpeg's shared libraries (`nox -s tests-data` sets that up)."""
    from vai_data.decode import torchcodec_available

    return torchcodec_available()


def make_video(path: Path, frames: int = 3, width: int = 32, height: int = 24, step: int = 40) -> Path:
    """Encode a tiny mpeg4 video with PyAV; frame i is uniform grey ``step * i``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            img = np.full((height, width, 3), step * i, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def make_frames(folder: Path, n: int, first: int = 0, fmt: str = "{:05d}.jpg") -> Path:
    """Write ``n`` 8x8 JPEG frames numbered from ``first`` with the filename pattern ``fmt``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(first, first + n):
        Image.new("RGB", (8, 8), (i * 10 % 255, 0, 0)).save(folder / fmt.format(i))
    return folder


def lines(path: Path) -> list[str]:
    """The lines of a text file."""
    return path.read_text().splitlines()


def write_hmdb_lists(d: Path) -> None:
    d.mkdir(parents=True)
    for k in (1, 2, 3):
        (d / f"brush_hair_test_split{k}.txt").write_text("b1.avi 1 \nb2.avi 2 \nb3.avi 0 \n")
        (d / f"cartwheel_test_split{k}.txt").write_text("c1.avi 2 \nc2.avi 1 \n")


FUZZ_NAMES = ("zero.mp4", "good.mp4", "trunc.mp4", "rand.mp4", "missing.mp4")


def write_fuzz_split(root: Path, video_file: str, names=FUZZ_NAMES) -> Path:
    """A video split over ``names`` in ``root``: zero.mp4 (0 bytes), trunc.mp4 (a third of ``video_file``),
    rand.mp4 (random bytes), good.mp4 (``video_file``) and missing.mp4 (no file); 12 frames, 64 x 48."""
    import os

    from vai_data import SplitRow, write_split_file

    data = open(video_file, "rb").read()
    (root / "zero.mp4").write_bytes(b"")
    (root / "trunc.mp4").write_bytes(data[: len(data) // 3])
    (root / "rand.mp4").write_bytes(os.urandom(3000))
    (root / "good.mp4").write_bytes(data)
    rows = [SplitRow(n, i, i % 2, 0, 11, 64, 48) for i, n in enumerate(names)]
    write_split_file(root / "fuzz.csv", rows, "video")
    return root / "fuzz.csv"
