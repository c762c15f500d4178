import importlib.util
import os

import numpy as np
import pytest
import torch
from vai_data import (
    GulpDirectory,
    PackedFile,
    SplitRow,
    VideoClipDataset,
    VideoDecodeError,
    decode_jpeg,
    encode_jpeg,
    write_packed,
    write_split_file,
)
from vai_data.gulp import GulpSource, write_gulp_directory
from vai_data.packed import PackedFileSource
from vai_data_test_media import JPEG_BACKENDS

SMALL = dict(crop_size=16, scale_jitter=(20, 24), test_scale=20, num_frames=4)


def _numbered_jpegs(n=6, h=24, w=32):
    out = []
    for i in range(n):
        img = np.zeros((h, w, 3), dtype=np.uint8)
        img[..., 0] = 20 * i  # red level encodes the frame number
        out.append(encode_jpeg(img, quality=95))
    return out


def _frame_no(frame: torch.Tensor) -> int:
    return int(round(float(frame[..., 0].float().mean()) / 20))


@pytest.mark.parametrize("backend", JPEG_BACKENDS)
def test_jpeg_decoders_agree(backend):
    data = _numbered_jpegs(4, 64, 96)[3]
    full = decode_jpeg(data, backend=backend)
    assert full.shape == (64, 96, 3) and _frame_no(torch.from_numpy(full)) == 3
    small = decode_jpeg(data, short_side=16, backend=backend)
    assert 16 <= small.shape[0] < 64  # DCT-domain downscale, never below the request


@pytest.mark.parametrize("backend", JPEG_BACKENDS)
@pytest.mark.parametrize(
    "short, expected",
    [
        (8, (8, 12)),
        (15, (16, 24)),
        (16, (16, 24)),
        (17, (32, 48)),
        (32, (32, 48)),
        (33, (64, 96)),
        (48, (64, 96)),
    ],
)
def test_jpeg_dct_scaling_only_by_powers_of_two(backend, short, expected):
    # 3/8..7/8 IDCT scaling is slower than a full decode; only 1/2, 1/4, 1/8 are used, never below `short`
    from vai_data.jpeg import dct_scale_dims

    data = _numbered_jpegs(1, 64, 96)[0]
    assert decode_jpeg(data, short_side=short, backend=backend).shape[:2] == expected
    assert dct_scale_dims(96, 64, short) == (None if expected == (64, 96) else expected[::-1])


@pytest.mark.parametrize("short", [None, 12, 20, 40])
def test_jpeg_clip_decoded_into_one_buffer_matches_per_frame_decoding(short):
    from vai_data.frame_sources import decode_jpeg_frames

    def decoded(*args, **kw):  # the decoder's frames as a tensor
        return torch.from_numpy(decode_jpeg_frames(*args, **kw))

    blobs = _numbered_jpegs(4, 48, 64)
    blobs = [blobs[2], blobs[0], blobs[2], blobs[3]]  # repeats share one bytes object, as sources give them
    got = decoded(blobs, short, "clip", exact=False)
    ref = np.stack([decode_jpeg(b, short) for b in blobs])
    assert torch.equal(got, torch.from_numpy(ref))
    odd = blobs[:2] + [encode_jpeg(np.zeros((24, 32, 3), np.uint8))]  # another size: general path
    assert decoded(odd, 12, "clip").shape == (3, 12, 16, 3)
    with pytest.raises(VideoDecodeError, match="not a readable JPEG"):
        decoded(blobs[:1] + [b"garbage" * 10], None, "clip")
    with pytest.raises(VideoDecodeError, match="clip: no frames to decode"):
        decoded([], None, "clip")


