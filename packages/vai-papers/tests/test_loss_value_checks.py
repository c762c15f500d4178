"""When the losses check target values (vai_papers.value_checks): on CPU on every call, with the same
one-line errors; on a device that syncs (CUDA, ...) on each instance's first call only, after which a
training step reads nothing back on the host. No GPU here: the "device" is either the predicate
``reads_sync`` monkeypatched to say so for CPU tensors, or the ``meta`` device, where any host read of a
value raises."""

from __future__ import annotations

import pytest
import torch
from vai_papers import proselflc, value_checks
from vai_papers.proselflc import MaskedProSelfLC, ProSelfLC
from vai_papers.verb_ambiguity import LOSS_TYPES, SinglePositiveLoss, make_loss

LOGITS = torch.tensor([[2.0, -1.0, 0.5, -3.0], [-0.5, 1.5, 0.0, 2.5], [1.0, 0.25, -2.0, 0.75]])
INDICES = torch.tensor([0, 3, 1])
ONE_HOT = torch.nn.functional.one_hot(INDICES, 4).float()
MASKED = ONE_HOT.clone().index_put_((torch.tensor([0]), torch.tensor([2])), torch.tensor(-1.0))

# (loss factory, a good target, bad targets with the message each gives)
VERB = (
    lambda: make_loss("assume_negative"),
    INDICES,
    [
        (torch.tensor([0, 4, 1]), "class index 4 is outside the 4 classes"),
        (torch.full((3, 4), 2.0), "at most 1"),
        (MASKED, "cannot mask classes"),
    ],
)
PROSELFLC = (
    lambda: ProSelfLC(10),
    INDICES,
    [
        (torch.tensor([0, -1, 1]), r"class indices must be in 0\.\.3, got -1\.\.1"),
        (ONE_HOT * 2, r"row 0 sums to 2 \(3 such rows\)"),
        (torch.full((3, 4), float("nan")), "holds NaN or inf values"),
    ],
)
CASES = pytest.mark.parametrize("case", [VERB, PROSELFLC], ids=["verb_ambiguity", "proselflc"])


def _as_device(monkeypatch):
    """Every tensor counts as one on a device whose reads sync (the losses look the predicate up here)."""
    monkeypatch.setattr(value_checks, "reads_sync", lambda tensor: True)
    monkeypatch.setattr(proselflc, "reads_sync", lambda tensor: True)


def test_reads_sync_is_true_off_the_cpu_only():
    assert not value_checks.reads_sync(torch.zeros(2))
    assert value_checks.reads_sync(torch.zeros(2, device="meta"))


@CASES
def test_on_cpu_bad_targets_raise_the_same_line_on_every_call(case):
    make, good, bad = case
    loss = make()
    for _ in range(3):  # interleaved with good batches: the checks never switch off on CPU
        assert torch.isfinite(loss(LOGITS, good))
        for target, message in bad:
            with pytest.raises(ValueError, match=message) as e:
                loss(LOGITS, target)
            assert "\n" not in str(e.value)


