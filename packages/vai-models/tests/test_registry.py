from pathlib import Path

import pytest
import torch
import vai_models
from torch import nn
from vai_models import UnknownModelError, create_model, list_models, register_model
from vai_models.registry import _REGISTRY

#: every architecture name issue 4 makes part of the interface
ISSUE_NAMES = [
    f"{arch}_resnet{depth}"
    for arch in ("tsn", "trn", "mtrn", "tsm", "mvf", "tdn")
    for depth in (18, 34, 50, 101)
] + [
    "i3d_resnet50",
    "i3d_nonlocal_resnet50",
    "slowfast_resnet50",
    "x3d_m",
    "r3d_18",
    "r2plus1d_18",
    "s3d",
    "mvit_v2_s",
    "swin3d_t",
    "swin3d_s",
    "swin3d_b",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "feature_mlp",
]


def test_every_issue_architecture_is_registered_by_name():
    names = list_models()
    assert [n for n in ISSUE_NAMES if n not in names] == []
    assert names == sorted(names)
    assert list_models("tsm_*") == [n for n in names if n.startswith("tsm_")]


def test_unknown_name_lists_close_names():
    with pytest.raises(UnknownModelError) as exc:
        create_model("tsm_resnt50", num_classes=3, num_frames=2)
    msg = str(exc.value)
    assert "tsm_resnt50" in msg and "tsm_resnet50" in msg and "Did you mean" in msg


def test_unknown_name_without_close_match_still_points_to_list_models():
    with pytest.raises(KeyError, match="list_models"):
        vai_models.get_model_builder("zzzzzzzz")


def test_bad_arguments_raise_clearly():
    with pytest.raises(ValueError, match="num_classes"):
        create_model("tsn_resnet18", num_classes=0, num_frames=2)
    with pytest.raises(ValueError, match="num_frames"):
        create_model("tsn_resnet18", num_classes=2, num_frames=0)
    with pytest.raises(TypeError, match="unknown option.*bogus.*accepted"):
        create_model("tsm_resnet18", num_classes=2, num_frames=2, bogus=1)


@pytest.mark.parametrize(
    ("name", "option", "accepted"),
    [
        ("i3d_resnet50", "partial_bn", "nonlocal_mode"),
        ("slowfast_resnet50", "foo", "beta_inv"),
        ("x3d_m", "foo", "width_factor"),
        ("swin3d_t", "foo", "attention_dropout"),
        ("r3d_18", "progress", "zero_init_residual"),
        ("feature_mlp", "shift_div", "num_units"),
        ("mvf_resnet18", "shift_div", "mvf_alpha"),
    ],
)
def test_unknown_options_raise_one_line_listing_the_accepted_ones(name, option, accepted):
    with pytest.raises(TypeError) as exc:
        create_model(name, num_classes=2, num_frames=4, **{option: 1})
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(f"{name}: unknown option(s) {option}; accepted: ")
    assert accepted in msg
    assert name == "feature_mlp" or "crop_size" in msg  # the shared keyword is listed too


def test_accepted_options_of_3d_and_torchvision_models_still_work():
    m = create_model(
        "r3d_18", num_classes=2, num_frames=4, zero_init_residual=True, dropout=0.1, crop_size=64
    )
    assert m.default_cfg["crop_size"] == 64 and m.dropout.p == pytest.approx(0.1)
    x3d = create_model("x3d_xs", num_classes=2, num_frames=4, dim_c5=64, crop_size=32)
    assert x3d.num_features == 64
    mlp = create_model("feature_mlp", num_classes=2, num_frames=1, input_feature_dim=8)  # upstream's name
    assert mlp.feature_dim == 8


def test_feature_mlp_rejects_in_channels():
    with pytest.raises(TypeError, match="feature_mlp takes .* in_channels=10 does not apply; .*feature_dim"):
        create_model("feature_mlp", num_classes=2, num_frames=1, in_channels=10)


def test_register_model_decorator_and_duplicate():
    @register_model(name="_tmp_test_model")
    def _tmp(num_classes, num_frames, in_channels=3, **kw):
        return nn.Linear(in_channels, num_classes)

    try:
        assert "_tmp_test_model" in list_models()
        assert isinstance(create_model("_tmp_test_model", 4, 1), nn.Linear)
        # no declared options: its keywords are its own, not checked as the shipped families' are
        assert isinstance(
            create_model("_tmp_test_model", 4, 1, crop_size=(256, 320), dropout=[0.5]), nn.Linear
        )
        with pytest.raises(ValueError, match="already registered"):
            register_model(lambda **kw: None, name="_tmp_test_model")
    finally:
        _REGISTRY.pop("_tmp_test_model")


