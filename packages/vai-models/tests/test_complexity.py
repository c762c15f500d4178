import numpy as np
import pytest
import torch
from vai_models import create_model, flops, params
from vai_models.cli import main


def test_params_counts():
    m = create_model("feature_mlp", num_classes=4, num_frames=1, feature_dim=10, num_layers=1, num_units=6)
    # Linear(10,6) + BN(6) + Linear(6,4)
    assert params(m) == (10 * 6 + 6) + 2 * 6 + (6 * 4 + 4)
    m.fc.weight.requires_grad_(False)
    assert params(m, trainable_only=True) == params(m) - 24


def test_flops_of_a_linear_model_is_its_multiply_adds():
    m = create_model("feature_mlp", num_classes=4, num_frames=1, feature_dim=10, num_layers=0)
    assert flops(m, (1, 10)) == pytest.approx(10 * 4 / 1e9)
    assert flops(m) == pytest.approx(10 * 4 / 1e9)  # default input from default_cfg["input_size"]


def test_tsm_shift_costs_no_flops():
    tsn = create_model("tsn_resnet18", num_classes=4, num_frames=2)
    tsm = create_model("tsm_resnet18", num_classes=4, num_frames=2)
    shape = (1, 3, 2, 32, 32)
    assert flops(tsm, shape) == pytest.approx(flops(tsn, shape))
    assert tsm.training  # flops() restores the mode


def test_flops_restores_every_submodule_mode():
    m = create_model("tsn_resnet18", num_classes=4, num_frames=2).train()
    for mod in m.modules():  # a user freezing BN statistics for fine-tuning
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.eval()
    before = {name: mod.training for name, mod in m.named_modules()}
    flops(m, (1, 3, 2, 32, 32))
    assert {name: mod.training for name, mod in m.named_modules()} == before
    m.eval()
    m.fc.train()  # and the other way round: one module in train mode inside an eval model
    flops(m, (1, 3, 2, 32, 32))
    assert m.fc.training and not m.training and not m.backbone.layer1.training


def test_cli_flops_and_errors(capsys):
    assert main(["flops", "-M", "tsm_resnet18", "--frames", "2", "--crop", "32", "--num-classes", "5"]) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert out.startswith("tsm_resnet18: ") and "GFLOPs" in out and "1x3x2x32x32" in out
    assert main(["flops", "-M", "tsm_resnt18"]) == 2
    assert "Did you mean" in capsys.readouterr().err
    assert main(["list", "tsm_*"]) == 0
    assert "tsm_resnet50" in capsys.readouterr().out.split()


