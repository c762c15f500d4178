"""Architecture-specific behaviour of the 2D models (TRN/MTRN, MVF, TDN, partial BN, image, MLP)."""

import pytest
import torch
from torch import nn
from vai_models import create_model, get_optim_policies
from vai_models.mvf import MVFConv2d
from vai_models.tdn import TDMConv2d
from vai_models.trn import MultiScaleRelationHead, RelationHead


def test_trn_head_layout_and_order_sensitivity():
    m = create_model("trn_resnet18", num_classes=4, num_frames=3, dropout=0).eval()
    assert isinstance(m.relation, RelationHead)
    assert m.img_fc.out_features == 256 and m.relation.fusion[1].in_features == 3 * 256
    assert m.relation.fusion[1].out_features == 512
    x = torch.randn(1, 3, 3, 32, 32)
    with torch.no_grad():
        # unlike TSN, a relation over ordered frames changes when the frames are reversed
        assert not torch.allclose(m(x), m(x.flip(2)))
    assert m.default_cfg["architecture"] == "trn_resnet18" and m.drop_rate == 0


def test_mtrn_scales_and_subsampling():
    head = MultiScaleRelationHead(img_feature_dim=5, num_frames=5, num_classes=2)
    assert head.scales == [5, 4, 3, 2]
    assert head.subsample == [1, 3, 3, 3]
    assert head.fusion_scales[1][1].in_features == 4 * 5 and head.fusion_scales[0][1].out_features == 256
    x = torch.randn(2, 5, 5)
    head.eval()
    torch.testing.assert_close(head(x), head(x))
    head.train()
    torch.manual_seed(0)
    a = head(x)
    torch.manual_seed(0)
    torch.testing.assert_close(head(x), a)  # train-mode sampling is reproducible under a seed


def test_mtrn_matches_explicit_sum_in_eval():
    head = MultiScaleRelationHead(img_feature_dim=3, num_frames=4, num_classes=2).eval()
    x = torch.randn(1, 4, 3)
    expected = 0
    for i, (fusion, cls) in enumerate(zip(head.fusion_scales, head.classifiers, strict=True)):
        for rel in head._choose(i).tolist():
            expected = expected + cls(fusion(torch.cat([x[:, f] for f in rel], dim=1)))
    torch.testing.assert_close(head(x), expected)


def test_mvf_placement_and_default():
    m = create_model("mvf_resnet50", num_classes=4, num_frames=4)
    blocks = [type(b.conv1) for layer in (m.backbone.layer1, m.backbone.layer2) for b in layer]
    assert all(t is nn.Conv2d for t in blocks)
    fused = [b.conv1 for layer in (m.backbone.layer3, m.backbone.layer4) for b in layer]
    assert all(isinstance(c, MVFConv2d) for c in fused) and len(fused) == 6 + 3
    assert fused[0].mvf_channels == fused[0].in_channels // 2
    assert m.default_cfg["mvf_alpha"] == 0.5 and m.default_cfg["mvf_freq"] == (0, 0, 1, 1)
    assert m.dropout.p == pytest.approx(0.8)


def test_mvf_fusion_mixes_time_only_in_fused_channels():
    conv = MVFConv2d.from_conv(nn.Conv2d(8, 4, 1), num_segments=3, alpha=0.5).eval()
    x = torch.randn(6, 8, 5, 5)
    y = conv.fuse(x)
    torch.testing.assert_close(y[:, 4:], x[:, 4:])  # untouched half
    x2 = x.clone()
    x2[1] += 1.0  # perturb frame 1 of clip 0
    y2 = conv.fuse(x2)
    assert not torch.allclose(y2[0, :4], y[0, :4])  # neighbour frame 0 sees it through the T conv
    torch.testing.assert_close(y2[3:], y[3:])  # the other clip does not


def test_tdn_input_and_modules():
    m = create_model("tdn_resnet18", num_classes=4, num_frames=2).eval()
    assert m.default_cfg["num_frames"] == 10 and m.default_cfg["num_segments"] == 2
    with pytest.raises(ValueError, match="10 input frames"):
        m(torch.randn(1, 3, 2, 32, 32))
    tdms = [b.conv2 for layer in (m.backbone.layer2, m.backbone.layer3, m.backbone.layer4) for b in layer]
    assert all(isinstance(c, TDMConv2d) for c in tdms)
    assert all(type(b.conv2) is nn.Conv2d for b in m.backbone.layer1)
    x = torch.randn(1, 3, 10, 32, 32)
    with torch.no_grad():
        base = m(x)
        # temporal differences matter: changing only the first frame of a segment changes the output
        x2 = x.clone()
        x2[:, :, 0] += 1
        assert not torch.allclose(m(x2), base)
    assert m.backbone.alpha == 0.75  # 2 segments; 8 segments use 0.5 / 0.5
    assert create_model("tdn_resnet18", 2, 8).backbone.alpha == 0.5


