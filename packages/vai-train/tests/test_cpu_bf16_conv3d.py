"""CPU bfloat16 autocast and Conv3d: where a machine's oneDNN returns wrong weight gradients for inputs with
fewer frames than the temporal kernel, training with --amp runs those convs in float32."""

from __future__ import annotations

import copy
import logging
import pickle

import pytest
import torch
from torch import nn
from vai_train import run_train
from vai_train.engine import cpu_bf16_conv3d as G
from vai_train_test_configs import CONV_EXP, exp_variant


def _bf16():
    return torch.autocast("cpu", dtype=torch.bfloat16)


def _weight_grad(conv: nn.Module, x: torch.Tensor, amp: bool) -> torch.Tensor:
    conv.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        out = conv(x)
    out.float().square().sum().backward()
    return conv.weight.grad.clone()


def test_only_convs_with_a_temporal_kernel_are_guarded_once() -> None:
    model = nn.Sequential(
        nn.Conv3d(3, 8, 3), nn.Conv3d(8, 8, (1, 3, 3)), nn.Conv2d(8, 8, 3), nn.Conv3d(8, 8, (5, 1, 1))
    )
    keys = list(model.state_dict())
    assert G.guard_conv3d(model) == ["0", "3"]
    wrapper = model[0].forward
    assert G.guard_conv3d(model) == ["0", "3"] and model[0].forward is wrapper  # not wrapped twice
    assert "forward" not in model[1].__dict__ and "forward" not in model[2].__dict__
    assert list(model.state_dict()) == keys
    twin = copy.deepcopy(model)  # an EMA copy: its wrapper runs the copy's weights
    assert twin[0].forward.conv is twin[0]
    assert pickle.loads(pickle.dumps(model))[0].forward.conv is not model[0]


def test_short_inputs_run_in_float32_others_as_before() -> None:
    torch.manual_seed(0)
    conv = nn.Conv3d(4, 8, 3, padding=1)
    plain = copy.deepcopy(conv)
    G.guard_conv3d(conv)
    short, long = torch.randn(2, 4, 2, 6, 6), torch.randn(2, 4, 3, 6, 6)
    with _bf16():
        out_short, out_long = conv(short), conv(long)
        plain_long = plain(long)
    assert out_short.dtype == torch.float32 and out_long.dtype == torch.bfloat16
    assert torch.equal(out_long, plain_long)
    assert torch.equal(out_short, plain(short))  # the float32 convolution, autocast off
    assert torch.equal(conv(short), plain(short))  # without autocast: unchanged


def test_guarded_weight_gradients_are_float32s_on_short_inputs() -> None:
    torch.manual_seed(0)
    conv = nn.Conv3d(16, 16, 3, padding=1)
    x = torch.randn(2, 16, 2, 8, 8)
    ref = _weight_grad(conv, x, amp=False)
    G.guard_conv3d(conv)
    torch.testing.assert_close(_weight_grad(conv, x, amp=True), ref, rtol=0, atol=0)


def test_the_probe_leaves_the_global_rng_alone() -> None:
    G.conv3d_bf16_weight_grad_error.cache_clear()
    torch.manual_seed(5)
    want = torch.rand(3)
    torch.manual_seed(5)
    G.conv3d_bf16_weight_grad_error()
    assert torch.equal(torch.rand(3), want)


def test_the_probe_finds_what_an_unguarded_conv_gets() -> None:
    """The probe's verdict matches the fault on this machine: where it reports it, an unguarded Conv3d's
    bf16 weight gradient on 2 frames is far off; where it does not, it is within bfloat16 rounding."""
    error = G.conv3d_bf16_weight_grad_error()
    assert error >= 0
    torch.manual_seed(1)
    conv = nn.Conv3d(16, 16, 3, padding=1)
    x = torch.randn(4, 16, 2, 8, 8)
    ref, got = _weight_grad(conv, x, amp=False), _weight_grad(conv, x, amp=True)
    off = float((got - ref).norm() / ref.norm()) if torch.isfinite(got).all() else float("inf")
    assert (off >= G.TOLERANCE) == (error >= G.TOLERANCE), (off, error)


def test_guard_if_needed_only_for_cpu_bf16_training_on_a_faulty_machine(monkeypatch, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="vai_train")
    cpu = torch.device("cpu")

    def must_not_probe():
        raise AssertionError("probed")

    monkeypatch.setattr(G, "conv3d_bf16_weight_grad_error", must_not_probe)
    net = nn.Sequential(nn.Conv3d(3, 8, 3))
    assert G.guard_if_needed(net, False, torch.bfloat16, cpu) == 0
    assert G.guard_if_needed(net, True, torch.float16, cpu) == 0
    assert G.guard_if_needed(net, True, torch.bfloat16, torch.device("cuda")) == 0
    assert G.guard_if_needed(nn.Sequential(nn.Conv3d(3, 8, 1)), True, torch.bfloat16, cpu) == 0
    monkeypatch.setattr(G, "conv3d_bf16_weight_grad_error", lambda: 0.001)
    assert G.guard_if_needed(net, True, torch.bfloat16, cpu) == 0 and "forward" not in net[0].__dict__
    monkeypatch.setattr(G, "conv3d_bf16_weight_grad_error", lambda: 0.8)
    assert G.guard_if_needed(net, True, torch.bfloat16, cpu) == 1
    assert "probe: relative error 0.8 against float32), so 1 Conv3d layers run in float32" in caplog.text


def test_amp_training_on_a_faulty_machine_matches_float32(base_args, tmp_path, monkeypatch, caplog) -> None:
    """The tiny 3x3x3 conv net on 2-frame clips: with the guard, --amp's losses are float32's to bfloat16
    rounding (unguarded on a faulty machine they were 1.14-1.38 against 1.13, and changed run to run)."""
    caplog.set_level(logging.WARNING, logger="vai_train")
    monkeypatch.setattr(G, "conv3d_bf16_weight_grad_error", lambda: 0.8)
    args = exp_variant(tmp_path, base_args, "conv", CONV_EXP)
    plain = run_train(args + ["-e", "2", "-v", "0"])
    amp = run_train(args + ["-e", "2", "-v", "1", "--amp"])
    assert "1 Conv3d layers run in float32" in caplog.text
    for want, got in zip(plain.summary, amp.summary, strict=True):
        assert got["train_loss"] == pytest.approx(want["train_loss"], rel=5e-3), got["epoch"]
