"""A train sample's random draws: one per-sample ``random.Random`` in a documented order (frame indices, flip,
scale, crop row, crop column), torch's global RNG seeded only for user transforms, and the samplers and
crop that take given uniform numbers."""

import os
import random

import numpy as np
import pytest
import torch
from vai_data import VideoClipDataset, dense_indices, sparse_indices
from vai_data.sampling import sparse_train_frames
from vai_data.transforms import RandAugment, scaled_crop_box, scaled_random_crop, to_tchw

KW = dict(num_frames=4, crop_size=16, scale_jitter=(20, 28), seed=9, normalise_on_device=True)


def _ds(root, **kw):
    return VideoClipDataset(
        os.path.join(root, "splits", "train_frames.csv"), root, train=True, **{**KW, **kw}
    )


@pytest.mark.parametrize("jitter", [(20, 28), (32, 32)])  # (32, 32): the frames' own size, crops are windows
@pytest.mark.parametrize("sampling", ["sparse", "dense"])
def test_a_sample_is_its_rng_draws_in_the_documented_order(synth_root, sampling, jitter):
    """Rebuild ds[i] by hand from ``sample_rng(i)``: indices, flip, scale, crop position - in that order."""
    ds = _ds(
        synth_root,
        sampling=sampling,
        sampling_rate=1,
        scale_jitter=jitter,
        flip_on_device=False,
        resize_on_device=False,
    )
    ds.set_epoch(2)
    flips = 0
    for i in range(6):
        rng = ds.sample_rng(i)
        source = ds.make_source(ds.split.rows[i])
        n, t = source.num_frames, ds.num_frames
        if sampling == "sparse":
            want_idx = sparse_train_frames(n, t, [rng.random() for _ in range(t)])
        else:
            want_idx = dense_indices(n, t, 1, True, uniform=rng.random()).tolist()
        flipped = rng.random() < 0.5
        short = jitter[0] + int(rng.random() * (jitter[1] - jitter[0] + 1))
        position = (rng.random(), rng.random())
        frames = source.read(torch.tensor(want_idx), short, exact=False)
        want = scaled_random_crop(to_tchw(frames), short, 16, position)
        want = want.flip(-1) if flipped else want
        got = ds[i]
        assert got["frame_indices"].tolist() == want_idx
        assert torch.equal(got["video"], want.permute(1, 0, 2, 3))
        flips += flipped
    assert 0 < flips < 6


def test_sample_rng_and_sample_indices_reproduce_the_sample(synth_root):
    ds = _ds(synth_root)
    a, b = ds.sample_rng(3, attempt=1), ds.sample_rng(3, attempt=1)
    assert a.random() == b.random() and ds.sample_rng(3).random() != ds.sample_rng(4).random()
    n = ds.make_source(ds.split.rows[3]).num_frames
    assert torch.equal(ds.sample_indices(n, 0, ds.sample_rng(3)), ds[3]["frame_indices"])
    ds.set_epoch(1)
    assert ds.sample_rng(3).random() != a.random()  # epochs differ
    assert ds.sample_indices(n, 0).shape == (4,)  # no rng: unseeded draws


def test_default_train_samples_leave_torch_rng_alone_and_transforms_get_it_seeded(synth_root):
    torch.manual_seed(7)
    before = torch.get_rng_state()
    _ds(synth_root)[0]
    assert torch.equal(torch.get_rng_state(), before)  # no tensor draws, no seeding

    seen = []

    def spy(clip):
        seen.append(torch.rand(1).item())  # a user transform's draw from the global RNG
        return clip

    ds = _ds(synth_root, train_transform=spy)
    ds[2], ds[2], ds[3]
    assert seen[0] == seen[1] != seen[2]  # seeded per sample
    assert torch.equal(torch.get_rng_state(), before)  # and restored


def test_flip_off_keeps_the_other_draws(synth_root):
    """The flip number is drawn whether or not flips are on, so the crops stay the same."""
    on, off = _ds(synth_root, flip_on_device=True), _ds(synth_root, horizontal_flip=False)
    for i in range(4):
        a, b = on[i], off[i]
        assert torch.equal(a["frame_indices"], b["frame_indices"])
        assert torch.equal(a["video"], b["video"])  # on: flips left to the device, so unmirrored here


def test_scale_jitter_is_checked(synth_root):
    for bad in [(30, 20), (0, 10), (20,)]:
        with pytest.raises(ValueError, match="scale_jitter"):
            _ds(synth_root, scale_jitter=bad)
    assert _ds(synth_root, scale_jitter=[24, 24]).scale_jitter == (24, 24)


