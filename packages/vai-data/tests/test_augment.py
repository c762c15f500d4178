"""Clip augmentations: one draw per clip, exact grey weights, TSN crop geometry, flip label maps."""

from __future__ import annotations

import pytest
import torch
from vai_data.transforms.augment import (
    ColorJitter,
    MultiScaleCrop,
    RandAugment,
    RandomGrayscale,
    RandomResizedCrop,
    flip_label_map_from_names,
    grey_clip,
)

torch.set_num_threads(1)


def same_frames_clip(t: int = 3, h: int = 24, w: int = 32, seed: int = 0) -> torch.Tensor:
    """A clip whose frames are identical: any per-frame difference after a transform is a bug."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (1, 3, h, w), dtype=torch.uint8, generator=g).repeat(t, 1, 1, 1)


def assert_frames_equal(clip: torch.Tensor) -> None:
    for k in range(1, clip.shape[0]):
        assert torch.equal(clip[0], clip[k]), f"frame {k} differs from frame 0"


@pytest.mark.parametrize(
    "make",
    [
        lambda g: MultiScaleCrop(16, generator=g),
        lambda g: MultiScaleCrop(16, fix_crop=False, generator=g),
        lambda g: RandomResizedCrop(16, generator=g),
        lambda g: ColorJitter(0.4, 0.4, 0.4, 0.1, generator=g),
        lambda g: RandAugment(num_ops=3, magnitude=15, generator=g),
        lambda g: RandomGrayscale(p=0.5, generator=g),
    ],
)
def test_same_params_for_every_frame_and_reproducible(make):
    clip = same_frames_clip()
    for seed in range(4):
        out = make(torch.Generator().manual_seed(seed))(clip)
        assert out.dtype == torch.uint8 and out.shape[:2] == (3, 3)
        assert_frames_equal(out)
        again = make(torch.Generator().manual_seed(seed))(clip)
        assert torch.equal(out, again)


AUGMENTATIONS = [
    MultiScaleCrop(16),
    RandomResizedCrop(16),
    ColorJitter(0.4, 0.4, 0.4, 0.1),
    RandAugment(),
    RandomGrayscale(p=0.0),  # refused even when this clip would not turn grey
    grey_clip,
]


@pytest.mark.parametrize("transform", AUGMENTATIONS)
def test_augmentations_refuse_channels_last_clips(transform):
    name = getattr(transform, "__name__", type(transform).__name__)
    channels_last = same_frames_clip(h=24, w=32).permute(0, 2, 3, 1)  # (T, H, W, C), as decoded
    message = rf"^{name} expects a \(T, C, H, W\) clip; got shape \(3, 24, 32, 3\), which looks like"
    with pytest.raises(ValueError, match=message + r" \(T, H, W, C\): convert with to_tchw\(clip\)$"):
        transform(channels_last)


@pytest.mark.parametrize("make", [ColorJitter, RandAugment])
def test_colour_ops_refuse_floats_outside_0_1(make):
    clip = same_frames_clip()
    with pytest.raises(ValueError, match=r"expects uint8 clips or floats in \[0, 1\]; got floats in \[\d"):
        make()(clip.float())  # [0, 255] floats: torchvision would clamp them all to 1
    with pytest.raises(ValueError, match="before normalisation"):
        make()((clip.float() / 255 - 0.45) / 0.225)  # normalised: negative values too
    unit = clip.float() / 255
    out = make(generator=torch.Generator().manual_seed(0))(unit)
    assert out.dtype == torch.float32 and 0 <= float(out.min()) and float(out.max()) <= 1
    # a hair above 1 from float rounding (a resize of a white clip) is not refused
    make()(torch.full((2, 3, 8, 8), 1.0000001))
    # uint8 and empty clips need no range check
    assert make()(clip).dtype == torch.uint8
    assert make()(torch.zeros(0, 3, 8, 8)).shape == (0, 3, 8, 8)


def test_randaugment_varies_between_clips_but_not_frames():
    clip = same_frames_clip(t=4)
    t = RandAugment(num_ops=2, magnitude=20, generator=torch.Generator().manual_seed(1))
    outs = [t(clip) for _ in range(6)]
    for o in outs:
        assert_frames_equal(o)
    assert any(not torch.equal(outs[0], o) for o in outs[1:])


def test_generator_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    RandomResizedCrop(8, generator=torch.Generator().manual_seed(0))(same_frames_clip())
    assert torch.equal(torch.rand(3), expected)


def test_multiscale_crop_sizes_and_offsets():
    t = MultiScaleCrop(224)
    pairs = t.crop_sizes(256, 340)
    # sides int(256*s) = 256, 224, 192, 168 with 224 snapped; distortion at most one step
    assert (256, 224) in pairs and (224, 192) in pairs and (256, 192) not in pairs and (168, 168) in pairs
    assert len(pairs) == 10
    offs = t.fixed_offsets(256, 340, 224, 224)
    assert len(offs) == 13 and (0, 0) in offs and (32, 116) in offs and (16, 58) in offs
    assert len(MultiScaleCrop(224, more_fix_crop=False).fixed_offsets(256, 340, 224, 224)) == 5
    g = torch.Generator().manual_seed(0)
    draws = {MultiScaleCrop(224, generator=g).get_params(256, 340) for _ in range(200)}
    for top, left, h, w in draws:
        assert (h, w) in pairs and top + h <= 256 and left + w <= 340
        assert (top, left) in t.fixed_offsets(256, 340, h, w)
    out = MultiScaleCrop((12, 16), generator=g)(same_frames_clip(h=24, w=32))
    assert out.shape == (3, 3, 12, 16)
    with pytest.raises(ValueError, match="scales must be in"):
        MultiScaleCrop(8, scales=(1.5,))
    with pytest.raises(ValueError, match=r"shape \(T, C, H, W\)"):
        MultiScaleCrop(8)(torch.zeros(3, 8, 8, dtype=torch.uint8))


def test_multiscale_crop_keeps_every_pair_when_a_side_snaps_past_the_frame():
    # a 222x296 frame for a 224 output: int(222*1.0) = 222 snaps to 224, past the frame; TSN cropped
    # past the edge (black padding), vai keeps the pair at the frame's side so all 10 pairs stay drawable
    t = MultiScaleCrop(224)
    pairs = t.crop_sizes(222, 296)
    assert len(pairs) == 10
    # heights: the snapped 224 clamped to 222; widths: 224 fits the 296-px width; int(222 * .875) = 194
    assert (222, 224) in pairs and (222, 194) in pairs and (194, 224) in pairs
    assert all(h <= 222 and w <= 296 for h, w in pairs)
    g = torch.Generator().manual_seed(1)
    seen = set()
    for _ in range(300):
        top, left, h, w = MultiScaleCrop(224, generator=g).get_params(222, 296)
        assert 0 <= top and top + h <= 222 and 0 <= left and left + w <= 296
        seen.add((h, w))
    assert (222, 224) in seen
    with pytest.raises(ValueError, match="empty crop"):
        MultiScaleCrop(8).get_params(1, 1)


def test_grey_uses_exact_bt601_coefficients():
    clip = torch.zeros(1, 3, 1, 4, dtype=torch.uint8)
    clip[0, 0, 0, 0] = 255  # pure red
    clip[0, 1, 0, 1] = 255  # pure green
    clip[0, 2, 0, 2] = 255  # pure blue
    clip[0, :, 0, 3] = 100
    grey = grey_clip(clip)
    assert grey.dtype == torch.uint8 and grey.shape == (1, 3, 1, 4)
    assert torch.equal(grey[0, 0, 0], torch.tensor([76, 150, 29, 100], dtype=torch.uint8))
    assert torch.equal(grey[:, 0], grey[:, 2])
    f = grey_clip(clip.float(), num_output_channels=1)
    expected = torch.tensor([0.2989 * 255, 0.5870 * 255, 0.1140 * 255, 0.9999 * 100])
    torch.testing.assert_close(f[0, 0, 0], expected)
    assert abs(float(f[0, 0, 0, 2]) - 0.1440 * 255) > 7  # not upstream's 0.1440 typo


def test_random_grayscale_probability_edges():
    clip = same_frames_clip()
    assert torch.equal(RandomGrayscale(p=0.0)(clip), clip)
    out = RandomGrayscale(p=1.0)(clip)
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])
    with pytest.raises(ValueError, match="p must be in"):
        RandomGrayscale(p=2)


def test_flip_label_map_something_something(caplog):
    names = [
        "Pushing something from left to right",
        "Holding something",
        "Pushing something from right to left",
        "Turning the camera left while filming something",
        "Turning the camera right while filming something",
        "Moving something left",  # no mirror class
        "Playing with a bright light",  # 'bright' must not match 'right'
    ]
    m = flip_label_map_from_names(names)
    assert m == {0: 2, 2: 0, 3: 4, 4: 3}
    assert "Moving something left" in caplog.text
    synth = [
        "moving_left",
        "moving_right",
        "moving_up",
        "rotating_clockwise",
        "rotating_anticlockwise",
        "growing",
    ]
    assert flip_label_map_from_names(synth) == {0: 1, 1: 0, 3: 4, 4: 3}
    from vai_data.synth import SYNTH_CLASSES, SYNTH_FLIP_LABEL_MAP

    assert flip_label_map_from_names(SYNTH_CLASSES) == SYNTH_FLIP_LABEL_MAP
    assert flip_label_map_from_names(["spin counterclockwise", "Spin Clockwise"]) == {0: 1, 1: 0}
    assert flip_label_map_from_names(["go east", "go west"], pairs=[("east", "west")]) == {0: 1, 1: 0}


def test_flip_label_map_mirrors_every_direction_word_at_once(caplog):
    # pairs applied one after another turned anticlockwise -> clockwise -> counterclockwise: {0:3,1:0,2:3,3:0}
    four = ["x left", "x right", "y clockwise", "y anticlockwise"]
    assert flip_label_map_from_names(four) == {0: 1, 1: 0, 2: 3, 3: 2}
    assert flip_label_map_from_names(["Spin_CounterClockwise", "spin-clockwise"]) == {0: 1, 1: 0}
    # clockwise mirrors to whichever of anticlockwise / counterclockwise is a class
    assert flip_label_map_from_names(["b counterclockwise", "a left", "b clockwise"]) == {0: 2, 2: 0}
    # several direction words: all mirrored together
    both = [
        "turn left clockwise",
        "turn right anticlockwise",
        "turn left anticlockwise",
        "turn right clockwise",
    ]
    assert flip_label_map_from_names(both) == {0: 1, 1: 0, 2: 3, 3: 2}
    ssv2 = [
        "Moving something from left to right",
        "Moving something from right to left",
        "Turning something upside down",
        "Pulling something from left to right",
    ]
    assert flip_label_map_from_names(ssv2) == {0: 1, 1: 0}
    assert "Pulling something from left to right" in caplog.text  # its mirror is not a class
    # only a half-mirrored class exists: never paired with it, reported instead
    caplog.clear()
    half = ["from left to right clockwise", "from right to left clockwise", "spin anticlockwise"]
    assert flip_label_map_from_names(half) == {}
    assert "from left to right clockwise" in caplog.text and "spin anticlockwise" in caplog.text
    # words inside other words are not direction words
    assert flip_label_map_from_names(["bright light", "clockwiser", "leftover"]) == {}
    # '-' reads as a space, in names and in pairs alike: hyphenated spellings need their own pair
    hyphenated = ["rotate clockwise", "rotate anti-clockwise"]
    assert flip_label_map_from_names(hyphenated) == {}
    assert flip_label_map_from_names(hyphenated, pairs=[("clockwise", "anti-clockwise")]) == {0: 1, 1: 0}


def test_flip_map_in_video_dataset(tmp_path):
    from vai_data import VideoClipDataset, make_synthetic_dataset

    synth = make_synthetic_dataset(
        tmp_path / "synth", num_videos=8, num_frames=4, size=(32, 32), val_fraction=0.5
    )
    flip = flip_label_map_from_names(synth.classes)
    left, right = synth.classes.index("moving_left"), synth.classes.index("moving_right")
    ds = VideoClipDataset(
        synth.splits["train"],
        synth.root,
        train=True,
        num_frames=2,
        crop_size=16,
        scale_jitter=(20, 24),
        flip_label_map=flip,
        train_transform=MultiScaleCrop(16),
    )
    idx = next(i for i, r in enumerate(ds.split.rows) if r.label == left)
    labels = set()
    for epoch in range(12):
        ds.set_epoch(epoch)
        sample = ds[idx]
        assert sample["video"].shape == (3, 2, 16, 16)
        labels.add(sample["label"])
    assert labels == {left, right}
