import argparse
import logging

import pytest
import torch
from torchvision.models import resnet18
from vai_models import create_model, load_backbone_imagenet, load_pretrained
from vai_models.converters import detect_layout
from vai_models.weights import CheckpointError


def _tiny_input(t=2):
    return torch.randn(1, 3, t, 32, 32)


def _same_outputs(a, b, t=2):
    a.eval(), b.eval()
    x = _tiny_input(t)
    torch.testing.assert_close(a(x), b(x))


@pytest.mark.parametrize("wrapper", [None, "state_dict", "model_state", "model", "model_state_dict"])
def test_roundtrip_bare_and_wrapped(tmp_path, wrapper):
    src = create_model("tsm_resnet18", num_classes=4, num_frames=2)
    state = {"module." + k: v for k, v in src.state_dict().items()}  # DDP prefix is stripped
    obj = state if wrapper is None else {wrapper: state, "epoch": 3}
    torch.save(obj, tmp_path / "ck.pth")
    dst = create_model("tsm_resnet18", num_classes=4, num_frames=2, pretrained=tmp_path / "ck.pth")
    _same_outputs(src, dst)


def test_summary_reports_missing_unexpected_mismatched_in_one_line(tmp_path, caplog):
    src = create_model("tsn_resnet18", num_classes=4, num_frames=2)
    state = src.state_dict()
    state.pop("backbone.layer4.1.bn2.weight")
    state["extra.weight"] = torch.zeros(2)
    torch.save(state, tmp_path / "ck.pth")
    dst = create_model("tsn_resnet18", num_classes=7, num_frames=2)  # classifier shape differs
    with caplog.at_level(logging.WARNING, logger="vai_models.weights"):
        summary = load_pretrained(dst, tmp_path / "ck.pth")
    assert summary.missing == ["backbone.layer4.1.bn2.weight"]
    assert summary.unexpected == ["extra.weight"]
    assert [k for k, _, _ in summary.mismatched] == ["fc.weight", "fc.bias"]
    assert not summary.ok
    records = [r for r in caplog.records if r.name == "vai_models.weights"]
    assert len(records) == 1 and "\n" not in records[0].getMessage()
    assert "missing 1" in records[0].getMessage() and "shape-mismatched 2" in records[0].getMessage()
    torch.testing.assert_close(dst.backbone.conv1.weight, src.backbone.conv1.weight)
    with pytest.raises(CheckpointError, match="strict load failed.*unexpected"):
        load_pretrained(dst, tmp_path / "ck.pth", strict=True)


def test_bad_files(tmp_path):
    m = create_model("tsn_resnet18", num_classes=2, num_frames=1)
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_pretrained(m, tmp_path / "nope.pth")
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="garbage.pth"):
        load_pretrained(m, tmp_path / "garbage.pth")
    torch.save({"epoch": 3, "note": "no tensors"}, tmp_path / "empty.pth")
    with pytest.raises(CheckpointError, match="no tensors"):
        load_pretrained(m, tmp_path / "empty.pth")


def test_load_backbone_imagenet_skips_classifier(tmp_path):
    tv = resnet18()
    torch.save(tv.state_dict(), tmp_path / "resnet18.pth")
    m = create_model("tsm_resnet18", num_classes=5, num_frames=2)
    fc_before = m.fc.weight.clone()
    summary = load_backbone_imagenet(m, tmp_path / "resnet18.pth")
    assert summary.ok, str(summary)
    torch.testing.assert_close(m.backbone.layer3[1].conv2.weight, tv.layer3[1].conv2.weight)
    torch.testing.assert_close(m.fc.weight, fc_before)
    # the same file through load_pretrained is detected as torchvision layout
    m2 = create_model("tsn_resnet18", num_classes=5, num_frames=2)
    s2 = load_pretrained(m2, tmp_path / "resnet18.pth")
    assert s2.layout == "torchvision" and not s2.unexpected
    assert s2.missing == ["fc.weight", "fc.bias"]


def _to_tsm_repo_layout(state):
    """Key layout of the TSM repository: module.base_model.*, shifted conv1 wrapped as conv1.net."""
    out = {}
    for k, v in state.items():
        if k.startswith("backbone."):
            k = "base_model." + k[len("backbone.") :]
            if ".conv1." in k and k.startswith("base_model.layer"):
                k = k.replace(".conv1.", ".conv1.net.")
        elif k.startswith("fc."):
            k = "new_fc." + k[len("fc.") :]
        out["module." + k] = v
    return out


