"""Verb-ambiguity losses against hand-written float64 formulas, masking, stability and bad inputs."""

import math

import numpy as np
import pytest
import torch
from vai_papers.verb_ambiguity import (
    LOSS_TYPES,
    AssumeNegativeLoss,
    AssumeNegativeLossWithLogits,
    BinaryFocalLoss,
    MaskedBinaryCrossEntropyLoss,
    criterion_for_split,
    make_loss,
)

LOGITS = np.array(
    [[2.0, -1.0, 0.5, -3.0], [-0.5, 1.5, 0.0, 2.5], [1.0, 0.25, -2.0, 0.75]],
    dtype=np.float64,
)
INDICES = np.array([0, 3, 1])
N, C = LOGITS.shape


def one_hot(indices=INDICES, c=C):
    y = np.zeros((len(indices), c))
    y[np.arange(len(indices)), indices] = 1.0
    return y


def sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def binary_terms(y, z, neg_weight=1.0):
    """Per-entry -(y log s + w (1-y) log(1-s)), written out with exp/log."""
    s = sig(z)
    return -(y * np.log(s) + neg_weight * (1 - y) * np.log(1 - s))


def reference(loss_type, y, z=LOGITS):
    """The paper's formulas, summed over classes and averaged over the batch (focal: mean over N*C)."""
    c = z.shape[1]
    if loss_type == "ce":
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        return float(-(y * logp).sum(1).mean())
    if loss_type in ("assume_negative", "pseudo_single_binary_ce"):
        return float(binary_terms(y, z).sum(1).mean())
    if loss_type == "weak_assume_negative":
        return float(binary_terms(y, z, 1.0 / (c - 1)).sum(1).mean())
    if loss_type == "binary_labelsmooth":
        return float(binary_terms(y * 0.9 + 0.1 / c, z).sum(1).mean())
    if loss_type == "binary_negative_labelsmooth":
        # positives stay 1, negatives become eps/C (soft values: y + (1 - y) eps/C)
        return float(binary_terms(y + (1 - y) * 0.1 / c, z).sum(1).mean())
    if loss_type == "binary_focal":
        p = sig(z)
        ce = binary_terms(y, z)
        p_t = p * y + (1 - p) * (1 - y)
        alpha_t = 0.25 * y + 0.75 * (1 - y)
        return float((alpha_t * ce * (1 - p_t) ** 2).mean())
    if loss_type == "entropy_maximise":
        s = sig(z)
        h = -(s * np.log(s) + (1 - s) * np.log(1 - s))
        return float(-(y * np.log(s) + 0.2 * (1 - y) * h).sum(1).mean())
    if loss_type == "mask_binary_ce":
        keep = y >= 0
        return float(np.where(keep, binary_terms(np.clip(y, 0, 1), z), 0.0).sum(1).mean())
    raise AssertionError(loss_type)


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_loss_matches_hand_formula_for_class_indices(loss_type):
    loss = make_loss(loss_type)(torch.tensor(LOGITS), torch.tensor(INDICES))
    assert loss.dtype == torch.float64
    assert float(loss) == pytest.approx(reference(loss_type, one_hot()), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_one_hot_float_target_equals_class_indices(loss_type):
    crit = make_loss(loss_type)
    a = crit(torch.tensor(LOGITS), torch.tensor(INDICES))
    b = crit(torch.tensor(LOGITS), torch.tensor(one_hot()))
    assert float(a) == pytest.approx(float(b), rel=1e-12)


@pytest.mark.parametrize("loss_type", [t for t in LOSS_TYPES if t not in ("ce",)])
def test_multi_hot_and_soft_targets(loss_type):
    y = np.array([[1, 0, 1, 0], [0, 0.5, 0, 1], [0.2, 1, 0, 0]], dtype=np.float64)
    got = make_loss(loss_type)(torch.tensor(LOGITS), torch.tensor(y))
    assert float(got) == pytest.approx(reference(loss_type, y), rel=1e-12)


def test_soft_target_cross_entropy():
    y = np.array([[0.5, 0.5, 0, 0], [0, 0, 0.25, 0.75], [1, 0, 0, 0]], dtype=np.float64)
    got = make_loss("ce")(torch.tensor(LOGITS), torch.tensor(y))
    assert float(got) == pytest.approx(reference("ce", y), rel=1e-12)


def test_mask_binary_ce_hand_value_and_zero_gradient_on_masked_entries():
    y = np.array([[1, -1, 0, 0], [0, 0, -1, 1], [-1, 1, -1, 0]], dtype=np.float64)
    z = torch.tensor(LOGITS, requires_grad=True)
    loss = MaskedBinaryCrossEntropyLoss()(z, torch.tensor(y))
    assert loss.item() == pytest.approx(reference("mask_binary_ce", y), rel=1e-12)
    loss.backward()
    masked = torch.tensor(y < 0)
    assert torch.all(z.grad[masked] == 0)
    assert torch.all(z.grad[~masked] != 0)
    # the masked logits do not matter at all
    moved = torch.tensor(LOGITS).masked_fill(masked, 1e4)
    again = MaskedBinaryCrossEntropyLoss()(moved, torch.tensor(y))
    assert again.item() == pytest.approx(loss.item(), rel=1e-12)
    # hand value of the first row alone: only classes 0 (positive), 2 and 3 (negatives) count
    z0 = LOGITS[0]
    row0 = -math.log(sig(z0[0])) - math.log(1 - sig(z0[2])) - math.log(1 - sig(z0[3]))
    one = MaskedBinaryCrossEntropyLoss()(torch.tensor(LOGITS[:1]), torch.tensor(y[:1]))
    assert float(one) == pytest.approx(row0, rel=1e-12)


def test_focal_matches_torchvision_mean():
    from torchvision.ops import sigmoid_focal_loss

    z = torch.tensor(LOGITS, dtype=torch.float32)
    y = torch.tensor(one_hot(), dtype=torch.float32)
    expected = sigmoid_focal_loss(z, y, alpha=0.25, gamma=2.0, reduction="mean")
    assert torch.equal(BinaryFocalLoss()(z, torch.tensor(INDICES)), expected)
    assert float(make_loss("binary_focal", alpha=0.5, gamma=1.0)(z, y)) == pytest.approx(
        float(sigmoid_focal_loss(z, y, alpha=0.5, gamma=1.0, reduction="mean"))
    )


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_large_logits_give_finite_values_and_gradients(loss_type, dtype):
    z = torch.tensor([[100.0, -100.0, 100.0, -100.0], [-100.0, 100.0, 0.0, -100.0]], dtype=dtype)
    z.requires_grad_(True)
    target = torch.tensor([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, 1.0]])
    if loss_type != "mask_binary_ce":
        target = target.clamp(min=0)
    loss = make_loss(loss_type)(z, target)
    loss.backward()
    assert loss.dtype == torch.float32  # half-precision logits are scored in float32
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
    for t in (torch.tensor([0, 1]), torch.tensor([1, 0])):  # wrong-side confident logits too
        z2 = z.detach().float().requires_grad_(True)
        loss = make_loss(loss_type)(z2, t)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(z2.grad).all()


