"""Channel sampling (Kim et al., BMVC 2022): give each 2D segment channels from neighbouring frames.

A 2D model sees T segments of 3 channels. Channel sampling fills those 3 channels with colours (TC,
TC+2, TCrgb, TCred, TCShortLong) or grey levels (GreyST) of *consecutive* frames, so that a per-frame
network sees short-term motion at no extra cost. The dataloader only decides how many frames to sample
and whether they are grey (:func:`frames_to_sample`); the batch is reordered on the device by
:func:`reorder` (in an exp config: ``get_input_reshape_func = input_reshape_hook(mode, T)``).

Channel indices address a batch flattened to ``(N, T*C, H, W)`` frame-major: channel ``3*(f-1) + c`` is
colour ``c`` (R 0, G 1, B 2) of frame ``f`` (1-based), as upstream PyVideoAI's ``tc_reordering``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

import torch

__all__ = [
    "GREY_MEAN",
    "GREY_STD",
    "MODES",
    "FrameSampling",
    "InputReshape",
    "canonical_mode",
    "channel_indices",
    "frames_to_sample",
    "input_reshape_hook",
    "reorder",
    "tc_indices",
    "tcplus2_indices",
    "tcred_indices",
    "tcrgb_indices",
    "tcshortlong_indices",
]

#: the sampling modes, spelt as upstream's ``sampling_mode``
MODES = ("RGB", "TC", "TCPlus2", "TCrgb", "TCred", "TCShortLong", "GreyST", "GreyOnly")
#: 1-channel normalisation statistics of the grey modes (upstream's ch_tcgrey configs)
GREY_MEAN = (0.485,)
GREY_STD = (0.229,)

_BY_KEY = {m.lower(): m for m in MODES} | {"tc+2": "TCPlus2", "grayst": "GreyST", "grayonly": "GreyOnly"}
_GREY_MODES = frozenset({"GreyST", "GreyOnly"})
_MIN_T = {"TC": 3, "TCrgb": 3, "TCred": 3}  # upstream asserts T >= 3 where indices are clamped


class FrameSampling(NamedTuple):
    """What the dataloader samples for a mode: ``num_frames`` frames, greyscale (C=1) or RGB."""

    num_frames: int
    greyscale: bool


def canonical_mode(mode: str) -> str:
    """Upstream's spelling of ``mode`` (case-insensitive; "TC+2"/"GrayST"/"GrayOnly" accepted) or one ValueError."""
    if not isinstance(mode, str):
        raise TypeError(f"channel-sampling mode must be a string, got {type(mode).__name__}")
    try:
        return _BY_KEY[mode.strip().lower()]
    except KeyError:
        raise ValueError(
            f"unknown channel-sampling mode {mode!r}; choose one of {', '.join(MODES)}"
        ) from None


def _check_t(mode: str, t: int) -> int:
    """Validate the model's frame count T for ``mode``: an integer (numpy's too, not a bool), >= the mode's
    minimum, 8 for TCShortLong; returned as an int."""
    if isinstance(t, bool) or not isinstance(t, numbers.Integral):
        raise TypeError(f"{mode}: the number of frames T must be an int, got {type(t).__name__}")
    t = int(t)
    if mode == "TCShortLong" and t != 8:
        raise ValueError(f"TCShortLong is defined for T=8 frames only, got T={t}")
    if t < _MIN_T.get(mode, 1):
        raise ValueError(f"{mode} needs T >= {_MIN_T.get(mode, 1)} frames, got T={t}")
    return t


def frames_to_sample(mode: str, num_frames: int) -> FrameSampling:
    """Frames the loader must sample for a T-frame model: T, T+2 (TCPlus2) or 3T grey (GreyST)."""
    mode = canonical_mode(mode)
    t = _check_t(mode, num_frames)
    n = t + 2 if mode == "TCPlus2" else 3 * t if mode == "GreyST" else t
    return FrameSampling(n, mode in _GREY_MODES)


def _pattern(t: int, offsets: tuple[tuple[int, int], ...], clamp: bool) -> tuple[int, ...]:
    """Output frame k takes colour ``c(k)`` of frame ``k + df`` for each (df, colour) rule; see callers.

    A colour of -1 means "the output frame's turn", ``k mod 3`` (TC's R, G, B cycle). With ``clamp``,
    frames past T are replaced by frame T (upstream subtracts 3 from the channel until it fits)."""
    out = []
    for k in range(t):
        for df, colour in offsets:
            f = k + df
            out.append(3 * (min(f, t - 1) if clamp else f) + (k % 3 if colour < 0 else colour))
    return tuple(out)


@lru_cache(maxsize=64)
def tc_indices(num_frames: int) -> tuple[int, ...]:
    """TC: output frame k is colour (k-1) mod 3 of frames k, k+1, k+2, clamped to frame T."""
    return _pattern(_check_t("TC", num_frames), ((0, -1), (1, -1), (2, -1)), clamp=True)


@lru_cache(maxsize=64)
def tcplus2_indices(num_frames: int) -> tuple[int, ...]:
    """TC+2: TC's pattern for T output frames over T+2 sampled frames, so nothing is clamped."""
    return _pattern(_check_t("TCPlus2", num_frames), ((0, -1), (1, -1), (2, -1)), clamp=False)


@lru_cache(maxsize=64)
def tcrgb_indices(num_frames: int) -> tuple[int, ...]:
    """TCrgb: output frame k is (k R, k+1 G, k+2 B), clamped to frame T."""
    return _pattern(_check_t("TCrgb", num_frames), ((0, 0), (1, 1), (2, 2)), clamp=True)