def test_tsm_repo_checkpoint(tmp_path):
    src = create_model("tsm_resnet18", num_classes=6, num_frames=2)
    ck = {
        "epoch": 25,
        "arch": "resnet18",
        "state_dict": _to_tsm_repo_layout(src.state_dict()),
        "best_prec1": 50.0,
    }
    torch.save(ck, tmp_path / "TSM_kinetics_RGB_resnet18_shift8_blockres_avg_segment2_e25.pth")
    dst = create_model("tsm_resnet18", num_classes=6, num_frames=2)
    summary = load_pretrained(
        dst, tmp_path / "TSM_kinetics_RGB_resnet18_shift8_blockres_avg_segment2_e25.pth"
    )
    assert summary.layout == "tsm" and summary.ok, str(summary)
    _same_outputs(src, dst)


def _to_epic55_layout(state, noun_classes):
    out = {}
    for k, v in _to_tsm_repo_layout(state).items():
        k = k[len("module.") :]
        if k.startswith("new_fc."):
            out["fc_verb." + k[len("new_fc.") :]] = v
            out["fc_noun." + k[len("new_fc.") :]] = torch.randn((noun_classes,) + tuple(v.shape[1:]))
        else:
            out[k] = v
    return out


@pytest.mark.parametrize("arch", ["tsm_resnet18", "tsn_resnet18"])
def test_epic55_tsn_tsm_checkpoint_picks_verb_head(tmp_path, arch):
    src = create_model(arch, num_classes=125, num_frames=2)
    ck = {
        "state_dict": _to_epic55_layout(src.state_dict(), 352),
        "model_type": arch[:3],
        "arch": "resnet18",
        "segment_count": 2,
        "args": argparse.Namespace(dropout=0.7, flow_length=5),
    }
    torch.save(ck, tmp_path / "epic.pyth")
    dst = create_model(arch, num_classes=125, num_frames=2)
    summary = load_pretrained(dst, tmp_path / "epic.pyth")
    assert summary.layout == "epic" and summary.ok, str(summary)
    _same_outputs(src, dst)
    nouns = create_model(arch, num_classes=352, num_frames=2)
    assert load_pretrained(nouns, tmp_path / "epic.pyth", head="noun").ok
    torch.testing.assert_close(nouns.fc.weight, ck["state_dict"]["fc_noun.weight"])


def test_epic100_concatenated_head_is_sliced_to_verbs(tmp_path):
    src = create_model("tsm_resnet18", num_classes=97, num_frames=2)
    state = _to_tsm_repo_layout(src.state_dict())
    state = {"model." + k[len("module.") :]: v for k, v in state.items()}
    w, b = state["model.new_fc.weight"], state["model.new_fc.bias"]
    state["model.new_fc.weight"] = torch.cat([w, torch.randn(300, w.shape[1])])
    state["model.new_fc.bias"] = torch.cat([b, torch.randn(300)])
    torch.save({"state_dict": state, "hyper_parameters": {"lr": 0.01}}, tmp_path / "epic100.ckpt")
    dst = create_model("tsm_resnet18", num_classes=97, num_frames=2)
    summary = load_pretrained(dst, tmp_path / "epic100.ckpt")
    assert summary.ok, str(summary)
    _same_outputs(src, dst)


def test_converter_none_and_callable(tmp_path):
    src = create_model("tsn_resnet18", num_classes=3, num_frames=2)
    torch.save({"net." + k: v for k, v in src.state_dict().items()}, tmp_path / "ck.pth")
    dst = create_model("tsn_resnet18", num_classes=3, num_frames=2)
    s = load_pretrained(dst, tmp_path / "ck.pth", converter=None)
    assert s.loaded == 0 and s.unexpected
    s = load_pretrained(dst, tmp_path / "ck.pth", converter=lambda st, m: {k[4:]: v for k, v in st.items()})
    assert s.ok
    with pytest.raises(ValueError, match="unknown converter"):
        load_pretrained(dst, tmp_path / "ck.pth", converter="caffe9")


def test_detect_layout_vai():
    m = create_model("tsn_resnet18", num_classes=3, num_frames=2)
    assert detect_layout(m.state_dict(), m) == "vai"