def test_samplers_take_given_uniforms():
    assert sparse_indices(16, 4, True, uniform=[0.0, 0.5, 0.99, 0.25]).tolist() == [0, 6, 11, 13]
    assert sparse_train_frames(16, 4, [0.0, 0.5, 0.99, 0.25]) == [0, 6, 11, 13]
    assert sparse_indices(3, 6, True, uniform=[0.9] * 6).tolist() == [0, 0, 1, 1, 2, 2]  # short video
    # uniforms from a generator equal torch.rand's draws from it
    g = torch.Generator().manual_seed(3)
    u = torch.rand(8, generator=torch.Generator().manual_seed(3)).tolist()
    assert torch.equal(sparse_indices(100, 8, True, g), sparse_indices(100, 8, True, uniform=u))
    assert dense_indices(40, 4, 2, True, uniform=0.0).tolist() == [0, 2, 4, 6]
    assert dense_indices(40, 4, 2, True, uniform=0.999).tolist() == [33, 35, 37, 39]  # last start
    for bad in ([0.1] * 3, [0.1, 0.2, 1.0, 0.3], [-0.1, 0.2, 0.3, 0.4]):
        with pytest.raises(ValueError, match="num_segments=4 numbers in"):
            sparse_indices(16, 4, True, uniform=bad)
    for bad in (1.0, -0.5):
        with pytest.raises(ValueError, match=r"must be in \[0, 1\)"):
            dense_indices(40, 4, 2, True, uniform=bad)


def test_scaled_random_crop_at_a_given_position():
    clip = torch.arange(2 * 3 * 20 * 30, dtype=torch.float32).reshape(2, 3, 20, 30)
    assert torch.equal(scaled_random_crop(clip, 20, 8, (0.0, 0.0)), clip[..., :8, :8])
    assert torch.equal(scaled_random_crop(clip, 20, 8, (0.999, 0.999)), clip[..., 12:, 22:])  # last origin
    assert torch.equal(scaled_random_crop(clip, 20, 8, (0.5, 0.25)), clip[..., 6:14, 5:13])
    view = clip[1:, :, 2:, 3:]  # a view with an offset: the crop is a view of the same storage
    crop = scaled_random_crop(view, 18, 8, (0.5, 0.5))
    assert torch.equal(crop, view[..., 5:13, 10:18]) and crop.untyped_storage().data_ptr() == clip.data_ptr()
    padded = scaled_random_crop(clip, 10, 16, (0.0, 0.0))  # larger than the scaled frame: padded
    assert padded.shape == (2, 3, 16, 16)
    torch.manual_seed(0)
    drawn = scaled_random_crop(clip, 20, 8)  # no position: drawn from torch's RNG as RandomCrop does
    torch.manual_seed(0)
    top, left = int(torch.randint(13, (1,))), int(torch.randint(23, (1,)))
    assert torch.equal(drawn, clip[..., top : top + 8, left : left + 8])
    for bad in [(1.0, 0.0), (0.0, -0.1)]:
        with pytest.raises(ValueError, match="two numbers in"):
            scaled_random_crop(clip, 20, 8, bad)


def test_frame_numbers_offset_only_when_the_range_starts_later(synth_root):
    ds = _ds(synth_root)
    source = ds.make_source(ds.split.rows[0])
    idx, lst = torch.tensor([0, 2]), [0, 2]
    source.start = 0
    assert source.frame_list(lst) is lst  # no copy when nothing is added
    assert source.frame_list(idx) == [0, 2] and source.frame_list((np.int64(0), 2)) == [0, 2]
    source.start = 5
    assert source.frame_list(idx) == source.frame_list(lst) == [5, 7] and lst == [0, 2]


def test_scaled_crop_box_is_the_region_scaled_random_crop_resizes():
    clip = torch.randint(0, 256, (2, 3, 40, 60), dtype=torch.uint8)
    for short, pos in [(40, (0.5, 0.25)), (30, (0.9, 0.1)), (56, (0.0, 0.999)), (24, (0.3, 0.3))]:
        y0, x0, sh, sw = scaled_crop_box(40, 60, short, 16, pos)
        region = scaled_random_crop(clip, short, 16, pos, resize=False)
        assert torch.equal(region, clip[..., y0 : y0 + sh, x0 : x0 + sw])
        assert 0 <= y0 and y0 + sh <= 40 and 0 <= x0 and x0 + sw <= 60
    assert scaled_crop_box(40, 60, 40, 16, (0.5, 0.25)) == (12, 11, 16, 16)  # no resize: the crop itself
    assert scaled_crop_box(40, 60, 10, 16, (0.5, 0.5)) is None  # crop larger than the scaled frame
    assert scaled_crop_box(40, 60, 40, (16, 24), (0.0, 0.0)) == (0, 0, 16, 24)
    with pytest.raises(ValueError, match="two numbers in"):
        scaled_crop_box(40, 60, 40, 16, (1.0, 0.0))


def test_sample_frame_list_is_sample_indices(synth_root):
    for kw in [{}, dict(sampling="dense", sampling_rate=2), dict(num_neighbours=2)]:
        ds = _ds(synth_root, **kw)
        lst = ds.sample_frame_list(30, 0, ds.sample_rng(3))
        assert type(lst) is list and lst == ds.sample_indices(30, 0, ds.sample_rng(3)).tolist()
        src = ds.make_source(ds.split.rows[3])
        want = src.frame_list(ds.sample_frame_list(src.num_frames, 0, ds.sample_rng(3)))
        assert ds[3]["frame_indices"].tolist() == want


