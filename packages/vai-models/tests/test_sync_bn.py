"""Multi-GPU training converts BatchNorms with ``nn.SyncBatchNorm.convert_sync_batchnorm``: the models
compute what they did (without a process group PyTorch falls back to plain BatchNorm), their state dict
keys stay, and partial BN keeps freezing the same layers."""

from __future__ import annotations

import pickle

import pytest
import torch
from tiny_models import assert_same_training_state
from torch import nn
from vai_models import create_model, get_optim_policies

convert = nn.SyncBatchNorm.convert_sync_batchnorm


@pytest.mark.parametrize("name", ["tsm_resnet18", "x3d_xs"])
def test_outputs_gradients_and_keys_unchanged_without_a_process_group(name):
    torch.manual_seed(0)
    ref = create_model(name, num_classes=4, num_frames=4).train()
    synced = create_model(name, num_classes=4, num_frames=4)
    synced.load_state_dict(ref.state_dict())
    synced = convert(synced).train()
    assert any(isinstance(m, nn.SyncBatchNorm) for m in synced.modules())
    assert list(synced.state_dict()) == list(ref.state_dict())  # checkpoints load either way
    x = torch.randn(2, 3, 4, 32, 32)
    torch.manual_seed(1)  # the same dropout masks
    out_ref = ref(x)
    torch.manual_seed(1)
    out_sync = synced(x)
    torch.testing.assert_close(out_sync, out_ref)
    out_ref.square().sum().backward()
    out_sync.square().sum().backward()
    assert_same_training_state(ref, synced, buffers=True)  # running statistics updated alike
    torch.testing.assert_close(synced.eval()(x), ref.eval()(x))


@pytest.mark.parametrize("name", ["tsm_resnet18", "mvf_resnet18", "tdn_resnet18"])
def test_partial_bn_freezes_the_same_layers_after_conversion(name):
    model = create_model(name, num_classes=3, num_frames=2, partial_bn=True)
    before = [id(m.weight) for m in model.partial_bn_layers()]
    fusion_before = {id(m.weight) for m in model.modules() if isinstance(m, nn.BatchNorm3d)}
    model = convert(model).train()
    layers = model.partial_bn_layers()
    assert before and [id(m.weight) for m in layers] == before  # the same Parameters: torch keeps them
    assert all(type(m) is nn.SyncBatchNorm and not m.training for m in layers)
    # MVF's 3D fusion BatchNorms (SyncBatchNorms now too) stay in train mode and trainable
    fusion = [m for m in model.modules() if id(getattr(m, "weight", None)) in fusion_before]
    assert len(fusion) == len(fusion_before) and bool(fusion) == name.startswith("mvf")
    assert all(m.training and m.weight.requires_grad for m in fusion)
    norm = {id(p) for g in get_optim_policies(model) if g["name"] == "norm" for p in g["params"]}
    assert {id(p) for m in layers for p in m.parameters()}.isdisjoint(norm)
    model.partial_bn = False  # switching it off and on again still reaches the converted layers
    assert all(m.training and m.weight.requires_grad for m in model.partial_bn_layers())
    model.partial_bn = True
    assert [id(m.weight) for m in model.partial_bn_layers()] == before
    assert all(not m.training and not m.weight.requires_grad for m in model.partial_bn_layers())


def test_partial_bn_of_a_model_pickled_before_names_were_kept():
    model = create_model("tsn_resnet18", num_classes=3, num_frames=2, partial_bn=True)
    del model._bn2d_names  # as unpickled from an older vai-models
    old = pickle.loads(pickle.dumps(model))
    assert len(old.partial_bn_layers()) == len(model.partial_bn_layers()) > 0
    old.partial_bn = False
    assert all(m.weight.requires_grad for m in old.partial_bn_layers())
