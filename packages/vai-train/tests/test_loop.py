"""train_one_epoch in isolation: gradient accumulation equals a larger batch, clipping, NaN detection."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, SequentialSampler
from vai_train.config.experiment import default_unpack
from vai_train.engine.distributed import DistInfo
from vai_train.engine.loop import AmpSettings, NonFiniteLossError, train_one_epoch


class Samples(torch.utils.data.Dataset):
    def __init__(self, n: int = 16):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 3, 1, 2, 2, generator=g)
        self.y = torch.arange(n) % 3

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict:
        return {"video": self.x[i], "label": int(self.y[i]), "video_id": i}


def _kit(model: nn.Module, batch: int, criterion: nn.Module | None = None, n: int = 16) -> dict:
    ds = Samples(n)
    return {
        "model": model,
        "optimiser": torch.optim.SGD(model.parameters(), lr=0.5),
        "scheduler": None,
        "criterions": {"train": criterion or nn.CrossEntropyLoss()},
        "data_unpack_funcs": {"train": default_unpack},
        "input_reshape_funcs": {"train": lambda x: x.flatten(1)},
        "train_loader": DataLoader(ds, batch_size=batch, sampler=SequentialSampler(ds)),
        "scaler": torch.amp.GradScaler("cpu", enabled=False),
        "ema": None,
    }


def _opts(**kw) -> dict:
    return {"amp": AmpSettings(False), "progress": False, "activation": lambda x: x.softmax(1), **kw}


def test_grad_accumulation_equals_big_batch() -> None:
    torch.manual_seed(0)
    base = nn.Linear(12, 3)
    a, b = copy.deepcopy(base), copy.deepcopy(base)
    out_a = train_one_epoch(_kit(a, 8), 1, DistInfo(), _opts())
    out_b = train_one_epoch(_kit(b, 4), 1, DistInfo(), _opts(grad_accum_steps=2))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(pa, pb, atol=1e-6)
    assert out_a["loss"] == pytest.approx(out_b["loss"], rel=1e-6)
    assert out_a["probs"].shape == (16, 3) and out_a["video_ids"].tolist() == list(range(16))


@pytest.mark.parametrize("accum", [2, 3])
def test_grad_accumulation_short_last_window(accum: int) -> None:
    """5 micro-batches of 2: the last window (1 or 2 micro-batches) is averaged over its own size,
    so every optimiser step equals a big-batch step over the same samples."""
    torch.manual_seed(0)
    base = nn.Linear(12, 3)
    a, b = copy.deepcopy(base), copy.deepcopy(base)
    train_one_epoch(_kit(a, 2 * accum, n=10), 1, DistInfo(), _opts())  # windows of 2*accum, then the rest
    train_one_epoch(_kit(b, 2, n=10), 1, DistInfo(), _opts(grad_accum_steps=accum))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(pa, pb, atol=1e-6)


def test_clipping_bounds_the_update() -> None:
    torch.manual_seed(0)
    model = nn.Linear(12, 3)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    kit = _kit(model, 16)
    train_one_epoch(kit, 1, DistInfo(), _opts(clip_grad_max_norm=1e-3))
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert (after - before).norm() <= 0.5 * 1e-3 + 1e-7  # lr * max_norm for one SGD step


class NanLoss(nn.CrossEntropyLoss):
    def forward(self, logits, labels):
        return super().forward(logits, labels) * float("nan")


def test_nan_loss_raises() -> None:
    with pytest.raises(NonFiniteLossError, match="epoch 4, iteration 1"):
        train_one_epoch(_kit(nn.Linear(12, 3), 4, NanLoss()), 4, DistInfo(), _opts(refresh=1))