def test_tdn_shift_initialised_as_tsm_shift():
    from vai_models.tdn import LongTermTDM
    from vai_models.temporal_shift import temporal_shift

    tdm = LongTermTDM(16, num_segments=4)
    x = torch.randn(8, 16, 3, 3)
    v = x.view(2, 4, 16, 3, 3).transpose(1, 2)
    shifted = tdm.shift(v).transpose(1, 2).reshape(8, 16, 3, 3)
    torch.testing.assert_close(shifted, temporal_shift(x, 4, 8))


@pytest.mark.parametrize("name", ["tsm_resnet18", "mvf_resnet18", "tdn_resnet18"])
def test_partial_bn_freezes_all_but_first_bn2d(name):
    m = create_model(name, num_classes=3, num_frames=2, partial_bn=True).train()
    bns = [mod for mod in m.backbone.modules() if isinstance(mod, nn.BatchNorm2d)]
    assert bns[0].training and bns[0].weight.requires_grad
    assert all(not b.training and not b.weight.requires_grad for b in bns[1:])
    before = bns[1].running_mean.clone()
    t = m.default_cfg["num_frames"]
    m(torch.randn(2, 3, t, 32, 32)).sum().backward()
    torch.testing.assert_close(bns[1].running_mean, before)  # frozen statistics
    assert bns[1].weight.grad is None
    names = {g["name"] for g in get_optim_policies(m)}
    norm = [p for g in get_optim_policies(m) if g["name"] == "norm" for p in g["params"]]
    other_norms = [p for mod in m.modules() if isinstance(mod, nn.BatchNorm3d) for p in mod.parameters()]
    assert {id(p) for p in norm} == {id(p) for p in [bns[0].weight, bns[0].bias, *other_norms]}
    assert "first_conv_weight" in names


@pytest.mark.parametrize("name", ["tsn_resnet18", "mvf_resnet18", "trn_resnet18"])
def test_partial_bn_freezes_parameters_at_construction(name):
    """DDP and optimisers are built before the first train() call, so the frozen set must be final."""
    m = create_model(name, num_classes=3, num_frames=2, partial_bn=True)
    frozen = [p for mod in m.backbone.modules() if isinstance(mod, nn.BatchNorm2d) for p in mod.parameters()][
        2:
    ]
    assert frozen and not any(p.requires_grad for p in frozen)
    trainable = {id(p) for g in get_optim_policies(m) for p in g["params"]}
    assert not trainable & {id(p) for p in frozen}
    m.partial_bn = False  # switching it off gives every parameter back to training
    assert all(p.requires_grad for p in m.parameters())
    assert all(mod.training for mod in m.modules())
    m.partial_bn = True
    assert not any(p.requires_grad for p in frozen)
    m.eval().train()
    assert not m.backbone.layer1[0].bn1.training and m.backbone.bn1.training


def test_mvf_partial_bn_leaves_fusion_batchnorm3d_training():
    """Upstream MVFNet's partial BN freezes nn.BatchNorm2d only; the fusion BN3d layers keep learning."""
    m = create_model("mvf_resnet18", num_classes=3, num_frames=2, partial_bn=True).train()
    fusion_bns = [mod.bn for mod in m.modules() if isinstance(mod, MVFConv2d)]
    assert len(fusion_bns) == 4 and all(isinstance(b, nn.BatchNorm3d) for b in fusion_bns)
    assert all(b.training and b.weight.requires_grad and b.bias.requires_grad for b in fusion_bns)
    before = fusion_bns[0].running_mean.clone()
    m(torch.randn(2, 3, 2, 32, 32)).sum().backward()
    assert not torch.equal(fusion_bns[0].running_mean, before)  # statistics still update
    assert fusion_bns[0].weight.grad is not None


def test_optim_policies_cover_every_trainable_parameter_once():
    m = create_model("tsm_resnet18", num_classes=3, num_frames=2)
    groups = get_optim_policies(m, lr=0.01, weight_decay=5e-4)
    by_name = {g["name"]: g for g in groups}
    # docs/models.md: groups with no parameters are left out (the ResNet stem conv has no bias)
    assert m.backbone.conv1.bias is None
    assert [g["name"] for g in groups] == ["first_conv_weight", "normal_weight", "normal_bias", "norm"]
    assert by_name["first_conv_weight"]["params"] == [m.backbone.conv1.weight]
    assert by_name["normal_bias"]["lr"] == pytest.approx(0.02) and by_name["normal_bias"]["weight_decay"] == 0
    assert by_name["norm"]["weight_decay"] == 0 and by_name["normal_weight"]["weight_decay"] == 5e-4
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(m.parameters()))
    torch.optim.SGD(groups, lr=0.01, momentum=0.9)  # accepted as is


def test_image_models_accept_4d_and_5d():
    m = create_model("resnet18", num_classes=5, num_frames=1).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(m(x), m(x.unsqueeze(2)))
    assert m.default_cfg["num_frames"] == 1
    with pytest.raises(ValueError, match="1 input frames"):
        m(torch.randn(1, 3, 2, 32, 32))


