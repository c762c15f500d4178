"""Normalisation: uint8/float clips -> normalised float ``(C, T, H, W)``, in the worker or on the device.

``Normalize`` is the final per-clip transform of a dataset. ``DeviceNormalize`` does the same arithmetic
on a collated uint8 batch ``(N, C, T, H, W)`` after it reached the training device: the data workers
then hand over clips four times smaller and skip the float conversion (what MMAction2's data
preprocessor and timm's prefetcher do).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import torch

from .clip import check_tchw
from .pending_resize import RESIZE_PENDING, apply_pending_resize
from .validate import check_clip_type

# with scale_255 the pixels are in [0, 1]: a mean or std above this is a 0-255 statistic given by mistake
_UNIT_STATS_MAX = 1.5

# ITU-R BT.601 luma, as cv2.COLOR_RGB2GRAY (upstream had a 0.1440 typo for the blue weight)
GREY_COEFFS = (0.2989, 0.5870, 0.1140)


def _channel_stats(name: str, values) -> torch.Tensor:
    """``mean``/``std`` as a float32 vector: one number (the same for every channel) or one per channel."""
    if (isinstance(values, numbers.Real) and not isinstance(values, (bool, np.bool_))) or (
        isinstance(values, (torch.Tensor, np.ndarray)) and values.ndim == 0
    ):
        return torch.tensor([values], dtype=torch.float32)
    try:
        if not isinstance(values, (str, bytes)):
            return torch.tensor(list(values), dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):
        pass
    raise TypeError(f"Normalize {name} must be a number or one number per channel, got {values!r}")


def _shown(values: torch.Tensor, scale: float = 1.0, digits: int = 6) -> list[float]:
    """Statistics as an error message lists them: 123.675, not float32's 123.67500305175781."""
    return [float(f"{v * scale:.{digits}g}") for v in values.tolist()]


def _check_unit_stats(mean: torch.Tensor, std: torch.Tensor) -> None:
    """Refuse 0-255 statistics for [0, 1] pixels (``scale_255=True``) in one line that suggests dividing by
    255 only the statistics that are on the 0-255 scale (a 0-255 mean with an ImageNet std keeps the std)."""
    high_mean, high_std = bool((mean > _UNIT_STATS_MAX).any()), bool((std > _UNIT_STATS_MAX).any())
    if not (high_mean or high_std):
        return
    why = (
        "with scale_255=True (the datasets' normalise=True) pixels are divided by 255 first and mean/std are "
        "in the [0, 1] pixel range"
    )
    if high_mean and high_std:
        raise ValueError(
            f"mean {_shown(mean)} / std {_shown(std)} look like 0-255 pixel statistics, but {why}: pass "
            f"mean={_shown(mean, 1 / 255, 4)}, std={_shown(std, 1 / 255, 4)}, or keep them with "
            "scale_255=False (normalise=False)"
        )
    high, low = ("mean", "std") if high_mean else ("std", "mean")
    stats = {"mean": mean, "std": std}
    raise ValueError(
        f"{high} values {_shown(stats[high])} look like 0-255 pixel statistics but {low} {_shown(stats[low])} "
        f"does not, and {why}: pass {high}={_shown(stats[high], 1 / 255, 4)} with {low} as it is, or keep "
        f"{high} with scale_255=False (normalise=False) and {low} on the 0-255 scale too "
        f"({low}={_shown(stats[low], 255)})"
    )


def rgb_to_grey(clip: torch.Tensor) -> torch.Tensor:
    """``(T, 3, H, W)`` (or ``(N, 3, T, H, W)``) RGB -> one luma channel (dim 1) with the cv2 coefficients,
    as float32."""
    shape = (1, 3) + (1,) * (clip.ndim - 2)
    w = torch.tensor(GREY_COEFFS, dtype=torch.float32, device=clip.device).view(shape)
    return (clip.float() * w).sum(dim=1, keepdim=True)


