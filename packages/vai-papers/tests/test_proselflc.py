"""ProSelfLC (CVPR 2021): the loss against an independent float64 computation of its formula, its time
(step, bounds, state_dict), Γ (given, or set from the run by vai-train), the masked variant, bad inputs,
and short vai-train runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from vai_papers.proselflc import MaskedProSelfLC, ProSelfLC, total_time_for_run


def _reference(logits, q, t, total, b, exact_log=False):
    """The paper's formula term by term in float64 (python loops over samples and classes); the log is
    upstream ProSelfLC's log(p + 1e-6), or with ``exact_log`` upstream MaskedProSelfLC's log-softmax."""
    z = logits.double()
    n, c = z.shape
    g = 1.0 / (1.0 + math.exp(-b * (t / total - 0.5)))
    losses = []
    for i in range(n):
        top = float(z[i].max())
        log_norm = top + math.log(sum(math.exp(float(z[i, k]) - top) for k in range(c)))
        log_p = [float(z[i, k]) - log_norm for k in range(c)]
        p = [math.exp(v) for v in log_p]
        if not exact_log:
            log_p = [math.log(v + 1e-6) for v in p]
        h = sum(-p[k] * log_p[k] for k in range(c))
        eps = g * (1.0 - h / math.log(c))
        losses.append(sum(-((1 - eps) * float(q[i, k]) + eps * p[k]) * log_p[k] for k in range(c)))
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
    # Γ is not state: a resumed, longer run keeps its own Γ and the saved time
    longer = ProSelfLC(exp_base=2.0)
    longer.set_total_steps(80)
    longer.load_state_dict(state)
    assert longer.time == 17 and longer.total_time == 80
    unknown = ProSelfLC()  # Γ not set yet (vai-train sets it before restoring): nothing to check against
    unknown.load_state_dict(state)
    assert unknown.time == 17 and unknown.total_time is None


def test_total_time_is_set_from_the_run_when_not_given():
    """CONTRACT A: vai-train calls set_total_steps(n) with the run's length before training."""
    logits, labels, _ = _data()
    loss = ProSelfLC(exp_base=2.0, counter="epoch")
    assert loss.total_time is None and "total_time=None" in repr(loss)
    for call in (lambda: loss(logits, labels), loss.step, loss.global_trust):
        with pytest.raises(RuntimeError, match=r"total_time \(Γ\) is unknown: give total_time") as e:
            call()
        assert "\n" not in str(e.value) and "train through vai-train" in str(e.value)
    loss.set_total_steps(np.int64(12))
    assert loss.total_time == 12 and type(loss.total_time) is int
    for _ in range(5):
        loss.step()
    ref = _reference(logits, F.one_hot(labels, 5), 5, 12, 2.0)
    assert float(loss(logits.double(), labels)) == pytest.approx(ref, rel=1e-12)
    loss.set_total_steps(20)  # a resumed, longer run: Γ follows the run, t is kept
    assert loss.total_time == 20 and loss.time == 5
    loss.set_total_steps(0)  # a run of no steps (-e 0) trains nothing: Γ unknown again, no error
    assert loss.total_time is None


def test_an_explicit_total_time_must_cover_the_run():
    loss = ProSelfLC(30)
    loss.set_total_steps(30)
    loss.set_total_steps(12)  # explicit >= the run: kept
    assert loss.total_time == 30 and loss.given_total_time == 30
    with pytest.raises(ValueError, match=r"total_time = 30 is less than this run's 31 optimiser steps") as e:
        loss.set_total_steps(31)
    assert "\n" not in str(e.value) and "leave total_time unset so vai-train sets" in str(e.value)
    assert loss.total_time == 30
    with pytest.raises(ValueError, match=r"less than this run's 4 epochs \(counter='epoch'\)"):
        ProSelfLC(3, counter="epoch").set_total_steps(4)
    for bad in (-1, 2.0, True, "5"):
        with pytest.raises(ValueError, match=r"set_total_steps\(.*\): the run's length must be an integer"):
            ProSelfLC().set_total_steps(bad)


def test_masked_without_negatives_is_proselflc_with_the_exact_log():
    """Upstream's MaskedProSelfLC takes log_softmax for the entropy and the loss (no + 1e-6)."""
    logits, labels, _ = _data()
    a, b = ProSelfLC(10), MaskedProSelfLC(10)
    for m in (a, b):
        for _ in range(6):
            m.step()
    q = F.one_hot(labels, 5).double()
    exact = _reference(logits, q, 6, 10, 1.0, exact_log=True)
    assert float(b(logits.double(), q)) == pytest.approx(exact, rel=1e-12)
    assert float(b(logits, q)) == pytest.approx(exact, rel=1e-5)  # float32
    # the 1e-6 of ProSelfLC moves the value a little on these moderate logits
    assert float(a(logits.double(), labels)) == pytest.approx(exact, rel=1e-4)


