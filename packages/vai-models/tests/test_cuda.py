"""Every registered model on a CUDA GPU: forward/backward under bf16 autocast, fp16 autocast steps with
a GradScaler, and fp32 outputs that match the CPU's. Skipped where CUDA is not available (CI); on a
GPU machine: ``pytest packages/vai-models/tests/test_cuda.py``."""

import pytest
import torch
from tiny_models import BATCH, NUM_CLASSES, build_tiny, tiny_input
from vai_models import list_models

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _model_and_input(name: str) -> tuple[torch.nn.Module, torch.Tensor]:
    model = build_tiny(name)
    return model, tiny_input(model)


@pytest.mark.parametrize("name", list_models())
def test_bf16_autocast_forward_backward(name: str) -> None:
    model, x = _model_and_input(name)
    model = model.cuda().train()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = model(x.cuda())
    assert out.shape == (BATCH, NUM_CLASSES) and torch.isfinite(out).all()
    out.float().square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"{name}: parameters without gradient on CUDA: {missing[:5]}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("name", list_models())
def test_fp16_autocast_with_grad_scaler_takes_finite_steps(name: str) -> None:
    """fp16 gradients of deep randomly initialised nets can overflow (ResNet-50/101 do); the GradScaler
    the engine uses then skips the step and lowers the scale. Within a few tries a step is taken and
    every weight stays finite."""
    model, x = _model_and_input(name)
    model = model.cuda().train()
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cuda", init_scale=2.0**8)
    for _ in range(24):
        with torch.autocast("cuda", dtype=torch.float16):
            out = model(x.cuda())
        assert out.shape == (BATCH, NUM_CLASSES) and torch.isfinite(out).all()
        opt.zero_grad(set_to_none=True)
        scaler.scale(out.float().square().mean()).backward()
        scale = scaler.get_scale()
        scaler.step(opt)
        scaler.update()
        if scaler.get_scale() >= scale:  # no overflow: the step was taken
            break
    else:
        pytest.fail(f"{name}: fp16 gradients overflowed at every scale down to {scaler.get_scale()}")
    after = list(model.parameters())
    assert all(torch.isfinite(p).all() for p in after)
    assert any(not torch.equal(a, b) for a, b in zip(after, before, strict=True))


@pytest.mark.parametrize("name", list_models())
def test_fp32_cuda_matches_cpu(name: str) -> None:
    model, x = _model_and_input(name)
    model = model.eval()
    with torch.no_grad():
        cpu = model(x)
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        gpu = model.cuda()(x.cuda()).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-3, atol=1e-3)


def test_channels_last_3d_on_cuda() -> None:
    model, x = _model_and_input("tsm_resnet18")
    model = model.cuda().eval()
    with torch.no_grad():
        ref = model(x.cuda())
        cl = model.to(memory_format=torch.channels_last)(
            x.cuda().contiguous(memory_format=torch.channels_last_3d)
        )
    torch.testing.assert_close(cl, ref, rtol=1e-3, atol=1e-3)
