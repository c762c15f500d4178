"""Registry-driven checks run over EVERY registered model (2D and 3D) on tiny inputs.

A model picks its tiny test input through ``default_cfg["test_input_size"]`` (``(T, H, W)``, a full
sample shape ``(C, T, H, W)``, or ``(D,)`` for feature models); otherwise
``(in_channels, num_frames, 32, 32)`` is used. A builder that needs more than 2 frames to be constructed sets ``builder.test_num_frames``.
"""

import pytest
import torch
from vai_models import create_model, get_model_builder, list_models

NUM_CLASSES = 3
BATCH = 2
_CACHE: dict[str, torch.nn.Module] = {}


def _test_size(cfg: dict) -> tuple[int, ...]:
    """One sample's tiny test shape: ``test_input_size`` as (T, H, W), (C, T, H, W) or (D,)."""
    size = tuple(cfg.get("test_input_size") or (cfg["num_frames"], 32, 32))
    if len(size) == 3:
        size = (cfg.get("in_channels", 3), *size)
    return size


def _build(name: str) -> torch.nn.Module:
    if name not in _CACHE:
        frames = getattr(get_model_builder(name), "test_num_frames", 2)
        torch.manual_seed(0)
        model = create_model(name, num_classes=NUM_CLASSES, num_frames=frames)
        size = _test_size(model.default_cfg)
        # models whose tiny test clip has another length are rebuilt for it (e.g. SlowFast needs 8)
        if len(size) == 4 and "test_input_size" in model.default_cfg and size[1] != frames:
            torch.manual_seed(0)
            model = create_model(name, num_classes=NUM_CLASSES, num_frames=size[1])
        _CACHE[name] = model
    return _CACHE[name]


def _input(model: torch.nn.Module) -> torch.Tensor:
    size = _test_size(model.default_cfg)
    return torch.randn((BATCH, *size), generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module", autouse=True)
def _free_cache():
    yield
    _CACHE.clear()


@pytest.mark.parametrize("name", list_models())
def test_forward_backward(name):
    model = _build(name).train()
    x = _input(model)
    out = model(x)
    assert out.shape == (BATCH, NUM_CLASSES)
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert trainable
    no_grad = [n for n, p in trainable if p.grad is None]
    assert not no_grad, f"{name}: parameters without gradient: {no_grad[:5]}"
    model.zero_grad(set_to_none=True)


@pytest.mark.parametrize("name", list_models())
def test_features_reset_and_determinism(name):
    model = _build(name).eval()
    cfg = model.default_cfg
    for key in ("mean", "std", "input_range", "bgr", "crop_size", "num_frames", "architecture"):
        assert key in cfg, f"{name}: default_cfg lacks {key!r}"
    assert isinstance(model.num_features, int) and model.num_features > 0
    x = _input(model)
    with torch.no_grad():
        a, b = model(x), model(x)
        feats = model.forward_features(x)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert feats.shape == (BATCH, model.num_features)
    model.reset_classifier(NUM_CLASSES + 4)
    with torch.no_grad():
        assert model(x).shape == (BATCH, NUM_CLASSES + 4)
    model.reset_classifier(NUM_CLASSES)
