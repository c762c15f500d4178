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

#: one registered model of each family (the model-wide checks of compile and checkpointing run these)
FAMILIES = [
    "tsn_resnet18",
    "tsm_resnet18",
    "trn_resnet18",
    "mtrn_resnet18",
    "mvf_resnet18",
    "tdn_resnet18",
    "i3d_nonlocal_resnet50",
    "r2plus1d_18",
    "s3d",
    "slowfast_resnet50",
    "x3d_xs",
    "swin3d_t",
    "mvit_v2_s",
    "resnet18",
    "feature_mlp",
]


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


def assert_same_training_state(
    ref: torch.nn.Module, other: torch.nn.Module, buffers: bool = False, grads: bool = True, **tolerance
) -> None:
    """``other``'s parameter gradients (and with ``buffers`` its buffers, e.g. BatchNorm statistics) equal
    ``ref``'s, name by name, within ``tolerance`` (``torch.testing.assert_close``'s rtol/atol)."""
    if grads:
        for (name, p), q in zip(ref.named_parameters(), other.parameters(), strict=True):
            torch.testing.assert_close(q.grad, p.grad, msg=name, **tolerance)
    if buffers:
        for (name, b), c in zip(ref.named_buffers(), other.buffers(), strict=True):
            torch.testing.assert_close(c, b, msg=name, **tolerance)
