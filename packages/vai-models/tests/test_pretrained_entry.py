"""``create_model(..., pretrained=path)`` is the one entry for every checkpoint layout users bring.

Each test writes a small synthetic checkpoint with the foreign key layout and loads it by path only
(``converter="auto"``), then checks the summary and the copied tensors.
"""

import argparse
import re

import pytest
import torch
import torchvision
from test_video3d_convert import _i3d_nl_c2_names, _vai_to_pyslowfast, _write_c2_pickle
from test_weights import _to_epic55_layout, _to_tsm_repo_layout
from vai_models import LoadSummary, create_model, load_pretrained
from vai_models.video3d import inflate_weight
from vai_models.weights import CheckpointError


def _random_state(model: torch.nn.Module, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        k: torch.randn(v.shape, generator=gen) if v.is_floating_point() else v
        for k, v in model.state_dict().items()
    }


def _assert_state_equal(model: torch.nn.Module, expected: dict[str, torch.Tensor]) -> None:
    for key, value in model.state_dict().items():
        assert torch.equal(value, expected[key]), key


def test_tsm_repo_pth(tmp_path):
    src = create_model("tsm_resnet18", 6, 2)
    torch.save({"epoch": 25, "state_dict": _to_tsm_repo_layout(src.state_dict())}, tmp_path / "tsm.pth")
    dst = create_model("tsm_resnet18", 6, 2, pretrained=tmp_path / "tsm.pth")
    assert isinstance(dst.pretrained_summary, LoadSummary)
    assert dst.pretrained_summary.layout == "tsm" and dst.pretrained_summary.ok
    _assert_state_equal(dst, src.state_dict())


def test_epic_kitchens_checkpoint(tmp_path):
    src = create_model("tsn_resnet18", 125, 2)
    ck = {"state_dict": _to_epic55_layout(src.state_dict(), 352), "args": argparse.Namespace(arch="resnet18")}
    torch.save(ck, tmp_path / "TSN_arch=resnet18_modality=RGB_segments=2.pth.tar")
    dst = create_model(
        "tsn_resnet18", 125, 2, pretrained=tmp_path / "TSN_arch=resnet18_modality=RGB_segments=2.pth.tar"
    )
    assert dst.pretrained_summary.layout == "epic" and dst.pretrained_summary.ok
    _assert_state_equal(dst, src.state_dict())


def test_torchvision_imagenet_into_2d_backbone(tmp_path):
    tv = torchvision.models.resnet18()
    torch.save(tv.state_dict(), tmp_path / "resnet18-f37072fd.pth")
    dst = create_model("tsm_resnet18", 5, 2, pretrained=tmp_path / "resnet18-f37072fd.pth")
    s = dst.pretrained_summary
    assert s.layout == "torchvision" and not s.unexpected and not s.mismatched
    assert s.missing == ["fc.weight", "fc.bias"]  # the 1000-way ImageNet head is dropped
    assert torch.equal(dst.backbone.layer2[0].bn1.running_var, tv.layer2[0].bn1.running_var)


def test_caffe2_pickle_into_i3d(tmp_path):
    model = create_model("i3d_resnet50", 400, 8, width=8)
    names = {k: v for k, v in _i3d_nl_c2_names().items() if "nonlocal" not in k}
    path = tmp_path / "I3D_8x8_R50.pkl"
    blobs = _write_c2_pickle(path, model, names, {"model_iter": torch.zeros(1).numpy()}, python2=True)
    dst = create_model("i3d_resnet50", 400, 8, width=8, pretrained=path, strict=True)
    s = dst.pretrained_summary
    assert s.layout == "caffe2" and s.ok, str(s)
    assert torch.equal(dst.layer3[2].conv2.weight, torch.from_numpy(blobs["res4_2_branch2b_w"]))
    with pytest.raises(ValueError, match=r"I3D_8x8_R50.pkl: .*i3d_\*, slowfast_\* and x3d_\*"):
        create_model("tsn_resnet18", 4, 2, pretrained=path)  # a 2D model cannot take a caffe2 file


def test_caffe2_pickle_other_classifier_size_in_summary(tmp_path, caplog):
    big = create_model("i3d_resnet50", 400, 8, width=8)
    path = tmp_path / "I3D_8x8_R50.pkl"
    _write_c2_pickle(path, big, {k: v for k, v in _i3d_nl_c2_names().items() if "nonlocal" not in k})
    with caplog.at_level("WARNING", logger="vai_models.weights"):
        small = create_model("i3d_resnet50", 10, 8, width=8, pretrained=path)
    s = small.pretrained_summary
    assert [k for k, _, _ in s.mismatched] == ["fc.weight", "fc.bias"] and s.missing == []
    (line,) = [r.getMessage() for r in caplog.records if r.name == "vai_models.weights"]
    assert "layout: caffe2" in line and "shape-mismatched 2" in line and "\n" not in line
    with pytest.raises(CheckpointError, match="I3D_8x8_R50.pkl"):
        create_model("i3d_resnet50", 10, 8, width=8, pretrained=path, strict=True)


