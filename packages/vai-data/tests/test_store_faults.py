"""Packed stores, gulp directories and packing under the faults users meet: a store read before DataLoader
workers fork, a half-copied LMDB, stores shared by a group, packing into the dataset's own split folder or
through an iopath handler, a full LMDB, segments deep into long videos, duplicate gulp ids."""

from __future__ import annotations

import multiprocessing
import os
import stat

import numpy as np
import pytest
import torch
from iopath.common.file_io import PathHandler
from test_storage import SMALL
from torch.utils.data import DataLoader
from vai_data import SplitRow, VideoClipDataset, pack_split, path_manager, write_split_file
from vai_data.packed import LmdbSource, close_lmdb, open_lmdb, write_packed


def _lmdb_store(tmp_path, synth_root):
    pytest.importorskip("lmdb")
    split = os.path.join(synth_root, "splits", "val_frames.csv")
    new_split = pack_split(split, synth_root, tmp_path / "l", store="lmdb")
    return new_split, tmp_path / "l" / "frames.lmdb"


def test_lmdb_read_in_the_parent_then_in_forked_workers(tmp_path, synth_root):
    """py-lmdb refuses to open a store already open in the process; a forked worker inherits the parent's
    environment (it raised lmdb.Error in every worker once the parent had read a sample)."""
    new_split, root = _lmdb_store(tmp_path, synth_root)
    ds = VideoClipDataset(new_split, root, train=False, **SMALL)
    first = ds[0]["video"]  # the parent opens (and caches) the environment
    loader = DataLoader(
        ds, batch_size=2, num_workers=2, multiprocessing_context=multiprocessing.get_context("fork")
    )
    batches = list(loader)
    assert sum(len(b["video"]) for b in batches) == len(ds)
    assert torch.equal(batches[0]["video"][0], first)
    assert torch.equal(ds[1]["video"], batches[0]["video"][1])  # the parent's environment still reads


def test_lmdb_store_opened_under_two_spellings(tmp_path, synth_root, monkeypatch):
    new_split, root = _lmdb_store(tmp_path, synth_root)
    monkeypatch.chdir(tmp_path)
    key = open(new_split).read().splitlines()[1].split()[0]
    a = LmdbSource(os.path.relpath(root), key)
    b = LmdbSource(str(root) + os.sep, key)  # (raised "already open in this process")
    assert a.env is b.env and a._blobs([0]) == b._blobs([0])
    close_lmdb(str(root))


