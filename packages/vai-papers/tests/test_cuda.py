"""The papers on a CUDA GPU: every loss trains sync-free after its first call (checked with PyTorch's
sync debug mode) and gives the CPU's values; the full-scale paper configs train an epoch with ``--amp``
on the tiny fake prepared datasets (the ``fake`` fixture of conftest.py); ProSelfLC's train split is
scored on CUDA from the checkpoint's criterion state as on the CPU. Skipped where CUDA is not
available (CI); on a GPU machine: ``pytest packages/vai-papers/tests/test_cuda.py``."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import pytest
import torch
from vai_papers.proselflc import MaskedProSelfLC, ProSelfLC
from vai_papers.verb_ambiguity import LOSS_TYPES, make_loss
from vai_papers_test_paper_configs import ROOT
from vai_train import run_eval, run_train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
DEVICE = "cuda"

C = 6
INDICES = torch.tensor([0, 3, 1, 5, 2, 4, 0, 1])
ONE_HOT = torch.nn.functional.one_hot(INDICES, C).float()
MASKED = ONE_HOT.clone()
MASKED[0, 2] = MASKED[3, 1] = -1.0  # classes left out of those samples' ProSelfLC


SYNC_WARNING = "called a synchronizing CUDA operation"  # the message of PyTorch's sync debug mode


def _syncs(fn: Callable[[], None]) -> list[str]:
    """Run ``fn`` under ``torch.cuda.set_sync_debug_mode("warn")``: where it synchronised with the GPU
    (``file:line: message`` of each warning), empty when it never waited."""
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return [f"{w.filename}:{w.lineno}: {w.message}" for w in caught if SYNC_WARNING in str(w.message)]


def test_the_sync_detector_sees_a_host_read():
    """The control: a value read on the host is reported, a kernel launch is not."""
    x = torch.ones(4, device=DEVICE)
    assert _syncs(lambda: x.sum().item()) != []
    assert _syncs(lambda: x.mul_(2)) == []


def _train_steps(loss: torch.nn.Module, target: torch.Tensor, steps: int = 3) -> tuple[float, list[str]]:
    """One checked call (the value checks read the target once), then ``steps`` forward/backward/step
    calls watched for synchronisation; the first call's loss value and the syncs seen."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(len(INDICES), C, generator=g).to(DEVICE).requires_grad_()
    target = target.to(DEVICE)
    first = loss(logits, target)
    first.backward()
    value = float(first.detach())

    def run() -> None:
        for _ in range(steps):
            out = loss(logits, target)
            out.backward()
            if isinstance(loss, ProSelfLC):
                loss.step()

    return value, _syncs(run)


