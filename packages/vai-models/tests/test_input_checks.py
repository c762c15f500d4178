"""Early one-line input checks (vai_models.checks): layout, channel count, dtype and TDN's frame count."""

import pytest
import torch
from vai_models import create_model

TWO_D = ["tsn_resnet18", "tsm_resnet18", "trn_resnet18", "mtrn_resnet18", "mvf_resnet18"]


@pytest.mark.parametrize("name", TWO_D)
def test_2d_models_name_the_layout_they_got(name):
    model = create_model(name, 2, 4).eval()
    with pytest.raises(
        ValueError,
        match=rf"^{name} expects input of shape \(N, 3, T, H, W\), got "
        r"\(1, 4, 3, 32, 32\); it looks like \(N, T, C, H, W\): use x.transpose\(1, 2\)$",
    ):
        model(torch.zeros(1, 4, 3, 32, 32))
    with pytest.raises(
        ValueError, match=r"got \(1, 4, 32, 32, 3\); .*\(N, T, H, W, C\): use x.permute\(0, 4, 1, 2, 3\)"
    ):
        model(torch.zeros(1, 4, 32, 32, 3))


def test_tdn_and_image_models_check_channels_too():
    tdn = create_model("tdn_resnet18", 2, 1).eval()
    with pytest.raises(ValueError, match=r"tdn_resnet18 expects input of shape \(N, 3, T, H, W\).*transpose"):
        tdn(torch.zeros(1, 5, 3, 32, 32))
    img = create_model("resnet18", 2, 1).eval()
    with pytest.raises(
        ValueError,
        match=r"resnet18 expects input of shape \(N, 3, H, W\) or .*got \(2, 32, 32, 3\); "
        r"it looks like \(N, H, W, C\) images: use x.permute\(0, 3, 1, 2\)$",
    ):
        img(torch.zeros(2, 32, 32, 3))
    grey = create_model("tsn_resnet18", 2, 2, in_channels=1).eval()
    with pytest.raises(ValueError, match=r"\(N, 1, T, H, W\), got \(1, 3, 2, 32, 32\)"):
        grey(torch.zeros(1, 3, 2, 32, 32))


def test_tdn_wrong_frame_count_explains_segments():
    model = create_model("tdn_resnet18", 2, 4).eval()
    with pytest.raises(
        ValueError,
        match=r"built for 20 input frames but got T=4; num_frames=4 counts segments "
        r"of 5 frames each, so T must be 5\*num_frames: sample 20 frames$",
    ):
        model(torch.zeros(1, 3, 4, 32, 32))
    with pytest.raises(
        ValueError, match=r"T=15; .*5\*num_frames: create it with num_frames=3 or sample 20 frames"
    ):
        model(torch.zeros(1, 3, 15, 32, 32))


@pytest.mark.parametrize("name", ["tsm_resnet18", "x3d_xs"])
def test_autocast_and_converted_models_keep_working(name):
    model = create_model(name, 2, 4).eval()
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        ref = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # float16/bfloat16/float32 under autocast
            assert model(x.bfloat16()).shape == (1, 2) and model(x).shape == (1, 2)
            with pytest.raises(TypeError, match="got torch.uint8: normalise it first"):
                model(x.to(torch.uint8))  # integers never
        torch.testing.assert_close(model.double()(x.double()).float(), ref, rtol=1e-4, atol=1e-5)
        with pytest.raises(
            TypeError,
            match=r"model's dtype \(torch.float64\), got torch.float32: convert it with "
            r"x.to\(torch.float64\)",
        ):
            model(x)


@pytest.mark.parametrize("name", ["tsm_resnet18", "x3d_xs"])
def test_autocast_refuses_float64_unless_the_model_is_float64(name):
    """docs/models.md: autocast casts float16/bfloat16/float32 clips, not float64 (torch would fail inside
    with "expected scalar type Double but found BFloat16")."""
    model = create_model(name, 2, 4).eval()
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert model(x.half()).shape == (1, 2)
        with pytest.raises(
            TypeError,
            match=rf"^{name} under torch.autocast expects a float16, bfloat16 or float32 clip \(or one of "
            r"the model's dtype, torch.float32\), got torch.float64: convert it with x.float\(\)$",
        ):
            model(x.double())
        assert model.double()(x.double()).dtype == torch.float64  # a float64 model takes its own dtype


def test_s3d_names_its_minimum_clip_size():
    """docs/models-3d.md: s3d pools T 3 times and H, W 5 times, so it needs T >= 5 and H, W >= 17."""
    model = create_model("s3d", 2, 5).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 5, 17, 17)).shape == (1, 2)
        for shape in ((1, 3, 4, 64, 64), (1, 3, 8, 16, 32), (1, 3, 8, 32, 16)):
            with pytest.raises(
                ValueError,
                match=r"^s3d needs clips of at least 5 frames and 17x17 pixels .*got T=\d+, H=\d+, W=\d+; "
                "sample more frames or use a larger crop$",
            ):
                model(torch.zeros(shape))
