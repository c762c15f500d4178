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

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        x = clip.float()
        if self.greyscale:
            x = rgb_to_grey(x)
        elif self.bgr:
            x = x.flip(1)
        if self.scale_255:
            x = x / 255.0
        c = x.shape[1]
        mean, std = self.mean, self.std
        if mean.numel() == 1:
            mean, std = mean.expand(c), std.expand(c)
        elif mean.numel() != c:
            if self.greyscale and mean.numel() == 3:  # RGB statistics given for a grey clip: use their luma
                w = torch.tensor(GREY_COEFFS)
                mean, std = (mean * w).sum().view(1), (std * w).sum().view(1)
            else:
                raise ValueError(f"mean has {mean.numel()} values but the clip has {c} channels")
        x = (x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)
        return x.permute(1, 0, 2, 3).contiguous()

    def __repr__(self) -> str:
        return (
            f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()}, scale_255={self.scale_255}, "
            f"bgr={self.bgr}, greyscale={self.greyscale})"
        )
