"""The default ``strict="classifier"`` load refuses a file that does not fit outside the classifier, or
that fills (almost) nothing of the model, instead of returning a model with random weights."""

import logging

import pytest
import torch
import torchvision
from vai_models import create_model, load_backbone_imagenet, load_pretrained
from vai_models.weights import CheckpointError, CheckpointMismatchError


@pytest.fixture(scope="module")
def resnet50_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "resnet50-11ad3fa6.pth"
    torch.save(torchvision.models.resnet50().state_dict(), path)
    return path


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "resnet18-f37072fd.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    return path


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_error_is_a_value_error_and_a_checkpoint_error():
    assert issubclass(CheckpointMismatchError, ValueError) and issubclass(
        CheckpointMismatchError, CheckpointError
    )


def test_resnet18_weights_into_tsm_resnet50_are_refused(resnet18_file):
    with pytest.raises(CheckpointMismatchError) as exc:
        create_model("tsm_resnet50", num_classes=5, num_frames=2, pretrained=resnet18_file)
    msg = _one_line(exc)
    assert "23 tensor(s) outside the classifier" in msg and "tsm_resnet50" in msg
    assert "backbone.layer1.0.conv1.weight (64, 64, 3, 3)->(64, 64, 1, 1)" in msg
    assert "strict=False" in msg
    # a partial load on purpose stays possible, and says what it skipped
    m = create_model("tsm_resnet50", num_classes=5, num_frames=2, pretrained=resnet18_file, strict=False)
    assert len(m.pretrained_summary.mismatched) == 23


def test_trn_checkpoint_for_other_num_frames_is_refused(tmp_path):
    src = create_model("trn_resnet18", num_classes=5, num_frames=8)
    torch.save(src.state_dict(), tmp_path / "trn8.pth")
    with pytest.raises(CheckpointMismatchError) as exc:
        create_model("trn_resnet18", num_classes=5, num_frames=4, pretrained=tmp_path / "trn8.pth")
    msg = _one_line(exc)
    assert "1 tensor(s) outside the classifier" in msg
    assert "relation.fusion.1.weight (512, 2048)->(512, 1024)" in msg and "num_frames" in msg


def test_mtrn_checkpoint_for_other_num_frames_is_refused(tmp_path):
    src = create_model("mtrn_resnet18", num_classes=5, num_frames=4)
    torch.save(src.state_dict(), tmp_path / "mtrn4.pth")
    with pytest.raises(CheckpointMismatchError, match=r"relation\.fusion_scales\.0\.1\.weight"):
        create_model("mtrn_resnet18", num_classes=5, num_frames=3, pretrained=tmp_path / "mtrn4.pth")


def test_resnet50_into_slowfast_matches_nothing_and_is_refused(resnet50_file):
    with pytest.raises(CheckpointMismatchError) as exc:
        create_model("slowfast_resnet50", num_classes=5, num_frames=8, pretrained=resnet50_file)
    msg = _one_line(exc)
    assert "fills only 0% of slowfast_resnet50" in msg and "0 tensors matched" in msg
    assert "conv1.weight" in msg  # an unused key of the file, as a hint


def test_resnet50_into_x3d_is_refused_despite_coincident_shapes(resnet50_file):
    """Some ResNet-50 tensors share name and shape with X3D-M's; copying those would be meaningless."""
    with pytest.raises(
        CheckpointMismatchError, match=r"outside the classifier have another shape than in x3d_m"
    ):
        create_model("x3d_m", num_classes=5, num_frames=4, pretrained=resnet50_file)


def test_refused_load_leaves_the_model_untouched(resnet18_file):
    m = create_model("tsm_resnet50", num_classes=5, num_frames=2)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    with pytest.raises(CheckpointMismatchError):
        load_pretrained(m, resnet18_file)
    with pytest.raises(CheckpointMismatchError):
        load_backbone_imagenet(m, resnet18_file)
    assert all(torch.equal(v, before[k]) for k, v in m.state_dict().items())


def test_other_class_count_is_still_a_fine_tuning_load(tmp_path, caplog):
    src = create_model("mtrn_resnet18", num_classes=5, num_frames=3)
    torch.save(src.state_dict(), tmp_path / "mtrn.pth")
    with caplog.at_level(logging.WARNING, logger="vai_models.weights"):
        m = create_model("mtrn_resnet18", num_classes=9, num_frames=3, pretrained=tmp_path / "mtrn.pth")
    s = m.pretrained_summary
    assert {k.rsplit(".", 1)[0] for k, _, _ in s.mismatched} == {
        f"relation.classifiers.{i}" for i in range(2)
    }
    assert torch.equal(m.relation.fusion_scales[1][1].weight, src.relation.fusion_scales[1][1].weight)
    with pytest.raises(CheckpointError, match="strict load failed"):
        load_pretrained(m, tmp_path / "mtrn.pth", strict=True)


def test_rgb_checkpoint_into_flow_model_adapts_the_stem(tmp_path):
    src = create_model("tsn_resnet18", num_classes=5, num_frames=2)
    torch.save(src.state_dict(), tmp_path / "tsn_rgb.pth")
    m = create_model(
        "tsn_resnet18", num_classes=5, num_frames=2, in_channels=10, pretrained=tmp_path / "tsn_rgb.pth"
    )
    assert m.pretrained_summary.ok, str(m.pretrained_summary)
    expected = src.backbone.conv1.weight.mean(dim=1, keepdim=True).expand(-1, 10, -1, -1)
    torch.testing.assert_close(m.backbone.conv1.weight, expected)


def test_imagenet_inflated_into_grey_i3d_adapts_the_stem(tmp_path):
    # a 2D ResNet-50 state_dict (torchvision names) at I3D width 8: the I3D's own kernels summed over time
    i3d = create_model("i3d_resnet50", num_classes=4, num_frames=4, width=8)
    r50 = {k: (v.sum(2) if v.dim() == 5 else v) for k, v in i3d.state_dict().items()}
    torch.save(r50, tmp_path / "r50.pth")
    m = create_model(
        "i3d_resnet50", num_classes=4, num_frames=4, in_channels=1, width=8, pretrained=tmp_path / "r50.pth"
    )
    assert m.pretrained_summary.layout == "torchvision-imagenet, inflated"
    kt = m.conv1.weight.shape[2]
    expected = r50["conv1.weight"].mean(dim=1, keepdim=True).unsqueeze(2).repeat(1, 1, kt, 1, 1) / kt
    torch.testing.assert_close(m.conv1.weight, expected)


def test_bad_strict_value_is_one_line():
    with pytest.raises(ValueError, match="strict must be True.*'classifier'.*False.*got 'yes'"):
        create_model("tsn_resnet18", num_classes=2, num_frames=2, strict="yes")
