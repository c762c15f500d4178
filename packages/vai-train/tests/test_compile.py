"""``--compile`` / ``compile = True`` with ``compile_options``: the model (and an EMA copy) run through
torch.compile in place, in training and in eval/feature/predict, with the same results and checkpoints as
without; bad settings are refused before anything is created, and a failing compile is one line."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from vai_train import run_eval, run_feature, run_predict, run_train
from vai_train.cli import main
from vai_train.config.loader import ConfigError
from vai_train.engine.compiling import compile_failure, compile_in_place
from vai_train.summary import read_summary
from vai_train_test_configs import NET_EXP, PICKABLE_EXP, exp_variant, torchrun

# a torch.compile backend that records each graph Dynamo hands it (and runs it as traced), so a test sees
# that the model went through torch.compile; the config holds it as it would any backend
COUNTING = """

GRAPHS = []


def _counting(gm, example_inputs):
    GRAPHS.append([tuple(x.shape) for x in example_inputs if isinstance(x, torch.Tensor)])
    return gm.forward


compile_options = dict(backend=_counting)
"""


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    """Dynamo caches compiled frames per code object: each test starts from none."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def graphs() -> list:
    """The graphs the last-executed counting config's backend received."""
    cfgs = [m for m in list(sys.modules.values()) if "_counting" in getattr(m, "__dict__", {})]
    return cfgs[-1].GRAPHS if cfgs else []


def _variant(tmp_path: Path, base_args: list[str], name: str, extra: str, body: str = NET_EXP) -> list[str]:
    return exp_variant(tmp_path, base_args, name, body + COUNTING + extra)


def _run_dir(tmp_path: Path, name: str, version: int = 0) -> Path:
    return tmp_path / "exp" / "tiny" / "tinynet" / name / f"version_{version:03d}"


def test_training_with_the_flag_compiles_and_matches_eager(base_args, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="vai_train")
    args = _variant(tmp_path, base_args, "cc", "")
    plain = run_train(args + ["-e", "2", "-v", "0"])
    assert graphs() == [] and "compile:" not in caplog.text
    compiled = run_train(args + ["-e", "2", "-v", "1", "--compile"])
    traced = graphs()
    assert traced, "the model never reached the torch.compile backend"
    # training (batch 8) and validation (batch 10) each got a graph of the real clip shapes
    assert {(8, 3, 2, 8, 8), (10, 3, 2, 8, 8)} <= {s for g in traced for s in g}
    assert "compile: the model (_Net) runs through torch.compile (backend='_counting')" in caplog.text
    for want, got in zip(plain.summary, compiled.summary, strict=True):
        for key in ("train_loss", "val_loss", "val_acc"):
            assert got[key] == pytest.approx(want[key], rel=1e-5, abs=1e-7), (got["epoch"], key)
    # checkpoints hold the plain module's keys (no _orig_mod. prefix): they load either way
    ckpts = [torch.load(_run_dir(tmp_path, "cc", v) / "weights" / "epoch_0002.pth") for v in (0, 1)]
    assert list(ckpts[1]["model_state"]) == list(ckpts[0]["model_state"])
    torch._dynamo.reset()
    resumed = run_train(args + ["-e", "3", "-v", "0", "-l", "-1", "--compile"])  # eager run, compiled on
    assert [r["epoch"] for r in resumed.summary] == [1, 2, 3] and graphs()
    resumed = run_train(args + ["-e", "3", "-v", "1", "-l", "-1"])  # compiled run, eager on
    assert [r["epoch"] for r in resumed.summary] == [1, 2, 3] and graphs() == []


def test_the_config_setting_and_the_flag_that_overrides_it(base_args, tmp_path) -> None:
    args = _variant(tmp_path, base_args, "cfg", "\ncompile = True\n")
    run_train(args + ["-e", "1", "-v", "0"])
    assert graphs()
    run_train(args + ["-e", "1", "-v", "1", "--no-compile"])
    assert graphs() == []  # a fresh config module: its backend never called


HOOK = """

SEEN = []


def epoch_start_script(epoch, exp, args, rank, world_size, kit):
    model = kit["model"]
    SEEN.append((type(model).__name__, model._compiled_call_impl is not None, sorted(model.state_dict())[:2]))
"""


def test_hooks_see_the_usual_model(base_args, tmp_path) -> None:
    args = _variant(tmp_path, base_args, "hook", HOOK)
    run_train(args + ["-e", "2", "--compile"])
    seen = [m for m in list(sys.modules.values()) if "SEEN" in getattr(m, "__dict__", {})][-1].SEEN
    assert seen == [("_Net", True, ["bn.bias", "bn.num_batches_tracked"])] * 2


