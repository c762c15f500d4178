"""The final clip transform: uint8/float ``(T, C, H, W)`` -> normalised float ``(C, T, H, W)``."""

from __future__ import annotations

from collections.abc import Sequence

import torch

# ITU-R BT.601 luma, as cv2.COLOR_RGB2GRAY (upstream had a 0.1440 typo for the blue weight)
GREY_COEFFS = (0.2989, 0.5870, 0.1140)


def rgb_to_grey(clip: torch.Tensor) -> torch.Tensor:
    """``(T, 3, H, W)`` RGB -> ``(T, 1, H, W)`` luma with the cv2 coefficients, same dtype as floats."""
    w = torch.tensor(GREY_COEFFS, dtype=torch.float32).view(1, 3, 1, 1)
    return (clip.float() * w).sum(dim=1, keepdim=True)


class Normalize:
    """Optionally /255, reorder RGB->BGR or convert to grey, then ``(x - mean) / std``; returns (C, T, H, W).

    ``mean``/``std`` are in the scale of the output of the /255 step (e.g. ImageNet 0.485.. with
    ``scale_255=True``; I3D's 114.75/57.375 with ``scale_255=False``) and in the output channel order.
    """

    def __init__(
        self,
        mean: Sequence[float],
        std: Sequence[float],
        scale_255: bool = True,
        bgr: bool = False,
        greyscale: bool = False,
    ):
        if bgr and greyscale:
            raise ValueError("choose bgr or greyscale, not both")
        self.mean = torch.tensor(list(mean), dtype=torch.float32)
        self.std = torch.tensor(list(std), dtype=torch.float32)
        if self.mean.shape != self.std.shape:
            raise ValueError(f"mean {list(mean)} and std {list(std)} need the same length")
        if (self.std == 0).any():
            raise ValueError(f"std {list(std)} contains 0")
        self.scale_255, self.bgr, self.greyscale = scale_255, bgr, greyscale

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

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        if self.greyscale:
            clip = rgb_to_grey(clip)
        elif self.bgr:
            clip = clip.flip(1)
        t, c, h, w = clip.shape
        mean, std = self._stats(c)
        # one fused pass: (x / 255 - mean) / std == x * scale + bias, converted and transposed in one copy
        scale = (1.0 / 255.0 if self.scale_255 else 1.0) / std
        bias = -mean / std
        out = torch.empty((c, t, h, w), dtype=torch.float32)
        out.copy_(clip.permute(1, 0, 2, 3))
        return out.mul_(scale.view(-1, 1, 1, 1)).add_(bias.view(-1, 1, 1, 1))

    def __repr__(self) -> str:
        return (
            f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()}, scale_255={self.scale_255}, "
            f"bgr={self.bgr}, greyscale={self.greyscale})"
        )
