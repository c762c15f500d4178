"""Activation checkpointing: a model's residual and transformer blocks keep only their inputs for the
backward pass and compute their activations again there (``torch.utils.checkpoint``, non-reentrant), so
training memory falls to about one block's activations at the cost of a second forward of each block.

:func:`enable_activation_checkpointing` finds the blocks of every registered architecture (torchvision's
2D and 3D ResNet blocks, vai's Bottleneck3d (with its non-local block inside) and X3D blocks, S3D's
inception blocks, MViT's and Video Swin's transformer blocks) and replaces each block's ``forward`` by a checkpointed call, in place:
parameters, buffers, state-dict keys and pickled or deep-copied models stay as they were.

Two things a plain ``checkpoint`` of a block gets wrong are handled:
- BatchNorm in training mode updates its running statistics in every forward, so the recomputation
  would update them twice; the buffers of the block's BatchNorms are restored after it.
- Under ``torch.compile`` the plain checkpoint is used (TorchDynamo does not take custom contexts), and
  AOTAutograd's recomputation does not repeat buffer updates (tested).

It works in training mode with autograd on; in evaluation or under ``no_grad`` the blocks run as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint
from torchvision.models.resnet import BasicBlock, Bottleneck
from torchvision.models.swin_transformer import SwinTransformerBlock, SwinTransformerBlockV2
from torchvision.models.video.mvit import MultiscaleBlock
from torchvision.models.video.resnet import BasicBlock as VideoBasicBlock
from torchvision.models.video.resnet import Bottleneck as VideoBottleneck
from torchvision.models.video.s3d import SepInceptionBlock3D

from .video3d.resnet3d import Bottleneck3d
from .video3d.x3d import X3DBlock

#: the block classes whose forward is checkpointed (the repeated units of the registered architectures)
BLOCK_TYPES: tuple[type[nn.Module], ...] = (
    BasicBlock,
    Bottleneck,
    VideoBasicBlock,
    VideoBottleneck,
    SepInceptionBlock3D,
    MultiscaleBlock,
    SwinTransformerBlock,
    SwinTransformerBlockV2,
    Bottleneck3d,
    X3DBlock,
)


@contextlib.contextmanager
def _batchnorm_buffers_kept(block: nn.Module) -> Iterator[None]:
    """Restore the running statistics of ``block``'s BatchNorms on exit (around the recomputation)."""
    saved = [
        (buf, buf.clone())
        for m in block.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        for buf in m.buffers(recurse=False)
        if buf is not None
    ]
    try:
        yield
    finally:
        with torch.no_grad():
            for buf, value in saved:
                buf.copy_(value)


class _CheckpointedForward:
    """A block's ``forward`` that checkpoints the class's forward in training mode with autograd on.
    Holds the block (a deep copy binds the copy) and is picklable."""

    def __init__(self, block: nn.Module) -> None:
        self.block = block

    def _forward(self, *args, **kwargs):
        return type(self.block).forward(self.block, *args, **kwargs)

    def __call__(self, *args, **kwargs):
        if not (self.block.training and torch.is_grad_enabled()):
            return self._forward(*args, **kwargs)
        if torch.compiler.is_compiling():
            return checkpoint(self._forward, *args, use_reentrant=False, **kwargs)
        return checkpoint(
            self._forward,
            *args,
            use_reentrant=False,
            context_fn=lambda: (contextlib.nullcontext(), _batchnorm_buffers_kept(self.block)),
            **kwargs,
        )


def enable_activation_checkpointing(model: nn.Module) -> list[str]:
    """Checkpoint every block of ``model`` (see the module's docstring) in place; returns the blocks'
    names. Blocks nested in a checkpointed block are left alone (the outer one recomputes them), and a
    model enabled twice is unchanged. Raises ValueError for a model without such blocks."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"enable_activation_checkpointing expects an nn.Module, got {type(model).__name__}")
    names: list[str] = []
    for name, module in model.named_modules():
        if not isinstance(module, BLOCK_TYPES) or any(name.startswith(f"{n}.") for n in names):
            continue
        if not isinstance(module.__dict__.get("forward"), _CheckpointedForward):
            module.forward = _CheckpointedForward(module)
        names.append(name)
    if not names:
        raise ValueError(
            f"{type(model).__name__} has no blocks to checkpoint (vai_models.checkpointing.BLOCK_TYPES lists"
            " the residual and transformer blocks of the registered models)"
        )
    return names