@lru_cache(maxsize=64)
def tcred_indices(num_frames: int) -> tuple[int, ...]:
    """TCred: output frame k is (k R, k+1 R, k+2 R), clamped to frame T."""
    return _pattern(_check_t("TCred", num_frames), ((0, 0), (1, 0), (2, 0)), clamp=True)


@lru_cache(maxsize=4)
def tcshortlong_indices(num_frames: int = 8) -> tuple[int, ...]:
    """TCShortLong (T=8): TC, with the last two frames replaced by long-range (3R 5R 7R)(4G 6G 8G)."""
    _check_t("TCShortLong", num_frames)
    # a new tuple: TC's cached indices are left as they are (upstream overwrote its cached list)
    return tc_indices(8)[:-6] + (6, 12, 18, 10, 16, 22)


_INDEX_FUNCS: dict[str, Callable[[int], tuple[int, ...]]] = {
    "TC": tc_indices,
    "TCPlus2": tcplus2_indices,
    "TCrgb": tcrgb_indices,
    "TCred": tcred_indices,
    "TCShortLong": tcshortlong_indices,
}


def channel_indices(mode: str, num_frames: int) -> tuple[int, ...]:
    """The 3T input channels (frame-major, ``3*(f-1)+c``; one channel per frame when grey) ``mode`` reads."""
    mode = canonical_mode(mode)
    t = _check_t(mode, num_frames)
    if mode in _INDEX_FUNCS:
        return _INDEX_FUNCS[mode](t)
    if mode == "GreyST":  # grey frames g1..g3T in order: segment k reads (g3k-2, g3k-1, g3k)
        return tuple(range(3 * t))
    if mode == "GreyOnly":  # each grey frame repeated to 3 channels
        return tuple(f for f in range(t) for _ in range(3))
    return tuple(range(3 * t))  # RGB


_DEVICE_CACHE: dict[tuple[str, int, torch.device], tuple[torch.Tensor, torch.Tensor]] = {}


def _gather_index(
    mode: str, t: int, channels: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """(colour, frame) index tensors on ``device`` for one gather; cached, never handed to callers."""
    key = (mode, t, device)
    if key not in _DEVICE_CACHE:
        idx = torch.tensor(channel_indices(mode, t), dtype=torch.long)
        _DEVICE_CACHE[key] = ((idx % channels).to(device), (idx // channels).to(device))
    return _DEVICE_CACHE[key]


def _infer_t(mode: str, frames_in: int) -> int:
    """The model's T from the number of sampled frames T' (inverse of :func:`frames_to_sample`)."""
    if mode == "GreyST":
        if frames_in % 3:
            raise ValueError(f"GreyST expects 3T grey frames, got T'={frames_in} (not a multiple of 3)")
        return frames_in // 3
    return frames_in - 2 if mode == "TCPlus2" else frames_in


def reorder(x: torch.Tensor, mode: str, num_frames: int | None = None) -> torch.Tensor:
    """``(N, C, T', H, W)`` sampled frames -> ``(N, 3, T, H, W)`` model input for ``mode``.

    C is 3 (RGB) or 1 (GreyST, GreyOnly); T' is :func:`frames_to_sample`'s count, checked against
    ``num_frames`` (T) when it is given, else T is inferred from T'. One gather, differentiable."""
    mode = canonical_mode(mode)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{mode}: expected a torch.Tensor batch (N, C, T, H, W), got {type(x).__name__}")
    if x.ndim != 5:
        raise ValueError(f"{mode}: expected a 5-D (N, C, T, H, W) batch, got shape {tuple(x.shape)}")
    n, c, frames_in, h, w = x.shape
    want_c = 1 if mode in _GREY_MODES else 3
    if c != want_c:
        what = "greyscale frames (C=1; a dataset built with greyscale=True)" if want_c == 1 else "RGB (C=3)"
        raise ValueError(f"{mode}: expected {what}, got C={c} in shape {tuple(x.shape)}")
    t = _infer_t(mode, frames_in) if num_frames is None else _check_t(mode, num_frames)
    want_frames = frames_to_sample(mode, t).num_frames
    if frames_in != want_frames:
        raise ValueError(
            f"{mode} with T={t} model frames expects T'={want_frames} sampled frames, got T'={frames_in}"
        )
    if mode == "RGB":
        return x
    colour, frame = _gather_index(mode, t, c, x.device)
    out = x[:, colour, frame]  # (N, 3T, H, W), frame-major: output frame k holds channels 3k..3k+2
    return out.reshape(n, t, 3, h, w).transpose(1, 2)


class InputReshape:
    """A picklable ``inputs -> model inputs`` callable: :func:`reorder`, then an optional ``then``."""

    def __init__(
        self, mode: str, num_frames: int, then: Callable[[torch.Tensor], torch.Tensor] | None = None
    ):
        self.mode = canonical_mode(mode)
        self.num_frames = _check_t(self.mode, num_frames)
        self.then = then

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        out = reorder(inputs, self.mode, self.num_frames)
        return self.then(out) if self.then is not None else out

    def __repr__(self) -> str:
        return f"InputReshape(mode={self.mode!r}, num_frames={self.num_frames})"


def input_reshape_hook(
    mode: str, num_frames: int, then: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> Callable[[str], InputReshape]:
    """An exp config's ``get_input_reshape_func(split)``: the same :class:`InputReshape` for every split.

    ``then`` is applied after the reordering (e.g. a model config's ``NCTHW_to_model_input_shape``)."""
    reshape = InputReshape(mode, num_frames, then)

    def get_input_reshape_func(split: str) -> InputReshape:
        return reshape

    return get_input_reshape_func
