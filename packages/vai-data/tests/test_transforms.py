import pytest
import torch
from vai_data.transforms import (
    CenterCrop,
    Compose,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    RandomShortSideScale,
    ShortSideScale,
    SpatialCrop,
    centre_offset,
    rgb_to_grey,
    short_side_size,
    spatial_crop,
    to_tchw,
    to_thwc,
)


def _clip(t=3, h=20, w=30):
    # value encodes (row, column) so crops can be located
    base = (torch.arange(h)[:, None] * 1 + torch.arange(w)[None, :] * 0).to(torch.uint8)
    cols = torch.arange(w)[None, :].expand(h, w).to(torch.uint8)
    frame = torch.stack([base, cols, torch.zeros_like(base)])
    return frame[None].repeat(t, 1, 1, 1)


def test_layout_helpers():
    x = torch.zeros(2, 5, 7, 3)
    assert to_tchw(x).shape == (2, 3, 5, 7) and to_thwc(to_tchw(x)).shape == x.shape
    with pytest.raises(ValueError, match="expected a clip"):
        to_tchw(torch.zeros(5, 7, 3))


# a decoder-layout (T, H, W, C) clip: given to a (T, C, H, W) transform it used to come back wrong, e.g.
# ShortSideScale(32) made it (4, 64, 853, 32) and flips reversed its channels
CHANNELS_LAST = torch.zeros(4, 64, 80, 3, dtype=torch.uint8)


@pytest.mark.parametrize(
    "name, transform",
    [
        ("ShortSideScale", ShortSideScale(32)),
        ("RandomShortSideScale", RandomShortSideScale(30, 40)),
        ("RandomCrop", RandomCrop(16)),
        ("CenterCrop", CenterCrop(16)),
        ("RandomHorizontalFlip", RandomHorizontalFlip(p=1.0)),
        ("spatial_crop", lambda clip: spatial_crop(clip, 16, 3, 1)),
        ("SpatialCrop", SpatialCrop(16, 3, 2)),
        ("Normalize", Normalize([0.45] * 3, [0.225] * 3)),
    ],
)
def test_clip_transforms_refuse_channels_last_clips(name, transform):
    # (RandomShortSideScale and SpatialCrop report the transform they delegate to)
    expected = {"RandomShortSideScale": "ShortSideScale", "SpatialCrop": "spatial_crop"}.get(name, name)
    message = rf"^{expected} expects a \(T, C, H, W\) clip; got shape \(4, 64, 80, 3\), which looks like"
    with pytest.raises(ValueError, match=message + r" \(T, H, W, C\): convert with to_tchw\(clip\)$"):
        transform(CHANNELS_LAST)
    # a grey decoder clip too; the converted clip passes
    with pytest.raises(ValueError, match="looks like"):
        transform(torch.zeros(2, 9, 12, 1, dtype=torch.uint8))
    transform(to_tchw(CHANNELS_LAST))


def test_flow_stacks_and_tiny_frames_pass_the_layout_check():
    # optical-flow stacks have 2k channels (here 10) but frames far larger than 4 px
    flow = torch.arange(4 * 10 * 20 * 30, dtype=torch.float32).view(4, 10, 20, 30)
    assert ShortSideScale(10)(flow).shape == (4, 10, 10, 15)
    assert torch.equal(RandomHorizontalFlip(p=1.0)(flow), flow.flip(-1))
    assert spatial_crop(flow, 8, 3, 2).shape == (4, 10, 8, 8)
    assert CenterCrop(8)(flow).shape == RandomCrop(8)(flow).shape == (4, 10, 8, 8)
    assert Normalize([0.5], [0.5])(flow).shape == (10, 4, 20, 30)
    assert to_tchw(torch.zeros(4, 20, 30, 10)).shape == (4, 10, 20, 30)  # flow frames from a decoder
    # frames no larger than 4 px with <= 4 channels are taken as given (the shape cannot tell)
    assert CenterCrop(2)(torch.zeros(2, 3, 4, 4)).shape == (2, 3, 2, 2)
    assert to_tchw(torch.zeros(2, 4, 4, 3)).shape == (2, 3, 4, 4)


