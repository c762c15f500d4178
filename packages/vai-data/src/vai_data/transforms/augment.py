"""Training augmentations for clips: TSN multi-scale crop, RandomResizedCrop, colour jitter, greyscale,
RandAugment, and the horizontal-flip label map for direction-bearing classes.

Every transform takes a uint8 ``(T, C, H, W)`` clip and draws ONE set of random parameters for the whole
clip (torchvision.transforms.v2 treats leading dims as a batch). Random draws use the global torch RNG,
which the datasets seed per sample, or an explicit ``torch.Generator`` when one is given.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
from collections.abc import Iterator, Sequence

import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from .clip import check_tchw, pair
from .normalize import GREY_COEFFS
from .validate import check_clip_type, resizable

logger = logging.getLogger(__name__)

TSN_SCALES = (1.0, 0.875, 0.75, 0.66)
DIRECTION_PAIRS: tuple[tuple[str, str], ...] = (
    ("left", "right"),
    ("clockwise", "anticlockwise"),
    ("clockwise", "counterclockwise"),
)


def _check_clip(clip: torch.Tensor, name: str) -> None:
    check_clip_type(clip, name)
    if clip.ndim != 4:
        raise ValueError(f"{name} expects a clip of shape (T, C, H, W), got {tuple(clip.shape)}")
    check_tchw(clip, name)


# slack above 1 for float rounding (a resize of a clip of ones may give 1.0000001), far below 255
_UNIT_SLACK = 1e-3


def _check_unit_floats(clip: torch.Tensor, name: str) -> None:
    """Refuse float clips outside [0, 1]: torchvision v2 colour ops clamp floats to [0, 1], so a clip in
    [0, 255] (or normalised) would silently turn (near) white. uint8 clips are not read at all."""
    if not clip.is_floating_point() or clip.numel() == 0:
        return
    lo, hi = (float(v) for v in torch.aminmax(clip))
    if hi > 1 + _UNIT_SLACK or lo < -_UNIT_SLACK:
        raise ValueError(
            f"{name} expects uint8 clips or floats in [0, 1]; got floats in [{lo:.4g}, {hi:.4g}]: apply it "
            "before normalisation, or divide [0, 255] floats by 255"
        )


@contextlib.contextmanager
def _rng_from(generator: torch.Generator | None) -> Iterator[None]:
    """Run torchvision's global-RNG transforms reproducibly from ``generator`` without touching global state."""
    if generator is None:
        yield
        return
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _randint(high: int, generator: torch.Generator | None) -> int:
    """Uniform integer in ``[0, high)``."""
    return int(torch.randint(0, high, (1,), generator=generator))