def test_the_model_config_may_ask_for_it(base_args, tmp_path, caplog) -> None:
    """As channels_last: the exp config's setting, else the model config's."""
    caplog.set_level(logging.INFO, logger="vai_train")
    root = tmp_path / "cfg" / "model_configs"
    root.mkdir(parents=True)
    tiny = Path(base_args[base_args.index("--config-root") + 1]) / "model_configs" / "tinynet.py"
    (root / "tinynet.py").write_text(
        tiny.read_text() + "\ncompile = True\ncompile_options = {'backend': 'eager'}\n"
    )
    run_train(["--config-root", str(tmp_path / "cfg"), *base_args, "-e", "1"])
    assert "runs through torch.compile (backend='eager')" in caplog.text


def test_an_ema_copy_is_compiled_on_its_own(base_args, tmp_path, caplog) -> None:
    """The EMA copy is validated each epoch: compiled separately (a copy of a compiled module is not), and
    validation stays the EMA weights' (the metrics of the eager run)."""
    caplog.set_level(logging.INFO, logger="vai_train")
    args = _variant(tmp_path, base_args, "ema", "\nema_decay = 0.5\n")
    plain = run_train(args + ["-e", "2", "-v", "0"])
    compiled = run_train(args + ["-e", "2", "-v", "1", "--compile"])
    assert "compile: the EMA model (validated) (_Net)" in caplog.text
    # validation runs the EMA copy only, in eval mode: its batches of 10 reached the backend
    assert (10, 3, 2, 8, 8) in {s for g in graphs() for s in g}
    for want, got in zip(plain.summary, compiled.summary, strict=True):
        assert got["val_loss"] == pytest.approx(want["val_loss"], rel=1e-5), got["epoch"]


def test_eval_and_feature_compile_what_they_run(base_args, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="vai_train")
    args = _variant(tmp_path, base_args, "inf", "")
    run_train(args + ["-e", "1"])
    plain = run_eval(args + ["-l", "-1"])
    assert graphs() == []
    compiled = run_eval(args + ["-l", "-1", "--compile"])
    assert graphs() and compiled.metrics["val_loss"] == pytest.approx(plain.metrics["val_loss"], rel=1e-6)
    caplog.clear()
    feats = [run_feature(args + ["-l", "-1", *flag]) for flag in ([], ["--compile"])]
    # forward_features is what feature runs, so the ForwardFeatures wrapper is what gets compiled
    assert "compile: the inference module (ForwardFeatures)" in caplog.text
    assert "compile: the model" not in caplog.text
    assert graphs()
    arrays = [np.load(f.metrics["path"], allow_pickle=False) for f in feats]
    np.testing.assert_allclose(arrays[1]["features"], arrays[0]["features"], rtol=1e-6)


def test_predict_compiles_the_model(base_args, tmp_path) -> None:
    args = exp_variant(tmp_path, base_args, "pick", PICKABLE_EXP + COUNTING)
    run_train(args + ["-e", "1"])
    plain = run_predict(args + ["-l", "-1", "3.vid", "5.vid"])
    assert graphs() == []
    compiled = run_predict(args + ["-l", "-1", "3.vid", "5.vid", "--compile"])
    assert graphs()
    np.testing.assert_allclose(compiled.metrics["probs"].numpy(), plain.metrics["probs"].numpy(), atol=1e-6)


@pytest.mark.parametrize(
    "setting, message",
    [
        ("compile = 'yes'", r"tinynet-bad\.py: compile = 'yes'; use True or False"),
        ("compile_options = ['max-autotune']", r"compile_options = \['max-autotune'\]; use a dict of torch"),
        (
            "compile_options = dict(mod='default')",
            r"has 'mod', which torch\.compile does not take; its .*mode",
        ),
        ("compile_options = dict(mode='fastest')", r"tinynet-bad\.py: compile_options = .*Unrecognized mode"),
        ("compile_options = dict(backend='nope')", r"compile_options = .*Invalid backend: 'nope'"),
        ("compile_options = dict(disable=True)", r"has 'disable'; set compile = False \(or --no-compile\)"),
        ("compile_options = dict(fullgraph='no')", r"compile_options fullgraph = 'no'; use True or False"),
        (
            "compile_options = dict(backend=42)",
            r"compile_options backend = 42; use a backend name or a callable",
        ),
        (
            "compile_options = dict(options=dict(bogus=1))",
            r"Unexpected optimization option bogus, known .{0,280}\.\.\.$",
        ),
    ],
)
def test_bad_settings_are_refused_before_a_version_exists(base_args, tmp_path, setting, message) -> None:
    args = exp_variant(tmp_path, base_args, "bad", NET_EXP + f"\n{setting}\n")
    flag = [] if setting.startswith("compile =") else ["--compile"]
    with pytest.raises(ConfigError, match=message):
        run_train(args + ["-e", "1", *flag])
    assert not (tmp_path / "exp" / "tiny" / "tinynet" / "bad").exists()
    if flag:  # eval refuses it before picking a version too; without --compile the options are not read
        with pytest.raises(ConfigError, match=message):
            run_eval(args + ["--compile"])
        run_train(args + ["-e", "1"])


