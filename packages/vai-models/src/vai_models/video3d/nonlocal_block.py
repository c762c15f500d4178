"""Non-local block (Wang et al. 2018) as configured in PySlowFast's I3D-NL models."""

from __future__ import annotations

import torch
from torch import nn

NONLOCAL_MODES = ("softmax", "dot_product")


class NonLocal3d(nn.Module):
    """Residual space-time self-attention: ``x + BN(out(attend(theta(x), phi(x'), g(x'))))``.

    ``x'`` is ``x`` max-pooled by ``pool_size`` (PySlowFast's ``[1, 2, 2]`` subsampling) to cut the
    cost of the pairwise affinity. ``mode="softmax"`` is the embedded-Gaussian version (affinities
    scaled by ``1/sqrt(inner)`` then softmax-normalised, PySlowFast's I3D_NLN config); ``"dot_product"``
    divides affinities by the number of positions. The final BN starts at zero so a new block is the
    identity and can be dropped into a pretrained network.
    """

    def __init__(
        self,
        dim: int,
        inner_dim: int | None = None,
        mode: str = "softmax",
        pool_size: tuple[int, int, int] = (1, 2, 2),
    ) -> None:
        super().__init__()
        if mode not in NONLOCAL_MODES:
            raise ValueError(f"non-local mode must be one of {NONLOCAL_MODES}, got {mode!r}")
        self.mode = mode
        self.inner_dim = inner_dim or dim // 2
        self.theta = nn.Conv3d(dim, self.inner_dim, 1)
        self.phi = nn.Conv3d(dim, self.inner_dim, 1)
        self.g = nn.Conv3d(dim, self.inner_dim, 1)
        self.out = nn.Conv3d(self.inner_dim, dim, 1)
        self.bn = nn.BatchNorm3d(dim)
        self.pool = nn.MaxPool3d(pool_size, pool_size) if any(p > 1 for p in pool_size) else nn.Identity()
        for conv in (self.theta, self.phi, self.g, self.out):
            nn.init.normal_(conv.weight, std=0.01)
            nn.init.zeros_(conv.bias)
        nn.init.zeros_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, t, h, w = x.shape
        theta = self.theta(x).flatten(2)  # (N, C', THW)
        pooled = self.pool(x)
        phi = self.phi(pooled).flatten(2)  # (N, C', T'H'W')
        g = self.g(pooled).flatten(2)
        affinity = torch.einsum("ncq,nck->nqk", theta, phi)
        if self.mode == "softmax":
            affinity = (affinity * self.inner_dim**-0.5).softmax(dim=-1)
        else:
            affinity = affinity / affinity.shape[-1]
        y = torch.einsum("nqk,nck->ncq", affinity, g).reshape(n, self.inner_dim, t, h, w)
        return x + self.bn(self.out(y))