def _to_epic_trn_layout(state, multiscale):
    out = {}
    for k, v in state.items():
        if k.startswith("backbone."):
            out["base_model." + k[len("backbone.") :]] = v
        elif k.startswith("img_fc."):
            out["new_fc." + k[len("img_fc.") :]] = v
        elif k.startswith("relation.fusion_scales."):
            out["consensus.fc_fusion_scales." + k[len("relation.fusion_scales.") :]] = v
        elif k.startswith("relation.classifiers."):
            scale, rest = k[len("relation.classifiers.") :].split(".", 1)
            out[f"consensus.classifiers.{scale}.0.{rest}"] = v  # verb
            out[f"consensus.classifiers.{scale}.1.{rest}"] = torch.randn(352, *v.shape[1:])  # noun
        elif k.startswith("relation.fusion."):
            out["consensus.pre_classifier." + k[len("relation.fusion.") :]] = v
        elif k.startswith("relation.classifier."):
            rest = k[len("relation.classifier.") :]
            out["consensus.classifiers.0." + rest] = v
            out["consensus.classifiers.1." + rest] = torch.randn(352, *v.shape[1:])
        else:
            raise AssertionError(k)
    return out


@pytest.mark.parametrize("arch", ["trn_resnet18", "mtrn_resnet18"])
def test_epic55_trn_mtrn_checkpoint(tmp_path, arch):
    src = create_model(arch, num_classes=125, num_frames=3)
    state = _to_epic_trn_layout(src.state_dict(), arch.startswith("mtrn"))
    torch.save({"state_dict": state, "model_type": arch[:-9], "segment_count": 3}, tmp_path / "trn.pyth")
    dst = create_model(arch, num_classes=125, num_frames=3)
    summary = load_pretrained(dst, tmp_path / "trn.pyth")
    assert summary.layout == "epic" and summary.ok, str(summary)
    _same_outputs(src, dst, t=3)


def test_trn_repo_checkpoint(tmp_path):
    src = create_model("trn_resnet18", num_classes=5, num_frames=3)
    state = {}
    for k, v in src.state_dict().items():
        k = k.replace("backbone.", "base_model.", 1).replace("img_fc.", "new_fc.", 1)
        k = k.replace("relation.fusion.", "consensus.fc_fusion.").replace(
            "relation.classifier.", "consensus.fc_fusion.3."
        )
        state["module." + k] = v
    torch.save({"state_dict": state}, tmp_path / "TRN_something_RGB_resnet18_TRN_segment3_best.pth.tar")
    dst = create_model("trn_resnet18", num_classes=5, num_frames=3)
    summary = load_pretrained(dst, tmp_path / "TRN_something_RGB_resnet18_TRN_segment3_best.pth.tar")
    assert summary.layout == "trn" and summary.ok, str(summary)
    _same_outputs(src, dst, t=3)


def test_mvfnet_repo_checkpoint(tmp_path):
    src = create_model("mvf_resnet18", num_classes=6, num_frames=2)
    state = {}
    for k, v in src.state_dict().items():
        if k.startswith("backbone."):
            k = "base_model." + k[len("backbone.") :]
            if k.startswith(("base_model.layer3.", "base_model.layer4.")) and ".conv1.weight" in k:
                k = k.replace(".conv1.weight", ".conv1.net.weight")  # MVF wraps the conv as .net
        else:
            k = k.replace("fc.", "new_fc.", 1)
        state["module." + k] = v
    torch.save({"state_dict": state}, tmp_path / "mvf.pth")
    dst = create_model("mvf_resnet18", num_classes=6, num_frames=2)
    summary = load_pretrained(dst, tmp_path / "mvf.pth")
    assert summary.ok, str(summary)
    _same_outputs(src, dst)


def test_tdn_imagenet_init_fills_difference_branch(tmp_path):
    tv = resnet18()
    torch.save(tv.state_dict(), tmp_path / "r18.pth")
    m = create_model("tdn_resnet18", num_classes=3, num_frames=2)
    summary = load_backbone_imagenet(m, tmp_path / "r18.pth")
    assert summary.ok, str(summary)
    torch.testing.assert_close(m.backbone.diff_layer1[0].conv1.weight, tv.layer1[0].conv1.weight)
    stem = m.backbone.diff_stem[0].weight
    assert stem.shape[1] == 12
    torch.testing.assert_close(stem[:, 5], tv.conv1.weight.mean(dim=1))


def test_imagenet_rgb_stem_adapted_to_flow_channels(tmp_path):
    tv = resnet18()
    torch.save(tv.state_dict(), tmp_path / "r18.pth")
    m = create_model("tsm_resnet18", num_classes=3, num_frames=2, in_channels=10)  # 5 stacked flow pairs
    summary = load_backbone_imagenet(m, tmp_path / "r18.pth")
    assert summary.ok, str(summary)
    w = m.backbone.conv1.weight
    assert w.shape[1] == 10
    torch.testing.assert_close(w[:, 7], tv.conv1.weight.mean(dim=1))
