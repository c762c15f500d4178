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


MIXED_CONV_FAMILIES = ("mvf_", "tdn_")  # docs/models.md: 2D ResNets with 3D fusion convs


def _conv_ranks(model: torch.nn.Module) -> set[int]:
    return {m.weight.dim() for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d))}


@pytest.mark.parametrize("name", list_models())
def test_channels_last_weights_give_the_same_outputs_and_gradients(name):
    """docs/models.md: every model whose conv weights are all 4-D (or all 5-D) runs with them channels_last
    (channels_last_3d), as vai-train's ``--channels-last`` stores them, with the outputs and gradients of
    the default format; only the documented families mix the two ranks (vai-train leaves those alone).
    In float64: in float32 the two layouts' kernels round differently, and a pre-activation that rounds to
    the other side of 0 flips a ReLU's gradient (seen: 0.7 % on a tsn_resnet18 weight at 112², where a
    float64 reference shows both formats right)."""
    import copy

    ranks = _conv_ranks(_build(name))
    if len(ranks) > 1:
        assert name.startswith(MIXED_CONV_FAMILIES), f"{name} mixes 4-D and 5-D convs: document it"
        return
    plain = copy.deepcopy(_build(name)).double().eval()
    model = copy.deepcopy(plain)
    rank = ranks.pop() if ranks else None
    fmt = {4: torch.channels_last, 5: torch.channels_last_3d}.get(rank)
    for t in [*model.parameters(), *model.buffers()]:
        if t.dim() == rank:
            t.data = t.data.contiguous(memory_format=fmt)
    x = tiny_input(plain).double()
    outs = []
    for m in (plain, model):
        out = m(x)
        out.square().mean().backward()
        outs.append(out.detach())
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-9, atol=1e-12)
    grads = dict(plain.named_parameters())
    for n, p in model.named_parameters():
        want = grads[n].grad
        assert (p.grad is None) == (want is None), f"{name}: {n}"
        if want is not None:  # against each gradient's own scale: summation orders differ
            assert (p.grad - want).abs().max() <= 1e-9 * want.abs().max() + 1e-15, f"{name}: {n}"


@pytest.mark.parametrize("name", list_models())
def test_integer_or_other_float_input_is_one_clear_line(name):
    """An un-normalised uint8 clip, or a float64 one for a float32 model, is refused before the first
    conv with one line naming the model, both dtypes and the fix (vai_models.checks)."""
    model = _build(name).eval()
    x = tiny_input(model)
    what = "feature batch" if name == "feature_mlp" else "clip"
    fix = "convert it with x.float" if name == "feature_mlp" else r"normalise it first \(vai_data's Normalize"
    with pytest.raises(
        TypeError, match=rf"^{name} expects a float {what} .*\(torch.float32\), got torch.uint8: {fix}"
    ):
        model(x.to(torch.uint8))
    with pytest.raises(
        TypeError, match=rf"^{name} expects .*got torch.float64: convert it with x.to\(torch.float32\)"
    ):
        model(x.double())


@pytest.mark.parametrize("name", list_models())
def test_reset_classifier_zero_gives_pooled_features(name):
    """docs/models.md: reset_classifier(0) leaves an Identity head on every model (2D and 3D), so the
    model outputs forward_features' (N, num_features); a later reset_classifier(n) gives logits again."""
    model = _build(name).eval()
    x = tiny_input(model)
    try:
        model.reset_classifier(0)
        head = model.get_classifier()
        assert isinstance(head, torch.nn.Identity) and not list(head.parameters())
        with torch.no_grad():
            out, feats = model(x), model.forward_features(x)
        assert out.shape == (BATCH, model.num_features)
        torch.testing.assert_close(out, feats)
    finally:
        model.reset_classifier(NUM_CLASSES)
    with torch.no_grad():
        assert model(x).shape == (BATCH, NUM_CLASSES)
