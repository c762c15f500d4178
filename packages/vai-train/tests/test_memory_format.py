"""``--channels-last`` / ``channels_last = True``: 4-D weights channels_last and 5-D channels_last_3d, tensor
by tensor (so a model holding both converts), values, outputs and training unchanged."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn
from vai_train import run_eval, run_train
from vai_train.cli import main
from vai_train.engine.memory_format import to_channels_last
from vai_train_test_configs import CONV_EXP, exp_variant, last_conv_layouts


class Frames2D(nn.Module):
    """Per-frame 2D convs and BatchNorm2d on (N, 3, T, 8, 8) clips (as TSN/TSM), a 4-D buffer, a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1, stride=2)
        self.bn = nn.BatchNorm2d(16)
        self.register_buffer("scale", torch.rand(1, 16, 4, 4) + 0.5)
        self.fc = nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, h, w = x.shape
        y = x.transpose(1, 2).reshape(n * t, c, h, w)
        y = self.bn(self.conv2(self.conv1(y).relu())).relu() * self.scale
        return self.fc(y.mean(dim=(2, 3)).view(n, t, -1).mean(1))


class Clip3D(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 8, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm3d(8)
        self.fc = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.bn(self.conv(x)).relu().mean(dim=(2, 3, 4)))


class Mixed(Clip3D):
    """A 3D conv feeding a per-frame 2D conv, as MVFNet and TDN mix them."""

    def __init__(self) -> None:
        super().__init__()
        self.conv2d = nn.Conv2d(8, 8, kernel_size=1)


def _pair(cls) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    a = cls()
    b = cls()
    b.load_state_dict(a.state_dict())
    return a, b


def test_a_2d_cnn_gets_channels_last_weights_with_their_values() -> None:
    plain, model = _pair(Frames2D)
    params = dict(model.named_parameters())
    done = to_channels_last(model)
    assert (done.four_d, done.five_d, done.mixed) == (3, 0, False)  # conv1, conv2 and the 4-D buffer
    assert done.describe() == "channels_last: 3 4-D weight tensors as channels_last"
    for t in (model.conv1.weight, model.conv2.weight, model.scale):
        assert t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()
    assert model.fc.weight.is_contiguous() and model.conv2.bias.is_contiguous()
    assert all(params[k] is p for k, p in model.named_parameters())  # optimisers keep their parameters
    for k, v in plain.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    assert to_channels_last(model) == type(done)(0, 0)  # converting again changes (and counts) nothing
    # its state dict (what checkpoints hold) loads into a default-format model, which keeps its format
    plain.load_state_dict(model.state_dict())
    assert plain.conv2.weight.is_contiguous() and torch.equal(plain.conv2.weight, model.conv2.weight)


def test_a_3d_cnn_gets_channels_last_3d_weights() -> None:
    model = Clip3D()
    done = to_channels_last(model)
    assert (done.four_d, done.five_d) == (0, 1)
    assert done.describe() == "channels_last: 1 5-D weight tensors as channels_last_3d"
    assert model.conv.weight.is_contiguous(memory_format=torch.channels_last_3d)
    assert not model.conv.weight.is_contiguous()


