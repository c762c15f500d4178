"""Channel sampling (TC, TC+2, GreyST, ...): indices, frame counts and the batch reordering operator.

Batches encode where each value came from: RGB value ``10*f + c`` is colour c (R 0, G 1, B 2) of frame
f (1-based), plus ``1000*n`` for sample n; grey value ``f`` is grey frame f. Decoding the output says
which (frame, colour) landed in each of the model's channels.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from vai_data import sparse_indices
from vai_papers import channel_sampling as cs

T = 8
H = W = 2


def rgb_batch(frames: int, n: int = 2) -> torch.Tensor:
    f = torch.arange(1, frames + 1, dtype=torch.float32).view(1, 1, frames, 1, 1)
    c = torch.arange(3, dtype=torch.float32).view(1, 3, 1, 1, 1)
    s = 1000 * torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1, 1)
    return (10 * f + c + s).expand(n, 3, frames, H, W).contiguous()


def grey_batch(frames: int, n: int = 2) -> torch.Tensor:
    f = torch.arange(1, frames + 1, dtype=torch.float32).view(1, 1, frames, 1, 1)
    s = 1000 * torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1, 1)
    return (f + s).expand(n, 1, frames, H, W).contiguous()


def decode_rgb(out: torch.Tensor, sample: int = 0) -> list[str]:
    """Output frame k -> "1R2R3R"-style string of the (frame, colour) in its 3 channels."""
    assert out.shape[1] == 3
    v = out[sample, :, :, 0, 0] - 1000 * sample  # (3, T)
    assert torch.equal(out[sample], out[sample, :, :, :1, :1].expand_as(out[sample]))  # spatially intact
    return ["".join(f"{int(x) // 10}{'RGB'[int(x) % 10]}" for x in v[:, k]) for k in range(v.shape[1])]


def groups(text: str) -> list[str]:
    """ "(1R2R3R)(2G3G4G)" -> ["1R2R3R", "2G3G4G"]."""
    return text.strip("()").split(")(")


TC_8 = "(1R2R3R)(2G3G4G)(3B4B5B)(4R5R6R)(5G6G7G)(6B7B8B)(7R8R8R)(8G8G8G)"
TC_IDX_8 = [0, 3, 6, 4, 7, 10, 8, 11, 14, 9, 12, 15, 13, 16, 19, 17, 20, 23, 18, 21, 21, 22, 22, 22]


def test_tc_indices_match_upstreams_worked_example():
    assert list(cs.tc_indices(8)) == TC_IDX_8
    assert list(cs.channel_indices("TC", 8)) == TC_IDX_8


@pytest.mark.parametrize(
    "mode, frames_in, expected",
    [
        ("TC", 8, TC_8),
        ("TCPlus2", 10, TC_8[: TC_8.index("(7R")] + "(7R8R9R)(8G9G10G)"),
        ("TCrgb", 8, "(1R2G3B)(2R3G4B)(3R4G5B)(4R5G6B)(5R6G7B)(6R7G8B)(7R8G8B)(8R8G8B)"),
        ("TCred", 8, "(1R2R3R)(2R3R4R)(3R4R5R)(4R5R6R)(5R6R7R)(6R7R8R)(7R8R8R)(8R8R8R)"),
        ("TCShortLong", 8, TC_8[: TC_8.index("(7R")] + "(3R5R7R)(4G6G8G)"),
        ("RGB", 8, "".join(f"({k}R{k}G{k}B)" for k in range(1, 9))),
    ],
)
def test_reorder_places_the_worked_example_frames_and_colours(mode, frames_in, expected):
    x = rgb_batch(frames_in)
    out = cs.reorder(x, mode, T)
    assert out.shape == (2, 3, T, H, W)
    assert decode_rgb(out, 0) == groups(expected)
    assert decode_rgb(out, 1) == groups(expected)  # the second sample's own frames, not the first's
    assert cs.frames_to_sample(mode, T) == (frames_in, False)
    assert torch.equal(cs.reorder(x, mode), out)  # T inferred from the sampled frame count


def test_tcshortlong_leaves_tc_cache_alone_and_is_repeatable():
    first = cs.tcshortlong_indices(8)
    again = cs.channel_indices("tcshortlong", 8)
    assert first == again == tuple(TC_IDX_8[:-6]) + (6, 12, 18, 10, 16, 22)
    assert list(cs.tc_indices(8)) == TC_IDX_8  # upstream overwrote TC's cached list here
    x = rgb_batch(8)
    assert torch.equal(cs.reorder(x, "TCShortLong"), cs.reorder(x, "TCShortLong"))
    assert decode_rgb(cs.reorder(x, "TC"), 0) == groups(TC_8)


def test_returned_indices_cannot_corrupt_the_cache():
    idx = cs.channel_indices("TC", 8)
    assert isinstance(idx, tuple)
    with pytest.raises(TypeError):
        idx[0] = 99  # type: ignore[index]
    as_list = list(cs.tc_indices(8))
    as_list[:3] = [5, 5, 5]
    assert list(cs.tc_indices(8)) == TC_IDX_8


def test_greyst_gives_segment_k_grey_frames_3k_minus_2_to_3k():
    x = grey_batch(3 * T)
    out = cs.reorder(x, "GreyST", T)
    assert out.shape == (2, 3, T, H, W)
    for n in range(2):
        for k in range(1, T + 1):
            assert (out[n, :, k - 1, 0, 0] - 1000 * n).tolist() == [3 * k - 2, 3 * k - 1, 3 * k]
    assert cs.frames_to_sample("greyst", T) == (24, True)


def test_greyonly_repeats_each_grey_frame_to_three_channels():
    out = cs.reorder(grey_batch(T), "GreyOnly", T)
    assert out.shape == (2, 3, T, H, W)
    assert out[1, :, :, 0, 0].tolist() == [[1000.0 + k for k in range(1, T + 1)]] * 3
    assert cs.frames_to_sample("GREYONLY", T) == (T, True)


def test_frame_counts_and_case_insensitive_names():
    expected = {"RGB": 8, "TC": 8, "TCPlus2": 10, "TCrgb": 8, "TCred": 8, "TCShortLong": 8, "GreyST": 24}
    for mode, n in expected.items():
        assert cs.frames_to_sample(mode.lower(), 8).num_frames == n
        assert cs.frames_to_sample(mode.upper(), 8).num_frames == n
        assert cs.canonical_mode(f" {mode.swapcase()} ") == mode
    assert cs.frames_to_sample("TCPlus2", 16) == (18, False)
    assert cs.frames_to_sample("GreyST", 32) == (96, True)
    assert cs.canonical_mode("TC+2") == "TCPlus2" and cs.canonical_mode("GrayST") == "GreyST"


@pytest.mark.parametrize(
    "mode, segments, expected",
    [
        ("TC", 8, list(range(0, 43, 6))),
        ("TCPlus2", 10, [0, 4, 9, 14, 19, 24, 28, 33, 38, 43]),
        ("GreyST", 24, list(range(0, 47, 2))),
    ],
)
def test_test_mode_indices_of_a_48_frame_video(mode, segments, expected):
    """The loader's test-mode frame indices for the mode's frame count (upstream's table)."""
    n = cs.frames_to_sample(mode, 8).num_frames
    assert n == segments
    idx = sparse_indices(48, n, train=False)
    assert idx.tolist() == expected
    if mode == "GreyST":  # grey frames carrying their video frame index: grouped (0,2,4)(6,8,10)...
        x = idx.float().view(1, 1, n, 1, 1)
        out = cs.reorder(x, mode, 8)
        assert out[0, :, :, 0, 0].T.tolist() == [[6 * k, 6 * k + 2, 6 * k + 4] for k in range(8)]


def test_gradient_reaches_every_input_channel_as_often_as_it_is_read():
    for mode, x in (("TC", rgb_batch(8)), ("TCPlus2", rgb_batch(10)), ("GreyST", grey_batch(24))):
        x = x.clone().requires_grad_(True)
        cs.reorder(x, mode, T).sum().backward()
        c = x.shape[1]
        counts = torch.bincount(torch.tensor(cs.channel_indices(mode, T)), minlength=c * x.shape[2])
        # grad of input (n, colour, frame) = how many output channels read channel frame*C + colour
        expected = counts.view(x.shape[2], c).T.float()[None, :, :, None, None].expand_as(x)
        assert torch.equal(x.grad, expected)
    assert counts.sum() == 3 * T


def test_input_reshape_hook_serves_every_split_and_composes_then():
    get = cs.input_reshape_hook("tcplus2", T, then=lambda y: y * 2)
    fn = get("train")
    assert get("val") is fn and fn.mode == "TCPlus2" and fn.num_frames == T
    x = rgb_batch(10)
    assert torch.equal(fn(x), 2 * cs.reorder(x, "TCPlus2", T))
    plain = pickle.loads(pickle.dumps(cs.input_reshape_hook("GreyST", T)("val")))
    assert plain(grey_batch(24)).shape == (2, 3, T, H, W)
    assert "GreyST" in repr(plain)


def test_numpy_integer_frame_counts_are_accepted_as_ints():
    """As ProSelfLC and nearest_neighbours: numpy integers count as integers (bools do not)."""
    fn = cs.input_reshape_hook("TC", np.int64(8))("train")
    assert fn.num_frames == 8 and type(fn.num_frames) is int
    x = rgb_batch(8)
    assert torch.equal(fn(x), cs.reorder(x, "TC", 8))
    assert cs.frames_to_sample("GreyST", np.int32(8)) == (24, True)
    assert cs.channel_indices("TCShortLong", np.int64(8)) == cs.tcshortlong_indices(8)
    assert torch.equal(cs.reorder(x, "TC", np.int64(8)), cs.reorder(x, "TC", 8))
    with pytest.raises(TypeError, match="T must be an int, got bool"):
        cs.input_reshape_hook("RGB", True)


def test_rgb_is_the_identity_and_dtype_and_layout_do_not_matter():
    x = rgb_batch(8)
    assert cs.reorder(x, "RGB", 8) is x
    assert cs.reorder(x.double(), "TC").dtype == torch.float64
    strided = x.contiguous(memory_format=torch.channels_last_3d)  # layout does not change the result
    assert torch.equal(cs.reorder(strided, "TCrgb"), cs.reorder(x, "TCrgb"))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: cs.canonical_mode("TCplus3"),
            ValueError,
            "unknown channel-sampling mode 'TCplus3'; choose one of RGB, TC, TCPlus2",
        ),
        (lambda: cs.frames_to_sample(3, 8), TypeError, "mode must be a string"),
        (lambda: cs.frames_to_sample("TC", 2), ValueError, "TC needs T >= 3 frames, got T=2"),
        (lambda: cs.tcrgb_indices(1), ValueError, "TCrgb needs T >= 3"),
        (lambda: cs.frames_to_sample("GreyST", 0), ValueError, "GreyST needs T >= 1"),
        (lambda: cs.tcshortlong_indices(16), ValueError, "TCShortLong is defined for T=8 frames only"),
        (lambda: cs.frames_to_sample("TC", 8.0), TypeError, "T must be an int"),
        (
            lambda: cs.reorder(rgb_batch(8)[0], "TC"),
            ValueError,
            r"5-D \(N, C, T, H, W\) batch, got shape \(3, 8, 2, 2\)",
        ),
        (lambda: cs.reorder(rgb_batch(8).tolist(), "TC"), TypeError, "expected a torch.Tensor"),
        (lambda: cs.reorder(rgb_batch(24), "GreyST", 8), ValueError, "greyscale frames \\(C=1"),
        (lambda: cs.reorder(grey_batch(8), "TC", 8), ValueError, "RGB \\(C=3\\), got C=1"),
        (
            lambda: cs.reorder(rgb_batch(8), "TCPlus2", 8),
            ValueError,
            "expects T'=10 sampled frames, got T'=8",
        ),
        (
            lambda: cs.reorder(grey_batch(8), "GreyST", 8),
            ValueError,
            "expects T'=24 sampled frames, got T'=8",
        ),
        (lambda: cs.reorder(grey_batch(25), "GreyST"), ValueError, "not a multiple of 3"),
        (lambda: cs.reorder(rgb_batch(2), "TC"), ValueError, "TC needs T >= 3 frames, got T=2"),
        (lambda: cs.input_reshape_hook("TCShortLong", 4), ValueError, "T=8 frames only"),
    ],
)
def test_bad_inputs_raise_one_clear_line(call, error, message):
    with pytest.raises(error, match=message) as info:
        call()
    assert "\n" not in str(info.value)