def test_jpeg_sources_read_arrays_equal_to_their_tensors(tmp_path):
    """``read_array`` is ``read`` without the tensor: the decoder's numpy frames, repeats included."""
    from vai_data.frame_sources import FrameFolderSource, decode_jpeg_frames

    path = str(tmp_path / "v.vpk")
    write_packed(path, _numbered_jpegs())
    folder = tmp_path / "f"
    folder.mkdir()
    for i, b in enumerate(_numbered_jpegs()):
        (folder / f"{i + 1:05d}.jpg").write_bytes(b)
    for src in (PackedFileSource(path, 1, 4), FrameFolderSource(str(folder / "{:05d}.jpg"), 2, 5)):
        for idx in ([2, 0, 0, 3], torch.tensor([1, 1, 2])):
            arr, ten = src.read_array(idx, 12, exact=False), src.read(idx, 12, exact=False)
            assert isinstance(arr, np.ndarray) and arr.dtype == np.uint8 and arr.shape[0] == len(idx)
            assert torch.equal(torch.from_numpy(arr), ten)
            assert [_frame_no(torch.from_numpy(f)) for f in arr] == [1 + int(i) for i in idx]
        assert torch.equal(src.read([0], bgr=True), src.read([0]).flip(-1))
    blobs = _numbered_jpegs()
    assert decode_jpeg_frames([blobs[1], blobs[1]], None, "x").shape[0] == 2


@pytest.mark.parametrize("exact", [True, False])
def test_repeated_frames_decode_once_and_land_in_every_slot(exact):
    """Short videos sample frames twice: each distinct frame is decoded once, the repeats copied."""
    from vai_data.frame_sources import decode_jpeg_frames

    blobs = _numbered_jpegs(4, 48, 64)
    clip = [blobs[0], blobs[0], blobs[1], blobs[3], blobs[1], blobs[3], blobs[3]]
    for short in (None, 24, 20, 40):  # none, DCT 1/2 exactly, DCT + resize (or kept above), upscale
        got = decode_jpeg_frames(clip, short, "clip", exact=exact)
        ref = torch.stack([torch.from_numpy(decode_jpeg(b, short)) for b in clip])
        if exact and short is not None:
            from vai_data.frame_sources import resize_short_side_thwc

            ref = resize_short_side_thwc(ref, short)
        assert got.shape == tuple(ref.shape) and torch.equal(torch.from_numpy(got), ref)
        assert [_frame_no(torch.from_numpy(f)) for f in got] == [0, 0, 1, 3, 1, 3, 3]


def test_lmdb_and_gulp_sources_read_arrays(tmp_path):
    from vai_data.packed import LmdbSource

    write_gulp_directory(str(tmp_path / "g"), {"v": _numbered_jpegs()})
    sources = [GulpSource(str(tmp_path / "g"), "v", 1, 4)]
    if importlib.util.find_spec("lmdb") is not None:
        import lmdb

        env = lmdb.open(str(tmp_path / "l"), map_size=1 << 24)
        with env.begin(write=True) as txn:
            txn.put(b"v/n", b"6")
            for i, b in enumerate(_numbered_jpegs()):
                txn.put(f"v/{i:06d}".encode(), b)
        env.close()
        sources.append(LmdbSource(str(tmp_path / "l"), "v", 1, 4))
    for src in sources:
        assert src.num_frames == 4
        arr = src.read_array([3, 0, 0], 12, exact=False)
        assert torch.equal(torch.from_numpy(arr), src.read(torch.tensor([3, 0, 0]), 12, exact=False))
        assert [_frame_no(torch.from_numpy(f)) for f in arr] == [4, 1, 1]


@pytest.mark.parametrize("on_device", [True, False])
@pytest.mark.parametrize("storage", ["frames", "packed"])
def test_train_samples_show_the_frames_they_name_when_rows_start_later(tmp_path, storage, on_device):
    """Split rows starting at frame 3: every train clip's frames are the stored frames its
    ``frame_indices`` name (the numpy crop path and the tensor path, with and without resizes)."""
    jpegs = _numbered_jpegs(10)
    if storage == "frames":
        (tmp_path / "f").mkdir()
        for i, b in enumerate(jpegs):
            (tmp_path / "f" / f"{i:05d}.jpg").write_bytes(b)
        write_split_file(tmp_path / "s.csv", [SplitRow("f/{:05d}.jpg", 0, 1, 3, 8)], "frames")
    else:
        write_packed(str(tmp_path / "v.vpk"), jpegs)
        write_split_file(tmp_path / "s.csv", [SplitRow("v.vpk", 0, 1, 3, 8)], "gulp")
    for jitter in [(24, 24), (30, 36)]:
        ds = VideoClipDataset(
            tmp_path / "s.csv",
            tmp_path,
            train=True,
            num_frames=4,
            crop_size=16,
            scale_jitter=jitter,
            mean=(0, 0, 0),
            std=(1, 1, 1),
            normalise_on_device=on_device,
            seed=1,
        )
        assert ds.storage == storage
        for epoch in range(6):
            ds.set_epoch(epoch)
            s = ds[0]
            video = s["video"].float() if on_device else s["video"] * 255
            shown = [int(round(float(video[0, t].mean()) / 20)) for t in range(4)]
            assert shown == s["frame_indices"].tolist() and all(3 <= i <= 8 for i in shown)