def test_random_augment_datasets_reproduce_whatever_the_global_rngs_hold(synth_root):
    a = _ds(synth_root, train_transform=RandAugment(num_ops=2), normalise_on_device=False)
    b = _ds(synth_root, train_transform=RandAugment(num_ops=2), normalise_on_device=False)
    random.seed(1)
    torch.manual_seed(1)
    first = a[1]["video"]
    random.seed(2)  # neither Python's nor torch's global generator state reaches a sample
    torch.manual_seed(2)
    assert torch.equal(first, b[1]["video"])


def test_finish_clip_takes_decoder_arrays_as_views(synth_root):
    frames = np.random.default_rng(0).integers(0, 256, (4, 20, 30, 3), dtype=np.uint8)
    crop = frames[:, 2:18, 5:21]  # an uncopied crop, as datasets hand JPEG frames over
    on, off = _ds(synth_root), _ds(synth_root, normalise_on_device=False)
    video = on.finish_clip(crop)
    assert video.shape == (3, 4, 16, 16) and video.dtype == torch.uint8
    assert np.shares_memory(video.numpy(), frames) and torch.equal(
        video, torch.from_numpy(crop).permute(3, 0, 1, 2)
    )
    as_tensor = to_tchw(torch.from_numpy(np.ascontiguousarray(crop)))
    assert torch.equal(on.finish_clip(as_tensor), video)
    assert torch.allclose(off.finish_clip(crop), off.finish_clip(as_tensor))
    for bad in (crop.astype(np.float32), crop[0]):
        with pytest.raises(TypeError, match=r"expected uint8 \(T, H, W, C\) frames"):
            on.finish_clip(bad)
    # other layouts are made dense channels-last: channels outermost, negative strides, read-only memory
    planar = np.ascontiguousarray(crop.transpose(3, 0, 1, 2)).transpose(1, 2, 3, 0)
    readonly = crop.copy()
    readonly.flags.writeable = False
    for odd in (planar, crop[:, :, ::-1], readonly):
        got = on.finish_clip(odd)
        assert got.stride()[0] == 1 and torch.equal(got, torch.from_numpy(odd.copy()).permute(3, 0, 1, 2))
        assert torch.allclose(off.finish_clip(odd), off.finish_clip(to_tchw(torch.from_numpy(odd.copy()))))


def test_train_clips_from_jpeg_frames_are_what_finish_clip_makes_of_the_window(synth_root):
    """With normalise_on_device the dataset makes the (C, T, H, W) view of its numpy window itself: the same
    values, shape and strides as finish_clip of that window."""
    ds = _ds(synth_root, scale_jitter=(32, 32))
    for i in (2, 5):
        got = ds[i]["video"]
        rng = ds.sample_rng(i)
        src = ds.make_source(ds.split.rows[i])
        idx = ds.sample_frame_list(src.num_frames, 0, rng)
        rng.random(), rng.random()  # the flip and the scale
        frames = src.read_array(idx, 32, exact=False)
        y0, x0, h, w = scaled_crop_box(*frames.shape[1:3], 32, 16, (rng.random(), rng.random()))
        want = ds.finish_clip(frames[:, y0 : y0 + h, x0 : x0 + w])
        assert torch.equal(got, want) and got.shape == want.shape and got.stride() == want.stride()


class _OddNumpySource:
    """A user's frame source whose ``read`` hands over numpy frames in an odd layout (e.g. a cv2-style
    BGR->RGB ``[..., ::-1]`` view, read-only memory, channels outermost)."""

    def __init__(self, inner, odd):
        self.inner, self.odd, self.num_frames = inner, odd, inner.num_frames

    def frame_list(self, indices):
        return self.inner.frame_list(indices)

    def read(self, indices, short_side=None, exact=True):
        frames = self.inner.read_array(indices, short_side, exact)
        if self.odd == "reversed":
            return np.ascontiguousarray(frames[..., ::-1])[..., ::-1]
        if self.odd == "readonly":
            frames = frames.copy()
            frames.flags.writeable = False
            return frames
        return np.ascontiguousarray(frames.transpose(3, 0, 1, 2)).transpose(1, 2, 3, 0)  # planar


@pytest.mark.parametrize("odd", ["reversed", "readonly", "planar"])
def test_numpy_frames_from_user_sources_are_made_dense_channels_last(synth_root, odd):
    class Custom(VideoClipDataset):
        def make_source(self, row, flow_direction=None):
            return _OddNumpySource(super().make_source(row, flow_direction), odd)

    plain, custom = (
        _ds(synth_root, scale_jitter=(32, 32)),
        Custom(
            os.path.join(synth_root, "splits", "train_frames.csv"),
            synth_root,
            train=True,
            **{**KW, "scale_jitter": (32, 32)},
        ),
    )
    for i in (1, 4):
        got, want = custom[i]["video"], plain[i]["video"]  # want: a view of the decoder's frames
        assert torch.equal(got, want) and got.stride()[0] == 1  # (C, T, H, W), channels innermost
