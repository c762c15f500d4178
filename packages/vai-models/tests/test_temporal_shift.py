import pytest
import torch
from vai_models import create_model
from vai_models.temporal_shift import (
    TemporalShiftConv2d,
    _can_shift_inplace,
    temporal_shift,
    temporal_shift_inplace_,
    undo_temporal_shift_,
)


def naive_shift(x: torch.Tensor, t: int, div: int) -> torch.Tensor:
    """Reference: loop over every (clip, frame, channel) and copy from the neighbouring frame."""
    nt, c, h, w = x.shape
    fold = c // div
    out = torch.zeros_like(x)
    for n in range(nt // t):
        for f in range(t):
            for ch in range(c):
                src = f
                if ch < fold:
                    src = f + 1
                elif ch < 2 * fold:
                    src = f - 1
                if 0 <= src < t:
                    out[n * t + f, ch] = x[n * t + src, ch]
    return out


@pytest.mark.parametrize("t,c,div", [(4, 16, 8), (3, 10, 4), (1, 8, 8), (5, 7, 8)])
def test_shift_matches_naive_loop(t, c, div):
    x = torch.randn(2 * t, c, 3, 2)
    torch.testing.assert_close(temporal_shift(x, t, div), naive_shift(x, t, div), rtol=0, atol=0)


@pytest.mark.parametrize("t,c,div", [(4, 16, 8), (3, 10, 4), (1, 8, 8), (5, 7, 8)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_the_shift_torch_compile_traces_matches_the_naive_loop(t, c, div, channels_last):
    """Under torch.compile the shift is a functional expression (concatenations, no writes into an
    uninitialised tensor): Dynamo traces that branch, with the values and gradients of the reference."""
    torch._dynamo.reset()
    x = torch.randn(2 * t, c, 3, 2)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    x.requires_grad_()
    graphs = []

    def keep(gm, example_inputs):  # a backend that records the traced graph and runs it
        graphs.append(gm)
        return gm.forward

    y = torch.compile(temporal_shift, backend=keep, fullgraph=True)(x, t, div)
    targets = {getattr(n.target, "__name__", str(n.target)) for g in graphs for n in g.graph.nodes}
    assert "cat" in targets and "empty_like" not in targets  # the functional branch, no slice writes
    torch.testing.assert_close(y, naive_shift(x.detach().contiguous(), t, div), rtol=0, atol=0)
    (y * torch.arange(y.numel()).view_as(y)).sum().backward()
    x2 = x.detach().clone().requires_grad_()
    (temporal_shift(x2, t, div) * torch.arange(y.numel()).view_as(y)).sum().backward()
    torch.testing.assert_close(x.grad, x2.grad, rtol=0, atol=0)


def test_shift_channels_last_and_grad():
    x = torch.randn(8, 16, 4, 4).to(memory_format=torch.channels_last).requires_grad_()
    y = temporal_shift(x, 4, 8)
    torch.testing.assert_close(y, naive_shift(x.detach().contiguous(), 4, 8))
    y.sum().backward()
    assert x.grad is not None


@pytest.mark.parametrize("t,c,div", [(4, 16, 8), (3, 10, 4), (1, 8, 8), (5, 7, 8)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_inplace_shift_matches_naive_and_undo_restores(t, c, div, channels_last):
    x = torch.randn(2 * t, c, 3, 2)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    original = x.clone()
    saved = temporal_shift_inplace_(x, t, div)
    torch.testing.assert_close(x, naive_shift(original, t, div), rtol=0, atol=0)
    undo_temporal_shift_(x, t, div, saved)
    assert torch.equal(x, original)


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_tsm_inference_path_equals_autograd_path_and_keeps_input(mode):
    torch.manual_seed(0)
    model = create_model("tsm_resnet18", num_classes=5, num_frames=4).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.enable_grad():
        ref = model(x.clone().requires_grad_())  # copy path (autograd on)
    seen = []
    conv = model.backbone.layer1[1].conv1  # a shifted conv whose input is the previous block's output
    handle = conv.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    ctx = torch.no_grad() if mode == "no_grad" else torch.inference_mode()
    with ctx:
        out = model(x)
    handle.remove()
    torch.testing.assert_close(out, ref.detach(), rtol=1e-5, atol=1e-5)
    # the conv shifted its input in place and put it back: the block input is the unshifted activation
    block_in = seen[0]
    with torch.no_grad():
        expected = model.backbone.layer1[0](
            model.backbone.maxpool(
                model.backbone.relu(
                    model.backbone.bn1(model.backbone.conv1(x.transpose(1, 2).reshape(8, 3, 32, 32)))
                )
            )
        )
    torch.testing.assert_close(block_in, expected)


def test_shift_rejects_bad_batch():
    with pytest.raises(ValueError, match="num_segments"):
        temporal_shift(torch.randn(5, 8, 2, 2), 4)


def test_tsm_adds_zero_parameters_and_same_keys():
    tsn = create_model("tsn_resnet50", num_classes=10, num_frames=8)
    tsm = create_model("tsm_resnet50", num_classes=10, num_frames=8)
    assert sum(p.numel() for p in tsn.parameters()) == sum(p.numel() for p in tsm.parameters())
    assert list(tsn.state_dict()) == list(tsm.state_dict())
    shifted = [m for m in tsm.modules() if isinstance(m, TemporalShiftConv2d)]
    assert len(shifted) == 16  # every residual block of ResNet-50 (3+4+6+3)


def test_tsm_resnet101_shifts_every_other_block():
    tsm = create_model("tsm_resnet101", num_classes=10, num_frames=8)
    shifted = [m for m in tsm.modules() if isinstance(m, TemporalShiftConv2d)]
    assert len(shifted) == 2 + 2 + 12 + 2  # ceil(n/2) per stage of 3, 4, 23, 3 blocks


def test_tsm_equals_tsn_with_same_weights_when_shift_is_identity_on_static_input_borders():
    # A TSM with the TSN's weights differs from TSN (shift mixes frames) but equals it on T=1 when
    # the shifted channels are zero-filled: check the shift really is applied inside the blocks.
    tsn = create_model("tsn_resnet18", num_classes=3, num_frames=2, dropout=0).eval()
    tsm = create_model("tsm_resnet18", num_classes=3, num_frames=2, dropout=0).eval()
    tsm.load_state_dict(tsn.state_dict())
    x = torch.randn(1, 3, 2, 32, 32)
    assert not torch.allclose(tsn(x), tsm(x))
    tsm_no_shift = create_model(
        "tsm_resnet18", num_classes=3, num_frames=2, dropout=0, shift_div=10**6
    ).eval()
    tsm_no_shift.load_state_dict(tsn.state_dict())
    torch.testing.assert_close(tsm_no_shift(x), tsn(x))


def test_inplace_shift_is_chosen_on_cpu_only_without_autograd():
    x = torch.zeros(8, 16, 2, 2)
    with torch.no_grad():
        assert _can_shift_inplace(x)
        # off the CPU the copy path is used (a GPU's in-place shift is bound by kernel launches)
        assert not _can_shift_inplace(torch.zeros(8, 16, 2, 2, device="meta"))
    assert not _can_shift_inplace(x)  # autograd on: conv1 saves its input, so it must not change
