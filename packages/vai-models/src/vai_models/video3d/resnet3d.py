"""3D ResNet building blocks shared by I3D, I3D-NL and SlowFast.

Module names follow torchvision's 2D ResNet (``conv1``, ``bn1``, ``layer1.0.conv1`` ...,
``downsample.0``) so an ImageNet state_dict inflates key-for-key; a block's optional non-local
module is ``layerK.I.nl``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .nonlocal_block import NonLocal3d

STAGE_BLOCKS_R50 = (3, 4, 6, 3)


def expand_kernels(basis: Sequence[int], num_blocks: int) -> list[int]:
    """Per-block temporal kernels cycling ``basis`` (PySlowFast's ``[3, 1]`` alternation)."""
    return [basis[i % len(basis)] for i in range(num_blocks)]


class Bottleneck3d(nn.Module):
    """ResNet bottleneck with a ``(kt, 1, 1)`` first conv; the spatial stride sits on the 3×3 conv."""

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        inner_channels: int,
        temporal_kernel: int = 1,
        stride: int = 1,
        nonlocal_block: nn.Module | None = None,
    ) -> None:
        super().__init__()
        out_channels = inner_channels * self.expansion
        kt = temporal_kernel
        self.conv1 = nn.Conv3d(in_channels, inner_channels, (kt, 1, 1), padding=(kt // 2, 0, 0), bias=False)
        self.bn1 = nn.BatchNorm3d(inner_channels)
        self.conv2 = nn.Conv3d(
            inner_channels,
            inner_channels,
            (1, 3, 3),
            stride=(1, stride, stride),
            padding=(0, 1, 1),
            bias=False,
        )
        self.bn2 = nn.BatchNorm3d(inner_channels)
        self.conv3 = nn.Conv3d(inner_channels, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv3d(in_channels, out_channels, 1, stride=(1, stride, stride), bias=False),
                nn.BatchNorm3d(out_channels),
            )
        self.nl = nonlocal_block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.relu(self.bn3(self.conv3(out)) + identity)
        return out if self.nl is None else self.nl(out)


def make_stage(
    in_channels: int,
    inner_channels: int,
    temporal_kernels: Sequence[int],
    stride: int,
    nonlocal_indices: Sequence[int] = (),
    nonlocal_mode: str = "softmax",
    nonlocal_pool: tuple[int, int, int] = (1, 2, 2),
) -> nn.Sequential:
    """One residual stage: a block per entry of ``temporal_kernels``; non-local after ``nonlocal_indices``."""
    blocks = []
    out_channels = inner_channels * Bottleneck3d.expansion
    for i, kt in enumerate(temporal_kernels):
        nl = (
            NonLocal3d(out_channels, mode=nonlocal_mode, pool_size=nonlocal_pool)
            if i in nonlocal_indices
            else None
        )
        blocks.append(Bottleneck3d(in_channels, inner_channels, kt, stride if i == 0 else 1, nl))
        in_channels = out_channels
    return nn.Sequential(*blocks)


class ResNet3dTrunk(nn.Module):
    """Stem (``kt×7×7`` conv, 1×3×3 max-pool) and four bottleneck stages of a 3D ResNet-50.

    ``stage_kernels[i]`` lists the temporal kernel of each block of stage ``i``;
    ``extra_in_channels[i]`` widens stage ``i``'s input (SlowFast's lateral concatenation).
    Call ``stem`` then ``layer1`` … ``layer4``; the caller adds pools/fusions between them.
    """

    def __init__(
        self,
        in_channels: int,
        stem_kernel: int,
        stage_kernels: Sequence[Sequence[int]],
        width: int = 64,
        extra_in_channels: Sequence[int] = (0, 0, 0, 0),
        nonlocal_indices: Sequence[Sequence[int]] = ((), (), (), ()),
        nonlocal_mode: str = "softmax",
        nonlocal_pool: tuple[int, int, int] = (1, 2, 2),
    ) -> None:
        super().__init__()
        kt = stem_kernel
        self.conv1 = nn.Conv3d(
            in_channels, width, (kt, 7, 7), stride=(1, 2, 2), padding=(kt // 2, 3, 3), bias=False
        )
        self.bn1 = nn.BatchNorm3d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        channels = width
        self.stage_out_channels: list[int] = []
        for i, kernels in enumerate(stage_kernels):
            stage = make_stage(
                channels + extra_in_channels[i],
                width * 2**i,
                kernels,
                stride=1 if i == 0 else 2,
                nonlocal_indices=nonlocal_indices[i],
                nonlocal_mode=nonlocal_mode,
                nonlocal_pool=nonlocal_pool,
            )
            self.add_module(f"layer{i + 1}", stage)
            channels = width * 2**i * Bottleneck3d.expansion
            self.stage_out_channels.append(channels)
        self.out_channels = channels

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """conv1 → BN → ReLU → 1×3×3 max-pool (stride 1×2×2)."""
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def stages(self) -> list[nn.Module]:
        """``[layer1, layer2, layer3, layer4]``."""
        return [self.layer1, self.layer2, self.layer3, self.layer4]


def zero_init_residual_bn(model: nn.Module, bottlenecks: bool = True) -> None:
    """Zero the last BN of residual branches so blocks start as identities (PySlowFast default).

    Non-local blocks are always zeroed; bottlenecks only when ``bottlenecks`` is true.
    """
    for m in model.modules():
        if isinstance(m, Bottleneck3d) and bottlenecks:
            nn.init.zeros_(m.bn3.weight)
        elif isinstance(m, NonLocal3d):
            nn.init.zeros_(m.bn.weight)
