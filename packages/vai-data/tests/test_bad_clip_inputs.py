"""Realistic mistakes with clip transforms, samplers, mixing and the datasets' crop/scale arguments fail early
with one line naming the argument, the value and what is accepted (no empty clips, deep torchvision
tracebacks, INTERNAL ASSERTs or silently wrong results)."""

import os

import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as F
from vai_data import FeatureDataset, ImageDataset, SplitRow, VideoClipDataset, write_split_file
from vai_data.sampling import add_neighbours, dense_indices, sparse_indices, sparse_indices_with_neighbours
from vai_data.transforms import (
    CenterCrop,
    ColorJitter,
    Compose,
    MixupCutmix,
    MultiScaleCrop,
    Normalize,
    RandAugment,
    RandomCrop,
    RandomGrayscale,
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomShortSideScale,
    ShortSideScale,
    SpatialCrop,
    apply_pending_resize,
    grey_clip,
    scaled_random_crop,
    spatial_crop,
    to_tchw,
    to_thwc,
)

SIZES = r"must be a positive int \(or \(h, w\) of positive ints\)"


def _clip():
    return torch.randint(
        0, 256, (4, 3, 24, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )


SIZED = {
    "RandomCrop": RandomCrop,
    "CenterCrop": CenterCrop,
    "MultiScaleCrop": MultiScaleCrop,
    "RandomResizedCrop": RandomResizedCrop,
    "SpatialCrop": lambda size: SpatialCrop(size, 3, 1),
}


@pytest.mark.parametrize("name", SIZED)
@pytest.mark.parametrize("size", [0, -3, (0, 16), (16, -1)])
def test_crop_sizes_below_one_are_refused_at_construction(name, size):
    with pytest.raises(ValueError, match=rf"^{name} size {SIZES}, got {_escaped(size)}$"):
        SIZED[name](size)


@pytest.mark.parametrize("name", SIZED)
def test_float_string_and_bool_sizes_are_refused(name):
    with pytest.raises(TypeError, match=rf"^{name} size {SIZES}, got 224\.0 \(use int\(224\.0\)\)$"):
        SIZED[name](224.0)
    with pytest.raises(TypeError, match=r"got \(16\.0, 16\.0\) \(use \(16, 16\)\)$"):
        SIZED[name]((16.0, 16.0))
    with pytest.raises(TypeError, match=rf"^{name} size {SIZES}, got '16'$"):  # it was cropped to (1, 6)
        SIZED[name]("16")
    with pytest.raises(TypeError, match=rf"^{name} size {SIZES}, got True$"):
        SIZED[name](True)
    with pytest.raises(TypeError, match=r"got \(16, 16, 3\)$"):
        SIZED[name]((16, 16, 3))
    # numpy and 0-d torch integers are ints
    assert SIZED[name](np.int64(8)) is not None and SIZED[name]((torch.tensor(8), np.int32(6))) is not None


def test_crop_functions_refuse_bad_sizes_before_any_work():
    c = _clip()
    with pytest.raises(ValueError, match=rf"^spatial_crop size {SIZES}, got -4$"):
        spatial_crop(c, -4, 3, 1)
    with pytest.raises(ValueError, match=rf"^size {SIZES}, got 0$"):
        scaled_random_crop(c, 16, 0)
    with pytest.raises(ValueError, match=r"^short_side must be a positive int, got 0$"):
        scaled_random_crop(c, 0, 16)
    with pytest.raises(
        TypeError, match=r"^short_side must be a positive int, got 16\.0 \(use int\(16\.0\)\)$"
    ):
        scaled_random_crop(c, 16.0, 8)


def test_short_side_scales_refuse_bad_sizes_at_construction():
    with pytest.raises(ValueError, match=r"^ShortSideScale size must be a positive int, got 0$"):
        ShortSideScale(0)
    with pytest.raises(ValueError, match=r"^ShortSideScale size must be a positive int, got -8$"):
        ShortSideScale(-8)
    with pytest.raises(TypeError, match=r"^ShortSideScale size must be a positive int, got 1\.5$"):  # was 1
        ShortSideScale(1.5)
    with pytest.raises(TypeError, match=r"got 16\.0 \(use int\(16\.0\)\)$"):
        ShortSideScale(16.0)
    with pytest.raises(ValueError, match=r"^RandomShortSideScale min_size must be a positive int, got 0$"):
        RandomShortSideScale(0, 0)
    with pytest.raises(TypeError, match=r"^RandomShortSideScale max_size must be a positive int, got '9'$"):
        RandomShortSideScale(8, "9")


def test_one_pixel_outputs_are_resized_not_an_internal_assert():
    # torch's CPU uint8 antialiased resize fails (INTERNAL ASSERT) on 1x1 outputs of 3-channel frames in the
    # default layout; vai resizes those from channels-last frames: the frame's mean, within a grey level
    c = _clip()
    want = F.resize(c.float(), [1, 1], antialias=True)
    for out in (ShortSideScale(1)(c), scaled_random_crop(c, 16, 1), MultiScaleCrop(1)(c)):
        assert out.shape == (4, 3, 1, 1) and out.dtype == torch.uint8
    assert (ShortSideScale(1)(c).float() - want).abs().max() <= 1
    assert RandomResizedCrop(1, generator=torch.Generator().manual_seed(0))(c).shape == (4, 3, 1, 1)
    region = c.permute(1, 0, 2, 3)  # (C, T, H, W), resized on the device to 1x1
    assert apply_pending_resize(region, (24, 32, 1, 1)).shape == (3, 4, 1, 1)
    assert ShortSideScale(1)(c[:, :, :12]).shape == (4, 3, 1, 2)  # 1 x 2 always worked
    # leading dims act as a batch: a batch of clips and a single frame too (both hit the assert before)
    batch = torch.stack([c, c.flip(0)])
    assert torch.equal(ShortSideScale(1)(batch), torch.stack([ShortSideScale(1)(x) for x in batch]))
    assert torch.equal(ShortSideScale(1)(c[0]), ShortSideScale(1)(c)[0])


def test_to_thwc_refuses_clips_already_channels_last():
    c = _clip()
    with pytest.raises(
        ValueError,
        match=r"^to_thwc expects a \(T, C, H, W\) clip; got shape \(4, 24, 32, 3\), which looks like "
        r"\(T, H, W, C\) already: pass it on without to_thwc$",
    ):
        to_thwc(to_thwc(c))
    with pytest.raises(ValueError, match="expected a clip of shape"):
        to_thwc(torch.zeros(3, 24, 32))
    assert to_thwc(c).shape == (4, 24, 32, 3) and torch.equal(to_tchw(to_thwc(c)), c)


def test_scaled_random_crop_checks_the_layout():
    with pytest.raises(ValueError, match=r"^scaled_random_crop expects a \(T, C, H, W\) clip; got shape"):
        scaled_random_crop(to_thwc(_clip()), 16, 8)


NUMPY_TAKERS = {
    "ShortSideScale": ShortSideScale(16),
    "RandomShortSideScale": RandomShortSideScale(16, 20),
    "RandomCrop": RandomCrop(8),
    "CenterCrop": CenterCrop(8),
    "RandomHorizontalFlip": RandomHorizontalFlip(),
    "spatial_crop": lambda clip: spatial_crop(clip, 8, 3, 1),
    "scaled_random_crop": lambda clip: scaled_random_crop(clip, 16, 8),
    "MultiScaleCrop": MultiScaleCrop(8),
    "RandomResizedCrop": RandomResizedCrop(8),
    "ColorJitter": ColorJitter(),
    "RandAugment": RandAugment(),
    "RandomGrayscale": RandomGrayscale(),
    "grey_clip": grey_clip,
    "Normalize": Normalize(0.45, 0.225),
    "to_tchw": to_tchw,
    "to_thwc": to_thwc,
}


@pytest.mark.parametrize("name", NUMPY_TAKERS)
def test_numpy_clips_are_refused_in_one_line(name):
    clip = _clip().numpy()
    if name == "to_tchw":
        clip = clip.transpose(0, 2, 3, 1)
    with pytest.raises(
        TypeError,
        match=rf"^{name} expects a torch\.Tensor clip, got numpy\.ndarray \(use torch\.from_numpy\)$",
    ):
        NUMPY_TAKERS[name](clip)
    with pytest.raises(TypeError, match=rf"^{name} expects a torch\.Tensor clip, got list$"):
        NUMPY_TAKERS[name](clip.tolist())
    NUMPY_TAKERS[name](torch.from_numpy(clip))


def test_compose_reports_the_transform_that_got_numpy():
    with pytest.raises(TypeError, match=r"^CenterCrop expects a torch\.Tensor clip"):
        Compose([CenterCrop(8), ShortSideScale(8)])(_clip().numpy())


def test_normalize_refuses_0_255_statistics_on_0_1_pixels():
    imagenet_255 = ([123.675, 116.28, 103.53], [58.395, 57.12, 57.375])
    with pytest.raises(
        ValueError,
        match=r"^mean \[123\.675, 116\.28, 103\.53\] / std \[58\.395, 57\.12, 57\.375\] look like 0-255 pixel "
        r"statistics, but with scale_255=True .* pass mean=\[0\.485, 0\.456, 0\.406\], "
        r"std=\[0\.229, 0\.224, 0\.225\], or keep them with scale_255=False \(normalise=False\)$",
    ):
        Normalize(*imagenet_255)
    with pytest.raises(ValueError, match="look like 0-255 pixel statistics"):
        Normalize([0.5] * 3, [57.0] * 3)  # a 0-255 std alone
    raw = Normalize(*imagenet_255, scale_255=False)(_clip())  # the right way to keep them
    assert torch.allclose(raw, Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])(_clip()), atol=1e-3)


