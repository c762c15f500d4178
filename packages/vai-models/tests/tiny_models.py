"""Tiny test model + input for any registered model, shared by the registry-wide test files.

A model picks its tiny test input through ``default_cfg["test_input_size"]`` (``(T, H, W)``, a full
sample shape ``(C, T, H, W)``, or ``(D,)`` for feature models); otherwise
``(in_channels, num_frames, 32, 32)`` is used. A builder that needs more than 2 frames to be
constructed sets ``builder.test_num_frames``.
"""

import torch
from vai_models import create_model, get_model_builder

NUM_CLASSES = 3
BATCH = 2


def sample_shape(cfg: dict) -> tuple[int, ...]:
    """One sample's tiny test shape: ``test_input_size`` as (T, H, W), (C, T, H, W) or (D,)."""
    size = tuple(cfg.get("test_input_size") or (cfg["num_frames"], 32, 32))
    if len(size) == 3:
        size = (cfg.get("in_channels", 3), *size)
    return size


def build_tiny(name: str) -> torch.nn.Module:
    """``name`` with NUM_CLASSES outputs, seeded, rebuilt for its test clip length when that differs
    (e.g. SlowFast needs 8 frames)."""
    frames = getattr(get_model_builder(name), "test_num_frames", 2)
    torch.manual_seed(0)
    model = create_model(name, num_classes=NUM_CLASSES, num_frames=frames)
    size = sample_shape(model.default_cfg)
    if len(size) == 4 and "test_input_size" in model.default_cfg and size[1] != frames:
        torch.manual_seed(0)
        model = create_model(name, num_classes=NUM_CLASSES, num_frames=size[1])
    return model


def tiny_input(model: torch.nn.Module) -> torch.Tensor:
    """A seeded random batch of BATCH tiny samples for ``model``."""
    return torch.randn((BATCH, *sample_shape(model.default_cfg)), generator=torch.Generator().manual_seed(1))