def test_default_cfg_keys_and_dropout_defaults():
    m = create_model("tsn_resnet18", num_classes=5, num_frames=3)
    cfg = m.default_cfg
    for key in ("mean", "std", "input_range", "bgr", "crop_size", "num_frames", "architecture"):
        assert key in cfg
    assert cfg["input_range"] == 1.0 and cfg["bgr"] is False and cfg["num_frames"] == 3
    assert m.dropout.p == pytest.approx(0.7)
    tsm = create_model("tsm_resnet18", num_classes=5, num_frames=3)
    assert tsm.dropout.p == pytest.approx(0.8) and tsm.default_cfg["shift_div"] == 8
    assert create_model("tsm_resnet18", 5, 3, dropout=0.5).dropout.p == pytest.approx(0.5)
    assert isinstance(create_model("tsm_resnet18", 5, 3, dropout=0.0).dropout, nn.Identity)


def test_in_channels_and_wrong_input():
    m = create_model("tsm_resnet18", num_classes=4, num_frames=2, in_channels=2).eval()
    assert m(torch.randn(1, 2, 2, 32, 32)).shape == (1, 4)
    with pytest.raises(ValueError, match="num_frames=3"):
        m(torch.randn(1, 2, 3, 32, 32))
    with pytest.raises(ValueError, match=r"\(N, 2, T, H, W\), got \(2, 2, 32, 32\); add a time axis"):
        m(torch.randn(2, 2, 32, 32))
    # TSN's average consensus accepts any number of frames
    tsn = create_model("tsn_resnet18", num_classes=4, num_frames=2).eval()
    assert tsn(torch.randn(1, 3, 5, 32, 32)).shape == (1, 4)


def test_docs_model_table_lists_every_registered_model():
    """docs/models.md's table (from `vai-models table`) must not drift from the registry."""
    from pathlib import Path

    doc = Path(__file__).resolve().parents[3] / "docs" / "models.md"
    if not doc.is_file():
        pytest.skip("docs/models.md is not shipped with the installed package")
    rows = {line.split("`")[1] for line in doc.read_text().splitlines() if line.startswith("| `")}
    assert [n for n in list_models() if n not in rows] == []


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"num_classes": 2.0}, TypeError, r"^num_classes must be an int >= 1, got 2.0 \(float\)$"),
        ({"num_frames": 4.0}, TypeError, r"^num_frames must be an int >= 1, got 4.0 \(float\)$"),
        ({"num_frames": True}, TypeError, r"^num_frames must be an int >= 1, got True \(bool\)$"),
        ({"in_channels": 0}, ValueError, r"^in_channels must be an int >= 1, got 0$"),
        ({"shift_div": 0}, ValueError, r"^shift_div must be an int >= 1, got 0$"),
        ({"shift_div": 8.0}, TypeError, r"^shift_div must be an int >= 1, got 8.0 \(float\)$"),
        ({"crop_size": 0}, ValueError, r"^crop_size must be an int >= 1, got 0$"),
        ({"dropout": -0.1}, ValueError, r"^dropout must be in \[0, 1\) \(0 disables it\), got -0.1$"),
        ({"dropout": 1.0}, ValueError, r"^dropout must be in \[0, 1\)"),
        ({"dropout": "0.5"}, TypeError, r"^dropout must be a number in \[0, 1\), got '0.5' \(str\)$"),
    ],
)
def test_create_model_refuses_bad_argument_values_in_one_line(kwargs, error, message):
    args = {"num_classes": 2, "num_frames": 4, **kwargs}
    with pytest.raises(error, match=message):
        create_model("tsm_resnet18", **args)


def test_create_model_name_must_be_a_str():
    with pytest.raises(
        TypeError, match=r"^model name must be a str such as 'tsm_resnet50', got None \(NoneType\)"
    ):
        create_model(None, 2, 4)
    with pytest.raises(TypeError, match="model name must be a str"):
        vai_models.get_model_builder(["tsm_resnet18"])


def test_numpy_ints_are_accepted_as_ints():
    np = pytest.importorskip("numpy")
    m = create_model("tsn_resnet18", np.int64(3), np.int64(2))
    assert m.num_classes == 3 and type(m.num_frames) is int
    with pytest.raises(TypeError, match="num_classes must be an int"):
        m.reset_classifier(2.0)


def test_the_docs_count_the_registered_models():
    import re

    root = Path(__file__).resolve().parents[3] / "docs"
    if not (root / "models.md").is_file():
        pytest.skip("docs/ is not shipped with the installed package")
    models, models_3d = (root / "models.md").read_text(), (root / "models-3d.md").read_text()
    n_3d = sum(
        vai_models.get_model_builder(n).__module__.startswith("vai_models.video3d") for n in list_models()
    )
    assert re.search(r"Every registered model \((\d+)\)", models).group(1) == str(len(list_models()))
    assert re.search(r"`vai_models.video3d` registers (\d+) ", models).group(1) == str(n_3d)
    words = ("Thirteen", "Fourteen", "Fifteen", "Sixteen", "Seventeen", "Eighteen", "Nineteen", "Twenty")
    assert f"{words[n_3d - 13]} 3D/transformer video models are registered" in models_3d