def test_normalize_suggests_dividing_only_the_0_255_statistic():
    """A 0-255 mean with the default (already [0, 1]) std: divide the mean only, not the std again."""
    with pytest.raises(
        ValueError,
        match=r"^mean values \[123\.0, 116\.0, 103\.0\] look like 0-255 pixel statistics but std \[0\.229, "
        r"0\.224, 0\.225\] does not.* pass mean=\[0\.4824, 0\.4549, 0\.4039\] with std as it is, or keep mean "
        r"with scale_255=False \(normalise=False\) and std on the 0-255 scale too \(std=\[58\.395, 57\.12, "
        r"57\.375\]\)$",
    ) as info:
        Normalize((123.0, 116.0, 103.0), (0.229, 0.224, 0.225))
    assert "0.000898" not in str(info.value)
    with pytest.raises(
        ValueError,
        match=r"^std values .* but mean \[0\.5\] does not.* pass std=\[0\.2235\] with mean as it is",
    ):
        Normalize(0.5, 57.0)


def test_normalize_takes_one_number_for_every_channel():
    c = _clip()
    assert torch.equal(Normalize(0.5, 0.2)(c), Normalize([0.5], [0.2])(c))
    assert torch.equal(Normalize(0.5, 0.2)(c), Normalize([0.5] * 3, [0.2] * 3)(c))
    assert torch.equal(Normalize(np.float32(0.5), torch.tensor(0.2))(c), Normalize([0.5], [0.2])(c))
    with pytest.raises(
        TypeError, match=r"^Normalize mean must be a number or one number per channel, got '0\.5'$"
    ):
        Normalize("0.5", 0.2)
    with pytest.raises(
        TypeError, match=r"^Normalize std must be a number or one number per channel, got None$"
    ):
        Normalize(0.5, None)