@CASES
def test_on_a_device_values_are_checked_until_one_call_passed(case, monkeypatch):
    """The first call's bad target is the clear error (the real mistake: a wrong label format); once a
    call passed, later calls read no value (bad targets go unchecked) and the loss value is unchanged."""
    make, good, bad = case
    _as_device(monkeypatch)
    loss = make()
    target, message = bad[0]
    with pytest.raises(ValueError, match=message):
        loss(LOGITS, target)
    with pytest.raises(ValueError, match=message):  # a failed call does not count as checked
        loss(LOGITS, target)
    expected = make()(LOGITS, good)
    assert torch.equal(loss(LOGITS, good), expected)
    for target, _ in bad:  # not checked any more: no ValueError (an index out of range may still fail
        try:  # in the kernel: here CPU's own check, on CUDA a device-side assert)
            loss(LOGITS, target)
        except RuntimeError:
            assert target.ndim == 1
    assert torch.equal(loss(LOGITS, good), expected)
    # shape checks (metadata) still run on every call
    with pytest.raises(ValueError):
        loss(LOGITS, torch.zeros(3, 5))


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_every_verb_ambiguity_loss_checks_values_once_per_instance_on_a_device(loss_type, monkeypatch):
    """The value-check helpers run on the first device call of each instance only, for index and (N, C)
    targets alike; on CPU on every call."""
    calls = []
    for name in ("_check_indices", "_check_values"):
        original = getattr(SinglePositiveLoss, name)

        def counting(self, *args, _original=original, _name=name):
            calls.append(_name)
            return _original(self, *args)

        monkeypatch.setattr(SinglePositiveLoss, name, counting)
    cpu = make_loss(loss_type)
    for target in (INDICES, ONE_HOT, INDICES):
        cpu(LOGITS, target)
    assert calls == ["_check_indices", "_check_values", "_check_indices"]
    calls.clear()
    _as_device(monkeypatch)
    first, second = make_loss(loss_type), make_loss(loss_type)
    for target in (INDICES, ONE_HOT, INDICES):
        first(LOGITS, target)
    second(LOGITS, ONE_HOT)
    second(LOGITS, INDICES)
    assert calls == ["_check_indices", "_check_values"]  # one per instance


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_a_verb_ambiguity_loss_reads_nothing_back_after_its_first_device_call(loss_type, monkeypatch):
    """On the meta device any host read of a value raises: the first call's checks would (so they are
    replaced by a no-op here), every later call must not read at all."""
    checked = []
    real_check = SinglePositiveLoss._check_values
    monkeypatch.setattr(SinglePositiveLoss, "_check_values", lambda self, t: checked.append(t.device))
    monkeypatch.setattr(SinglePositiveLoss, "_check_indices", lambda self, t, c: checked.append(t.device))
    loss = make_loss(loss_type)
    logits = LOGITS.to("meta").requires_grad_()
    for target in (ONE_HOT, INDICES, ONE_HOT):
        out = loss(logits, target.to("meta"))
        out.backward()
        assert out.device.type == "meta" and out.shape == ()
    assert checked == [torch.device("meta")]
    with pytest.raises(RuntimeError, match="meta"):  # the real checks would have read values
        real_check(make_loss(loss_type), ONE_HOT.to("meta"))


@pytest.mark.parametrize("masked", [False, True])
def test_proselflc_reads_nothing_back_after_its_first_device_call(masked, monkeypatch):
    """ProSelfLC's forward and step() on the meta device: after the first call's checks (a no-op here)
    nothing reads a value on the host; the first step reads t once (stubbed), later steps not at all."""
    checked: list[str] = []
    monkeypatch.setattr(ProSelfLC, "_check_indices", staticmethod(lambda t, c: checked.append("indices")))
    monkeypatch.setattr(ProSelfLC, "_check_distribution", staticmethod(lambda q: checked.append("dist")))
    reads = []
    monkeypatch.setattr(ProSelfLC, "time", property(lambda self: reads.append(1) or 0))
    loss = (MaskedProSelfLC if masked else ProSelfLC)(10).to("meta")
    logits = LOGITS.to("meta").requires_grad_()
    targets = (ONE_HOT, ONE_HOT) if masked else (INDICES, ONE_HOT, INDICES)
    for target in targets:
        out = loss(logits, target.to("meta"))
        out.backward()
        assert out.device.type == "meta" and out.shape == ()
        loss.step()
    assert checked == ([] if masked else ["indices"])  # MaskedProSelfLC has no value checks
    assert reads == [1]  # t read at the first step only: later steps use the value step() wrote


def test_proselflc_step_reads_time_back_after_a_load_or_a_write(monkeypatch):
    """On a device step() trusts the value it wrote only while the buffer is unchanged since: a loaded
    state, a direct write or a new buffer (.to(device)) is read back once. On CPU it always reads."""
    reads = []
    original = ProSelfLC.time

    monkeypatch.setattr(ProSelfLC, "time", property(lambda self: reads.append(1) or original.fget(self)))
    loss = ProSelfLC(100)
    for _ in range(3):
        loss.step()
    assert len(reads) == 3 and int(loss.cur_time) == 3  # CPU: the buffer is the truth each step
    reads.clear()
    _as_device(monkeypatch)
    for _ in range(3):
        loss.step()
    assert reads == [] and int(loss.cur_time) == 6  # the buffer still holds what step() wrote last
    loss.load_state_dict({"cur_time": torch.tensor(40)})
    loss.step()
    loss.step()
    assert len(reads) == 1 and int(loss.cur_time) == 42
    loss.cur_time.fill_(10)
    loss.step()
    assert len(reads) == 2 and int(loss.cur_time) == 11
    loss._apply(lambda t: t.clone())  # as a device move does: a new buffer tensor
    loss.step()
    loss.step()
    assert len(reads) == 3 and int(loss.cur_time) == 13
