"""Optical-flow clips (UPSTREAM.md 1b): RG / RR (u/v or x/y folders) / grey (interleaved), neighbour
stacks into channels, and flips that negate the horizontal motion (u -> 255 - u)."""

import os

import numpy as np
import pytest
import torch
from PIL import Image
from vai_data import SplitRow, VideoClipDataset, write_split_file

F = 6  # flow frames per video
RAW = dict(mean=(0.0,), std=(1.0 / 255,))  # normalised output == uint8 values
KW = dict(num_frames=2, flow_neighbours=3, crop_size=16, test_scale=24, scale_jitter=(24, 24), **RAW)


def u_val(i: int) -> int:
    return 20 + 10 * i


def v_val(i: int) -> int:
    return 200 - 10 * i


def _save(path, arr) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(arr).save(path, quality=95)


def _grey(val: int) -> np.ndarray:
    return np.full((24, 32), val, np.uint8)


def _split(tmp_path, pattern: str, start: int = 0) -> str:
    write_split_file(tmp_path / "flow.csv", [SplitRow(pattern, 7, 1, start, start + F - 1)], "frames")
    return str(tmp_path / "flow.csv")


def _check_values(video: torch.Tensor, frame_indices: torch.Tensor, flipped_u: bool = False) -> None:
    """video (2n, T, H, W) holds u_k, v_k of frames idx[t] + k with channels u0, v0, u1, v1, ..."""
    n, t_count = KW["flow_neighbours"], KW["num_frames"]
    assert video.shape == (2 * n, t_count, 16, 16)
    frames = frame_indices.view(t_count, n)
    for t in range(t_count):
        for k in range(n):
            u = u_val(int(frames[t, k]))
            exp_u = 255 - u if flipped_u else u
            assert abs(float(video[2 * k, t].mean()) - exp_u) < 2.5
            assert abs(float(video[2 * k + 1, t].mean()) - v_val(int(frames[t, k]))) < 2.5


@pytest.mark.parametrize("folders", [("u", "v"), ("x", "y")])
def test_rr_flow_folders(tmp_path, folders):
    for i in range(F):
        _save(tmp_path / "vid" / folders[0] / f"{i:05d}.jpg", _grey(u_val(i)))
        _save(tmp_path / "vid" / folders[1] / f"{i:05d}.jpg", _grey(v_val(i)))
    split = _split(tmp_path, "vid/{flow_direction}/{:05d}.jpg")
    ds = VideoClipDataset(split, tmp_path, train=False, flow="RR", flow_folders=folders, **KW)
    s = ds[0]
    # n_base = 6 - 2 = 4 start positions, 2 segments -> starts 0, 2; each with 3 consecutive frames
    assert s["frame_indices"].tolist() == [0, 1, 2, 2, 3, 4]
    _check_values(s["video"], s["frame_indices"])


def test_rg_flow_one_based(tmp_path):
    for i in range(F):
        rgb = np.zeros((24, 32, 3), np.uint8)
        rgb[..., 0], rgb[..., 1], rgb[..., 2] = u_val(i), v_val(i), 99  # blue is ignored
        _save(tmp_path / "vid" / f"{i + 1:05d}.jpg", rgb)
    split = _split(tmp_path, "vid/{:05d}.jpg", start=1)
    s = VideoClipDataset(split, tmp_path, train=False, flow="rg", **KW)[0]
    assert s["frame_indices"].tolist() == [1, 2, 3, 3, 4, 5]
    _check_values(s["video"], s["frame_indices"] - 1)


def test_grey_interleaved_flow(tmp_path):
    for i in range(F):  # stored u0, v0, u1, v1, ... ; the split counts flow frames, not images
        _save(tmp_path / "vid" / f"{2 * i:05d}.jpg", _grey(u_val(i)))
        _save(tmp_path / "vid" / f"{2 * i + 1:05d}.jpg", _grey(v_val(i)))
    split = _split(tmp_path, "vid/{:05d}.jpg")
    ds = VideoClipDataset(split, tmp_path, train=False, flow="grey", **KW)
    s = ds[0]
    assert s["frame_indices"].tolist() == [0, 1, 2, 2, 3, 4]
    _check_values(s["video"], s["frame_indices"])


@pytest.fixture
def rr_split(tmp_path):
    for i in range(F):
        _save(tmp_path / "vid" / "u" / f"{i:05d}.jpg", _grey(u_val(i)))
        _save(tmp_path / "vid" / "v" / f"{i:05d}.jpg", _grey(v_val(i)))
    return _split(tmp_path, "vid/{flow_direction}/{:05d}.jpg"), tmp_path