def test_samplers_refuse_a_seed_as_generator():
    message = r"^generator must be a torch\.Generator or None, got int \(use torch\.Generator\(\)\.manual_seed\(42\)\)$"
    with pytest.raises(TypeError, match=message):
        sparse_indices(10, 4, True, generator=42)
    with pytest.raises(TypeError, match=message):
        dense_indices(10, 4, 1, True, generator=42)
    with pytest.raises(TypeError, match=message):
        sparse_indices_with_neighbours(20, 3, 2, True, generator=42)
    with pytest.raises(TypeError, match=r"got Generator \(use torch\.Generator\(\)\.manual_seed\(seed\)\)$"):
        sparse_indices(10, 4, True, generator=np.random.default_rng(0))
    g = torch.Generator().manual_seed(42)
    assert (
        len(sparse_indices(10, 4, True, generator=g)) == 4
        and len(dense_indices(10, 4, 1, True, generator=g)) == 4
    )


def test_dense_uniform_must_be_one_number():
    with pytest.raises(
        ValueError,
        match=r"^uniform must be one number in \[0, 1\) \(the clip's start\), got a tensor of shape \(3,\)$",
    ):
        dense_indices(10, 4, 1, True, uniform=torch.rand(3))
    with pytest.raises(ValueError, match=r"^uniform must be one number .* got 'a'$"):
        dense_indices(10, 4, 1, True, uniform="a")
    assert dense_indices(10, 4, 1, True, uniform=torch.tensor([0.5])).tolist() == [3, 4, 5, 6]


