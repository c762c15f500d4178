"""ProSelfLC (CVPR 2021): the loss against an independent float64 computation of its formula, its time
(step, bounds, state_dict), the masked variant, Γ for a run, bad inputs, and a short vai-train run."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from vai_papers.proselflc import MaskedProSelfLC, ProSelfLC, total_time_for_run


def _reference(logits, q, t, total, b):
    """The paper's formula term by term in float64 (python loops over samples and classes)."""
    z = logits.double()
    n, c = z.shape
    g = 1.0 / (1.0 + math.exp(-b * (t / total - 0.5)))
    losses = []
    for i in range(n):
        p = torch.exp(z[i] - z[i].max())
        p = p / p.sum()
        h = sum(-float(p[k]) * math.log(float(p[k]) + 1e-6) for k in range(c))
        eps = g * (1.0 - h / math.log(c))
        losses.append(
            sum(
                -((1 - eps) * float(q[i, k]) + eps * float(p[k])) * math.log(float(p[k]) + 1e-6)
                for k in range(c)
            )
        )
    return sum(losses) / n


def _data(n=6, c=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 2.0 * torch.randn(n, c, generator=g), torch.randint(0, c, (n,), generator=g), g


@pytest.mark.parametrize(("t", "total", "b"), [(0, 10, 1.0), (3, 10, 1.0), (10, 10, 1.0), (7, 20, 6.0)])
def test_value_matches_independent_float64_formula(t, total, b):
    logits, labels, g = _data()
    loss = ProSelfLC(total, exp_base=b)
    for _ in range(t):
        loss.step()
    assert loss.time == t
    q = F.one_hot(labels, 5).double()
    ref = _reference(logits, q, t, total, b)
    assert float(loss(logits.double(), labels)) == pytest.approx(ref, rel=1e-12)
    assert float(loss(logits, labels)) == pytest.approx(ref, rel=1e-5)  # float32
    soft = torch.rand(6, 5, generator=g, dtype=torch.float64)
    soft = soft / soft.sum(1, keepdim=True)  # a (N, C) target distribution
    ref_soft = _reference(logits, soft, t, total, b)
    assert float(loss(logits.double(), soft)) == pytest.approx(ref_soft, rel=1e-12)


def test_half_precision_logits_are_computed_in_float32():
    logits, labels, _ = _data()
    loss = ProSelfLC(10)
    out = loss(logits.half(), labels)
    assert out.dtype == torch.float32
    assert float(out) == pytest.approx(float(loss(logits.half().float(), labels)), rel=1e-6)


def test_start_with_large_exp_base_is_plain_cross_entropy():
    """At t = 0 with B large, g = sigmoid(-B/2) ~ 0: ε -> 0 and the loss is CE on q (with the 1e-6)."""
    logits, labels, _ = _data()
    loss = ProSelfLC(100, exp_base=80.0)
    assert float(loss.global_trust()) < 1e-17
    p = logits.double().softmax(1)
    ce = -torch.log(p.gather(1, labels[:, None]) + 1e-6).mean()
    assert float(loss(logits.double(), labels)) == pytest.approx(float(ce), rel=1e-12)
    # late in training g -> 1 and confident predictions pull the target towards themselves
    for _ in range(100):
        loss.step()
    assert float(loss.global_trust()) == pytest.approx(1.0, abs=1e-15)


def test_gradients_flow_through_p_and_the_corrected_target():
    logits, labels, _ = _data()
    loss = ProSelfLC(10)
    for _ in range(7):
        loss.step()
    z = logits.double().requires_grad_()
    loss(z, labels).backward()

    def formula(z, detach):
        p = z.softmax(1)
        pt = p.detach() if detach else p
        h = -(pt * torch.log(pt + 1e-6)).sum(1)
        eps = (torch.sigmoid(torch.tensor(0.7 - 0.5, dtype=torch.float64)) * (1 - h / math.log(5)))[:, None]
        q = (1 - eps) * F.one_hot(labels, 5) + eps * pt
        return -(q * torch.log(p + 1e-6)).sum(1).mean()

    expected = torch.autograd.grad(formula(z, detach=False), z)[0]
    detached = torch.autograd.grad(formula(z, detach=True), z)[0]
    assert torch.allclose(z.grad, expected, atol=1e-12)
    assert not torch.allclose(z.grad, detached, atol=1e-6)  # p is not detached in q̃ or ε


def test_step_and_time_bounds():
    loss = ProSelfLC(3, counter="epoch")
    for _ in range(3):
        loss.step()
    assert loss.time == 3
    with pytest.raises(RuntimeError, match=r"time 4 would pass total_time = 3 \(counter='epoch'\)") as e:
        loss.step()
    assert "\n" not in str(e.value) and "at least its epochs" in str(e.value)
    assert loss.time == 3  # unchanged by the failed step
    with pytest.raises(RuntimeError, match=r"at least its optimiser steps \(iterations per epoch × epochs\)"):
        one = ProSelfLC(1)
        one.step()
        one.step()


def test_state_dict_round_trip():
    loss = ProSelfLC(50, exp_base=2.0)
    for _ in range(17):
        loss.step()
    state = loss.state_dict()
    assert set(state) == {"cur_time"} and int(state["cur_time"]) == 17
    fresh = ProSelfLC(50, exp_base=2.0)
    fresh.load_state_dict(state)
    logits, labels, _ = _data()
    assert fresh.time == 17 and torch.equal(fresh(logits, labels), loss(logits, labels))
    fresh.step()
    assert loss.time == 17  # a copy, not shared
    inside = torch.nn.Sequential(ProSelfLC(50))  # nested, as any module
    inside.load_state_dict({"0.cur_time": torch.tensor(5)})
    assert inside[0].time == 5
    with pytest.raises(ValueError, match=r"time 17, outside 0\.\.total_time = 10") as e:
        ProSelfLC(10).load_state_dict(state)
    assert "\n" not in str(e.value)


def test_masked_without_negatives_equals_proselflc():
    logits, labels, _ = _data()
    a, b = ProSelfLC(10), MaskedProSelfLC(10)
    for m in (a, b):
        for _ in range(6):
            m.step()
    q = F.one_hot(labels, 5).double()
    assert float(b(logits.double(), q)) == pytest.approx(float(a(logits.double(), labels)), rel=1e-12)


def test_masked_drops_classes_from_softmax_trust_and_target():
    """Each sample equals ProSelfLC on its kept classes only (softmax, log C and target), averaged over N."""
    logits, labels, g = _data(n=5, c=6, seed=3)
    target = F.one_hot(labels, 6).double()
    drop = [[0], [1, 2], [], [0, 1, 2, 3], [5]]
    for i, cols in enumerate(drop):
        target[i, [k for k in cols if k != labels[i]]] = -1.0
    masked = MaskedProSelfLC(8, exp_base=3.0)
    for _ in range(5):
        masked.step()
    z = logits.double().requires_grad_()
    out = masked(z, target)
    expected = 0.0
    for i in range(5):
        cols = [k for k in range(6) if target[i, k] >= 0]
        expected += _reference(logits[i : i + 1, cols], target[i : i + 1, cols], 5, 8, 3.0) / 5
    assert float(out.detach()) == pytest.approx(expected, rel=1e-12)
    out.backward()
    assert torch.isfinite(z.grad).all()
    dropped = target < 0
    assert torch.all(z.grad[dropped] == 0)  # a dropped class gets no gradient
    assert torch.all(z.grad[~dropped].abs().sum() > 0)


def test_masked_degenerate_rows_are_finite():
    """One kept class: no local trust, ~0 loss; none kept: adds 0, still counted in the mean."""
    z = torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0], [0.3, 0.1, -0.2]], requires_grad=True)
    target = torch.tensor([[-1.0, 1.0, -1.0], [-1.0, -1.0, -1.0], [1.0, 0.0, 0.0]])
    out = MaskedProSelfLC(4)(z, target)
    ref = ProSelfLC(4)(z[2:].detach(), torch.tensor([0])) / 3  # only the last row counts, over N = 3
    assert float(out.detach()) == pytest.approx(float(ref) - math.log(1 + 1e-6) / 3, rel=1e-5)
    out.backward()
    assert torch.isfinite(z.grad).all() and torch.all(z.grad[:2] == 0)


