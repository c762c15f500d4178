"""2D → 3D mean inflation: an ImageNet torchvision ResNet-50 inside I3D sees a static video as one image."""

import pytest
import torch
import torchvision
import vai_models
from vai_models.video3d import inflate_resnet2d_state_dict, inflate_weight, load_inflated_resnet2d

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def resnet2d():
    torch.manual_seed(0)
    net = torchvision.models.resnet50(weights=None)
    gen = torch.Generator().manual_seed(1)
    for m in net.modules():  # non-trivial BN statistics so the comparison exercises them
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=gen) * 0.2 - 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
    return net.eval()


def _trunk_2d(net, image):
    x = net.maxpool(net.relu(net.bn1(net.conv1(image))))
    return net.layer4(net.layer3(net.layer2(net.layer1(x))))


def test_inflate_weight_is_a_temporal_mean():
    w = torch.randn(4, 3, 3, 3)
    w3 = inflate_weight(w, 5)
    assert w3.shape == (4, 3, 5, 3, 3)
    assert torch.allclose(w3.sum(dim=2), w)


def test_static_video_matches_2d_network(resnet2d):
    model = vai_models.create_model("i3d_resnet50", 1000, 38)
    report = load_inflated_resnet2d(model, resnet2d.state_dict())
    assert not report.missing and not report.unexpected and not report.mismatched
    model.eval()
    image = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    video = image.unsqueeze(2).repeat(1, 1, 38, 1, 1)
    with torch.no_grad():
        feat_3d = model.forward_feature_map(video)  # (1, 2048, 19, 1, 1) after the temporal pool
        feat_2d = _trunk_2d(resnet2d, image)
        logits_2d = resnet2d.fc(feat_2d.mean(dim=(2, 3)))
    # the temporal receptive field of res5 spans +-17 input frames: only the centre is free of the
    # zero padding at the clip borders, and there the 3D net must reproduce the 2D one
    centre = feat_3d[:, :, 9]
    scale = feat_2d.abs().max()
    assert torch.allclose(centre, feat_2d, atol=1e-5 * scale, rtol=1e-4)
    assert not torch.allclose(feat_3d[:, :, 0], feat_2d, atol=1e-2 * scale)  # the border does differ
    with torch.no_grad():
        logits_centre = model.fc(centre.mean(dim=(2, 3)))
    assert torch.allclose(logits_centre, logits_2d, atol=1e-4 * logits_2d.abs().max())


def test_classifier_of_other_size_is_reported_and_skipped(resnet2d, tmp_path):
    path = tmp_path / "resnet50.pth"
    torch.save(resnet2d.state_dict(), path)
    model = vai_models.create_model("i3d_nonlocal_resnet50", 10, 8)
    before = model.fc.weight.clone()
    report = load_inflated_resnet2d(model, path)
    assert any(k.startswith("fc.weight") for k in report.mismatched)
    assert any(".nl." in k for k in report.missing)  # non-local blocks have no 2D counterpart
    assert torch.equal(model.fc.weight, before)
    assert torch.allclose(model.conv1.weight.sum(dim=2), resnet2d.conv1.weight)
    assert "shape-mismatched" in report.summary()
    with pytest.raises(ValueError, match="does not fit the model"):
        load_inflated_resnet2d(model, path, strict=True)


def test_mismatched_classifier_is_not_also_missing(resnet2d, tmp_path):
    # a key the file has in another shape is listed once, as shape-mismatched; the counts agree with
    # create_model(..., converter="inflate")'s LoadSummary (missing 60 = the five non-local blocks)
    path = tmp_path / "resnet50.pth"
    torch.save(resnet2d.state_dict(), path)
    model = vai_models.create_model("i3d_nonlocal_resnet50", 10, 8)
    report = load_inflated_resnet2d(model, path)
    assert sorted(k.split(" ")[0] for k in report.mismatched) == ["fc.bias", "fc.weight"]
    assert not {"fc.weight", "fc.bias"} & set(report.missing)
    assert len(report.missing) == 60 and all(".nl." in k for k in report.missing)
    assert report.summary().startswith("loaded 318 tensors; missing 60: ")
    assert "shape-mismatched 2: fc.weight (1000, 2048)->(10, 2048)" in report.summary()
    entry = vai_models.create_model(
        "i3d_nonlocal_resnet50", num_classes=10, num_frames=8, pretrained=path, converter="inflate"
    )
    summary = entry.pretrained_summary
    assert summary.missing == report.missing and summary.loaded == len(report.loaded)
    assert [k for k, _, _ in summary.mismatched] == [k.split(" ")[0] for k in report.mismatched]


def test_unmapped_2d_keys_and_missing_file(resnet2d, tmp_path):
    sd = dict(resnet2d.state_dict(), extra_head_weight=torch.zeros(3))
    converted, unmapped = inflate_resnet2d_state_dict(sd, vai_models.create_model("i3d_resnet50", 1000, 8))
    assert unmapped == ["extra_head_weight"]
    assert converted["layer1.0.conv1.weight"].shape == (64, 64, 3, 1, 1)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_inflated_resnet2d(vai_models.create_model("i3d_resnet50", 10, 8), tmp_path / "nope.pth")