@pytest.mark.parametrize("cls", [Frames2D, Clip3D])
def test_outputs_gradients_and_optimiser_steps_match_the_default_format(cls) -> None:
    """In float64, where the two layouts' kernels agree to rounding (float32 can flip a ReLU whose input
    rounds to the other side of 0)."""
    plain, model = _pair(cls)
    plain.double()
    model.double()
    to_channels_last(model)
    x = torch.randn(2, 3, 4, 8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    opts = [torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (plain, model)]
    for _ in range(3):
        for m, opt in zip((plain, model), opts, strict=True):
            opt.zero_grad()
            m(x).logsumexp(1).sum().backward()
            opt.step()
        torch.testing.assert_close(model(x), plain(x), rtol=1e-10, atol=1e-12)
        for (k, p), q in zip(plain.named_parameters(), model.parameters(), strict=True):
            torch.testing.assert_close(q, p, rtol=1e-10, atol=1e-12, msg=k)
    conv = model.conv1 if cls is Frames2D else model.conv
    fmt = torch.channels_last if cls is Frames2D else torch.channels_last_3d
    assert conv.weight.is_contiguous(memory_format=fmt)  # steps keep the format, and so does the momentum
    assert opts[1].state[conv.weight]["momentum_buffer"].is_contiguous(memory_format=fmt)


def test_a_model_with_2d_and_3d_convs_is_left_in_the_default_format() -> None:
    model = Mixed()
    done = to_channels_last(model)
    assert done.mixed and (done.four_d, done.five_d) == (0, 0)
    assert "both 4-D and 5-D conv weights" in done.describe()
    assert model.conv.weight.is_contiguous() and model.conv2d.weight.is_contiguous()


def test_a_model_without_conv_weights_is_left_alone_and_says_so() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    done = to_channels_last(model)
    assert (done.four_d, done.five_d, done.mixed) == (0, 0, False)
    assert "no weight changed layout (no conv weights" in done.describe()
    # a 1x1x1 kernel on 3 channels has the same strides in both layouts: nothing changes, nothing counted
    ones = nn.Conv3d(3, 8, kernel_size=1)
    assert to_channels_last(ones) == type(done)(0, 0)


def test_not_a_module_is_one_line() -> None:
    with pytest.raises(TypeError, match="to_channels_last expects an nn.Module, got dict"):
        to_channels_last({"weight": torch.zeros(1, 1, 1, 1)})


def _conv_args(tmp_path, base_args, optimiser: str = "") -> list[str]:
    return exp_variant(tmp_path, base_args, "conv", CONV_EXP + optimiser)


@pytest.mark.slow
def test_training_and_eval_with_the_flag_match_the_default(base_args, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="vai_train")
    args = _conv_args(tmp_path, base_args)
    plain = run_train(args + ["-e", "1", "-v", "0"])
    assert "channels_last:" not in caplog.text
    fast = run_train(args + ["-e", "1", "-v", "1", "--channels-last"])
    assert "channels_last: 1 5-D weight tensors as channels_last_3d" in caplog.text
    for key in ("train_loss", "val_loss", "val_acc"):
        assert fast.summary[0][key] == pytest.approx(plain.summary[0][key], rel=1e-4, abs=1e-6), key
    caplog.clear()
    both = [run_eval(args + ["-v", "1", "-l", "-1", *flag]) for flag in ([], ["--channels-last"])]
    assert caplog.text.count("channels_last: ") == 1
    assert both[0].metrics["val_loss"] == pytest.approx(both[1].metrics["val_loss"], rel=1e-5)


def test_the_model_runs_channels_last_activations(base_args, tmp_path) -> None:
    """Not only the weights: the activations after the first conv are channels_last_3d with the flag."""
    args = _conv_args(tmp_path, base_args)
    run_train(args + ["-e", "1", "-v", "0"])
    plain = last_conv_layouts()
    run_train(args + ["-e", "1", "-v", "1", "--channels-last"])
    flagged = last_conv_layouts()
    assert plain and flagged and not any(plain) and all(flagged)


@pytest.mark.slow
def test_a_resume_that_switches_the_flag_keeps_a_fused_optimiser_exact(base_args, tmp_path) -> None:
    """A loaded optimiser state keeps the checkpoint's strides; the fused Adam indexes it as its parameter
    and updated the wrong elements after a resume that switched --channels-last (train_loss 0.838 against
    0.815 in review). The states now take their parameters' layout."""
    adam = "\n\ndef optimiser(params):\n    return torch.optim.Adam(params, lr=0.01, fused=True)\n"
    args = _conv_args(tmp_path, base_args, adam)
    whole = run_train(args + ["-e", "3", "-v", "0", "--channels-last"])
    run_train(args + ["-e", "1", "-v", "1"])
    resumed = run_train(args + ["-e", "3", "-v", "1", "-l", "-1", "--channels-last"])
    for want, got in zip(whole.summary, resumed.summary, strict=True):
        assert got["train_loss"] == pytest.approx(want["train_loss"], rel=1e-4), got["epoch"]


def test_match_state_layouts_moves_only_mismatched_states() -> None:
    from vai_train.engine.restore import match_state_layouts

    model = Frames2D()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(2, 3, 4, 8, 8)).sum().backward()
    opt.step()
    assert match_state_layouts(opt) == 0  # same layout: nothing to do
    state = opt.state_dict()
    to_channels_last(model)
    fresh = torch.optim.Adam(model.parameters(), lr=0.01)
    fresh.load_state_dict(state)
    # conv1/conv2 weights: exp_avg and exp_avg_sq each (the bias/bn/fc states match already)
    assert match_state_layouts(fresh) == 4
    for p in (model.conv1.weight, model.conv2.weight):
        assert fresh.state[p]["exp_avg"].stride() == p.stride()


def test_the_config_setting_and_the_flag_that_overrides_it(base_args, tmp_path, caplog) -> None:
    """channels_last = True in the exp config converts the model; --no-channels-last overrides it."""
    caplog.set_level(logging.INFO, logger="vai_train")
    args = exp_variant(tmp_path, base_args, "conv", CONV_EXP + "\nchannels_last = True\n")
    run_train(args + ["-e", "1", "-v", "0"])
    assert caplog.text.count("channels_last: 1 5-D weight tensors") == 1 and all(last_conv_layouts())
    run_train(args + ["-e", "1", "-v", "1", "--no-channels-last"])
    assert caplog.text.count("channels_last: ") == 1 and not any(last_conv_layouts())


def test_a_setting_that_is_not_a_bool_is_one_line(tmp_path, base_args, capsys) -> None:
    args = exp_variant(tmp_path, base_args, "bad", "include({base!r})\nchannels_last = 1\n")
    assert main(["train", *args, "-e", "1"]) == 1
    assert "channels_last = 1; use True or False" in capsys.readouterr().err


MIXED_EXP = """include({base!r})
from torch import nn


class _Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 4, kernel_size=1)
        self.frame_conv = nn.Conv2d(4, 4, kernel_size=1)  # never called: only its rank matters here
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(self.conv(x).mean(dim=(2, 3, 4)))


def load_model():
    return _Mixed()
"""


def test_a_mixed_model_trains_in_the_default_format_with_a_warning(tmp_path, base_args, caplog) -> None:
    args = exp_variant(tmp_path, base_args, "mixed", MIXED_EXP)
    run_train(args + ["-e", "1", "--channels-last"])
    warned = [r for r in caplog.records if "both 4-D and 5-D conv weights" in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