def test_cli_table_rows(capsys, monkeypatch):
    import vai_models.cli as cli

    monkeypatch.setattr(cli, "model_row", lambda name, n: {**_real_row(name, n), "name": name})
    assert main(["table", "tsm_resnet18"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("| model | params (M) | GFLOPs")
    assert lines[2].startswith("| `tsm_resnet18` | 11.")


def _real_row(name, n):
    from vai_models.cli import _spec
    from vai_models.complexity import default_input_shape

    m = create_model(name, num_classes=n, num_frames=2, crop_size=32)
    shape = default_input_shape(m)
    return {"params_m": params(m) / 1e6, "gflops": flops(m, shape), "input": _spec(m.default_cfg, shape)}


@pytest.mark.slow
def test_tsm_resnet50_anchor_32_88_gflops(capsys):
    torch.manual_seed(0)
    m = create_model("tsm_resnet50", num_classes=400, num_frames=8)
    assert round(flops(m, (1, 3, 8, 224, 224)), 2) == 32.88
    assert (
        main(["flops", "-M", "tsm_resnet50", "--frames", "8", "--crop", "224", "--num-classes", "400"]) == 0
    )
    assert "tsm_resnet50: 32.88 GFLOPs" in capsys.readouterr().out


def test_python_dash_m_entry_point():
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-m", "vai_models", "list", "tsn_*"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert out.stdout.split() == ["tsn_resnet101", "tsn_resnet18", "tsn_resnet34", "tsn_resnet50"]


def test_vai_models_imports_no_sibling_package():
    import os
    import subprocess
    import sys

    code = (
        "import sys, vai_models; bad = [m for m in sys.modules if m.split('.')[0] in "
        "('vai_data', 'vai_train', 'vai_papers')]; assert not bad, bad"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def test_table_normalisation_labels():
    from vai_models.cli import _norm

    assert _norm({"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}) == "ImageNet"
    assert _norm({"mean": (114.75,) * 3, "std": (57.375,) * 3}) == "114.75 / 57.375"
    assert _norm({"mean": (0.1, 0.2), "std": (1.0, 2.0)}) == "0.1, 0.2 / 1, 2"
    assert _norm({}) == "-"


def test_flops_takes_an_example_tensor_and_refuses_non_shapes():
    m = create_model("tsn_resnet18", num_classes=4, num_frames=2)
    shape = (1, 3, 2, 32, 32)
    assert flops(m, torch.zeros(shape)) == pytest.approx(flops(m, shape))
    assert flops(m, torch.Size(shape)) == pytest.approx(flops(m, shape))
    assert flops(m, np.array(shape)) == pytest.approx(flops(m, shape))  # numpy dims, as before the checks
    with pytest.raises(
        TypeError,
        match=r"^input_shape must be a sequence of positive ints such as \(1, 3, 8, 224, 224\) "
        r"\(or an example input tensor\), got 224$",
    ):
        flops(m, 224)
    with pytest.raises(TypeError, match="input_shape must be a sequence of positive ints.*got '1x3'"):
        flops(m, "1x3")
    with pytest.raises(ValueError, match=r"input_shape must be .*got \(1, 3, 0, 32, 32\)"):
        flops(m, (1, 3, 0, 32, 32))
    # a 4-d shape reaches the model's own check, whose message prints plain ints even while traced
    with pytest.raises(
        ValueError, match=r"tsn_resnet18 expects input of shape \(N, 3, T, H, W\), got \(1, 3, 2, 32\);"
    ):
        flops(m, (1, 3, 2, 32))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--crop", "0"], "argument --crop: expected a positive int, got 0"),
        (["--crop", "-5"], "argument --crop: expected a positive int, got -5"),
        (["--in-channels", "0"], "argument --in-channels: expected a positive int, got 0"),
        (["--frames", "two"], "argument --frames: expected a positive int, got 'two'"),
        (["--num-classes", "0"], "argument --num-classes: expected a positive int, got 0"),
    ],
)
def test_cli_refuses_bad_numbers_as_usage_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(["flops", "-M", "tsn_resnet18", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_log_level_is_a_choice_and_case_insensitive(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["-L", "bogus", "list"])
    assert exc.value.code == 2
    assert "argument -L/--log-level: invalid choice: 'BOGUS' (choose from" in capsys.readouterr().err
    assert main(["-L", "debug", "list", "tsn_resnet18"]) == 0


def test_cli_value_errors_from_building_exit_2(capsys, caplog):
    """docs/models.md: a KeyError/ValueError/TypeError raised while building or counting is one line
    and exit status 2 (not only an unknown name); -L goes before the command and logs the traceback."""
    with caplog.at_level("DEBUG", logger="vai_models.cli"):
        rc = main(["-L", "DEBUG", "flops", "-M", "slowfast_resnet50", "--frames", "30", "--crop", "32"])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err == "vai-models flops: error: SlowFast needs a clip length divisible by alpha=4, got T=30"
    assert any(r.exc_info for r in caplog.records)  # the traceback goes to DEBUG
    with pytest.raises(SystemExit) as exc:  # -L after the command is not an option of `flops`
        main(["flops", "-M", "tsn_resnet18", "-L", "DEBUG"])
    assert exc.value.code == 2


def test_cli_any_other_error_is_one_line_with_status_1(capsys, monkeypatch, caplog):
    import vai_models.cli as cli

    def broken(*args, **kwargs):
        raise RuntimeError("Calculated padded input size per channel: (1 x 1). Kernel size: (7 x 7).\nmore")

    monkeypatch.setattr(cli, "flops", broken)
    with caplog.at_level("DEBUG", logger="vai_models.cli"):
        assert main(["flops", "-M", "tsn_resnet18", "--frames", "2", "--crop", "32"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert (
        err.startswith("vai-models flops: error: RuntimeError: Calculated padded input size")
        and "more" not in err
    )
    assert any(r.exc_info for r in caplog.records)  # the traceback goes to DEBUG


def test_cli_flops_defaults_to_the_model_recipe_clip(capsys):
    """docs/models.md: without --frames/--crop the CLI counts the model's default input, as flops(model)
    and the model table do (x3d_xs: 4 x 160^2 = 0.63 GFLOPs, not 8 x 224^2), and prints that shape."""
    assert main(["flops", "-M", "x3d_xs"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("x3d_xs: 0.63 GFLOPs, 3.79 M params (input 1x3x4x160x160, 400 classes)")
    assert main(["flops", "-M", "x3d_xs", "--crop", "32"]) == 0
    assert "(input 1x3x4x32x32, 400 classes)" in capsys.readouterr().out


def test_cli_flops_prints_small_values_and_the_summary_first(capsys):
    assert main(["flops", "-M", "feature_mlp"]) == 0
    assert capsys.readouterr().out.startswith("feature_mlp: 0.0003 GFLOPs")  # as the table, not 0.00
    assert main(["flops", "-M", "tsn_resnet18", "--frames", "2", "--crop", "32", "--by-module"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("tsn_resnet18: ") and "(input 1x3x2x32x32, 400 classes)" in lines[0]
    modules = [line.split()[0] for line in lines[1:]]
    assert "backbone" in modules and "backbone.layer1" in modules and "fc" in modules
    assert all(m.count(".") < 2 for m in modules)
    with pytest.raises(SystemExit):
        main(["flops", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "per module down to two name levels (e.g. backbone and backbone.layer1)" in help_text
