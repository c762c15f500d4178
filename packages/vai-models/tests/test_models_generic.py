"""Registry-driven checks run over EVERY registered model (2D and 3D) on tiny inputs (see tiny_models)."""

import pytest
import torch
from tiny_models import BATCH, NUM_CLASSES, build_tiny, tiny_input
from vai_models import list_models

_CACHE: dict[str, torch.nn.Module] = {}


def _build(name: str) -> torch.nn.Module:
    if name not in _CACHE:
        _CACHE[name] = build_tiny(name)
    return _CACHE[name]


@pytest.fixture(scope="module", autouse=True)
def _free_cache():
    yield
    _CACHE.clear()


@pytest.mark.parametrize("name", list_models())
def test_forward_backward(name):
    model = _build(name).train()
    x = tiny_input(model)
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
    x = tiny_input(model)
    with torch.no_grad():
        a, b = model(x), model(x)
        feats = model.forward_features(x)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert feats.shape == (BATCH, model.num_features)
    model.reset_classifier(NUM_CLASSES + 4)
    with torch.no_grad():
        assert model(x).shape == (BATCH, NUM_CLASSES + 4)
    model.reset_classifier(NUM_CLASSES)


@pytest.mark.parametrize("name", list_models())
def test_get_classifier_is_the_final_layer(name):
    """docs/models.md: every model exposes get_classifier(); reset_classifier replaces what it returns."""
    model = _build(name)
    heads = model.get_classifier()
    heads = list(heads) if isinstance(heads, torch.nn.ModuleList) else [heads]  # MTRN: one per scale
    assert all(isinstance(h, torch.nn.Linear) and h.out_features == NUM_CLASSES for h in heads)
    params = {id(p) for p in model.parameters()}
    assert all(id(p) in params for h in heads for p in h.parameters())
    model.reset_classifier(NUM_CLASSES + 1)
    new = model.get_classifier()
    new = list(new) if isinstance(new, torch.nn.ModuleList) else [new]
    assert all(h.out_features == NUM_CLASSES + 1 for h in new)
    model.reset_classifier(NUM_CLASSES)