def test_total_time_for_run():
    assert total_time_for_run(5, iters_per_epoch=12) == 60
    assert total_time_for_run(5, train_loader=range(7)) == 35  # len(train_loader) · epochs
    assert total_time_for_run(5, train_loader=range(7), grad_accum_steps=3) == 15  # ceil(7/3) steps
    assert total_time_for_run(3, num_samples=64, batch_size=8, world_size=1) == 24
    assert total_time_for_run(3, num_samples=65, batch_size=8, world_size=2) == 15  # 33 per rank: 5 batches
    assert total_time_for_run(4, iters_per_epoch=12, counter="epoch") == 4
    with pytest.raises(ValueError, match="give iters_per_epoch, train_loader, or num_samples and batch_size"):
        total_time_for_run(3)
    with pytest.raises(ValueError, match="num_epochs = 0"):
        total_time_for_run(0, iters_per_epoch=3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"total_time": 0}, "total_time = 0; it must be a positive integer"),
        ({"total_time": -3}, "total_time = -3"),
        ({"total_time": 10.0}, "total_time = 10.0"),
        ({"total_time": True}, "total_time = True"),
        ({"total_time": 10, "exp_base": 0}, "exp_base = 0; it must be a finite number > 0"),
        ({"total_time": 10, "exp_base": float("inf")}, "exp_base = inf"),
        ({"total_time": 10, "counter": "batch"}, "counter = 'batch'; use 'iteration' or 'epoch'"),
    ],
)
def test_bad_construction_is_one_line(kwargs, message):
    with pytest.raises(ValueError, match=message) as e:
        ProSelfLC(**kwargs)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("logits", "target", "message"),
    [
        (
            torch.zeros(4),
            torch.zeros(4, dtype=torch.long),
            r"logits must be a float tensor \(N, C\), got \(4,\)",
        ),
        (torch.zeros(4, 1), torch.zeros(4, dtype=torch.long), "at least 2 classes"),
        (
            torch.zeros(4, 3, dtype=torch.long),
            torch.zeros(4, dtype=torch.long),
            "logits must be a float tensor",
        ),
        (torch.zeros(4, 3), torch.zeros(3, dtype=torch.long), r"got \(3,\)"),
        (torch.zeros(4, 3), torch.zeros(4, 2), r"distribution \(4, 3\) for logits \(4, 3\), got \(4, 2\)"),
        (torch.zeros(4, 3), torch.zeros(4), "must be an integer tensor, got torch.float32"),
        (torch.zeros(4, 3), torch.tensor([0, 1, 3, 0]), r"class indices must be in 0\.\.2, got 0\.\.3"),
        (torch.zeros(4, 3), torch.tensor([0, -1, 2, 0]), r"got -1\.\.2"),
    ],
)
def test_bad_inputs_are_one_line(logits, target, message):
    with pytest.raises(ValueError, match=message) as e:
        ProSelfLC(10)(logits, target)
    assert "\n" not in str(e.value)