def test_pyslowfast_pyth_into_i3d_nonlocal(tmp_path):
    source = create_model("i3d_nonlocal_resnet50", 400, 8, width=8)
    sd = _random_state(source)
    psf = {"module." + _vai_to_pyslowfast(k, "i3d"): v for k, v in sd.items()}
    psf["module.head.act.extra"] = torch.zeros(1)
    path = tmp_path / "checkpoint_epoch_00196.pyth"
    torch.save({"epoch": 196, "model_state": psf, "optimizer_state": {}, "cfg": "MODEL: {}"}, path)
    dst = create_model("i3d_nonlocal_resnet50", 400, 8, width=8, pretrained=path)
    s = dst.pretrained_summary
    assert s.layout == "pyslowfast" and not s.missing and not s.mismatched
    assert s.unexpected == ["head.act.extra"]
    _assert_state_equal(dst, sd)
    forced = create_model("i3d_nonlocal_resnet50", 400, 8, width=8)
    assert load_pretrained(forced, path, converter="pyslowfast").unexpected == ["head.act.extra"]


def test_torchvision_video_checkpoint_classifier_renamed(tmp_path):
    tv = torchvision.models.video.s3d(num_classes=5)
    torch.save(tv.state_dict(), tmp_path / "s3d-d76dad2f.pth")
    dst = create_model("s3d", 5, 8, pretrained=tmp_path / "s3d-d76dad2f.pth", strict=True)
    assert dst.pretrained_summary.layout == "torchvision-video" and dst.pretrained_summary.ok
    assert torch.equal(dst.fc.weight, tv.classifier[1].weight.flatten(1))


@pytest.mark.parametrize("name", ["i3d_resnet50", "tdn_resnet18"])
def test_whole_model_vai_checkpoint(tmp_path, name):
    kwargs = {"width": 8} if name.startswith("i3d") else {}
    frames = 8 if name.startswith("i3d") else 2
    source = create_model(name, 7, frames, **kwargs)
    sd = _random_state(source, seed=3)
    torch.save({"epoch": 4, "model_state": sd, "optimiser_state": {"lr": 0.1}}, tmp_path / "epoch_0004.pth")
    dst = create_model(name, 7, frames, pretrained=tmp_path / "epoch_0004.pth", strict=True, **kwargs)
    assert dst.pretrained_summary.layout == "vai" and dst.pretrained_summary.ok
    _assert_state_equal(dst, sd)


def _imagenet_resnet50_like(width: int = 8) -> dict[str, torch.Tensor]:
    """A 2D ResNet-50 state_dict (torchvision key names) at I3D ``width``: 5D kernels summed over time."""
    i3d = create_model("i3d_resnet50", 1000, 8, width=width)
    return {k: v.sum(2) if v.dim() == 5 else v for k, v in _random_state(i3d, seed=5).items()}