def test_flipped_test_views_invert_u(rr_split):
    split, root = rr_split
    ds = VideoClipDataset(split, root, train=False, flow="RR", num_spatial_crops=10, **KW)
    for view in range(10):
        s = ds[view]
        _check_values(s["video"], s["frame_indices"], flipped_u=view >= 5)


def test_train_flip_inverts_u_only(rr_split):
    split, root = rr_split
    ds = VideoClipDataset(split, root, train=True, flow="RR", **KW)
    seen = set()
    for epoch in range(12):
        ds.set_epoch(epoch)
        s = ds[0]
        u0 = u_val(int(s["frame_indices"][0]))
        got = float(s["video"][0, 0].mean())
        flipped = abs(got - (255 - u0)) < 2.5
        assert flipped or abs(got - u0) < 2.5
        _check_values(s["video"], s["frame_indices"], flipped_u=flipped)
        seen.add(flipped)
    assert seen == {True, False}  # p = 0.5 over 12 epochs: both happen


def test_flow_flips_stay_in_the_worker_on_device(rr_split):
    """Flow flips also negate u, so a flow dataset never leaves them to the device transform."""
    split, root = rr_split
    ds = VideoClipDataset(split, root, train=True, flow="RR", normalise_on_device=True, **KW)
    assert not ds.flip_on_device and not ds.device_transform.flips_pending
    seen = set()
    for epoch in range(12):
        ds.set_epoch(epoch)
        s = ds[0]
        assert "flip_pending" not in s
        u0 = u_val(int(s["frame_indices"][0]))
        seen.add(abs(float(s["video"][0, 0].float().mean()) - (255 - u0)) < 2.5)  # u negated: flipped here
    assert seen == {True, False}
    with pytest.raises(ValueError, match="flip_on_device=True needs RGB clips"):
        VideoClipDataset(
            split, root, train=True, flow="RR", normalise_on_device=True, flip_on_device=True, **KW
        )
    with pytest.raises(ValueError, match="optical-flow stacks"):
        ds.device_transform(s["video"], flip_pending=True)


def test_flow_argument_errors(rr_split, tmp_path):
    split, root = rr_split
    with pytest.raises(ValueError, match="flow='XY'"):
        VideoClipDataset(split, root, train=True, flow="XY", **KW)
    with pytest.raises(ValueError, match="mean/std with 1 or 2 values"):
        VideoClipDataset(split, root, train=True, flow="RR", num_frames=2)
    with pytest.raises(ValueError, match="flow_neighbours"):
        VideoClipDataset(split, root, train=True, flow="RR", num_neighbours=2, **KW)
    plain = _split(tmp_path, "vid/u/{:05d}.jpg")
    with pytest.raises(ValueError, match="flow_direction"):
        VideoClipDataset(plain, root, train=True, flow="RR", **KW)


def test_dense_flow_resized_in_train(rr_split):
    split, root = rr_split
    kw = {**KW, "scale_jitter": (18, 20)}
    ds = VideoClipDataset(split, root, train=True, flow="RR", sampling="dense", sampling_rate=1, **kw)
    s = ds[0]
    assert s["video"].shape == (6, 2, 16, 16) and len(s["frame_indices"]) == 6
    u0 = u_val(int(s["frame_indices"][0]))
    assert min(abs(float(s["video"][0, 0].mean()) - u) for u in (u0, 255 - u0)) < 2.5


def test_grey_flow_from_a_gulp_directory(tmp_path):
    from vai_data import encode_jpeg
    from vai_data.gulp import write_gulp_directory

    frames = []
    for i in range(F):  # upstream's gulp flow layout: u0, v0, u1, v1, ...
        frames += [encode_jpeg(np.repeat(_grey(u_val(i))[..., None], 3, -1), quality=95)]
        frames += [encode_jpeg(np.repeat(_grey(v_val(i))[..., None], 3, -1), quality=95)]
    write_gulp_directory(str(tmp_path / "gulp"), {"P01_01_0": frames})
    write_split_file(tmp_path / "g.csv", [SplitRow("P01_01_0", 7, 1, 0, F - 1)], "gulp")
    ds = VideoClipDataset(tmp_path / "g.csv", tmp_path / "gulp", train=False, flow="grey", **KW)
    assert ds.storage == "gulp"
    s = ds[0]
    _check_values(s["video"], s["frame_indices"])