@pytest.mark.parametrize("loss_type", [t for t in LOSS_TYPES if t != "mask_binary_ce"])
def test_masks_refused_by_losses_that_cannot_mask(loss_type):
    target = torch.tensor(one_hot())
    target[0, 1] = -1
    with pytest.raises(ValueError, match=r"cannot mask classes.*mask_binary_ce") as e:
        make_loss(loss_type)(torch.tensor(LOGITS), target)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("logits", "target", "match"),
    [
        (torch.zeros(3, 4), torch.tensor([0, 1, 4]), "class index 4 is outside the 4 classes"),
        (torch.zeros(3, 4), torch.tensor([0, -1, 2]), "class index -1 is outside"),
        (torch.zeros(3, 4), torch.tensor([0, 1]), "2 class indices for 3 samples"),
        (torch.zeros(3, 4), torch.zeros(3, 5), r"label vectors \(3, 4\).*got shape \(3, 5\)"),
        (torch.zeros(3, 4), torch.zeros(3), "integer class indices"),
        (torch.zeros(3, 4), torch.full((3, 4), 2.0), "at most 1"),
        (torch.zeros(3, 4), torch.full((3, 4), float("nan")), "finite"),
        (torch.zeros(4), torch.tensor([0]), r"shape \(N, C\)"),
        (torch.zeros(3, 4, dtype=torch.long), torch.tensor([0, 1, 2]), r"float tensor of shape \(N, C\)"),
    ],
)
def test_bad_shapes_and_values_raise_one_line(logits, target, match):
    for loss_type in ("assume_negative", "mask_binary_ce", "ce"):
        with pytest.raises(ValueError, match=match) as e:
            make_loss(loss_type)(logits, target)
        assert "\n" not in str(e.value)


