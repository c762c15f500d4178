"""``torch.compile`` (vai-train's ``--compile``) sees each model as one graph: no graph breaks, which would
split it into separately compiled pieces run with Python in between, and ``fullgraph=True`` would refuse.
All 44 registered models traced to one graph without breaks when checked (docs/train.md); these tests
keep one model of each family to that, in training and in no-grad evaluation mode, run one compiled
training step, and compare Inductor's TSM with eager."""

import pytest
import torch
from tiny_models import FAMILIES, assert_same_training_state, build_tiny, tiny_input


# one per family and code path: the 2D segment models (TSN, TSM's shift, TRN/MTRN heads, MVFNet's
# fusion, TDN's difference modules), the 3D CNNs (I3D with non-local blocks, R(2+1)D, S3D, SlowFast,
# X3D), the transformers (Video Swin, MViT), image ResNets and the feature MLP
@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["train", "eval_no_grad"])
@pytest.mark.parametrize("name", FAMILIES)
def test_the_model_is_one_graph_without_breaks(name, mode):
    """Training mode as the training loop runs it, and evaluation mode under no_grad as validation,
    eval, feature and predict do (TSM's in-place CPU shift checked ``is_inference()`` there, a break)."""
    model = build_tiny(name).train(mode == "train")
    with torch.set_grad_enabled(mode == "train"):
        explained = torch._dynamo.explain(model)(tiny_input(model))
    reasons = [str(b.reason).splitlines()[0] for b in explained.break_reasons]
    assert (explained.graph_count, explained.graph_break_count) == (1, 0), reasons


@pytest.mark.slow
def test_inductor_runs_tsm_as_eager():
    """Inductor's code for a whole TSM gives eager's outputs. Its code for the slice writes into an
    ``empty_like`` that the eager shift uses gave NaN from the small late stages (torch 2.14, CPU); the
    shift is one functional expression when compiled."""
    eager = build_tiny("tsm_resnet18").eval()
    compiled = build_tiny("tsm_resnet18").eval()
    compiled.compile()
    x = tiny_input(eager)
    out = compiled(x)  # with autograd on, as validation in training runs it
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, eager(x), rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), eager(x), rtol=1e-4, atol=1e-5)


def test_a_compiled_training_step_matches_eager():
    """TSM's shift, partial-BN-free training mode: forward and backward traced whole (AOTAutograd, no code
    generation) give eager's outputs and gradients."""
    eager = build_tiny("tsm_resnet18").train()
    compiled = build_tiny("tsm_resnet18").train()  # the same seeded weights
    compiled.compile(backend="aot_eager", fullgraph=True)
    x = tiny_input(eager)
    torch.manual_seed(3)
    out = eager(x)
    torch.manual_seed(3)  # the same dropout mask
    out_c = compiled(x)
    torch.testing.assert_close(out_c, out)
    out.square().sum().backward()
    out_c.square().sum().backward()
    assert_same_training_state(eager, compiled)