def test_every_builder_declares_its_default_num_frames():
    """docs/models.md: T of a model's recipe is get_model_builder(name).default_num_frames, for every name."""
    frames = {name: vai_models.get_model_builder(name).default_num_frames for name in list_models()}
    assert frames["swin3d_t"] == frames["swin3d_s"] == frames["swin3d_b"] == 32
    assert create_model("swin3d_b", 4, 2).num_features == 1024  # Swin-B's width, not T/S's 768
    assert all(isinstance(t, int) and t >= 1 for t in frames.values()), frames
    assert frames["i3d_resnet50"] == frames["i3d_nonlocal_resnet50"] == frames["i3d_nopool_resnet50"] == 8
    assert (frames["x3d_xs"], frames["slowfast_resnet50"], frames["tsm_resnet50"], frames["resnet50"]) == (
        4,
        32,
        8,
        1,
    )

    @register_model(name="_tmp_frames_model")
    def _tmp(num_classes, num_frames, in_channels=3, **kw):
        return nn.Linear(in_channels, num_classes)

    try:
        assert _tmp.default_num_frames == 8  # a builder that declares none gets the default
    finally:
        _REGISTRY.pop("_tmp_frames_model")


@pytest.mark.parametrize(
    ("name", "kwargs", "error", "message"),
    [
        (
            "mvf_resnet18",
            {"mvf_alpha": 2.0},
            ValueError,
            r"^mvf_alpha must be a number in \[0, 1\], got 2.0$",
        ),
        (
            "mvf_resnet18",
            {"mvf_alpha": -0.5},
            ValueError,
            r"^mvf_alpha must be a number in \[0, 1\], got -0.5$",
        ),
        (
            "mvf_resnet18",
            {"mvf_alpha": "0.5"},
            TypeError,
            r"^mvf_alpha must be a number in \[0, 1\], got '0.5'",
        ),
        ("trn_resnet18", {"img_feature_dim": 0}, ValueError, r"^img_feature_dim must be an int >= 1, got 0$"),
        ("mtrn_resnet18", {"img_feature_dim": 2.5}, TypeError, r"^img_feature_dim must be an int >= 1"),
        ("x3d_m", {"width_factor": -1}, ValueError, r"^width_factor must be a finite number > 0, got -1$"),
        ("x3d_xs", {"depth_factor": 0}, ValueError, r"^depth_factor must be a finite number > 0, got 0$"),
        ("x3d_xs", {"width_factor": float("inf")}, ValueError, r"^width_factor must be a finite number > 0"),
        (
            "tsm_resnet18",
            {"pretrained": True},
            TypeError,
            r"^pretrained must be the path of a local checkpoint \(str or os.PathLike\) or None, got True "
            r"\(bool\): vai loads weights only from a local file: pass its path$",
        ),
        ("i3d_resnet50", {"pretrained": 1}, TypeError, r"^pretrained must be the path of a local checkpoint"),
    ],
)
def test_options_and_pretrained_are_checked_before_building(monkeypatch, name, kwargs, error, message):
    builder = _REGISTRY[name]

    def not_built(*args, **kw):
        raise AssertionError("the model was built before its arguments were checked")

    not_built.options = builder.options
    monkeypatch.setitem(_REGISTRY, name, not_built)
    with pytest.raises(error, match=message):
        create_model(name, 2, 4, **kwargs)


@pytest.mark.parametrize("alpha", [0, 0.25, 1.0])
def test_mvf_alpha_range_ends_still_build_and_run(alpha):
    model = create_model("mvf_resnet18", 2, 2, mvf_alpha=alpha).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 2, 32, 32)).shape == (1, 2)


def test_pretrained_false_means_no_weights():
    """timm's spelling of "no weights" builds the model as pretrained=None does (True, which would download
    there, is refused above)."""
    torch.manual_seed(0)
    a = create_model("tsn_resnet18", 2, 2, pretrained=False)
    torch.manual_seed(0)
    b = create_model("tsn_resnet18", 2, 2)
    assert not hasattr(a, "pretrained_summary") or a.pretrained_summary is None
    assert all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def test_x3d_bottleneck_too_small_for_a_channel_is_one_line():
    with pytest.raises(
        ValueError, match=r"^bottleneck_factor=0\.01 gives stage 1's 24 channels a bottleneck of 0"
    ):
        create_model("x3d_xs", 3, 4, bottleneck_factor=0.01)


def test_mtrn_heads_rebuilt_after_zero_follow_the_models_mode():
    """reset_classifier(0) then (n) on a model in eval mode: the new relation head is in eval mode too
    (MTRN drew random relations per forward: two calls on one input differed)."""
    model = create_model("mtrn_resnet18", 5, 4).eval()
    model.reset_classifier(0)
    model.reset_classifier(5)
    assert not model.relation.training and not model.img_fc.training
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
