"""Clip transforms: callables ``f(clip[T, C, H, W]) -> clip`` drawing ONE set of random parameters per clip.

They wrap torchvision.transforms.v2 functional kernels (leading dims act as a batch, so every frame gets
the same scale, crop and flip). Random draws use the global torch RNG; the datasets seed it per sample
from ``(seed, epoch, index)`` so clips are reproducible whatever the number of workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torchvision.transforms.v2 import functional as F

from ..arguments import is_int
from .validate import check_clip_type, positive_size, resizable, size_pair

ClipTransform = Callable[[torch.Tensor], torch.Tensor]


# Layout guess from the shape alone: clips have at most 4 channels (RGB, grey, BGR, flow (u, v)) except
# optical-flow stacks (2k channels, e.g. 10), whose frames are still much larger than 4 px. So a clip with
# a last dim <= 4 and a larger dim 1 has its channels last, and one the other way round has them at dim 1.
_MAX_PLAIN_CHANNELS = 4


def looks_channels_last(shape: Sequence[int]) -> bool:
    """Whether a 4-d clip ``shape`` is almost certainly ``(T, H, W, C)`` rather than ``(T, C, H, W)``."""
    return len(shape) == 4 and shape[-1] <= _MAX_PLAIN_CHANNELS < shape[1]


def check_tchw(clip: torch.Tensor, name: str) -> None:
    """Refuse a clip given to ``name`` that is no tensor (numpy: ``torch.from_numpy``), or one in the decoder
    layout ``(T, H, W, C)`` (shape only: no data read)."""
    check_clip_type(clip, name)
    if looks_channels_last(clip.shape):
        raise ValueError(
            f"{name} expects a (T, C, H, W) clip; got shape {tuple(clip.shape)}, which looks like "
            "(T, H, W, C): convert with to_tchw(clip)"
        )


def to_tchw(clip: torch.Tensor) -> torch.Tensor:
    """Decoder layout ``(T, H, W, C)`` -> transform layout ``(T, C, H, W)``."""
    check_clip_type(clip, "to_tchw")
    if clip.ndim != 4:
        raise ValueError(f"expected a clip of shape (T, H, W, C), got {tuple(clip.shape)}")
    if clip.shape[-1] > _MAX_PLAIN_CHANNELS >= clip.shape[1]:  # the mirror image of looks_channels_last
        raise ValueError(
            f"to_tchw expects a (T, H, W, C) clip; got shape {tuple(clip.shape)}, which looks like "
            "(T, C, H, W) already: pass it on without to_tchw"
        )
    return clip.permute(0, 3, 1, 2)


def to_thwc(clip: torch.Tensor) -> torch.Tensor:
    """Transform layout ``(T, C, H, W)`` -> decoder layout ``(T, H, W, C)``."""
    check_clip_type(clip, "to_thwc")
    if clip.ndim != 4:
        raise ValueError(f"expected a clip of shape (T, C, H, W), got {tuple(clip.shape)}")
    if looks_channels_last(clip.shape):  # the mirror image of to_tchw's check
        raise ValueError(
            f"to_thwc expects a (T, C, H, W) clip; got shape {tuple(clip.shape)}, which looks like "
            "(T, H, W, C) already: pass it on without to_thwc"
        )
    return clip.permute(0, 2, 3, 1)


#: ``size`` as ``(height, width)``: an int means a square; anything but a positive int or two is one
#: TypeError/ValueError naming ``name`` (the transforms' name for :func:`~.validate.size_pair`)
pair = size_pair


def short_side_size(h: int, w: int, short: int) -> tuple[int, int]:
    """Output (h, w) when the shorter side becomes ``short`` keeping the aspect ratio: the longer side is
    ``floor(long * short / short_side)``, as upstream PyVideoAI, PySlowFast and torchvision's ``resize``
    compute it (here in exact integer arithmetic): 4:3 frames at short side 256 are 256 x 341."""
    if h <= w:
        return short, max(1, w * short // h)
    return max(1, h * short // w), short


def centre_offset(size: int, crop: int) -> int:
    """Start of a centred ``crop`` along a side of ``size``: ``ceil((size - crop) / 2)``, as upstream's
    ``uniform_crop`` places centre views (torchvision's ``center_crop`` rounds half to even instead)."""
    return (size - crop + 1) // 2


class Compose:
    """Apply clip transforms in order."""

    def __init__(self, transforms: Sequence[ClipTransform]):
        self.transforms = list(transforms)

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        for t in self.transforms:
            clip = t(clip)
        return clip

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"Compose([{inner}])"


class ShortSideScale:
    """Resize so the shorter side equals ``size`` (antialiased bilinear); no-op if it already does."""

    def __init__(self, size: int):
        self.size = positive_size(size, "ShortSideScale size")

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        check_tchw(clip, "ShortSideScale")
        h, w = clip.shape[-2:]
        if min(h, w) == self.size:
            return clip
        out = short_side_size(h, w, self.size)
        return F.resize(resizable(clip, *out), list(out), antialias=True)

    def __repr__(self) -> str:
        return f"ShortSideScale({self.size})"


class RandomShortSideScale:
    """Short-side scale jitter: shorter side drawn uniformly from ``[min_size, max_size]`` (inclusive)."""

    def __init__(self, min_size: int, max_size: int):
        min_size = positive_size(min_size, "RandomShortSideScale min_size")
        max_size = positive_size(max_size, "RandomShortSideScale max_size")
        if min_size > max_size:
            raise ValueError(f"scale jitter min {min_size} > max {max_size}")
        self.min_size, self.max_size = min_size, max_size

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        check_clip_type(clip, "RandomShortSideScale")  # before the draw, as the other random transforms
        size = int(torch.randint(self.min_size, self.max_size + 1, (1,)))
        return ShortSideScale(size)(clip)

    def __repr__(self) -> str:
        return f"RandomShortSideScale({self.min_size}, {self.max_size})"


def _pad_to(clip: torch.Tensor, h: int, w: int) -> torch.Tensor:
    ph, pw = max(h - clip.shape[-2], 0), max(w - clip.shape[-1], 0)
    if ph or pw:  # clip smaller than the crop: pad symmetrically with zeros rather than fail
        clip = F.pad(clip, [pw // 2, ph // 2, pw - pw // 2, ph - ph // 2])
    return clip


def scaled_random_crop(
    clip: torch.Tensor,
    short_side: int,
    size: int | Sequence[int],
    position: tuple[float, float] | None = None,
    resize: bool = True,
) -> torch.Tensor:
    """``ShortSideScale(short_side)`` then ``RandomCrop(size)`` as ONE resized crop of the matching source
    region, so only ``size`` pixels are interpolated instead of the whole frame (same random draws).
    ``position``: two uniform [0, 1) numbers placing the crop (row, column) instead of drawing them; the
    top row is then ``int(position[0] * (scaled height - crop height + 1))``, the left column likewise.
    ``resize=False`` returns that source region uncopied (a view) where it still needs resizing to ``size``,
    for the caller to resize later (``F.resize(region, size, antialias=True)`` then gives the same pixels);
    crops that need padding are still made here, so the result is either ``size`` or such a region."""
    check_tchw(clip, "scaled_random_crop")
    ch, cw = pair(size)
    h, w = clip.shape[-2:]
    box = scaled_crop_box(h, w, short_side, (ch, cw), position)
    if box is None:  # crop larger than the scaled frame: pad like RandomCrop does
        return _padded_crop(ShortSideScale(short_side)(clip), ch, cw, position)
    y0, x0, sh, sw = box
    if (sh, sw) == (ch, cw):  # F.crop's view in one call (no indexing machinery: this runs per sample)
        st = clip.stride()
        offset = clip.storage_offset() + y0 * st[-2] + x0 * st[-1]
        return clip.as_strided((*clip.shape[:-2], ch, cw), st, offset)
    if not resize:
        return clip[..., y0 : y0 + sh, x0 : x0 + sw]
    return F.resized_crop(resizable(clip, ch, cw), y0, x0, sh, sw, [ch, cw], antialias=True)


def scaled_crop_box(
    h: int, w: int, short_side: int, size: int | Sequence[int], position: tuple[float, float] | None = None
) -> tuple[int, int, int, int] | None:
    """The source region ``(top, left, height, width)`` of an ``h`` x ``w`` frame that
    :func:`scaled_random_crop` resizes to ``size`` (the region itself when the frame already has the
    short side); ``None`` when the crop is larger than the scaled frame (it is then padded, not cropped).
    ``position`` as in :func:`scaled_random_crop`; without it the origin is drawn from torch's RNG."""
    ch, cw = pair(size, "size")
    if type(short_side) is not int or short_side < 1:  # (a plain positive int passes at once: per sample)
        short_side = positive_size(short_side, "short_side")
    th, tw = short_side_size(h, w, short_side)
    if th < ch or tw < cw:
        return None
    top, left = _crop_origin(th - ch + 1, tw - cw + 1, position)
    if (th, tw) == (h, w):
        return top, left, ch, cw
    fy, fx = h / th, w / tw
    y0, x0 = int(round(top * fy)), int(round(left * fx))
    return y0, x0, min(int(round(ch * fy)), h - y0), min(int(round(cw * fx)), w - x0)


def _padded_crop(clip: torch.Tensor, h: int, w: int, position: tuple[float, float] | None) -> torch.Tensor:
    """An ``h`` x ``w`` window of ``clip`` (zero-padded first where smaller) at a drawn or given position."""
    clip = _pad_to(clip, h, w)
    top, left = _crop_origin(clip.shape[-2] - h + 1, clip.shape[-1] - w + 1, position)
    return F.crop(clip, top, left, h, w)


def _crop_origin(rows: int, cols: int, position: tuple[float, float] | None) -> tuple[int, int]:
    """(top, left) among ``rows`` x ``cols`` crop origins: drawn as RandomCrop draws them, or placed by
    ``position``."""
    if position is None:
        return int(torch.randint(rows, (1,))), int(torch.randint(cols, (1,)))
    uy, ux = position
    if not (0.0 <= uy < 1.0 and 0.0 <= ux < 1.0):
        raise ValueError(f"position={position} must be two numbers in [0, 1)")
    return int(uy * rows), int(ux * cols)


def hflip_bgr(clip: torch.Tensor) -> torch.Tensor:
    """Horizontal flip of a ``(T, C, H, W)`` clip decoded with its channels reversed (BGR), restoring RGB:
    equals ``clip.flip(-3).flip(-1)``. When each pixel row is one run in memory (channels innermost, as
    decoders write them, and crops of such frames) reversing the row's bytes does both in one pass, about
    twice as fast as ``flip(-1)`` alone on a channels-last clip; returns a dense channels-last clip."""
    if clip.ndim == 4:
        t, c, h, w = clip.shape
        st, sc, sh, sw = clip.stride()
        if sc == 1 and sw == c:
            rows = clip.as_strided((t, h, w * c), (st, sh, 1)).flip(-1)
            return rows.view(t, h, w, c).permute(0, 3, 1, 2)
    return clip.flip(-3).flip(-1)


class RandomCrop:
    """Crop a random ``size`` window (same window for every frame); pads clips smaller than the crop."""

    def __init__(self, size: int | Sequence[int]):
        self.size = pair(size, "RandomCrop size")

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        check_tchw(clip, "RandomCrop")
        return _padded_crop(clip, *self.size, None)

    def __repr__(self) -> str:
        return f"RandomCrop({self.size})"


class CenterCrop:
    """Crop the central ``size`` window."""

    def __init__(self, size: int | Sequence[int]):
        self.size = pair(size, "CenterCrop size")

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        check_tchw(clip, "CenterCrop")
        return _centre_crop(_pad_to(clip, *self.size), *self.size)

    def __repr__(self) -> str:
        return f"CenterCrop({self.size})"


class RandomHorizontalFlip:
    """Flip every frame left-right with probability ``p``; ``last_flipped`` tells whether it did."""

    def __init__(self, p: float = 0.5):
        self.p = float(p)
        self.last_flipped = False

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        check_tchw(clip, "RandomHorizontalFlip")  # before the draw: a refused clip uses no random number
        self.last_flipped = bool(torch.rand(1) < self.p)
        return F.horizontal_flip(clip) if self.last_flipped else clip

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


NUM_SPATIAL_CROPS = (1, 3, 5, 10)


def check_num_spatial_crops(value, name: str = "num_spatial_crops") -> int:
    """``value`` as one of the test-view crop counts (1, 3, 5, 10), or one ValueError naming ``name``
    (floats such as 3.0 and bools refused: they pass ``in`` but are not counts)."""
    if not is_int(value) or value not in NUM_SPATIAL_CROPS:
        raise ValueError(f"{name}={value!r}; choose one of {NUM_SPATIAL_CROPS}")
    return int(value)


def _centre_crop(clip: torch.Tensor, ch: int, cw: int) -> torch.Tensor:
    h, w = clip.shape[-2:]
    return F.crop(clip, centre_offset(h, ch), centre_offset(w, cw), ch, cw)


def spatial_crop(clip: torch.Tensor, size: int | Sequence[int], num_crops: int, index: int) -> torch.Tensor:
    """Test-time view ``index`` of ``num_crops``, placed as upstream's ``uniform_crop``/``uniform_crop_5``:
    1 = centre; 3 = centre, top, bottom for frames taller than wide, else centre, left, right (centred
    across); 5 = centre then corners TL, TR, BL, BR; 10 = those 5 then the same 5 flipped. Centred
    offsets are ``ceil((side - crop) / 2)`` (:func:`centre_offset`)."""
    check_num_spatial_crops(num_crops, "num_crops")
    if not 0 <= index < num_crops:
        raise ValueError(f"crop index {index} is outside [0, {num_crops})")
    check_tchw(clip, "spatial_crop")
    ch, cw = pair(size, "spatial_crop size")
    clip = _pad_to(clip, ch, cw)
    h, w = clip.shape[-2:]
    if num_crops == 1 or index == 0:
        return _centre_crop(clip, ch, cw)
    if num_crops == 3:
        if h > w:
            top, left = (0 if index == 1 else h - ch), centre_offset(w, cw)
        else:
            top, left = centre_offset(h, ch), (0 if index == 1 else w - cw)
        return F.crop(clip, top, left, ch, cw)
    flip = index >= 5
    corner = index % 5
    if corner == 0:
        out = _centre_crop(clip, ch, cw)
    else:
        top = 0 if corner in (1, 2) else h - ch
        left = 0 if corner in (1, 3) else w - cw
        out = F.crop(clip, top, left, ch, cw)
    return F.horizontal_flip(out) if flip else out


class SpatialCrop:
    """Deterministic multi-view crop as a transform (see :func:`spatial_crop`)."""

    def __init__(self, size: int | Sequence[int], num_crops: int = 1, index: int = 0):
        size = pair(size, "SpatialCrop size")
        spatial_crop(torch.zeros(1, 1, 1, 1), 1, num_crops, index)  # validate arguments early
        self.size, self.num_crops, self.index = size, num_crops, index

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        return spatial_crop(clip, self.size, self.num_crops, self.index)

    def __repr__(self) -> str:
        return f"SpatialCrop({self.size}, num_crops={self.num_crops}, index={self.index})"