class Normalize:
    """Optionally /255, reorder RGB->BGR or convert to grey, then ``(x - mean) / std``; returns (C, T, H, W).

    ``mean``/``std`` are in the scale of the output of the /255 step (e.g. ImageNet 0.485.. with
    ``scale_255=True``; I3D's 114.75/57.375 with ``scale_255=False``) and in the output channel order.
    With ``greyscale=True``, 3-value (RGB) statistics become their luma-weighted mean and std (the
    ``GREY_COEFFS`` weights); upstream's 1-channel grey frames want 1-value statistics (3 values broadcast
    them to 3 channels). A single number (``Normalize(0.5, 0.25)``) is used for every channel. With
    ``scale_255=True`` a mean or std above 1.5 (0-255 statistics such as 123.675) is refused.
    """

    def __init__(
        self,
        mean: Sequence[float] | float,
        std: Sequence[float] | float,
        scale_255: bool = True,
        bgr: bool = False,
        greyscale: bool = False,
    ):
        if bgr and greyscale:
            raise ValueError("choose bgr or greyscale, not both")
        self.mean, self.std = _channel_stats("mean", mean), _channel_stats("std", std)
        if self.mean.shape != self.std.shape:
            raise ValueError(f"mean {_shown(self.mean)} and std {_shown(self.std)} need the same length")
        if (self.std == 0).any():
            raise ValueError(f"std {_shown(self.std)} contains 0")
        if scale_255:
            _check_unit_stats(self.mean, self.std)
        self.scale_255, self.bgr, self.greyscale = scale_255, bgr, greyscale
        self._affine: dict[tuple, tuple] = {}  # see _affine_on

    def _stats(self, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
        mean, std = self.mean, self.std
        if mean.numel() == 1:
            mean, std = mean.expand(channels), std.expand(channels)
        elif mean.numel() != channels:
            if self.greyscale and mean.numel() == 3:  # RGB statistics given for a grey clip: use their luma
                w = torch.tensor(GREY_COEFFS)
                mean, std = (mean * w).sum().view(1), (std * w).sum().view(1)
            else:
                raise ValueError(f"mean has {mean.numel()} values but the clip has {channels} channels")
        return mean, std

    def scale_bias(self, channels: int, repeat: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel ``(scale, bias)`` with ``(x / 255 - mean) / std == x * scale + bias``; the statistics
        are tiled ``repeat`` times (flow stacks hold ``repeat`` (u, v) pairs)."""
        mean, std = self._stats(channels // repeat if repeat > 1 else channels)
        scale = (1.0 / 255.0 if self.scale_255 else 1.0) / std
        return scale.repeat(repeat), (-mean / std).repeat(repeat)

    def channels_first(self, x: torch.Tensor, repeat: int = 1, convert: bool = True) -> torch.Tensor:
        """Channels-first ``(C, T, H, W)`` or ``(N, C, T, H, W)`` in any memory layout and on any device ->
        contiguous normalised float32 of the same shape (grey/BGR conversion unless ``convert=False``)."""
        single = x.ndim == 4
        x = x[None] if single else x
        x = self.convert_channels(x) if convert else x
        scale, bias = self._affine_on(x.shape[1], repeat, x.device)
        out = torch.empty(x.shape, dtype=torch.float32, device=x.device)
        out.copy_(x)  # conversion and layout change in one copy, then one fused x * scale + bias
        out.mul_(scale).add_(bias)
        return out[0] if single else out

    def _affine_on(
        self, channels: int, repeat: int, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``scale_bias`` as ``(1, C, 1, 1, 1)`` tensors on ``device``, computed (and copied to the device)
        once per (channels, repeat, device) instead of for every clip or batch; recomputed when ``mean``,
        ``std``, ``scale_255`` or ``greyscale`` were reassigned or ``mean``/``std`` changed in place."""
        key = (channels, repeat, str(device))
        # the statistics tensors are compared by identity (and kept alive in the entry, so their ids cannot
        # be reused), plus their in-place version counters and the flags the arithmetic depends on
        flags = (self.mean._version, self.std._version, self.scale_255, self.greyscale)
        entry = self._affine.get(key)
        if entry is None or entry[0] is not self.mean or entry[1] is not self.std or entry[2] != flags:
            scale, bias = self.scale_bias(channels, repeat)
            view = (1, -1, 1, 1, 1)
            entry = (self.mean, self.std, flags, scale.to(device).view(view), bias.to(device).view(view))
            self._affine[key] = entry
        return entry[3], entry[4]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_affine"] = {}  # may hold GPU tensors: never pickled to data workers
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_affine", {})  # pickles made before the cache existed

    def convert_channels(self, clip: torch.Tensor) -> torch.Tensor:
        """Grey or BGR conversion along dim 1 (a no-op view for RGB)."""
        if self.greyscale:
            return rgb_to_grey(clip)
        return clip.flip(1) if self.bgr else clip

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        """``(T, C, H, W)`` -> normalised ``(C, T, H, W)`` (channels converted before the transpose: faster)."""
        check_clip_type(clip, "Normalize")
        if clip.ndim != 4:
            raise ValueError(f"expected a clip (T, C, H, W), got shape {tuple(clip.shape)}")
        check_tchw(clip, "Normalize")  # (channels_first, for (C, T, H, W) clips and batches, has no check)
        return self.channels_first(self.convert_channels(clip).permute(1, 0, 2, 3), convert=False)

    def _key(self) -> tuple:
        return (
            self.mean.tolist(),
            self.std.tolist(),
            bool(self.scale_255),
            bool(self.bgr),
            bool(self.greyscale),
        )

    def __eq__(self, other: object) -> bool:
        """Equal when they normalise alike (same statistics and options), e.g. the datasets of one
        ``ConcatDataset``, which share one ``device_transform`` on the training device."""
        if not isinstance(other, Normalize):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:  # the options only: the statistics may be changed in place
        return hash((bool(self.scale_255), bool(self.bgr), bool(self.greyscale), self.mean.numel()))

    def __repr__(self) -> str:
        return (
            f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()}, scale_255={self.scale_255}, "
            f"bgr={self.bgr}, greyscale={self.greyscale})"
        )


FLIP_PENDING = "flip_pending"  # sample/batch key: the clip still has to be mirrored (see DeviceNormalize)


def hflip_flagged(video: torch.Tensor, flags) -> torch.Tensor:
    """Mirror (last axis, W) the clips of an ``(N, C, T, H, W)`` batch whose flag is True, or one
    ``(C, T, H, W)`` clip when its single flag is True; ``flags`` is a bool sequence or tensor of length N
    (a single bool for one clip or a batch of one). The input is left unchanged. On CUDA it is one
    ``torch.where`` without a host synchronisation when the flags are on the device already (the vai-train
    engine moves them with the batch); CPU flags are copied over asynchronously from pinned memory only."""
    if video.ndim not in (4, 5):
        raise ValueError(f"expected (N, C, T, H, W) or (C, T, H, W), got shape {tuple(video.shape)}")
    n = 1 if video.ndim == 4 else video.shape[0]
    if not isinstance(flags, torch.Tensor):
        flags = torch.as_tensor(flags)
        flags = flags.bool() if flags.numel() == 0 else flags  # [] would be float32
    if flags.dtype != torch.bool or flags.numel() != n or flags.ndim > 1:
        raise ValueError(
            f"flip flags must be {n} bool value(s), one per clip (shape ({n},) or a single bool); got shape "
            f"{tuple(flags.shape)} of {flags.dtype}"
        )
    if n == 0:
        return video
    flags = flags.reshape(-1).to(video.device, non_blocking=True)
    if video.ndim == 4:
        return video.flip(-1) if bool(flags[0]) else video
    if video.device.type != "cpu":
        return torch.where(flags.view(-1, 1, 1, 1, 1), video.flip(-1), video)
    chosen = flags.nonzero().flatten()
    if chosen.numel() == 0:
        return video
    out = video.clone()  # keeps the channels-last layout
    out[chosen] = video[chosen].flip(-1)
    return out


class DeviceNormalize:
    """``Normalize`` for a collated batch on its device: uint8 (or float) ``(N, C, T, H, W)`` or one
    ``(C, T, H, W)`` clip, any memory layout -> contiguous normalised float32 of the same rank.

    ``channel_repeat`` tiles the statistics, for optical-flow stacks of ``channel_repeat`` (u, v) pairs.
    A ``VideoClipDataset`` may leave work of its train clips to the device, and then sets:

    * ``flips_pending=True`` (``flip_on_device``): each call must pass ``flip_pending=batch["flip_pending"]``
      and the clips flagged there are mirrored;
    * ``resizes_pending=True`` (``resize_on_device``): each call must pass
      ``resize_pending=batch["resize_pending"]`` and each clip's region is resized to its crop size first
      (:func:`~vai_data.transforms.pending_resize.apply_pending_resize`).

    A call that forgets what the dataset left pending fails instead of training on unflipped clips with
    flipped labels or on padded regions. ``batch_keys`` names the batch entries a call needs:
    ``device_transform(batch["video"], **{k: batch[k] for k in device_transform.batch_keys})``.
    """

    def __init__(
        self,
        normalize: Normalize,
        channel_repeat: int = 1,
        flips_pending: bool = False,
        resizes_pending: bool = False,
    ):
        if channel_repeat < 1:
            raise ValueError(f"channel_repeat={channel_repeat} must be at least 1")
        self.normalize, self.channel_repeat = normalize, int(channel_repeat)
        self.flips_pending, self.resizes_pending = bool(flips_pending), bool(resizes_pending)

    @property
    def batch_keys(self) -> tuple[str, ...]:
        """The batch entries each call needs as keyword arguments (what the dataset left to the device)."""
        return (FLIP_PENDING,) * self.flips_pending + (RESIZE_PENDING,) * self.resizes_pending

    def __call__(self, video: torch.Tensor, flip_pending=None, resize_pending=None) -> torch.Tensor:
        if video.ndim not in (4, 5):
            raise ValueError(f"expected (N, C, T, H, W) or (C, T, H, W), got shape {tuple(video.shape)}")
        missing = [
            key
            for key, given, needed in (
                (FLIP_PENDING, flip_pending, self.flips_pending),
                (RESIZE_PENDING, resize_pending, self.resizes_pending),
            )
            if needed and given is None
        ]
        if missing:
            args = ", ".join(f"{k}=batch[{k!r}]" for k in missing)
            raise ValueError(
                f"this dataset leaves {' and '.join(missing)} work to device_transform: call it as "
                f"device_transform(batch['video'], {args}) (all it needs: device_transform.batch_keys)"
            )
        if resize_pending is not None:  # before the flips: a flip of a padded clip would move its region
            video = apply_pending_resize(video, resize_pending)
        if flip_pending is not None:
            if self.channel_repeat > 1:
                raise ValueError(
                    "flip_pending on optical-flow stacks: mirroring flow also negates u, which the dataset "
                    "does in the worker (flow datasets never leave flips to the device)"
                )
            video = hflip_flagged(video, flip_pending)
        return self.normalize.channels_first(video, self.channel_repeat)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("flips_pending", False)  # pickles made before flip_on_device existed
        self.__dict__.setdefault("resizes_pending", False)  # ... and before resize_on_device

    def _key(self) -> tuple:
        return (self.normalize, self.channel_repeat, self.flips_pending, self.resizes_pending)

    def __eq__(self, other: object) -> bool:
        """Equal when they do the same to a batch (same normalisation, flow tiling and pending work): the
        parts of a ``ConcatDataset`` built alike share one."""
        if not isinstance(other, DeviceNormalize):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"DeviceNormalize({self.normalize!r}, channel_repeat={self.channel_repeat}, "
            f"flips_pending={self.flips_pending}, resizes_pending={self.resizes_pending})"
        )