def test_packed_file_reads_only_requested(tmp_path):
    path = str(tmp_path / "a" / "v.vpk")
    write_packed(path, _numbered_jpegs())
    pf = PackedFile(path)
    assert pf.num_frames == 6
    blobs = pf.read_jpeg_bytes([5, 1, 1])
    assert [_frame_no(torch.from_numpy(decode_jpeg(b))) for b in blobs] == [5, 1, 1]


def test_packed_file_long_index_and_any_order(tmp_path):
    # 700 frames: the index (5.6 KB) is longer than the reader's first 4 KiB read
    path = str(tmp_path / "long.vpk")
    blobs = _numbered_jpegs(6)
    write_packed(path, [blobs[i % 6] for i in range(700)])
    pf = PackedFile(path)
    assert pf.num_frames == 700 and len(pf.offsets) == 701
    got = pf.read_jpeg_bytes([699, 3, 699, 650])
    assert got == [blobs[699 % 6], blobs[3], blobs[699 % 6], blobs[650 % 6]]
    with pytest.raises(VideoDecodeError, match="outside the 700 packed frames"):
        pf.read_jpeg_bytes([700])


def test_packed_file_without_pread(tmp_path, monkeypatch):
    """Platforms without os.pread (Windows) read through a file object: same bytes, same errors."""
    path = str(tmp_path / "v.vpk")
    blobs = _numbered_jpegs()
    write_packed(path, blobs)
    monkeypatch.delattr("os.pread")
    pf = PackedFile(path)
    assert pf.read_jpeg_bytes([4, 0, 4]) == [blobs[4], blobs[0], blobs[4]]
    with pytest.raises(VideoDecodeError, match="does not exist"):
        PackedFile(str(tmp_path / "missing.vpk"))


DAMAGE_CAUSES = {
    "magic": "not a vai packed file",
    "truncated": "truncated packed file",
    "index": "truncated packed index",
    "long_index": "truncated packed index",
    "empty": "too short for its header",
    "missing": "does not exist",
    "directory": "cannot read",
    "offset_backwards": "corrupt packed index",
    "offset_huge": "corrupt packed index",
    "offset_into_header": "corrupt packed index",
    "count_huge": "corrupt frame count: the header's 4294967295 frames need a 34359738384-byte",
    "count_past_end": "corrupt frame count: the header's 1000000 frames need a 8000024-byte",
}


@pytest.mark.parametrize("damage", list(DAMAGE_CAUSES))
def test_packed_file_damage_raises(tmp_path, damage):
    import struct

    path = tmp_path / "v.vpk"
    blobs = _numbered_jpegs()
    long = damage in ("long_index", "count_huge", "count_past_end")  # (files longer than the first read)
    write_packed(str(path), [blobs[i % 6] for i in range(700)] if long else blobs)
    data = bytearray(path.read_bytes())
    offset = 16 + 8 * 5  # offsets[5], the start of frame 5
    if damage == "magic":
        data[:8] = b"XXXXXXXX"
    elif damage == "truncated":
        data = data[: len(data) - 300]
    elif damage in ("index", "long_index"):
        data = data[: 40 if damage == "index" else 5000]  # the index ends at 16 + 8 * 701 = 5624
    elif damage == "empty":
        data = b""
    elif damage == "offset_backwards":
        struct.pack_into("<Q", data, offset, 10**6)  # frame 5 would start after it ends
        struct.pack_into("<Q", data, offset + 8, 20)
    elif damage == "offset_huge":
        struct.pack_into("<Q", data, offset, 2**63 + 5)
        struct.pack_into("<Q", data, offset + 8, 2**63 + 105)
    elif damage == "offset_into_header":
        struct.pack_into("<Q", data, offset, 8)
    elif damage in ("count_huge", "count_past_end"):  # an index longer than the file: no huge read
        struct.pack_into("<I", data, 8, 0xFFFFFFFF if damage == "count_huge" else 10**6)
    if damage in ("directory", "missing"):
        path.unlink()
        if damage == "directory":
            path.mkdir()
    else:
        path.write_bytes(bytes(data))
    with pytest.raises(VideoDecodeError, match="v.vpk") as err:
        PackedFile(path).read_jpeg_bytes([0, 5])
    assert DAMAGE_CAUSES[damage] in str(err.value)


