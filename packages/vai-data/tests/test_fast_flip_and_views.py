"""The train path's shortcuts give the same clips as the plain path: flipped clips decoded BGR and mirrored
in one pass (``hflip_bgr``; the flip is drawn before decoding), crops handed to the collate uncopied, the cheaper
per-sample RNG scope and the numpy TSN sampler."""

import os

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, default_collate
from vai_data import VideoClipDataset, encode_jpeg, pack_split, sparse_indices
from vai_data.datasets import train_loading
from vai_data.datasets.resilience import SampleRNG
from vai_data.frame_sources import FrameFolderSource, JpegFrameSource, decode_jpeg_frames
from vai_data.transforms import collate_clips, hflip_bgr, is_channels_last_clip
from vai_data_test_media import JPEG_BACKENDS, needs_lmdb, needs_simplejpeg

KW = dict(num_frames=4, crop_size=24, seed=11)


def _rand_clip(t=3, h=10, w=14, c=3, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (t, h, w, c), generator=g, dtype=torch.uint8)


@pytest.mark.parametrize("layout", ["channels_last", "crop_view", "resized_output", "contiguous", "grey"])
def test_hflip_bgr_equals_reversing_channels_then_flipping(layout):
    thwc = _rand_clip(c=1 if layout == "grey" else 3)
    clip = thwc.permute(0, 3, 1, 2)  # (T, C, H, W) view of a channels-last buffer
    if layout == "crop_view":
        clip = clip[..., 2:9, 3:12]
    elif layout == "resized_output":
        clip = clip.contiguous(memory_format=torch.channels_last)
    elif layout == "contiguous":
        clip = clip.contiguous()
    got = hflip_bgr(clip)
    assert torch.equal(got, clip.flip(-3).flip(-1))
    if layout in ("channels_last", "crop_view", "resized_output"):  # the one-pass path: dense channels-last
        assert got.permute(0, 2, 3, 1).is_contiguous()


def test_hflip_bgr_other_ranks_take_the_plain_path():
    x = _rand_clip().permute(3, 0, 1, 2)[None]  # (1, C, T, H, W)
    assert torch.equal(hflip_bgr(x), x.flip(-3).flip(-1))


def test_sample_rng_seeds_and_restores_the_global_generator():
    torch.manual_seed(123)
    outer = torch.get_rng_state()
    with SampleRNG(42):
        a = torch.rand(3)
    assert torch.equal(torch.get_rng_state(), outer)
    with SampleRNG(42):
        assert torch.equal(torch.rand(3), a)
    with pytest.raises(RuntimeError), SampleRNG(1):
        raise RuntimeError("boom")
    assert torch.equal(torch.get_rng_state(), outer)  # restored on errors too


