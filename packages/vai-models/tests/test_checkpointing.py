"""Activation checkpointing of every family's blocks: the same outputs, gradients and BatchNorm statistics
as without it, far fewer tensors kept for backward, and nothing changed outside training."""

import copy
import pickle

import pytest
import torch
from tiny_models import FAMILIES, assert_same_training_state, build_tiny, tiny_input
from torch import nn
from vai_models import enable_activation_checkpointing
from vai_models.checkpointing import _CheckpointedForward


def _pair(name: str) -> tuple[nn.Module, nn.Module]:
    plain = build_tiny(name).double().train()
    ckpt = copy.deepcopy(plain)
    return plain, ckpt


def _step(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Output of a seeded forward (the same dropout masks) and the bytes autograd saved for backward;
    then a backward."""
    saved = [0]

    def pack(t):
        saved[0] += t.numel() * t.element_size()
        return t

    torch.manual_seed(7)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x)
    out.square().sum().backward()
    return out.detach(), saved[0]


@pytest.mark.parametrize("name", [n for n in FAMILIES if n != "feature_mlp"])
def test_training_is_unchanged_and_keeps_less(name):
    plain, ckpt = _pair(name)
    blocks = enable_activation_checkpointing(ckpt)
    assert blocks and all(isinstance(ckpt.get_submodule(b).forward, _CheckpointedForward) for b in blocks)
    x = tiny_input(plain).double()
    for _ in range(2):  # twice: the second step starts from the running statistics the first left
        out_p, saved_p = _step(plain, x)
        out_c, saved_c = _step(ckpt, x)
        torch.testing.assert_close(out_c, out_p, rtol=1e-10, atol=1e-12)
    assert saved_c < saved_p
    assert_same_training_state(plain, ckpt, rtol=1e-9, atol=1e-12)
    assert_same_training_state(plain, ckpt, buffers=True, grads=False, rtol=1e-10, atol=1e-12)  # BN once


def test_memory_kept_for_backward_falls_with_depth():
    """TSM-ResNet-50 on a 4 x 64² clip: the activations kept for backward, plain against checkpointed."""
    from vai_models import create_model

    plain = create_model("tsm_resnet50", num_classes=4, num_frames=4).train()
    ckpt = copy.deepcopy(plain)
    assert len(enable_activation_checkpointing(ckpt)) == 16
    x = torch.randn(1, 3, 4, 64, 64)
    assert _step(ckpt, x)[1] * 4 < _step(plain, x)[1]


def test_under_autocast_the_recomputation_is_in_the_same_precision():
    """bf16 autocast (as --amp on the CPU): the recomputed blocks run under the same autocast state."""
    plain = build_tiny("tsm_resnet18").train()
    ckpt = copy.deepcopy(plain)
    enable_activation_checkpointing(ckpt)
    x = tiny_input(plain)
    outs = []
    for model in (plain, ckpt):
        torch.manual_seed(7)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x)
        out.float().square().sum().backward()
        outs.append(out)
    torch.testing.assert_close(outs[1], outs[0], rtol=0, atol=0)
    assert_same_training_state(plain, ckpt, rtol=0, atol=0)


def test_evaluation_runs_the_blocks_as_before():
    plain, ckpt = _pair("x3d_xs")
    enable_activation_checkpointing(ckpt)
    x = tiny_input(plain).double()
    plain.eval()
    ckpt.eval()
    torch.testing.assert_close(ckpt(x), plain(x), rtol=0, atol=0)
    with torch.no_grad():
        plain.train()
        ckpt.train()
        torch.manual_seed(3)  # the same dropout masks
        out = ckpt(x)
        torch.manual_seed(3)
        torch.testing.assert_close(out, plain(x), rtol=0, atol=0)


def test_state_dict_copies_pickles_and_a_second_call_are_unchanged():
    plain, ckpt = _pair("tsm_resnet18")
    first = enable_activation_checkpointing(ckpt)
    wrapper = ckpt.get_submodule(first[0]).forward
    assert enable_activation_checkpointing(ckpt) == first and ckpt.get_submodule(first[0]).forward is wrapper
    assert list(ckpt.state_dict()) == list(plain.state_dict())
    twin = copy.deepcopy(ckpt)  # an EMA copy: its wrappers run the copy's blocks
    assert twin.get_submodule(first[0]).forward.block is twin.get_submodule(first[0])
    restored = pickle.loads(pickle.dumps(ckpt))
    assert isinstance(restored.get_submodule(first[0]).forward, _CheckpointedForward)


def test_nested_blocks_are_left_to_the_outer_one():
    """I3D-NL: each Bottleneck3d is checkpointed, with its non-local block (``.nl``) recomputed inside it,
    not checkpointed a second time; no name lies inside another."""
    from vai_models.video3d.nonlocal_block import NonLocal3d
    from vai_models.video3d.resnet3d import Bottleneck3d

    model = build_tiny("i3d_nonlocal_resnet50")
    names = enable_activation_checkpointing(model)
    assert names == [n for n, m in model.named_modules() if isinstance(m, Bottleneck3d)]
    non_local = [n for n, m in model.named_modules() if isinstance(m, NonLocal3d)]
    assert len(non_local) == 5 and all(n.rsplit(".", 1)[0] in names for n in non_local)
    assert all("forward" not in model.get_submodule(n).__dict__ for n in non_local)
    assert not any(a != b and b.startswith(f"{a}.") for a in names for b in names)


def test_under_torch_compile_outputs_gradients_and_statistics_match():
    plain, ckpt = _pair("tsm_resnet18")
    enable_activation_checkpointing(ckpt)
    torch._dynamo.reset()
    ckpt.compile(backend="aot_eager", fullgraph=True)
    x = tiny_input(plain).double()
    for _ in range(2):
        out_p, _ = _step(plain, x)
        out_c, _ = _step(ckpt, x)
        torch.testing.assert_close(out_c, out_p, rtol=1e-10, atol=1e-12)
    assert_same_training_state(plain, ckpt, buffers=True, grads=False, rtol=1e-10, atol=1e-12)
    torch._dynamo.reset()


def test_refusals_are_one_line():
    with pytest.raises(
        ValueError, match=r"FeatureMLP has no blocks to checkpoint \(vai_models\.checkpointing"
    ):
        enable_activation_checkpointing(build_tiny("feature_mlp"))
    with pytest.raises(TypeError, match="expects an nn.Module, got dict"):
        enable_activation_checkpointing({})