def test_masked_needs_a_full_target():
    with pytest.raises(ValueError, match=r"MaskedProSelfLC: target must be \(4, 3\) like the logits"):
        MaskedProSelfLC(10)(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))


# ---- through vai-train -----------------------------------------------------------------------------------

DATASET = """
import torch
from torch.utils.data import Dataset

num_classes = 4
task = "single_label"


class Points(Dataset):
    def __init__(self, split):
        g = torch.Generator().manual_seed(1 if split == "train" else 2)
        self.y = torch.arange(40 if split == "train" else 12) % num_classes
        self.x = torch.randn(num_classes, 6, generator=torch.Generator().manual_seed(0))[self.y]
        self.x = self.x + 0.5 * torch.randn(len(self.y), 6, generator=g)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"video": self.x[i], "label": int(self.y[i]), "video_id": i}
"""
MODEL = """
from torch import nn


def load_model(num_classes, input_frame_length, **kw):
    return nn.Linear(6, num_classes)
"""
EXP = """
import torch
from torch import nn
from vai_papers.proselflc import ProSelfLC, total_time_for_run

batch_size = 8
num_epochs = 2
num_workers = 0


def get_torch_dataset(split):
    return dataset_cfg.Points(split)


def optimiser(params):
    return torch.optim.SGD(params, lr=0.1)


def get_criterion(split):
    if split != "train":
        return nn.CrossEntropyLoss()
    steps = total_time_for_run(num_epochs, num_samples=len(get_torch_dataset("train")), batch_size=batch_size)
    return ProSelfLC(steps, exp_base=1.0)
"""


def test_trains_through_vai_train_and_resumes_its_time(tmp_path, capsys):
    from vai_train import run_train
    from vai_train.cli import main
    from vai_train.engine.checkpoint import load_checkpoint

    root = tmp_path / "configs"
    for rel, text in (
        ("dataset_configs/points.py", DATASET),
        ("model_configs/linear.py", MODEL),
        ("exp_configs/points/linear-proselflc.py", EXP),
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    args = ["-D", "points", "-M", "linear", "-E", "proselflc", "-R", str(tmp_path / "exp")]
    args += ["--config-root", str(root), "-w", "0", "--no-progress", "--plot-period", "-1", "--device", "cpu"]
    res = run_train(args + ["-s", "all"])
    assert math.isfinite(res.summary[-1]["train_loss"])
    ckpts = [load_checkpoint(res.run_dir / "weights" / f"epoch_{e:04d}.pth") for e in (1, 2)]
    assert [int(c["criterion_state"]["cur_time"]) for c in ckpts] == [
        5,
        10,
    ]  # 40 clips in batches of 8: Γ = 5 · 2 is reached exactly at the end
    # resuming past the epochs Γ was computed for: one line naming the fix
    assert main(["train", *args, "-l", "-1", "-e", "3"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert len(err) == 1 and "time 11 would pass total_time = 10" in err[0] and "total_time_for_run" in err[0]
    branched = run_train(args + ["-l", "1", "-e", "2"])  # restored at 5, ends at Γ again
    last = load_checkpoint(branched.run_dir / "weights" / "last.pth")
    assert last["epoch"] == 2 and int(last["criterion_state"]["cur_time"]) == 10