def test_add_neighbours_takes_lists_and_refuses_bad_indices():
    want = [0, 1, 2, 3, 4, 5]
    for indices in (
        [0, 3],
        (0, 3),
        np.array([0, 3]),
        torch.tensor([0, 3]),
        torch.tensor([0, 3], dtype=torch.int32),
    ):
        assert add_neighbours(indices, 2, 10).tolist() == want
    assert add_neighbours([8, 9], 2, 10).tolist() == [8, 9, 9, 9, 9, 9]  # neighbours still clamped
    with pytest.raises(
        ValueError, match=r"^indices must be frames of the video, 0 <= i < num_video_frames=10; got -5$"
    ):
        add_neighbours(torch.tensor([-5, 3]), 1, 10)
    with pytest.raises(ValueError, match=r"num_video_frames=10; got 30$"):
        add_neighbours(torch.tensor([3, 30]), 1, 10)
    with pytest.raises(
        TypeError, match=r"^indices must be integer frame indices, got torch\.float32 values$"
    ):
        add_neighbours(torch.tensor([0.0, 3.7]), 1, 10)
    with pytest.raises(TypeError, match=r"^indices must be integer frame indices, got float64 values$"):
        add_neighbours(np.array([0.0, 3.7]), 1, 10)
    with pytest.raises(TypeError, match=r"^indices must be integer frame indices, got 3\.7$"):
        add_neighbours([0, 3.7], 1, 10)
    with pytest.raises(ValueError, match=r"^indices must be 1-D, got shape \(1, 2\)$"):
        add_neighbours(torch.tensor([[0, 3]]), 1, 10)


def test_feature_dataset_refuses_fractional_single_labels():
    feats = np.zeros((2, 3), np.float32)
    with pytest.raises(
        ValueError, match=r"^labels\[0\] = 0\.5 is not a class index: single-label features take"
    ):
        FeatureDataset([0, 1], [0.5, 1.0], feats)
    with pytest.raises(ValueError, match=r"^labels\[1\] = nan is not a class index"):
        FeatureDataset([0, 1], np.array([1.0, np.nan]), feats)
    ds = FeatureDataset(
        [0, 1], np.array([0.0, 2.0]), feats
    )  # whole floats (e.g. saved as float64) still work
    assert [ds[i]["label"] for i in range(2)] == [0, 2] and ds.num_classes == 3


def test_mixup_names_the_label_dtype_and_refuses_float_class_counts():
    video = torch.zeros(4, 3, 2, 4, 4)
    with pytest.raises(
        TypeError,
        match=r"^class-index labels must be an integer tensor, got torch\.float32 labels of shape \(4,\)",
    ):
        MixupCutmix(5)(video, torch.tensor([0.0, 1.0, 2.0, 3.0]))
    with pytest.raises(
        TypeError, match=r"^num_classes must be a positive int, got 5\.0 \(use int\(5\.0\)\)$"
    ):
        MixupCutmix(5.0)
    with pytest.raises(TypeError, match=r"^num_classes must be a positive int, got True$"):
        MixupCutmix(True)
    assert MixupCutmix(np.int64(5))(video, torch.arange(4))[1].shape == (4, 5)


def _escaped(value) -> str:
    import re

    return re.escape(repr(value))


SMALL = dict(crop_size=16, scale_jitter=(20, 24), test_scale=20, num_frames=2)


def test_video_dataset_refuses_short_sides_the_decoders_cannot_give_when_built(synth_root):
    """test_scale / scale_jitter above MAX_SHORT_SIDE fail when the dataset is built (they failed at the
    first sample, as docs/data.md says they do not)."""
    split = os.path.join(synth_root, "splits", "train.csv")
    with pytest.raises(ValueError, match=r"^test_scale=20000 is larger than 16384 pixels"):
        VideoClipDataset(split, synth_root, train=False, **{**SMALL, "test_scale": 20000})
    with pytest.raises(ValueError, match=r"^scale_jitter's largest short side=20000 is larger than 16384"):
        VideoClipDataset(split, synth_root, train=True, **{**SMALL, "scale_jitter": (16, 20000)})


