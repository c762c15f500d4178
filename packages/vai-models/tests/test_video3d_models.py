"""3D video models: shapes at their test sizes, the shared interface, defaults and published sizes."""

import pytest
import torch
import vai_models
from vai_models.video3d import I3DResNet, NonLocal3d, SlowFast

torch.set_num_threads(1)

MODELS_3D = [
    "i3d_resnet50",
    "i3d_nopool_resnet50",
    "i3d_nonlocal_resnet50",
    "slowfast_resnet50",
    "x3d_xs",
    "x3d_s",
    "x3d_m",
    "x3d_l",
    "r3d_18",
    "r2plus1d_18",
    "s3d",
    "mvit_v2_s",
    "swin3d_t",
    "swin3d_s",
    "swin3d_b",
]
CFG_KEYS = {"mean", "std", "input_range", "bgr", "crop_size", "num_frames", "architecture", "test_input_size"}


def _build(name, num_classes=5):
    """The model and its tiny test size (T, H); num_frames only feeds default_cfg, so one build serves."""
    torch.manual_seed(0)
    model = vai_models.create_model(name, num_classes, num_frames=8)
    t, h, _ = model.default_cfg["test_input_size"]
    return model, t, h


@pytest.mark.parametrize("name", MODELS_3D)
def test_registered_with_interface(name):
    assert name in vai_models.list_models()
    model, t, h = _build(name)
    cfg = model.default_cfg
    assert CFG_KEYS <= set(cfg) and cfg["architecture"] == name and cfg["num_frames"] == 8
    assert len(cfg["mean"]) == len(cfg["std"]) == 3
    # batch 1 in train mode at test_input_size must still give BN more than one value per channel
    model.train()
    model(torch.randn(1, 3, t, h, h)).sum().backward()
    first = next(p for p in model.parameters() if p.requires_grad)
    assert first.grad is not None and first.grad.abs().sum() > 0
    x = torch.randn(2, 3, t, h, h)
    model.eval()
    with torch.no_grad():
        logits = model(x)
        feats = model.forward_features(x)
    assert logits.shape == (2, 5)
    assert feats.shape == (2, model.num_features)
    assert isinstance(model.num_features, int)
    model.reset_classifier(7)
    with torch.no_grad():
        assert model(x).shape == (2, 7)
    model.reset_classifier(0)
    with torch.no_grad():
        assert model(x).shape == (2, model.num_features)


def test_i3d_defaults_follow_caffe2_weights():
    cfg = vai_models.create_model("i3d_resnet50", 400, 8).default_cfg
    assert cfg["mean"] == [114.75] * 3 and cfg["std"] == [57.375] * 3
    assert cfg["input_range"] == 255.0 and cfg["bgr"] is False and cfg["crop_size"] == 224


@pytest.mark.parametrize(
    ("name", "frames", "millions"),
    [
        ("i3d_resnet50", 8, 28.04),
        ("i3d_nonlocal_resnet50", 8, 35.40),
        ("slowfast_resnet50", 32, 34.57),
        ("x3d_m", 16, 3.79),
        ("x3d_l", 16, 6.15),
    ],
)
def test_parameter_counts_match_pyslowfast(name, frames, millions):
    # PySlowFast model zoo: I3D R50 28.0M, I3D-NL R50 35.4M, SlowFast 8x8 R50 34.6M, X3D-M 3.8M, X3D-L 6.1M
    model = vai_models.create_model(name, 400, frames)
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(millions, abs=0.01)


def test_i3d_temporal_layout():
    model = vai_models.create_model("i3d_nonlocal_resnet50", 10, 8)
    assert isinstance(model, I3DResNet)
    assert model.conv1.kernel_size == (5, 7, 7) and model.conv1.stride == (1, 2, 2)
    kernels = [[b.conv1.kernel_size[0] for b in layer] for layer in model.stages()]
    assert kernels == [[3, 3, 3], [3, 1, 3, 1], [3, 1, 3, 1, 3, 1], [1, 3, 1]]
    nl = [[i for i, b in enumerate(layer) if isinstance(b.nl, NonLocal3d)] for layer in model.stages()]
    assert nl == [[], [1, 3], [1, 3, 5], []]
    # the temporal max-pool after res2 halves T: 8 frames -> 4 at res5
    with torch.no_grad():
        assert model.eval().forward_feature_map(torch.randn(1, 3, 8, 32, 32)).shape == (1, 2048, 4, 1, 1)


def test_i3d_nopool_keeps_time():
    model = vai_models.create_model("i3d_nopool_resnet50", 10, 8).eval()
    with torch.no_grad():
        assert model.forward_feature_map(torch.randn(1, 3, 8, 32, 32)).shape == (1, 2048, 8, 1, 1)


def test_slowfast_pathways_and_errors():
    model = vai_models.create_model("slowfast_resnet50", 10, 32)
    assert isinstance(model, SlowFast) and model.num_features == 2048 + 256
    slow, fast = model.split_pathways(torch.arange(32.0).view(1, 1, 32, 1, 1).expand(1, 3, 32, 1, 1))
    assert slow.shape[2] == 8 and fast.shape[2] == 32
    assert slow[0, 0, :, 0, 0].tolist() == [0, 4, 8, 13, 17, 22, 26, 31]  # linspace(0, T-1, T/alpha)
    with pytest.raises(ValueError, match="divisible by alpha"):
        model(torch.randn(1, 3, 6, 32, 32))


def test_nonlocal_starts_as_identity_and_modes():
    x = torch.randn(2, 16, 2, 4, 4)
    for mode in ("softmax", "dot_product"):
        block = NonLocal3d(16, mode=mode).eval()
        assert torch.equal(block(x), x)  # zero-initialised final BN
        torch.nn.init.ones_(block.bn.weight)
        assert not torch.allclose(block(x), x)
    with pytest.raises(ValueError, match="non-local mode"):
        NonLocal3d(16, mode="gaussian")


@pytest.mark.parametrize("name", ["i3d_resnet50", "x3d_m", "r3d_18"])
def test_other_input_channels(name):
    model = vai_models.create_model(name, 4, 4, in_channels=1, crop_size=32).eval()
    assert len(model.default_cfg["mean"]) == 1
    with torch.no_grad():
        assert model(torch.randn(1, 1, 4, 32, 32)).shape == (1, 4)


@pytest.mark.parametrize("name", ["i3d_resnet50", "slowfast_resnet50", "x3d_m", "swin3d_t"])
def test_bad_input_names_the_expected_shape(name):
    model = vai_models.create_model(name, 4, 8)
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 3, T, H, W\)"):
        model(torch.randn(1, 8, 3, 32, 32))


def test_torchvision_checkpoint_classifier_keys_are_renamed():
    import torchvision

    for name in ("s3d", "swin3d_t", "swin3d_s", "swin3d_b"):
        tv = getattr(torchvision.models.video, name)
        model = vai_models.create_model(name, 400, 8)
        sd = model.checkpoint_filter_fn(tv(weights=None).state_dict())
        result = model.load_state_dict(sd, strict=True)
        assert not result.missing_keys and not result.unexpected_keys