def test_packed_file_corrupt_frame_count_without_pread(tmp_path, monkeypatch):
    """The index-size check also holds where frames are read through a file object (no os.pread)."""
    import struct

    path = tmp_path / "v.vpk"
    write_packed(str(path), [_numbered_jpegs(1)[0]] * 700)
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 8, 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    monkeypatch.delattr("os.pread")
    with pytest.raises(VideoDecodeError, match=r"v\.vpk: truncated packed index or corrupt frame count"):
        PackedFile(path)


def test_packed_header_tag_is_kept_and_ignored_by_readers(tmp_path):
    from vai_data.packed import packed_tag

    blobs = _numbered_jpegs(3)
    write_packed(str(tmp_path / "t.vpk"), blobs, tag=0xDEADBEEF)
    write_packed(str(tmp_path / "old.vpk"), blobs)
    (tmp_path / "junk.vpk").write_bytes(b"not a packed file")
    assert packed_tag(str(tmp_path / "t.vpk")) == 0xDEADBEEF
    assert packed_tag(str(tmp_path / "old.vpk")) == packed_tag(str(tmp_path / "junk.vpk")) == 0
    assert packed_tag(str(tmp_path / "missing.vpk")) is None
    assert PackedFile(tmp_path / "t.vpk").read_jpeg_bytes([2, 0]) == [blobs[2], blobs[0]]
    with pytest.raises(ValueError, match=r"x\.vpk: tag 4294967296 does not fit"):
        write_packed(str(tmp_path / "x.vpk"), blobs, tag=1 << 32)


def test_packed_file_accepts_paths_and_index_like_frame_numbers(tmp_path):
    path = tmp_path / "v.vpk"
    blobs = _numbered_jpegs()
    write_packed(str(path), blobs)
    pf = PackedFile(path)  # a pathlib.Path, not only str
    assert pf.path == str(path)
    got = pf.read_jpeg_bytes(torch.tensor([2, 2, 1]))  # 0-d tensors and numpy ints as frame numbers
    assert got == [blobs[2], blobs[2], blobs[1]]
    assert pf.read_jpeg_bytes(np.array([5, 0])) == [blobs[5], blobs[0]]


def test_gulp_directory(tmp_path):
    root = tmp_path / "gulp"
    write_gulp_directory(str(root), {"P01_01_0": _numbered_jpegs(6), "P01_01_1": _numbered_jpegs(3)})
    gd = GulpDirectory(str(root))
    assert len(gd) == 2 and gd.num_frames("P01_01_0") == 6
    frames = gd.read_jpeg_bytes("P01_01_0", [4, 2])
    assert [_frame_no(torch.from_numpy(decode_jpeg(b))) for b in frames] == [4, 2]
    raw = (root / "data_0.gulp").read_bytes()
    assert len(raw) % 4 == 0  # records padded to 4 bytes as GulpIO2 does
    rows = [SplitRow("P01_01_0", 10, 3, 1, 5), SplitRow("P01_01_1", 11, 2, 0, 2)]
    write_split_file(tmp_path / "g.csv", rows, "gulp")
    ds = VideoClipDataset(tmp_path / "g.csv", root, train=False, **SMALL)
    assert ds.storage == "gulp"
    s = ds[0]
    assert s["frame_indices"].tolist() == [1, 2, 3, 4] and s["video"].shape == (3, 4, 16, 16)
    with pytest.raises(VideoDecodeError, match="id not found"):
        gd.read_jpeg_bytes("nope", [0])