def test_truncated_lmdb_is_an_error_not_a_bus_error(tmp_path, synth_root):
    _, root = _lmdb_store(tmp_path, synth_root)
    close_lmdb(str(root))
    data = root / "data.mdb"
    full = data.stat().st_size
    open_lmdb(str(root))  # the complete store opens
    close_lmdb(str(root))
    with open(data, "r+b") as f:
        f.truncate(full // 3)  # an interrupted copy
    with pytest.raises(OSError, match=r"truncated: data.mdb holds \d+ bytes, its pages need \d+"):
        open_lmdb(str(root))


def test_stores_and_split_files_get_the_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_packed(str(tmp_path / "v.vpk"), [b"\xff\xd8jpeg"])
        write_split_file(tmp_path / "s.csv", [SplitRow("v.vpk", 0, 1, 0, 0)], "gulp")
    finally:
        os.umask(old)
    for name in ("v.vpk", "s.csv"):  # (mkstemp made them 0600: unreadable to the rest of a lab)
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
    assert sorted(os.listdir(tmp_path)) == ["s.csv", "v.vpk"]  # no temporary file left


def test_pack_refuses_to_overwrite_its_input_split(tmp_path, synth_root):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(synth_root, root)
    split = root / "splits" / "val.csv"
    before = split.read_bytes()
    with pytest.raises(ValueError, match="would overwrite the input split"):
        pack_split(split, root, root)
    assert split.read_bytes() == before and not list(root.glob("**/*.vpk"))


class _Prefix(PathHandler):
    def _get_supported_prefixes(self):
        return ["vaifault://"]


def test_pack_refuses_an_out_root_served_by_a_handler(tmp_path, synth_root, monkeypatch):
    path_manager.register_handler(_Prefix(), allow_override=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="served by an iopath handler"):
        pack_split(os.path.join(synth_root, "splits", "val.csv"), synth_root, "vaifault://packed")
    assert os.listdir(tmp_path) == []  # (the store went to a local folder named 'vaifault:')


def test_a_split_served_by_a_handler_packs_twice_into_one_out(tmp_path, synth_root):
    """The input-split check compares local files only (a handler's split crashed os.path.samefile once
    the first run had written <out>/splits/<name>)."""
    import shutil

    from test_pathio import MemPrefixHandler

    class Repack(MemPrefixHandler):
        PREFIX = "vairepack://"

    shutil.copytree(synth_root, tmp_path / "ds")
    path_manager.register_handler(Repack(str(tmp_path)), allow_override=True)
    split = "vairepack://ds/splits/val_frames.csv"
    first = pack_split(split, "vairepack://ds", tmp_path / "out")
    assert pack_split(split, "vairepack://ds", tmp_path / "out") == first


def test_a_full_lmdb_is_one_clear_error(tmp_path, synth_root, monkeypatch):
    pytest.importorskip("lmdb")
    import vai_data.pack_stores as pack_stores

    monkeypatch.setattr(pack_stores, "_LMDB_MAP_SIZE", 16 * 1024)
    with pytest.raises(OSError, match="reached its map size"):
        pack_split(os.path.join(synth_root, "splits", "val_frames.csv"), synth_root, tmp_path, store="lmdb")
    assert not (tmp_path / "splits").exists()


def _numbered_video(path, n: int, vfr: bool = False) -> str:
    """Frame t shows t // 16 and t % 16 as the brightness of two 8-pixel column blocks, H.264 GOP 8;
    ``vfr``: irregular pts."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25, options={"g": "8", "threads": "1", "crf": "0"})
        s.width, s.height, s.pix_fmt = 32, 16, "yuv420p"
        if vfr:
            s.codec_context.time_base = Fraction(1, 1000)
        t_ms = 0
        for t in range(n):
            img = np.zeros((16, 32, 3), np.uint8)
            img[:, :8], img[:, 16:24] = 32 * (t // 16), 16 * (t % 16)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            if vfr:
                frame.pts, frame.time_base = t_ms, Fraction(1, 1000)
                t_ms += (40, 20, 55)[t % 3]
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return str(path)


def _frame_numbers(jpegs) -> list[int]:
    from vai_data.jpeg import decode_jpeg

    frames = [decode_jpeg(j).astype(float) for j in jpegs]
    return [16 * round(f[:, 2:6].mean() / 32) + round(f[:, 18:22].mean() / 16) for f in frames]


@pytest.mark.parametrize("vfr", [False, True], ids=["cfr", "vfr"])
def test_segments_deep_into_a_video_are_packed_by_seeking(tmp_path, monkeypatch, vfr):
    """A segment far into a long video starts at its keyframe (packing EPIC-style segments decoded every
    video from frame 0 for every row: quadratic); where timestamps do not count frames, frames are counted
    from the start. Either way the segment holds exactly its frames."""
    import vai_data.packing as packing

    path = _numbered_video(tmp_path / "long.mp4", 120, vfr)
    seeks = []
    walk = packing._walk_frames

    def spy(container, stream, seek_frame, first_wanted, errors):
        seeks.append(seek_frame)
        return walk(container, stream, seek_frame, first_wanted, errors)

    monkeypatch.setattr(packing, "_walk_frames", spy)
    jpegs = packing.video_to_jpegs(path, 100, 109)
    assert _frame_numbers(jpegs) == list(range(100, 110))
    assert seeks == ([0] if vfr else [100])
    assert _frame_numbers(packing.video_to_jpegs(path, 3, 5)) == [3, 4, 5] and seeks[-1] == 0
    tail, at_end = packing._decode_video(path, 110, 500, None, 90)  # past the real end: up to it
    assert _frame_numbers(tail) == list(range(110, 120)) and at_end


def test_a_segment_at_the_end_of_an_mpegts_video_falls_back_to_counting(tmp_path):
    """MPEG-TS has no index: a seek near its end yields no frame, and the segment is then decoded from the
    start (it was dropped from the packed split as 'no frames in range')."""
    import vai_data.packing as packing
    from test_decode_seek_accuracy import _X264, _seek_encode, _seek_read_barcode

    path = _seek_encode(tmp_path / "t.ts", "libx264", _X264, "mpegts")
    for start, end in ((90, 95), (95, 95), (60, 70)):
        jpegs = packing.video_to_jpegs(path, start, end)
        from vai_data.jpeg import decode_jpeg

        assert [_seek_read_barcode(decode_jpeg(j)) for j in jpegs] == list(range(start, end + 1))


def test_packing_a_split_of_segments_of_one_video(tmp_path):
    _numbered_video(tmp_path / "v.mp4", 120)
    rows = [SplitRow("v.mp4", i, 0, a, b, 32, 16) for i, (a, b) in enumerate([(60, 69), (0, 9), (64, 80)])]
    write_split_file(tmp_path / "seg.csv", rows, "video")
    new_split = pack_split(tmp_path / "seg.csv", tmp_path, tmp_path / "packed")
    from vai_data.packed import PackedFile
    from vai_data.split_file import read_split_file

    got = [PackedFile(str(tmp_path / "packed" / r.path)) for r in read_split_file(new_split).rows]
    for pack, (a, b) in zip(got, [(60, 69), (0, 9), (64, 80)], strict=True):
        assert _frame_numbers(pack.read_jpeg_bytes(list(range(pack.num_frames)))) == list(range(a, b + 1))


def test_duplicate_gulp_ids_across_chunks_are_refused(tmp_path):
    from vai_data.gulp import GulpDirectory, write_gulp_directory
    from vai_data.jpeg import encode_jpeg

    jpeg = encode_jpeg(np.zeros((8, 8, 3), np.uint8))
    write_gulp_directory(str(tmp_path), {"a": [jpeg], "b": [jpeg]}, chunk=0)
    write_gulp_directory(str(tmp_path), {"b": [jpeg, jpeg]}, chunk=1)
    with pytest.raises(ValueError, match="gulp id 'b' is also in data_0.gulp"):
        GulpDirectory(str(tmp_path))
