"""vai-papers CLI helpers: finding the latest run and formatting the demo line."""

from __future__ import annotations

import pytest
from vai_papers.cli import RunNotFoundError, demo_summary_line, latest_run_dir, main


def _make_run(root, version, rows):
    run = root / "synthetic_motion" / "tsm_resnet18" / "demo" / f"version_{version:03d}"
    (run / "logs").mkdir(parents=True)
    lines = ["epoch,train_loss,val_acc"] + [",".join(map(str, r)) for r in rows]
    (run / "logs" / "summary.csv").write_text("\n".join(lines) + "\n")
    return run


def test_latest_run_dir_picks_highest_version_numerically(tmp_path):
    _make_run(tmp_path, 2, [(0, 1.0, 0.5)])
    newest = _make_run(tmp_path, 10, [(0, 1.0, 0.6)])
    assert latest_run_dir(tmp_path, "synthetic_motion", "tsm_resnet18", "demo") == newest


def test_latest_run_dir_without_runs_names_directory(tmp_path):
    with pytest.raises(RunNotFoundError, match="tsm_resnet18/demo"):
        latest_run_dir(tmp_path, "synthetic_motion", "tsm_resnet18", "demo")


def test_demo_summary_line_reports_last_val_acc_and_chance(tmp_path):
    run = _make_run(tmp_path, 0, [(0, 2.0, 0.25), (1, 1.0, 0.75)])
    line = demo_summary_line(run, num_classes=8)
    assert line.startswith("demo: val top-1 = 0.750 (chance 0.125)")
    assert str(run) in line


def test_demo_summary_line_without_val_column(tmp_path):
    run = tmp_path / "version_000"
    (run / "logs").mkdir(parents=True)
    (run / "logs" / "summary.csv").write_text("epoch,train_loss\n0,1.0\n")
    with pytest.raises(RunNotFoundError, match="no val_acc"):
        demo_summary_line(run, num_classes=6)


def test_main_exits_nonzero_with_message_when_no_run(tmp_path, capsys):
    assert main(["demo-summary", "-R", str(tmp_path)]) == 1
    assert "train first" in capsys.readouterr().err


def test_demo_summary_reads_the_experiment_root_from_the_environment(tmp_path, monkeypatch, capsys):
    run = _make_run(tmp_path, 0, [(1, 1.0, 0.5)])
    monkeypatch.setenv("VAI_EXPERIMENT_ROOT", str(tmp_path))
    assert main(["demo-summary"]) == 0
    assert capsys.readouterr().out.strip() == f"demo: val top-1 = 0.500 (chance 0.125) — results in {run}"


def test_a_non_numeric_val_acc_is_one_line(tmp_path, capsys):
    _make_run(tmp_path, 0, [(1, 1.0, "abc")])
    assert main(["demo-summary", "-R", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "val_acc 'abc' of epoch 1 is not a number" in err and "Traceback" not in err


def test_chance_is_printed_for_the_synthetic_dataset_only(tmp_path, capsys):
    run = tmp_path / "other" / "tsm_resnet18" / "demo" / "version_000"
    (run / "logs").mkdir(parents=True)
    (run / "logs" / "summary.csv").write_text("epoch,val_acc\n1,0.4\n")
    assert main(["demo-summary", "-R", str(tmp_path), "-D", "other"]) == 0
    assert capsys.readouterr().out.strip() == f"demo: val top-1 = 0.400 — results in {run}"