def _reference_sparse(n, t, train, g):
    """The TSN formula written with torch ops (the product in float64, as Python floats compute it); a
    video shorter than t is sampled over its frames each repeated r = ceil(t/n) times."""
    r = -(-t // n) if n < t else 1
    starts = torch.tensor([n * r * i // t for i in range(t + 1)], dtype=torch.long)
    lo, hi = starts[:-1], starts[1:]
    if not train:
        return lo // r
    width = hi - lo
    return (lo + (torch.rand(t, generator=g).double() * width).long().clamp(max=width - 1)) // r


def test_sparse_indices_bit_identical_to_the_torch_formula():
    """Also past 2**24 frames per segment, where a float32 product would round to a neighbouring frame."""
    for n in [*range(1, 120), 997, 65_537, 2**25 + 3]:
        for t in (1, 3, 8, 32):
            for train in (False, True):
                a = sparse_indices(n, t, train, torch.Generator().manual_seed(n * 7 + t))
                b = _reference_sparse(n, t, train, torch.Generator().manual_seed(n * 7 + t))
                assert a.dtype == torch.long and torch.equal(a, b), (n, t, train)


def _jpegs(n=5, h=24, w=40):
    rng = np.random.default_rng(0)
    return [encode_jpeg(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), 90) for _ in range(n)]


@pytest.mark.parametrize("backend", JPEG_BACKENDS)
@pytest.mark.parametrize("short", [None, 12])
def test_decode_jpeg_frames_bgr_is_rgb_reversed(monkeypatch, backend, short):
    import vai_data.jpeg

    monkeypatch.setattr(vai_data.jpeg, "JPEG_BACKEND", backend)
    blobs = _jpegs()
    blobs = [blobs[1], blobs[0], blobs[1]]
    rgb = torch.from_numpy(decode_jpeg_frames(blobs, short, "clip", exact=False))
    bgr = torch.from_numpy(decode_jpeg_frames(blobs, short, "clip", exact=False, bgr=True))
    assert torch.equal(bgr, rgb.flip(-1))
    assert FrameFolderSource("v/{:05d}.jpg", 0, 2).reads_bgr == (backend == "simplejpeg")


@needs_simplejpeg  # Pillow has no BGR output: the sources decode RGB
@needs_lmdb
def test_frame_and_packed_sources_read_bgr(tmp_path):
    folder = tmp_path / "v"
    folder.mkdir()
    for i, b in enumerate(_jpegs(6)):
        (folder / f"{i:05d}.jpg").write_bytes(b)
    src = FrameFolderSource(str(folder / "{:05d}.jpg"), 0, 5)
    idx = torch.tensor([4, 0, 4, 2])
    rgb = src.read(idx, 20, exact=False)
    assert src.reads_bgr and torch.equal(src.read(idx, 20, exact=False, bgr=True), rgb.flip(-1))
    from vai_data import SplitRow, write_split_file

    write_split_file(tmp_path / "f.csv", [SplitRow("v/{:05d}.jpg", 0, 0, 0, 5)], "frames")
    for store, root in (("file", tmp_path / "p"), ("lmdb", tmp_path / "l" / "frames.lmdb")):
        new_split = pack_split(tmp_path / "f.csv", tmp_path, root.parent if store == "lmdb" else root, store)
        ds = VideoClipDataset(new_split, root, train=True)
        p = ds.make_source(ds.split.rows[0])
        assert p.reads_bgr and torch.equal(p.read(idx, 20, exact=False, bgr=True), rgb.flip(-1))
    from vai_data.gulp import GulpSource, write_gulp_directory

    write_gulp_directory(
        str(tmp_path / "g"), {"v": [(folder / f"{i:05d}.jpg").read_bytes() for i in range(6)]}
    )
    g = GulpSource(str(tmp_path / "g"), "v")
    assert g.reads_bgr and torch.equal(g.read(idx, 20, exact=False, bgr=True), rgb.flip(-1))


def _datasets(root, split, **kw):
    return [VideoClipDataset(os.path.join(root, split), root, train=True, **KW, **kw) for _ in range(2)]


@needs_simplejpeg  # the BGR path exists where simplejpeg decodes
@pytest.mark.parametrize("jitter", [(32, 32), (26, 30), (34, 40)])  # exact crop; fused resize down; up
@pytest.mark.parametrize("on_device", [True, False])
@pytest.mark.parametrize("sampling", ["sparse", "dense"])
def test_bgr_flip_path_gives_the_plain_path_clips(synth_root, monkeypatch, jitter, on_device, sampling):
    split = os.path.join("splits", "train_frames.csv")
    fast, plain = _datasets(  # flips in the worker (with normalise_on_device they default to the device)
        synth_root,
        split,
        scale_jitter=jitter,
        normalise_on_device=on_device,
        flip_on_device=False,
        sampling=sampling,
    )
    n = len(fast)
    mirrored = []  # the BGR path must be the one under test, not skipped
    monkeypatch.setattr(train_loading, "hflip_bgr", lambda clip: mirrored.append(1) or hflip_bgr(clip))
    got = [fast[i] for i in range(n)]
    assert mirrored
    monkeypatch.setattr(JpegFrameSource, "reads_bgr", False)  # never decode BGR: plain flips
    ref = [plain[i] for i in range(n)]
    flips = 0
    for a, b in zip(got, ref, strict=True):
        assert torch.equal(a["video"], b["video"]) and torch.equal(a["frame_indices"], b["frame_indices"])
        flips += int(not torch.equal(a["video"], a["video"].flip(-1)))
    assert flips > 0


def test_on_device_crops_are_views_and_collate_like_dense_clips(synth_root):
    split = os.path.join("splits", "train_frames.csv")
    ds = VideoClipDataset(
        os.path.join(synth_root, split),
        synth_root,
        train=True,
        scale_jitter=(32, 32),
        normalise_on_device=True,
        **KW,
    )
    samples = [ds[i] for i in range(6)]
    views = [s for s in samples if s["video"].permute(1, 2, 3, 0).is_contiguous() is False]
    assert views, "unflipped crops of undecoded-size frames should be views"
    assert all(is_channels_last_clip(s["video"]) for s in samples)
    batch = collate_clips(samples)
    ref = default_collate([{**s, "video": s["video"].contiguous()} for s in samples])
    assert torch.equal(batch["video"], ref["video"])
    assert batch["video"].is_contiguous(memory_format=torch.channels_last_3d)
    loader = DataLoader(ds, batch_size=3, num_workers=1, collate_fn=ds.collate_fn)
    first = next(iter(loader))["video"]
    assert torch.equal(first, ref["video"][:3])


def test_is_channels_last_clip_cases():
    base = _rand_clip(t=2, h=6, w=8).permute(3, 0, 1, 2)  # (C, T, H, W) over (T, H, W, C)
    assert is_channels_last_clip(base) and is_channels_last_clip(base[:, :, 1:5, 2:7])
    assert not is_channels_last_clip(base.contiguous())  # standard layout
    assert not is_channels_last_clip(base[:1])  # one channel
    assert not is_channels_last_clip(base[0])  # not a clip
    assert not is_channels_last_clip("video")
    assert is_channels_last_clip(base[:, :1, :1])  # size-1 dims have any stride
    assert not is_channels_last_clip(base[..., :1].expand(3, 2, 6, 8))  # a broadcast W (stride 0)
    assert not is_channels_last_clip(base.flip(0).contiguous())  # dense (C, T, H, W) again


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.bfloat16])
def test_collate_out_of_workers_any_dtype(dtype):
    clips = [_rand_clip(seed=s).to(dtype).permute(3, 0, 1, 2)[:, :, 1:8, 2:11] for s in range(3)]
    batch = collate_clips([{"video": c, "label": i} for i, c in enumerate(clips)])["video"]
    assert batch.dtype == dtype and batch.shape == (3, 3, 3, 7, 9)
    assert torch.equal(batch, torch.stack([c.contiguous() for c in clips]))