@pytest.mark.parametrize("converter", ["inflate", "auto"])
def test_imagenet_resnet50_inflated_into_i3d(tmp_path, converter):
    sd2d = _imagenet_resnet50_like()
    sd2d["fc.weight"], sd2d["fc.bias"] = torch.zeros(1000, 2048 // 8), torch.zeros(1000)
    torch.save(sd2d, tmp_path / "resnet50_imagenet.pth")
    dst = create_model(
        "i3d_resnet50", 400, 8, width=8, pretrained=tmp_path / "resnet50_imagenet.pth", converter=converter
    )
    s = dst.pretrained_summary
    assert s.layout == "torchvision-imagenet, inflated"
    assert [k for k, _, _ in s.mismatched] == ["fc.weight", "fc.bias"] and not s.unexpected
    kt = dst.conv1.weight.shape[2]
    assert torch.allclose(dst.conv1.weight, inflate_weight(sd2d["conv1.weight"], kt))
    assert torch.equal(dst.layer2[0].bn1.running_mean, sd2d["layer2.0.bn1.running_mean"])


def test_inflate_and_converter_errors(tmp_path):
    torch.save(create_model("tsn_resnet18", 3, 2).state_dict(), tmp_path / "tsn.pth")
    with pytest.raises(CheckpointError, match="converter='inflate' needs a 2D ResNet"):
        create_model("i3d_resnet50", 3, 8, width=8, pretrained=tmp_path / "tsn.pth", converter="inflate")
    with pytest.raises(ValueError, match="unknown converter 'caffe3'"):
        create_model("tsn_resnet18", 3, 2, pretrained=tmp_path / "tsn.pth", converter="caffe3")


def test_create_model_picks_the_epic_noun_head(tmp_path):
    src = create_model("tsn_resnet18", 125, 2)
    ck = {"state_dict": _to_epic55_layout(src.state_dict(), 352), "args": argparse.Namespace(arch="resnet18")}
    torch.save(ck, tmp_path / "epic.pth")
    nouns = create_model("tsn_resnet18", 352, 2, pretrained=tmp_path / "epic.pth", head="noun")
    assert nouns.pretrained_summary.ok
    torch.testing.assert_close(nouns.fc.weight, ck["state_dict"]["fc_noun.weight"])
    with pytest.raises(ValueError, match="head='nouns': choose 'verb' or 'noun'"):
        create_model("tsn_resnet18", 352, 2, pretrained=tmp_path / "epic.pth", head="nouns")
    with pytest.raises(ValueError, match="choose 'verb' or 'noun'"):
        load_pretrained(nouns, tmp_path / "epic.pth", head="x")


def test_a_wrapper_prefix_is_stripped_beside_a_few_tensors_of_the_wrapper(tmp_path):
    """A Lightning checkpoint: ``model.`` on every key of the network, plus the loss's class weights."""
    src = create_model("tsn_resnet18", 5, 2)
    state = {f"model.{k}": v for k, v in _random_state(src, seed=3).items()}
    state["criterion.weight"] = torch.ones(5)
    torch.save({"state_dict": state}, tmp_path / "lightning.ckpt")
    dst = create_model("tsn_resnet18", 5, 2, pretrained=tmp_path / "lightning.ckpt")
    assert dst.pretrained_summary.unexpected == ["criterion.weight"]
    _assert_state_equal(dst, {k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")})


def test_an_unloadable_pickle_names_the_refused_global(tmp_path):
    torch.save(
        {"state_dict": create_model("tsn_resnet18", 5, 2).state_dict(), "hp": _HyperParameters()},
        tmp_path / "l.ckpt",
    )
    with pytest.raises(CheckpointError) as info:
        create_model("tsn_resnet18", 5, 2, pretrained=tmp_path / "l.ckpt")
    message = str(info.value)
    assert "Unsupported global" in message and "_HyperParameters" in message
    assert "\x1b" not in message and "\n" not in message
    # the refusal sentence whole, not cut mid-word
    assert re.search(
        r"\(UnpicklingError: Unsupported global: GLOBAL \S+\._HyperParameters was not an allowed global by "
        r"default\.\); re-save it as a plain state_dict$",
        message,
    ), message


class _HyperParameters:
    """A class pickled into a checkpoint, as Lightning's hyper_parameters can hold."""

    lr = 0.1


def test_mvit_refuses_the_sizes_it_sets_itself():
    with pytest.raises(TypeError, match="unknown option"):
        create_model("mvit_v2_s", 3, 4, spatial_size=(112, 112))
    with pytest.raises(TypeError, match="unknown option"):
        create_model("mvit_v2_s", 3, 4, temporal_size=4)


def test_inflating_an_rgb_stem_into_a_grey_i3d_is_logged(tmp_path, caplog):
    torch.save(_imagenet_resnet50_like(), tmp_path / "rn50.pth")
    with caplog.at_level("INFO", logger="vai_models"):
        create_model("i3d_resnet50", 10, 8, width=8, in_channels=1, pretrained=tmp_path / "rn50.pth")
    assert "adapting conv1.weight from 3 to 1 input channels" in caplog.text


def test_checkpoint_mismatch_error_is_public():
    import vai_models
    from vai_models.weights import CheckpointMismatchError

    assert vai_models.CheckpointMismatchError is CheckpointMismatchError
    assert "CheckpointMismatchError" in vai_models.__all__


def test_an_image_model_given_frames_says_it_takes_single_images():
    model = create_model("resnet18", 3, 4)
    with pytest.raises(ValueError, match="it classifies single images: give it T=1 clips"):
        model(torch.zeros(1, 3, 2, 32, 32))
    with pytest.raises(ValueError, match="create it with num_frames=3"):
        create_model("tsm_resnet18", 3, 2)(torch.zeros(1, 3, 3, 32, 32))


class _UserWrapper(torch.nn.Module):
    """A user's model holding a vai network as ``self.model`` beside a small head of its own."""

    def __init__(self):
        super().__init__()
        self.model = create_model("tsn_resnet18", 5, 2)
        self.aux = torch.nn.Linear(512, 3)


def test_a_prefix_the_model_itself_has_is_kept(tmp_path):
    src = _UserWrapper()
    torch.save(src.state_dict(), tmp_path / "wrap.pth")
    dst = _UserWrapper()
    summary = load_pretrained(dst, tmp_path / "wrap.pth")
    assert summary.ok and not summary.missing and not summary.unexpected, str(summary)
    _assert_state_equal(dst, src.state_dict())


def test_long_load_errors_are_cut_at_a_word_boundary():
    from vai_models.weights import _load_error_cause

    cause = _load_error_cause(RuntimeError("x" * 10 + " word" * 100))
    assert len(cause) <= 300 and cause.endswith(" word…")
    assert _load_error_cause(RuntimeError("short\nsecond line")) == "short"


def test_torch_floor_covers_the_apis_used():
    """weights.py uses torch.serialization.safe_globals, new in torch 2.5 (torchvision 0.20)."""
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("pyproject.toml is not shipped with the installed package")
    text = pyproject.read_text()
    assert '"torch>=2.5"' in text and '"torchvision>=0.20"' in text
    assert hasattr(torch.serialization, "safe_globals")
