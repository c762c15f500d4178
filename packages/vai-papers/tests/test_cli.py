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