def test_masked_confidently_wrong_sample_is_not_capped():
    """log(p + 1e-6) would cap the loss near 13.8 and all but remove the gradient; log_softmax does not."""
    z = torch.tensor([[40.0, 0.0, 0.0, 5.0]], dtype=torch.float64, requires_grad=True)
    target = torch.tensor([[0.0, 1.0, 0.0, -1.0]], dtype=torch.float64)
    masked = MaskedProSelfLC(10, exp_base=50.0)  # t = 0: g ~ 1e-11, so the loss is the plain CE
    out = masked(z, target)
    assert float(out.detach()) == pytest.approx(40.0 + math.log(1 + 2 * math.exp(-40.0)), rel=1e-9)
    out.backward()
    assert float(z.grad[0, 1]) == pytest.approx(-1.0, rel=1e-9)  # d CE / d z_y = p_y - 1
    assert float(z.grad[0, 0]) == pytest.approx(1.0, rel=1e-9) and float(z.grad[0, 3]) == 0.0


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
        row = _reference(logits[i : i + 1, cols], target[i : i + 1, cols], 5, 8, 3.0, exact_log=True)
        expected += row / 5
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
    ref = _reference(z[2:].detach(), target[2:], 0, 4, 1.0, exact_log=True) / 3  # the last row, over N = 3
    assert float(out.detach()) == pytest.approx(ref, rel=1e-6)
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
        ({"total_time": "10"}, "total_time = '10'"),
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


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            [[1.0, 0.0, 0.0], [0.0, -1.0, 1.0]],
            r"holds negative entries \(min -1\.0\), e\.g\. -1 mask targets; use MaskedProSelfLC",
        ),
        ([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], r"summing to 1 \(±0\.001\), row 1 sums to 2 \(1 such rows\)"),
        ([[0.5, 0.0, 0.0], [0.0, 0.0, 0.0]], r"row 0 sums to 0\.5 \(2 such rows\)"),
        ([[1.0, 0.0, 0.0], [0.0, float("nan"), 1.0]], "holds NaN or inf values"),
    ],
)
def test_distribution_targets_are_checked(target, message):
    with pytest.raises(ValueError, match=message) as e:
        ProSelfLC(10)(torch.zeros(2, 3), torch.tensor(target))
    assert "\n" not in str(e.value)
    ok = torch.tensor([[0.3, 0.3, 0.4 + 5e-4], [0.0, 1.0, 0.0]])  # within the tolerance
    assert torch.isfinite(ProSelfLC(10)(torch.zeros(2, 3), ok))


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
from vai_papers.proselflc import ProSelfLC

batch_size = 8
num_epochs = 2
num_workers = 0
proselflc_total_time = None  # Γ unset: vai-train sets it from the run's length


def get_torch_dataset(split):
    return dataset_cfg.Points(split)


def optimiser(params):
    return torch.optim.SGD(params, lr=0.1)


def get_criterion(split):
    if split != "train":
        return nn.CrossEntropyLoss()
    return ProSelfLC(proselflc_total_time, exp_base=1.0)
"""


def _write_configs(root, exp=EXP):
    for rel, text in (
        ("dataset_configs/points.py", DATASET),
        ("model_configs/linear.py", MODEL),
        ("exp_configs/points/linear-proselflc.py", exp),
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


@pytest.fixture
def gammas(monkeypatch):
    """The Γ each ProSelfLC was given by vai-train's set_total_steps calls (CONTRACT A)."""
    seen = []
    original = ProSelfLC.set_total_steps

    def record(self, n):
        original(self, n)
        seen.append((n, self.total_time))

    monkeypatch.setattr(ProSelfLC, "set_total_steps", record)
    return seen


def test_trains_through_vai_train_and_resumes_its_time(tmp_path, capsys, gammas):
    from vai_train import run_train
    from vai_train.engine.checkpoint import load_checkpoint

    root = tmp_path / "configs"
    _write_configs(root)
    args = ["-D", "points", "-M", "linear", "-E", "proselflc", "-R", str(tmp_path / "exp")]
    args += ["--config-root", str(root), "-w", "0", "--no-progress", "--plot-period", "-1", "--device", "cpu"]
    res = run_train(args + ["-s", "all"])
    assert math.isfinite(res.summary[-1]["train_loss"])
    assert gammas == [(10, 10)]  # 40 clips in batches of 8: Γ = 5 · 2, set before training
    ckpts = [load_checkpoint(res.run_dir / "weights" / f"epoch_{e:04d}.pth") for e in (1, 2)]
    assert [int(c["criterion_state"]["cur_time"]) for c in ckpts] == [5, 10]  # Γ is reached at the end
    assert set(ckpts[1]["criterion_state"]) == {"cur_time"}  # Γ is not saved: it belongs to the run
    # resuming past the epochs of the first run: -e sets the longer run's Γ, the time goes on
    resumed = run_train(args + ["-l", "-1", "-e", "3"])
    assert resumed.run_dir == res.run_dir and gammas[-1] == (15, 15)
    last = load_checkpoint(res.run_dir / "weights" / "last.pth")
    assert last["epoch"] == 3 and int(last["criterion_state"]["cur_time"]) == 15
    branched = run_train(args + ["-l", "1", "-e", "2"])  # restored at 5, ends at Γ = 10 again
    last = load_checkpoint(branched.run_dir / "weights" / "last.pth")
    assert gammas[-1] == (10, 10)
    assert last["epoch"] == 2 and int(last["criterion_state"]["cur_time"]) == 10


def test_an_explicit_total_time_shorter_than_the_run_stops_it_before_a_version(tmp_path, capsys):
    from vai_train.cli import main

    root = tmp_path / "configs"
    _write_configs(root, EXP.replace("proselflc_total_time = None", "proselflc_total_time = 7"))
    args = ["-D", "points", "-M", "linear", "-E", "proselflc", "-R", str(tmp_path / "exp")]
    args += ["--config-root", str(root), "-w", "0", "--no-progress", "--plot-period", "-1", "--device", "cpu"]
    assert main(["train", *args]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert len(err) == 1 and "total_time = 7 is less than this run's 10 optimiser steps" in err[0]
    assert not list((tmp_path / "exp").rglob("version_*"))  # stopped before a version existed