class MultiScaleCrop:
    """TSN multi-scale crop: a crop whose sides are ``scales`` of the short side (aspect distortion up to
    ``max_distort`` scale steps), at a fixed position (centre, corners and, with ``more_fix_crop``, edge
    centres and quarter points) or anywhere (``fix_crop=False``), resized to ``size``."""

    def __init__(
        self,
        size: int | Sequence[int],
        scales: Sequence[float] = TSN_SCALES,
        max_distort: int = 1,
        fix_crop: bool = True,
        more_fix_crop: bool = True,
        generator: torch.Generator | None = None,
    ):
        self.size = pair(size, "MultiScaleCrop size")
        self.scales = tuple(float(s) for s in scales)
        if not self.scales or any(not 0 < s <= 1 for s in self.scales):
            raise ValueError(f"MultiScaleCrop scales must be in (0, 1], got {scales}")
        self.max_distort = int(max_distort)
        self.fix_crop = fix_crop
        self.more_fix_crop = more_fix_crop
        self.generator = generator

    def crop_sizes(self, height: int, width: int) -> list[tuple[int, int]]:
        """The allowed ``(crop_h, crop_w)`` pairs for an image of this size.

        Sides within 3 px of the output size snap to it, as TSN's; a side that snaps past the frame (a
        222-px frame for a 224 output) keeps the frame's size instead: TSN crops past the edge there and
        pads with black, which vai does not copy. Every scale pair thus stays drawable, as in TSN."""
        base = min(height, width)
        sides = [int(base * s) for s in self.scales]
        if min(sides) < 1:
            raise ValueError(
                f"MultiScaleCrop: scales {self.scales} give an empty crop of a {height}x{width} clip"
            )
        out_h, out_w = self.size
        hs = [min(out_h, height) if abs(s - out_h) < 3 else s for s in sides]
        ws = [min(out_w, width) if abs(s - out_w) < 3 else s for s in sides]
        return [(h, w) for i, h in enumerate(hs) for j, w in enumerate(ws) if abs(i - j) <= self.max_distort]

    def fixed_offsets(self, height: int, width: int, crop_h: int, crop_w: int) -> list[tuple[int, int]]:
        """``(top, left)`` of the fixed crop positions on a 4x4 grid of steps."""
        hs, ws = (height - crop_h) // 4, (width - crop_w) // 4
        offsets = [(0, 0), (0, 4 * ws), (4 * hs, 0), (4 * hs, 4 * ws), (2 * hs, 2 * ws)]
        if self.more_fix_crop:
            offsets += [(2 * hs, 0), (2 * hs, 4 * ws), (4 * hs, 2 * ws), (0, 2 * ws)]
            offsets += [(hs, ws), (hs, 3 * ws), (3 * hs, ws), (3 * hs, 3 * ws)]
        return offsets

    def get_params(self, height: int, width: int) -> tuple[int, int, int, int]:
        """Draw ``(top, left, crop_h, crop_w)`` for one clip."""
        pairs = self.crop_sizes(height, width)
        crop_h, crop_w = pairs[_randint(len(pairs), self.generator)]
        if self.fix_crop:
            offsets = self.fixed_offsets(height, width, crop_h, crop_w)
            top, left = offsets[_randint(len(offsets), self.generator)]
        else:
            top = _randint(height - crop_h + 1, self.generator)
            left = _randint(width - crop_w + 1, self.generator)
        return top, left, crop_h, crop_w

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        _check_clip(clip, "MultiScaleCrop")
        top, left, h, w = self.get_params(*clip.shape[-2:])
        return F.resized_crop(resizable(clip, *self.size), top, left, h, w, list(self.size), antialias=True)

    def __repr__(self) -> str:
        return (
            f"MultiScaleCrop(size={self.size}, scales={self.scales}, max_distort={self.max_distort}, "
            f"fix_crop={self.fix_crop}, more_fix_crop={self.more_fix_crop})"
        )


class _SeededV2:
    """Base for wrappers of a torchvision v2 transform: one draw per clip, optional explicit generator."""

    name = "transform"
    unit_floats = False  # True: float clips must be in [0, 1] (torchvision's colour ops clamp them there)

    def __init__(self, transform: v2.Transform, generator: torch.Generator | None):
        self.transform = transform
        self.generator = generator

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        _check_clip(clip, type(self).__name__)
        if self.unit_floats:
            _check_unit_floats(clip, type(self).__name__)
        with _rng_from(self.generator):
            return self.transform(clip)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.transform!r})"


class RandomResizedCrop(_SeededV2):
    """Inception-style crop of random area ``scale`` and aspect ``ratio``, resized to ``size``; same box per clip."""

    def __init__(
        self,
        size: int | Sequence[int],
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        generator: torch.Generator | None = None,
    ):
        self.size = pair(size, "RandomResizedCrop size")
        super().__init__(v2.RandomResizedCrop(self.size, scale=scale, ratio=ratio, antialias=True), generator)

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        size = getattr(self, "size", None)  # (absent from instances pickled before it was kept)
        if size is not None and isinstance(clip, torch.Tensor):
            clip = resizable(clip, *size)
        return super().__call__(clip)


class ColorJitter(_SeededV2):
    """Random brightness/contrast/saturation/hue (random order), the same factors for every frame.
    uint8 clips, or floats in [0, 1]."""

    unit_floats = True

    def __init__(
        self,
        brightness: float = 0.4,
        contrast: float = 0.4,
        saturation: float = 0.4,
        hue: float = 0.0,
        generator: torch.Generator | None = None,
    ):
        super().__init__(v2.ColorJitter(brightness, contrast, saturation, hue), generator)


class RandAugment(_SeededV2):
    """RandAugment (``num_ops`` ops at ``magnitude``); ops and magnitudes are drawn once per clip.
    uint8 clips, or floats in [0, 1]."""

    unit_floats = True

    def __init__(
        self,
        num_ops: int = 2,
        magnitude: int = 9,
        num_magnitude_bins: int = 31,
        generator: torch.Generator | None = None,
    ):
        super().__init__(v2.RandAugment(num_ops, magnitude, num_magnitude_bins), generator)