def test_to_tchw_refuses_clips_already_channels_first():
    with pytest.raises(
        ValueError, match=r"^to_tchw expects a \(T, H, W, C\) clip; got shape \(4, 3, 64, 80\), which"
    ):
        to_tchw(torch.zeros(4, 3, 64, 80))
    with pytest.raises(ValueError, match=r"looks like \(T, C, H, W\) already: pass it on without to_tchw$"):
        to_tchw(torch.zeros(2, 1, 9, 12))


def test_short_side_scale():
    assert ShortSideScale(10)(_clip()).shape == (3, 3, 10, 15)
    assert ShortSideScale(10)(_clip(h=40, w=20)).shape == (3, 3, 20, 10)


def test_random_scale_same_for_all_frames_and_seeded():
    torch.manual_seed(0)
    sizes = {RandomShortSideScale(8, 12)(_clip()).shape[-2] for _ in range(30)}
    assert sizes <= set(range(8, 13)) and len(sizes) > 2


def test_random_crop_same_window_every_frame():
    clip = _clip(t=4)
    clip[1] += 1  # frames differ by a constant
    torch.manual_seed(1)
    out = RandomCrop(8)(clip)
    assert out.shape == (4, 3, 8, 8)
    assert torch.equal(out[1].int() - 1, out[0].int())


def test_crop_pads_small_clip():
    assert RandomCrop(40)(_clip()).shape == (3, 3, 40, 40)
    assert CenterCrop((10, 12))(_clip()).shape == (3, 3, 10, 12)


def test_flip_consistent():
    clip = _clip()
    flip = RandomHorizontalFlip(p=1.0)
    out = flip(clip)
    assert flip.last_flipped and torch.equal(out, clip.flip(-1))
    assert torch.equal(RandomHorizontalFlip(p=0.0)(clip), clip)


def test_ten_crop_layout():
    clip = _clip(h=20, w=30)
    views = [spatial_crop(clip, 10, 10, i) for i in range(10)]
    col0 = [int(v[0, 1, 0, 0]) for v in views]  # green channel = column index of the top-left pixel
    row0 = [int(v[0, 0, 0, 0]) for v in views]
    assert col0[:5] == [10, 0, 20, 0, 20] and row0[:5] == [5, 0, 0, 10, 10]
    for i in range(5):
        assert torch.equal(views[5 + i], views[i].flip(-1))


def _upstream_uniform_crop_origin(h, w, size, spatial_idx):
    """Upstream's uniform_crop (PyVideoAI dataloaders/transform.py, from PySlowFast), square crops."""
    import math

    y, x = int(math.ceil((h - size) / 2)), int(math.ceil((w - size) / 2))
    if h > w:
        y = 0 if spatial_idx == 0 else (h - size if spatial_idx == 2 else y)
    else:
        x = 0 if spatial_idx == 0 else (w - size if spatial_idx == 2 else x)
    return y, x


def _origin(view):  # (row, column) of the top-left pixel of a crop of _clip()
    return int(view[0, 0, 0, 0]), int(view[0, 1, 0, 0])


@pytest.mark.parametrize("h, w", [(20, 30), (30, 20), (25, 25), (21, 27), (27, 22), (24, 24), (23, 40)])
@pytest.mark.parametrize("size", [16, 17, 20])
def test_test_views_sit_where_upstreams_uniform_crop_puts_them(h, w, size):
    """Centre views at ceil((side - crop) / 2); 3 crops along the height only for frames taller than wide
    (upstream's spatial_idx 0, 1, 2 = start, centre, end is vai's 1, 0, 2: the centre first)."""
    if size > min(h, w):
        return
    clip = _clip(h=h, w=w)
    for upstream_idx, vai_idx in ((0, 1), (1, 0), (2, 2)):
        want = _upstream_uniform_crop_origin(h, w, size, upstream_idx)
        assert _origin(spatial_crop(clip, size, 3, vai_idx)) == want
    centre = _upstream_uniform_crop_origin(h, w, size, 1)
    assert _origin(spatial_crop(clip, size, 1, 0)) == centre
    assert _origin(spatial_crop(clip, size, 5, 0)) == centre == _origin(CenterCrop(size)(clip))
    assert _origin(spatial_crop(clip, size, 10, 5).flip(-1)) == centre
    assert centre == (centre_offset(h, size), centre_offset(w, size))