def test_image_model_loads_torchvision_with_classifier(tmp_path):
    from torchvision.models import resnet18
    from vai_models import load_pretrained

    tv = resnet18().eval()
    torch.save(tv.state_dict(), tmp_path / "r18.pth")
    m = create_model("resnet18", num_classes=1000, num_frames=1, pretrained=tmp_path / "r18.pth").eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(m(x), tv(x))
    assert load_pretrained(m, tmp_path / "r18.pth").ok


def test_feature_mlp_layout_and_errors():
    m = create_model("feature_mlp", num_classes=4, num_frames=1, feature_dim=16, num_layers=2, num_units=8)
    kinds = [type(layer) for layer in m.layers]
    assert kinds == [nn.Linear, nn.ReLU, nn.BatchNorm1d] * 2
    assert m.num_features == 8 and m(torch.randn(3, 16)).shape == (3, 4)
    with pytest.raises(ValueError, match="feature_dim"):
        m(torch.randn(3, 15))
    zero = create_model("feature_mlp", num_classes=4, num_frames=1, feature_dim=16, num_layers=0)
    assert zero.num_features == 16 and zero(torch.randn(2, 16)).shape == (2, 4)


def _old_mtrn_choice(num_frames, scale, k, training):
    """The materialised implementation MTRN had: every combination listed, then indexed."""
    import itertools

    relations = torch.tensor(list(itertools.combinations(range(num_frames), scale)), dtype=torch.long)
    n = relations.shape[0]
    if k >= n:
        return relations
    idx = torch.randperm(n)[:k] if training else torch.linspace(0, n - 1, k).round().long()
    return relations[idx]


@pytest.mark.parametrize("num_frames", [2, 3, 5, 8, 11])
def test_mtrn_draws_the_same_relations_as_the_materialised_lists(num_frames):
    head = MultiScaleRelationHead(img_feature_dim=2, num_frames=num_frames, num_classes=2)
    for training in (False, True):
        head.train(training)
        for i, s in enumerate(head.scales):
            torch.manual_seed(i)
            new = head._choose(i)
            torch.manual_seed(i)
            assert torch.equal(new, _old_mtrn_choice(num_frames, s, head.subsample[i], training)), (
                training,
                s,
            )


def test_mtrn_builds_fast_for_long_clips_and_draws_valid_relations():
    import math
    import time

    start = time.perf_counter()
    head = MultiScaleRelationHead(img_feature_dim=2, num_frames=32, num_classes=2, bottleneck=4)
    assert time.perf_counter() - start < 2.0  # listing C(32, 16) = 601 080 390 tuples is not an option
    assert head.num_relations[16] == math.comb(32, 16) and head.subsample[16] == 3
    for training in (False, True):
        head.train(training)
        for i, s in enumerate(head.scales):
            rel = head._choose(i)
            assert rel.shape == (head.subsample[i], s)
            assert ((rel >= 0) & (rel < 32)).all() and (rel[:, 1:] > rel[:, :-1]).all()  # ordered frames
            assert len({tuple(r) for r in rel.tolist()}) == rel.shape[0]  # distinct relations
    head.eval()
    assert head._choose(16)[0].tolist() == list(range(16))  # rank 0 and the last rank, as before
    assert head._choose(16)[-1].tolist() == list(range(16, 32))
    out = head(torch.randn(2, 32, 2))
    assert out.shape == (2, 2) and torch.isfinite(out).all()


def test_unrank_combination_matches_itertools_order():
    import itertools

    from vai_models.trn import unrank_combination

    for n, k in ((6, 3), (7, 2), (5, 5), (4, 1)):
        combos = list(itertools.combinations(range(n), k))
        assert [tuple(unrank_combination(r, n, k)) for r in range(len(combos))] == combos


@pytest.mark.parametrize("name", ["tsn_resnet18", "trn_resnet18", "mtrn_resnet18", "feature_mlp"])
def test_reset_classifier_keeps_dtype(name):
    m = create_model(name, num_classes=4, num_frames=3).to(torch.bfloat16).eval()
    m.reset_classifier(3)
    head = m.get_classifier()
    assert all(p.dtype == torch.bfloat16 for p in head.parameters())
    x = torch.randn(2, 2048) if name == "feature_mlp" else torch.randn(1, 3, 3, 32, 32)
    with torch.no_grad():
        out = m(x.to(torch.bfloat16))
    assert out.shape[-1] == 3 and out.dtype == torch.bfloat16


@pytest.mark.parametrize("name", ["tsn_resnet18", "mtrn_resnet18", "feature_mlp", "x3d_xs"])
def test_reset_classifier_after_zero_keeps_dtype_and_refuses_negatives(name):
    m = create_model(name, num_classes=4, num_frames=3).to(torch.bfloat16).eval()
    m.reset_classifier(0)
    m.reset_classifier(3)  # the Identity has no dtype: the new head takes the model's
    heads = m.get_classifier()
    assert all(p.dtype == torch.bfloat16 for p in heads.parameters()) and list(heads.parameters())
    with pytest.raises(ValueError, match=r"^num_classes must be an int >= 0, got -1$"):
        m.reset_classifier(-1)