def test_a_failing_compile_is_one_line(base_args, tmp_path, capsys) -> None:
    boom = "\n\ndef _boom(gm, example_inputs):\n    raise ValueError('no code for you')\n\n"
    args = exp_variant(
        tmp_path, base_args, "boom", NET_EXP + boom + "compile_options = dict(backend=_boom)\n"
    )
    assert main(["train", *args, "-e", "1", "--compile"]) == 1
    err = capsys.readouterr().err.strip()  # the run's INFO lines, then the error in one line
    assert "Traceback" not in err and "TORCHDYNAMO_VERBOSE" not in err
    err = err.splitlines()[-1]
    assert err.startswith(
        "vai-train train: error: torch.compile failed (BackendCompilerFailed: backend='_boom' raised:"
        " ValueError: no code for you); run without --compile"
    )
    assert "{'backend': 'aot_eager'}" in err


def test_the_models_own_error_met_while_tracing_is_its_own_line(base_args, tmp_path, capsys) -> None:
    """A model fed clips of the wrong channel count fails as it would eagerly, not as a compile failure."""
    wrong = NET_EXP.replace("nn.Conv3d(3, 8,", "nn.Conv3d(5, 8,")
    args = exp_variant(tmp_path, base_args, "wrong", wrong + "\ncompile_options = dict(backend='eager')\n")
    assert main(["train", *args, "-e", "1", "--compile"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(
        "vai-train train: error: RuntimeError: Given groups=1, weight of size [8, 5, 3, 3, 3]"
    )
    assert err.endswith("(while torch.compile traced the model)") and "compile failed" not in err


def test_a_model_raising_under_fullgraph_is_its_own_line(base_args, tmp_path, capsys) -> None:
    """With fullgraph=True TorchDynamo reports the model's exception as Unsupported; the line is the
    model's."""
    raising = NET_EXP.replace(
        "    def forward(self, x):\n",
        "    def forward(self, x):\n        raise ValueError('clips of 2 frames')\n",
    )
    opts = "\ncompile_options = dict(backend='eager', fullgraph=True)\n"
    args = exp_variant(tmp_path, base_args, "raising", raising + opts)
    assert main(["train", *args, "-e", "1", "--compile"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert (
        err
        == "vai-train train: error: ValueError('clips of 2 frames') (while torch.compile traced the model)"
    )


def test_compile_failure_leaves_other_errors_alone() -> None:
    assert compile_failure(ValueError("x")) is None
    assert compile_failure(KeyError("y")) is None


def test_compile_in_place_keeps_the_module_and_its_state() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    keys, weight = list(model.state_dict()), model[0].weight
    compile_in_place(model, None)  # off: nothing
    assert model._compiled_call_impl is None
    compile_in_place(model, {"backend": "eager"})
    assert model._compiled_call_impl is not None
    assert list(model.state_dict()) == keys and model[0].weight is weight
    x = torch.randn(2, 4)
    assert torch.equal(model(x), model.forward(x))
    with pytest.raises(TypeError, match="compile_in_place expects an nn.Module, got function"):
        compile_in_place(lambda x: x, {})


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None, reason="no C++ compiler")
def test_inductor_trains_as_eager(base_args, tmp_path, caplog) -> None:
    """The default backend, Inductor, generating and compiling C++ on the CPU: the same losses to float
    rounding (its fused kernels reorder sums)."""
    caplog.set_level(logging.WARNING, logger="torch._dynamo")
    args = exp_variant(tmp_path, base_args, "ind", NET_EXP)
    plain = run_train(args + ["-e", "1", "-v", "0"])
    compiled = run_train(args + ["-e", "1", "-v", "1", "--compile"])
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 2  # training and validation
    assert "recompile_limit" not in caplog.text  # nothing fell back to eager
    for key in ("train_loss", "val_loss"):
        assert compiled.summary[0][key] == pytest.approx(plain.summary[0][key], rel=1e-3), key


@pytest.mark.slow
def test_two_gloo_processes_train_the_compiled_model_as_eager(base_args, tmp_path) -> None:
    """The compiled module inside DDP (compiled before DDP wraps it): gradients reach DDP's hooks and are
    averaged as in the eager run. AOTAutograd's backend, which traces forward and backward as Inductor does,
    without generating code."""
    args = _variant(tmp_path, base_args, "ddp", "\ncompile_options = dict(backend='aot_eager')\n")
    torchrun(["train", *args, "-e", "2", "-v", "0"])
    torchrun(["train", *args, "-e", "2", "-v", "1", "--compile"])
    rows = [read_summary(_run_dir(tmp_path, "ddp", v) / "logs" / "summary.csv") for v in (0, 1)]
    assert [r["epoch"] for r in rows[1]] == [1, 2]
    log = (_run_dir(tmp_path, "ddp", 1) / "logs" / "train_INFO.log").read_text()
    # the model inside DDP, compiled before DDP wrapped it (not the DistributedDataParallel wrapper)
    assert "compile: the model (_Net) runs through torch.compile (backend='aot_eager')" in log
    for want, got in zip(*rows, strict=True):
        for key in ("train_loss", "val_loss", "val_acc"):
            assert got[key] == pytest.approx(want[key], rel=1e-5, abs=1e-7), (got["epoch"], key)