def grey_clip(clip: torch.Tensor, num_output_channels: int = 3) -> torch.Tensor:
    """RGB ``(T, 3, H, W)`` -> luma with the BT.601 weights (0.2989, 0.5870, 0.1140), keeping the dtype.

    uint8 input is rounded to the nearest integer; the grey plane is repeated to ``num_output_channels``.
    """
    _check_clip(clip, "grey_clip")
    if clip.shape[1] != 3:
        raise ValueError(f"grey_clip expects 3 RGB channels, got {clip.shape[1]}")
    w = torch.tensor(GREY_COEFFS, dtype=torch.float32, device=clip.device).view(1, 3, 1, 1)
    grey = (clip.float() * w).sum(dim=1, keepdim=True)
    if not clip.is_floating_point():
        grey = grey.round_().clamp_(0, 255)
    grey = grey.to(clip.dtype)
    return grey.expand(-1, num_output_channels, -1, -1).contiguous()


class RandomGrayscale:
    """With probability ``p``, turn the whole clip grey (3 channels kept, so models need no change)."""

    def __init__(self, p: float = 0.2, generator: torch.Generator | None = None):
        if not 0 <= p <= 1:
            raise ValueError(f"RandomGrayscale p must be in [0, 1], got {p}")
        self.p = p
        self.generator = generator

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        _check_clip(clip, "RandomGrayscale")  # whether or not this clip turns grey
        if float(torch.rand((), generator=self.generator)) < self.p:
            return grey_clip(clip, clip.shape[1])
        return clip

    def __repr__(self) -> str:
        return f"RandomGrayscale(p={self.p})"


def _normalise_name(name: str) -> str:
    """Lower-case, with ``_``/``-`` as spaces so ``moving_left`` has the whole word ``left``."""
    return " ".join(re.sub(r"[_\-]+", " ", name.lower()).split())


def _mirror_words(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Each direction word -> its mirror words, in the order of ``pairs``: by default ``clockwise`` ->
    ``[anticlockwise, counterclockwise]``, ``anticlockwise`` -> ``[clockwise]``."""
    table: dict[str, list[str]] = {}
    for a, b in pairs:
        a, b = _normalise_name(a), _normalise_name(b)
        for word, mirror in ((a, b), (b, a)):
            if mirror not in table.setdefault(word, []):
                table[word].append(mirror)
    return table


def _full_mirrors(name: str, table: dict[str, list[str]], word_re: re.Pattern) -> list[str]:
    """Every way to mirror ``name`` with ALL its direction words replaced at once (not one pair after
    another, which would turn ``anticlockwise`` into ``clockwise`` and back into ``counterclockwise``)."""
    parts = word_re.split(name)  # the pattern's one group puts the direction words at the odd indices
    options = [table[part] if k % 2 else [part] for k, part in enumerate(parts)]
    return ["".join(choice) for choice in itertools.product(*options)]


def flip_label_map_from_names(
    class_names: Sequence[str], pairs: Sequence[tuple[str, str]] = DIRECTION_PAIRS
) -> dict[int, int]:
    """Map each direction-bearing class to its mirror class under a horizontal flip.

    A class maps to the class named like it with every direction word mirrored at once (``left`` <->
    ``right``, ``clockwise`` <-> ``anticlockwise`` or ``counterclockwise``, whichever is a class, by
    default; whole words, case, ``_`` and ``-`` ignored): "from left to right" <-> "from right to left".
    Classes naming a direction without such a mirror class are logged: flipping them would keep a wrong
    label (a class is never paired with a half-mirrored one).
    """
    index = {_normalise_name(n): i for i, n in enumerate(class_names)}
    table = _mirror_words(pairs)
    # whole words, longest first so a phrase or longer word wins over a word it contains
    alternatives = sorted(table, key=len, reverse=True)
    word_re = re.compile(r"\b(" + "|".join(re.escape(w) for w in alternatives) + r")\b")
    mapping: dict[int, int] = {}
    unpaired = []
    for i, name in enumerate(class_names):
        norm = _normalise_name(name)
        if not word_re.search(norm):
            continue
        j = next((index[m] for m in _full_mirrors(norm, table, word_re) if m != norm and m in index), None)
        if j is None:
            unpaired.append(name)
            continue
        mapping[i] = j
    if unpaired:
        logger.warning(
            "classes naming a direction with no mirror class (flip keeps their label): %s", unpaired
        )
    return mapping