@pytest.mark.parametrize("train", [True, False])
def test_video_dataset_refuses_bad_crop_sizes(synth_root, train):
    split = os.path.join(synth_root, "splits", "train.csv")
    kw = {**SMALL}
    for bad in (0, -16, (16, 0)):
        with pytest.raises(ValueError, match=rf"^crop_size {SIZES}, got {_escaped(bad)}$"):
            VideoClipDataset(split, synth_root, train=train, **{**kw, "crop_size": bad})
    for bad, hint in ((224.0, r" \(use int\(224\.0\)\)"), ("16", ""), (True, "")):
        with pytest.raises(TypeError, match=rf"^crop_size {SIZES}, got {_escaped(bad)}{hint}$"):
            VideoClipDataset(split, synth_root, train=train, **{**kw, "crop_size": bad})
    # unused by a train_spatial_transform, but still a mistake
    with pytest.raises(ValueError, match=rf"^crop_size {SIZES}, got 0$"):
        VideoClipDataset(
            split, synth_root, train=True, **{**kw, "crop_size": 0}, train_spatial_transform=CenterCrop(8)
        )


def test_video_dataset_refuses_0_255_statistics_with_normalise(synth_root):
    split = os.path.join(synth_root, "splits", "train.csv")
    stats = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])
    with pytest.raises(ValueError, match=r"look like 0-255 pixel statistics.*\(normalise=False\)$"):
        VideoClipDataset(split, synth_root, train=True, **SMALL, **stats)
    ds = VideoClipDataset(split, synth_root, train=True, **SMALL, **stats, normalise=False)
    assert abs(float(ds[0]["video"].mean())) < 3


def test_flip_label_map_entries_must_be_class_ids(tmp_path, video_file):
    name, root = os.path.basename(video_file), os.path.dirname(video_file)
    single = tmp_path / "s.csv"  # a 2-class single-label split
    write_split_file(
        single, [SplitRow(name, 0, 0, 0, 11, 64, 48), SplitRow(name, 1, 1, 0, 11, 64, 48)], "video"
    )
    with pytest.raises(
        ValueError,
        match=r"^flip_label_map entry 0: 7 gives flipped clips class 7, beyond the split's labels "
        r"\(num_classes=2\) and without an entry of its own: map to class ids 0 <= id < 2",
    ):
        VideoClipDataset(single, root, train=True, flip_label_map={0: 7}, **SMALL)
    for bad in ({-1: 0}, {0: "1"}, {0: 1.0}):
        with pytest.raises(
            ValueError, match=r"^flip_label_map entry .* is not a pair of class ids \(ints >= 0\)$"
        ):
            VideoClipDataset(single, root, train=False, flip_label_map=bad, **SMALL)
    # a mirror pair of classes this split lacks is fine (class names give maps for every class), and test
    # datasets never emit mirrored labels
    VideoClipDataset(single, root, train=True, flip_label_map={0: 1, 1: 0, 5: 6, 6: 5}, **SMALL)
    VideoClipDataset(single, root, train=False, flip_label_map={0: 7}, **SMALL)
    multi = tmp_path / "ml.csv"  # the header says 3 classes
    write_split_file(multi, [SplitRow(name, 0, (0, 1), 0, 11, 64, 48)], "video", num_classes=3)
    for bad in ({0: 3}, {3: 0}, {3: 4, 4: 3}):
        with pytest.raises(
            ValueError,
            match=r"names a class outside the dataset's classes: ids must be 0 <= id < num_classes=3$",
        ):
            VideoClipDataset(multi, root, train=False, flip_label_map=bad, **SMALL)
    VideoClipDataset(multi, root, train=True, flip_label_map={0: 2, 2: 0}, **SMALL)


def test_image_dataset_refuses_bad_crop_sizes(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((20, 20, 3), dtype=np.uint8)).save(tmp_path / "a.jpg")
    write_split_file(tmp_path / "s.csv", [SplitRow("a.jpg", 0, 0)], "image")
    for train in (True, False):
        with pytest.raises(ValueError, match=rf"^crop_size {SIZES}, got 0$"):
            ImageDataset(
                tmp_path / "s.csv", tmp_path, train=train, crop_size=0, scale_jitter=(20, 20), test_scale=20
            )
        with pytest.raises(TypeError, match=rf"^crop_size {SIZES}, got 16\.0 \(use int\(16\.0\)\)$"):
            ImageDataset(
                tmp_path / "s.csv",
                tmp_path,
                train=train,
                crop_size=16.0,
                scale_jitter=(20, 20),
                test_scale=20,
            )
    with pytest.raises(ValueError, match=r"^scale_jitter=256 must be \(min, max\) short sides"):
        ImageDataset(tmp_path / "s.csv", tmp_path, train=True, crop_size=8, scale_jitter=256)