def test_the_long_side_is_rounded_down_as_upstream():
    """floor(long * short / short_side), the rule of upstream's random_short_side_scale_jitter (and
    PySlowFast, torchvision): 4:3 at 256 is 256 x 341, 360 x 641 at 256 is 256 x 455 (not 456)."""
    import math

    assert short_side_size(240, 320, 256) == (256, 341)
    assert short_side_size(360, 641, 256) == (256, 455)
    assert short_side_size(641, 360, 256) == (455, 256)
    assert short_side_size(240, 323, 256) == (256, 344)
    assert short_side_size(7, 7, 3) == (3, 3) and short_side_size(100, 1, 1) == (100, 1)
    for h in range(50, 400, 7):
        for w in (h, h + 1, 2 * h - 3, 3 * h + 1):
            assert short_side_size(h, w, 128) == (128, math.floor(w * 128 / h))
    assert ShortSideScale(256)(_clip(t=1, h=240, w=323)).shape[-2:] == (256, 344)
    from vai_data.video_stream import output_size

    assert output_size(641, 360, 256) == (455, 256) and output_size(360, 641, 256) == (256, 455)


def test_three_crop_along_long_side():
    clip = _clip(h=20, w=30)
    cols = [int(spatial_crop(clip, 20, 3, i)[0, 1, 0, 0]) for i in range(3)]
    assert cols == [5, 0, 10]
    with pytest.raises(ValueError, match="num_crops=4"):
        SpatialCrop(8, 4)


def test_normalize_rgb_bgr_grey():
    clip = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    clip[:, 0] = 255
    out = Normalize([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])(clip)
    assert out.shape == (3, 2, 4, 4) and out.dtype == torch.float32
    assert out[0].eq(1).all() and out[1].eq(-1).all()
    bgr = Normalize([0, 0, 0], [1, 1, 1], bgr=True)(clip)
    assert bgr[2].eq(1).all() and bgr[0].eq(0).all()
    raw = Normalize([114.75] * 3, [57.375] * 3, scale_255=False)(clip)
    assert torch.allclose(raw[0], torch.tensor((255 - 114.75) / 57.375))
    grey = Normalize([0.0], [1.0], greyscale=True)(clip)
    assert grey.shape == (1, 2, 4, 4) and torch.allclose(grey, torch.tensor(0.2989), atol=1e-4)
    # RGB statistics with greyscale=True: their luma-weighted mean and std (upstream needs 1-value ones)
    rgb_stats = Normalize([0.4, 0.5, 0.6], [0.1, 0.2, 0.3], greyscale=True)(clip)
    mean, std = 0.2989 * 0.4 + 0.5870 * 0.5 + 0.1140 * 0.6, 0.2989 * 0.1 + 0.5870 * 0.2 + 0.1140 * 0.3
    assert rgb_stats.shape == (1, 2, 4, 4)
    torch.testing.assert_close(rgb_stats, torch.full((1, 2, 4, 4), (0.2989 - mean) / std), atol=1e-4, rtol=0)


def test_grey_coefficients_are_cv2():
    px = torch.tensor([0, 0, 100], dtype=torch.float32).view(1, 3, 1, 1)
    assert float(rgb_to_grey(px)) == pytest.approx(11.40, abs=1e-3)


def test_compose():
    t = Compose([ShortSideScale(10), CenterCrop(8), Normalize([0.0] * 3, [1.0] * 3)])
    assert t(_clip()).shape == (3, 3, 8, 8)
    assert "ShortSideScale(10)" in repr(t)


def test_scaled_random_crop_matches_scale_then_crop():
    from vai_data.transforms import scaled_random_crop

    yy, xx = torch.meshgrid(torch.arange(90), torch.arange(160), indexing="ij")
    smooth = ((yy * 2 + xx) % 256).to(torch.uint8)  # a smooth ramp: interpolation differences stay small
    clip = torch.stack([smooth, smooth.flip(-1), smooth // 2])[None].repeat(2, 1, 1, 1)
    for seed in range(5):
        torch.manual_seed(seed)
        ref = RandomCrop(32)(ShortSideScale(45)(clip)).float()
        torch.manual_seed(seed)
        out = scaled_random_crop(clip, 45, 32).float()
        assert out.shape == ref.shape == (2, 3, 32, 32)
        assert (out - ref).abs().mean() < 3.0
    torch.manual_seed(0)
    assert scaled_random_crop(clip, 90, 32).shape == (2, 3, 32, 32)  # no resize needed: plain crop
    assert scaled_random_crop(clip, 20, 32).shape == (2, 3, 32, 32)  # crop larger than the frame: padded