@pytest.mark.parametrize(
    "meta, match",
    [
        ('{"a": {"meta_data": []}}', "gulp entry 'a' has no frame_info list"),
        ('{"a": [1, 2]}', "gulp entry 'a' has no frame_info list"),
        ("[1, 2]", "does not hold a {id: entry} object"),
        ('{"a": ', "not valid JSON"),
    ],
)
def test_damaged_gulp_meta_names_the_file(tmp_path, meta, match):
    root = tmp_path / "gulp"
    write_gulp_directory(str(root), {"a": _numbered_jpegs(2)})
    (root / "meta_0.gmeta").write_text(meta)
    with pytest.raises(VideoDecodeError, match="meta_0.gmeta") as e:
        GulpDirectory(str(root))
    assert match in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("pattern", ["clip/{:05d}.jpg", "clip/img_{frame:05d}.jpg"])
def test_one_based_frame_folders(tmp_path, pattern):
    os.makedirs(tmp_path / "clip")
    for i, blob in enumerate(_numbered_jpegs(5), start=1):  # files 1..5 hold frames 0..4
        (tmp_path / pattern.format(i, frame=i)).write_bytes(blob)
    write_split_file(tmp_path / "s.csv", [SplitRow(pattern, 3, 0, 1, 5)], "frames")
    ds = VideoClipDataset(
        tmp_path / "s.csv",
        tmp_path,
        train=False,
        num_frames=5,
        crop_size=16,
        test_scale=24,
        mean=(0.0,),
        std=(1.0 / 255,),
    )
    s = ds[0]
    assert s["frame_indices"].tolist() == [1, 2, 3, 4, 5]
    assert [_frame_no(s["video"][:, t].permute(1, 2, 0)) for t in range(5)] == [0, 1, 2, 3, 4]


def test_flow_direction_pattern(tmp_path):
    from vai_data import FrameFolderSource

    for d in ("u", "v"):
        os.makedirs(tmp_path / d)
        for i, blob in enumerate(_numbered_jpegs(3)):
            (tmp_path / d / f"{i:05d}.jpg").write_bytes(blob)
    src = FrameFolderSource(str(tmp_path / "{flow_direction}" / "{:05d}.jpg"), 0, 2, flow_direction="v")
    assert src.read(torch.tensor([2, 0])).shape == (2, 24, 32, 3)
    with pytest.raises(VideoDecodeError, match="00007.jpg"):
        src.read(torch.tensor([7]))


@pytest.mark.parametrize("backend", JPEG_BACKENDS)
def test_corrupt_frame_error_names_the_frame_file(tmp_path, monkeypatch, backend):
    """A bad JPEG in a folder names that file and a readable cause, not the pattern or a BytesIO repr."""
    from vai_data import FrameFolderSource, jpeg

    monkeypatch.setattr(jpeg, "JPEG_BACKEND", backend)
    for i, blob in enumerate(_numbered_jpegs(4)):
        (tmp_path / f"{i:05d}.jpg").write_bytes(blob)
    (tmp_path / "00002.jpg").write_bytes(b"<html>not found</html>")
    src = FrameFolderSource(str(tmp_path / "{:05d}.jpg"), 0, 3)
    assert src.read([0, 1, 3]).shape == (3, 24, 32, 3)
    with pytest.raises(VideoDecodeError) as err:
        src.read([0, 1, 2, 3])
    msg = str(err.value)
    assert err.value.path == str(tmp_path / "00002.jpg") and "{:05d}" not in msg
    assert "unrecognised image data" in msg and "b'<html>no'" in msg and "BytesIO" not in msg
    (tmp_path / "00002.jpg").write_bytes(_numbered_jpegs(3)[2][:200])  # truncated
    with pytest.raises(
        VideoDecodeError, match=r"00002\.jpg: not a readable JPEG \(OSError: (?i:.*truncated)"
    ):
        src.read([2, 0])


def test_corrupt_packed_frame_error_names_the_stored_frame(tmp_path):
    path = str(tmp_path / "v.vpk")
    write_packed(path, _numbered_jpegs(3) + [b"junk" * 8])
    with pytest.raises(VideoDecodeError, match=r"v\.vpk: stored frame 3: not a readable JPEG"):
        PackedFileSource(path).read([0, 3])
