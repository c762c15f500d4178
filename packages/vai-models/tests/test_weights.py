import argparse
import logging

import pytest
import torch
from torchvision.models import resnet18
from vai_models import create_model, load_backbone_imagenet, load_pretrained
from vai_models.converters import detect_layout
from vai_models.weights import CheckpointError, CheckpointMismatchError


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
    assert summary.layout == "epic"  # (the TSM repo's keys, told apart by the concatenated head)
    _same_outputs(src, dst)


def test_converter_none_and_callable(tmp_path):
    src = create_model("tsn_resnet18", num_classes=3, num_frames=2)
    torch.save({"net." + k: v for k, v in src.state_dict().items()}, tmp_path / "ck.pth")
    dst = create_model("tsn_resnet18", num_classes=3, num_frames=2)
    with pytest.raises(CheckpointMismatchError, match=r"fills only 0% of tsn_resnet18's backbone"):
        load_pretrained(dst, tmp_path / "ck.pth", converter=None)  # nothing matches: refused
    s = load_pretrained(dst, tmp_path / "ck.pth", converter=None, strict=False)  # on purpose
    assert s.loaded == 0 and s.unexpected
    s = load_pretrained(dst, tmp_path / "ck.pth", converter=lambda st, m: {k[4:]: v for k, v in st.items()})
    assert s.ok
    with pytest.raises(ValueError, match="unknown converter"):
        load_pretrained(dst, tmp_path / "ck.pth", converter="caffe9")


def test_detect_layout_vai():
    m = create_model("tsn_resnet18", num_classes=3, num_frames=2)
    assert detect_layout(m.state_dict(), m) == "vai"


def _to_epic_trn_layout(state):
    """vai TRN state -> EPIC-55 single-scale TRN layout (verb head from the model, random noun head)."""
    out = {}
    for k, v in state.items():
        if k.startswith("backbone."):
            out["base_model." + k[len("backbone.") :]] = v
        elif k.startswith("img_fc."):
            out["new_fc." + k[len("img_fc.") :]] = v
        elif k.startswith("relation.fusion."):
            out["consensus.pre_classifier." + k[len("relation.fusion.") :]] = v
        elif k.startswith("relation.classifier."):
            rest = k[len("relation.classifier.") :]
            out["consensus.classifiers.0." + rest] = v
            out["consensus.classifiers.1." + rest] = torch.randn(352, *v.shape[1:])
        else:
            raise AssertionError(k)
    return out


def test_epic55_trn_checkpoint(tmp_path):
    src = create_model("trn_resnet18", num_classes=125, num_frames=3)
    state = _to_epic_trn_layout(src.state_dict())
    torch.save({"state_dict": state, "model_type": "trn", "segment_count": 3}, tmp_path / "trn.pyth")
    dst = create_model("trn_resnet18", num_classes=125, num_frames=3)
    summary = load_pretrained(dst, tmp_path / "trn.pyth")
    assert summary.layout == "epic" and summary.ok, str(summary)
    _same_outputs(src, dst, t=3)


def _epic_mtrn_checkpoint(num_frames=3, feat=256, verbs=125, nouns=352, seed=0):
    """The relation head of an EPIC-55 / PyVideoAI MTRN checkpoint (RelationModuleMultiScale, two tasks):
    ``consensus.fc_fusion_scales.{s}.1`` and ``consensus.classifiers.{s}.{task}`` for every scale."""
    gen = torch.Generator().manual_seed(seed)
    scales = list(range(num_frames, 1, -1))
    head = {}
    for i, s in enumerate(scales):
        head[f"consensus.fc_fusion_scales.{i}.1.weight"] = torch.randn(256, s * feat, generator=gen) * 0.05
        head[f"consensus.fc_fusion_scales.{i}.1.bias"] = torch.randn(256, generator=gen) * 0.05
        for task, n in enumerate((verbs, nouns)):
            head[f"consensus.classifiers.{i}.{task}.weight"] = torch.randn(n, 256, generator=gen) * 0.05
            head[f"consensus.classifiers.{i}.{task}.bias"] = torch.randn(n, generator=gen) * 0.05
    return head, scales