@pytest.mark.parametrize("target_kind", ["indices", "one_hot"])
@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_verb_ambiguity_losses_are_sync_free_after_the_first_call_and_match_cpu(loss_type, target_kind):
    target = INDICES if target_kind == "indices" else ONE_HOT
    value, syncs = _train_steps(make_loss(loss_type).to(DEVICE), target)
    assert syncs == [], "\n".join(syncs)
    g = torch.Generator().manual_seed(0)
    cpu = make_loss(loss_type)(torch.randn(len(INDICES), C, generator=g), target)
    assert value == pytest.approx(float(cpu), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize(
    "make,target",
    [
        (lambda: ProSelfLC(40), INDICES),
        (lambda: ProSelfLC(40), ONE_HOT),
        (lambda: MaskedProSelfLC(40), MASKED),
    ],
    ids=["proselflc-indices", "proselflc-distribution", "masked-proselflc"],
)
def test_proselflc_steps_are_sync_free_after_the_first_call_and_match_cpu(make, target):
    loss = make().to(DEVICE)
    for _ in range(25):  # past Γ/2, where the global trust has risen
        loss.step()
    value, syncs = _train_steps(loss, target)
    assert syncs == [], "\n".join(syncs)
    assert int(loss.cur_time) == 28  # the device-side counter advanced once per step
    cpu = make()
    for _ in range(25):
        cpu.step()
    g = torch.Generator().manual_seed(0)
    assert value == pytest.approx(float(cpu(torch.randn(len(INDICES), C, generator=g), target)), rel=1e-5)


# ------------------------------------------------------------------------------------- full-scale configs

# (exp channel, dataset, model, exp): each channel-sampling model and mode once, CATER's 32-frame clips,
# the verb-ambiguity end-to-end and feature runs with pseudo-labels, ProSelfLC
FULL = [
    ("tcgrey", "something_v1", "tsn_resnet50", "RGB_8frame"),
    ("tcgrey", "something_v1", "trn_resnet50", "TC_8frame"),
    ("tcgrey", "something_v1", "mtrn_resnet50", "TCPlus2_8frame"),
    ("tcgrey", "something_v1", "tsm_resnet50", "GreyST_8frame"),
    ("tcgrey", "something_v2", "mvf_resnet50", "TC_8frame"),
    ("tcgrey", "cater_task2", "tsm_resnet50", "GreyST_32frame"),
    ("tcgrey", "cater_task2", "mvf_resnet50", "TCPlus2_32frame"),
    ("verbambig", "epic100_verb", "tsm_resnet50", "pseudo_single_binary_ce"),
    ("verbambig", "confusing_hmdb_102", "tsm_resnet50", "mask_binary_ce"),
    ("verbambig", "epic100_verb", "feature_mlp", "pseudo_single_binary_ce"),
    ("verbambig", "confusing_hmdb_102", "feature_mlp", "mask_binary_ce"),
    ("proselflc", "hmdb", "tsm_resnet50", "proselflc"),
]


def _full_args(channel: str, dataset: str, model: str, exp: str, root) -> list[str]:
    return ["-D", dataset, "-M", model, "-c:e", channel, "-E", exp, "-R", str(root), "--no-progress"] + [
        "--config-root",
        str(ROOT),
    ]


def _feature_env(monkeypatch, fake, dataset: str, model: str) -> None:
    if model == "feature_mlp":
        monkeypatch.setenv("VAI_FEATURES_DIR", str(fake["features"][dataset]))
    if dataset == "epic100_verb" or model != "feature_mlp":
        monkeypatch.setenv("VAI_NUM_NEIGHBOURS", "1")  # the fake training splits have 2 videos


@pytest.mark.parametrize("setting", FULL, ids=["/".join(s[1:]) for s in FULL])
def test_full_scale_config_trains_an_epoch_on_cuda_with_amp(setting, fake, tmp_path, monkeypatch):
    channel, dataset, model, exp = setting
    _feature_env(monkeypatch, fake, dataset, model)
    args = _full_args(*setting, tmp_path) + ["--device", DEVICE, "--amp", "-w", "2", "-e", "1"]
    result = run_train(args)
    row = result.summary[-1]
    assert row["epoch"] == 1
    assert math.isfinite(float(row["train_loss"])) and math.isfinite(float(row["val_loss"])), row
    assert 0.0 <= float(row[result.best_metric_field]) <= 1.0


def test_proselflc_train_split_scores_the_same_on_cuda_and_cpu(fake, tmp_path):
    """eval -s train gives the checkpoint's criterion state and run length to the train criterion; on
    CUDA (fp32) its loss is the CPU's, within cuDNN's TF32 convolutions."""
    args = _full_args("proselflc", "hmdb", "tsm_resnet50", "proselflc", tmp_path) + ["-w", "0"]
    run_train(args + ["--device", DEVICE, "-e", "2"])
    on = {d: run_eval(args + ["--device", d, "-l", "-1", "-s", "train"]).metrics for d in (DEVICE, "cpu")}
    assert math.isfinite(on[DEVICE]["train_loss"])
    assert on[DEVICE]["train_loss"] == pytest.approx(on["cpu"]["train_loss"], rel=2e-2)
    assert on[DEVICE]["train_acc"] == pytest.approx(on["cpu"]["train_acc"], abs=0.26)