def test_num_classes_checks_logit_width_and_weak_needs_two_classes():
    with pytest.raises(ValueError, match="logits have 4 classes but the loss was built for 5"):
        make_loss("weak_assume_negative", 5)(torch.zeros(2, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="at least 2 classes"):
        make_loss("weak_assume_negative")(torch.zeros(2, 1), torch.tensor([0, 0]))
    assert float(make_loss("assume_negative", 4)(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))) == 0.0


@pytest.mark.parametrize(
    ("loss_type", "kwargs", "match"),
    [
        ("assume_negative", {"num_classes": 2.5}, "num_classes must be a positive integer, got 2.5"),
        ("assume_negative", {"num_classes": 4.0}, "num_classes must be a positive integer, got 4.0"),
        ("assume_negative", {"num_classes": "x"}, "num_classes must be a positive integer, got 'x'"),
        ("assume_negative", {"num_classes": True}, "num_classes must be a positive integer, got True"),
        ("assume_negative", {"num_classes": 0}, "num_classes must be a positive integer, got 0"),
        ("binary_labelsmooth", {"smoothing": None}, "smoothing must be a finite number, got None"),
        ("binary_labelsmooth", {"smoothing": "0.1"}, "smoothing must be a finite number, got '0.1'"),
        ("binary_negative_labelsmooth", {"smoothing": float("nan")}, "smoothing must be a finite number"),
        ("binary_focal", {"alpha": None}, "alpha must be a finite number, got None"),
        ("binary_focal", {"gamma": "2"}, "gamma must be a finite number, got '2'"),
        ("entropy_maximise", {"alpha": True}, "alpha must be a finite number, got True"),
    ],
)
def test_bad_construction_names_the_argument_in_one_line(loss_type, kwargs, match):
    with pytest.raises(ValueError, match=match) as e:
        make_loss(loss_type, **kwargs)
    assert "\n" not in str(e.value)


def test_numpy_numbers_are_accepted():
    loss = make_loss("binary_labelsmooth", np.int64(4), smoothing=np.float32(0.25))
    assert loss.num_classes == 4 and type(loss.num_classes) is int and loss.smoothing == 0.25
    assert make_loss("binary_focal", np.int32(4), alpha=np.float64(0.5), gamma=np.int64(1)).gamma == 1.0


def test_make_loss_names_and_hyper_parameters():
    with pytest.raises(ValueError, match="unknown loss_type 'bce'; choose one of ce, assume_negative") as e:
        make_loss("bce")
    assert "ideal_mask_binary_ce" in str(e.value)
    with pytest.raises(ValueError, match="unknown loss_type 'ideal_ce'"):
        make_loss("ideal_ce")
    with pytest.raises(TypeError, match="unknown hyper-parameter 'alpha'; it takes smoothing"):
        make_loss("binary_labelsmooth", alpha=0.3)
    with pytest.raises(TypeError, match="it takes no hyper-parameters"):
        make_loss("assume_negative", gamma=1)
    with pytest.raises(ValueError, match="smoothing must be in"):
        make_loss("binary_labelsmooth", smoothing=1.0)
    assert isinstance(make_loss("ideal_mask_binary_ce"), MaskedBinaryCrossEntropyLoss)
    assert type(make_loss("ideal_pseudo_single_binary_ce")).loss_type == "pseudo_single_binary_ce"
    smoothed = make_loss("binary_labelsmooth", smoothing=0.3)(torch.tensor(LOGITS), torch.tensor(INDICES))
    y = one_hot()
    assert float(smoothed) == pytest.approx(float(binary_terms(y * 0.7 + 0.3 / C, LOGITS).sum(1).mean()))
    assert AssumeNegativeLossWithLogits is AssumeNegativeLoss


def test_criterion_for_split_validates_pseudo_label_losses_with_assume_negative():
    assert isinstance(criterion_for_split("mask_binary_ce", "train"), MaskedBinaryCrossEntropyLoss)
    for loss_type in ("mask_binary_ce", "pseudo_single_binary_ce", "ideal_mask_binary_ce"):
        assert type(criterion_for_split(loss_type, "val")) is AssumeNegativeLoss
    assert isinstance(criterion_for_split("binary_focal", "val", alpha=0.5), BinaryFocalLoss)


def test_loss_is_a_drop_in_train_criterion():
    """The engine passes labels unchanged to a non-BCE criterion: class indices and vectors both work."""
    from vai_train.engine.loop import _labels_for_loss

    crit = make_loss("mask_binary_ce")
    labels = torch.tensor([[1.0, -1.0, 0.0, 0.0]])
    assert _labels_for_loss(labels, crit) is labels
    assert torch.isfinite(crit(torch.zeros(1, 4), labels))