def _upstream_mtrn_forward(head, scales, x, task):
    """Upstream's RelationModuleMultiScale.forward (PyVideoAI pyvideoai/models/epic/ops/trn.py), replayed
    on the checkpoint's tensors for T = 3, where every relation of every scale is used: the largest
    scale is scored by classifiers[0] and scale index s >= 1 by classifiers[s - 1]."""
    import itertools

    import torch.nn.functional as F

    def fuse(i, rel):
        h = F.relu(x[:, list(rel)].flatten(1))
        w, b = (
            head[f"consensus.fc_fusion_scales.{i}.1.weight"],
            head[f"consensus.fc_fusion_scales.{i}.1.bias"],
        )
        return F.relu(F.linear(h, w, b))

    def classify(c, h):
        return F.linear(
            h,
            head[f"consensus.classifiers.{c}.{task}.weight"],
            head[f"consensus.classifiers.{c}.{task}.bias"],
        )

    t = x.shape[1]
    out = classify(0, fuse(0, range(t)))
    for i, scale_id in enumerate(range(1, len(scales))):
        for rel in itertools.combinations(range(t), scales[scale_id]):  # all C(3, 2) = 3 relations
            out = out + classify(i, fuse(scale_id, rel))
    return out


@pytest.mark.parametrize("head_name", ["verb", "noun"])
def test_epic_mtrn_checkpoint_reproduces_upstream_forward(tmp_path, head_name):
    src = create_model("mtrn_resnet18", num_classes=125, num_frames=3)
    state = {
        "base_model." + k[len("backbone.") :]: v
        for k, v in src.state_dict().items()
        if k.startswith("backbone.")
    }
    state.update({"new_fc.weight": src.img_fc.weight, "new_fc.bias": src.img_fc.bias})
    head, scales = _epic_mtrn_checkpoint()
    state.update(head)
    torch.save({"state_dict": state, "model_type": "mtrn", "segment_count": 3}, tmp_path / "mtrn.pyth")
    classes = 125 if head_name == "verb" else 352
    dst = create_model("mtrn_resnet18", num_classes=classes, num_frames=3)
    summary = load_pretrained(dst, tmp_path / "mtrn.pyth", head=head_name)
    assert summary.layout == "epic" and summary.ok, str(summary)
    task = 0 if head_name == "verb" else 1
    x = torch.randn(2, 3, 256)
    with torch.no_grad():
        expected = _upstream_mtrn_forward(head, scales, x, task)
        torch.testing.assert_close(dst.eval().relation(x), expected)
        torch.testing.assert_close(dst.train().relation(x), expected)  # T = 3: nothing is subsampled
    # the backbone and the frame projection came through too
    assert torch.equal(dst.img_fc.weight, src.img_fc.weight)
    clip = torch.randn(1, 3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(dst.eval().forward_features(clip), src.eval().forward_features(clip))


def _assert_tdn_branch_from_backbone(m, tv):
    torch.testing.assert_close(m.backbone.diff_layer1[0].conv1.weight, tv.layer1[0].conv1.weight)
    for key, value in m.backbone.layer1.state_dict().items():
        assert torch.equal(m.backbone.diff_layer1.state_dict()[key], value), key
    stem = m.backbone.diff_stem[0].weight
    assert stem.shape[1] == 12
    expected = tv.conv1.weight.mean(dim=1, keepdim=True).expand_as(stem)
    torch.testing.assert_close(stem, expected)


def test_tdn_imagenet_init_fills_difference_branch(tmp_path, caplog):
    tv = resnet18()
    torch.save(tv.state_dict(), tmp_path / "r18.pth")
    m = create_model("tdn_resnet18", num_classes=3, num_frames=2)
    with caplog.at_level(logging.INFO, logger="vai_models.weights"):
        summary = load_backbone_imagenet(m, tmp_path / "r18.pth")
    _assert_tdn_branch_from_backbone(m, tv)
    # the report is accurate: the branch initialised from the backbone is derived, not missing; what
    # ImageNet lacks and stays at its init (the long-term TDMs, the difference stem's BN) is missing
    assert "backbone.diff_stem.0.weight" in summary.derived
    assert "backbone.diff_layer1.1.bn2.running_var" in summary.derived
    assert not [k for k in summary.missing if ".diff_layer1." in k or k == "backbone.diff_stem.0.weight"]
    assert all(".tdm." in k or k.startswith("backbone.diff_stem.1.") for k in summary.missing)
    assert "backbone.layer2.0.conv2.tdm.squeeze.weight" in summary.missing
    (line,) = [r.getMessage() for r in caplog.records if r.name == "vai_models.weights"]
    assert line == str(summary) and f"initialised from the loaded backbone {len(summary.derived)}" in line


def test_tdn_create_model_with_imagenet_weights_initialises_difference_branch(tmp_path):
    tv = resnet18()
    torch.save(tv.state_dict(), tmp_path / "r18.pth")
    m = create_model("tdn_resnet18", num_classes=3, num_frames=2, pretrained=tmp_path / "r18.pth")
    _assert_tdn_branch_from_backbone(m, tv)
    s = m.pretrained_summary
    assert s.layout == "torchvision" and "backbone.diff_stem.0.weight" in s.derived
    assert not [k for k in s.missing if ".diff_layer1." in k]


def test_tdn_whole_checkpoint_keeps_its_own_difference_branch(tmp_path):
    src = create_model("tdn_resnet18", num_classes=3, num_frames=2)
    with torch.no_grad():
        src.backbone.diff_layer1[0].conv1.weight.add_(1.0)  # differs from layer1 in the file
    torch.save(src.state_dict(), tmp_path / "tdn.pth")
    dst = create_model("tdn_resnet18", num_classes=3, num_frames=2, pretrained=tmp_path / "tdn.pth")
    assert dst.pretrained_summary.ok and not dst.pretrained_summary.derived
    assert torch.equal(dst.backbone.diff_layer1[0].conv1.weight, src.backbone.diff_layer1[0].conv1.weight)


def test_imagenet_rgb_stem_adapted_to_flow_channels(tmp_path):
    tv = resnet18()
    torch.save(tv.state_dict(), tmp_path / "r18.pth")
    m = create_model("tsm_resnet18", num_classes=3, num_frames=2, in_channels=10)  # 5 stacked flow pairs
    summary = load_backbone_imagenet(m, tmp_path / "r18.pth")
    assert summary.ok, str(summary)
    w = m.backbone.conv1.weight
    assert w.shape[1] == 10
    torch.testing.assert_close(w[:, 7], tv.conv1.weight.mean(dim=1))


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize(("name", "kw"), [("tsn_resnet18", {}), ("i3d_resnet50", {"width": 8})])
def test_torch_save_file_with_pkl_suffix_loads_like_pth(tmp_path, name, kw, legacy):
    src = create_model(name, 5, 4, **kw)
    path = tmp_path / "w.pkl"
    torch.save(src.state_dict(), path, _use_new_zipfile_serialization=not legacy)
    dst = create_model(name, 5, 4, pretrained=path, strict=True, **kw)
    assert dst.pretrained_summary.ok and dst.pretrained_summary.layout == "vai"
    _same_outputs(src, dst, t=4)


def test_unreadable_pkl_is_one_line_naming_path_and_cause(tmp_path):
    import pickle

    blobs = tmp_path / "I3D_8x8_R50.pkl"
    blobs.write_bytes(pickle.dumps({"blobs": {"conv1_w": torch.zeros(2, 2).numpy()}}, protocol=2)[:-20])
    with pytest.raises(
        CheckpointError,
        match=r"I3D_8x8_R50.pkl: cannot be read as a caffe2 blob pickle "
        r"\(UnpicklingError: pickle data was truncated\); the file is truncated or corrupt",
    ):
        create_model("i3d_resnet50", 5, 4, width=8, pretrained=blobs)
    zipped = tmp_path / "w.pkl"
    torch.save(create_model("tsn_resnet18", 5, 4).state_dict(), zipped)
    zipped.write_bytes(zipped.read_bytes()[:5000])
    for name in ("tsn_resnet18", "i3d_resnet50"):
        with pytest.raises(
            CheckpointError,
            match=r"w.pkl: truncated or corrupt torch.save zip archive \(.*\); download or save",
        ):
            create_model(name, 5, 4, pretrained=zipped)
    with pytest.raises(FileNotFoundError, match="missing.pkl' does not exist"):
        create_model("i3d_resnet50", 5, 4, width=8, pretrained=tmp_path / "missing.pkl")
