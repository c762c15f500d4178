"""``vai-train predict``: video files through a split's test pipeline, the same scores eval gives them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from vai_train import run_eval, run_predict, run_train
from vai_train.cli import main
from vai_train.reporting import load_predictions
from vai_train_test_configs import PICKABLE_EXP, exp_variant


@pytest.fixture
def pick_args(tmp_path: Path, base_args: list[str]) -> list[str]:
    args = exp_variant(tmp_path, base_args, "pick", PICKABLE_EXP)
    run_train(args + ["-e", "2", "-s", "all"])
    return args


def test_scores_are_evals_for_the_same_videos(pick_args: list[str], tmp_path: Path) -> None:
    run_eval(pick_args + ["-l", "1", "-p"])
    run_dir = tmp_path / "exp" / "tiny" / "tinynet" / "pick" / "version_000"
    evaluated = load_predictions(run_dir / "predictions" / "epoch_0001_val_oneclip.npz")
    res = run_predict(pick_args + ["-l", "1", "7.vid", "3.vid", "--top", "2"])
    assert np.allclose(res.metrics["probs"].numpy(), evaluated["probs"][[7, 3]], atol=1e-6)
    top = res.metrics["top"]
    assert [len(t) for t in top] == [2, 2] and top[0][0]["prob"] >= top[0][1]["prob"]
    assert top[0][0]["class_id"] == int(evaluated["probs"][7].argmax())
    assert top[0][0]["class"] == "abcd"[top[0][0]["class_id"]]  # class_keys
    line = res.summary_line().splitlines()
    assert line[0].startswith("7.vid: ") and line[-1] == "predict: 2 videos (epoch 1, val pipeline)"


def test_multicrop_averages_views_and_tables(pick_args: list[str], tmp_path: Path) -> None:
    csv_path, json_path = tmp_path / "out" / "top.csv", tmp_path / "top.json"
    res = run_predict(pick_args + ["-l", "-1", "-m", "multicrop", "5.vid", "--top", "9", "-o", str(csv_path)])
    assert len(res.metrics["top"][0]) == 4  # --top beyond the classes shows them all
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["rank"] for r in rows] == ["1", "2", "3", "4"] and {r["video"] for r in rows} == {"5.vid"}
    assert "multicropval pipeline" in res.summary_line() and str(csv_path) in res.summary_line()
    run_predict(pick_args + ["-l", "-1", "5.vid", "1.vid", "-o", str(json_path)])
    table = json.loads(json_path.read_text())
    assert [t["video"] for t in table] == ["5.vid", "1.vid"] and len(table[0]["top"]) == 4


def test_refusals_are_one_line(
    base_args: list[str], pick_args: list[str], capsys: pytest.CaptureFixture
) -> None:
    assert main(["predict", *pick_args, "1.vid", "--top", "0"]) == 1
    assert "--top 0: show at least one class" in capsys.readouterr().err
    assert main(["predict", *pick_args, "1.vid", "-o", "top.txt"]) == 1
    assert "-o top.txt: write a .csv or a .json file" in capsys.readouterr().err
    run_train(base_args + ["-e", "1"])
    assert main(["predict", *base_args, "-l", "-1", "1.vid"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "the val dataset (TinyDataset) has no with_videos(paths)" in errors[0]


def test_a_concatenated_split_is_refused_in_one_line(
    tmp_path: Path, pick_args: list[str], capsys: pytest.CaptureFixture
) -> None:
    root = Path(pick_args[1])
    exp = root / "exp_configs" / "tiny" / "tinynet-pick.py"
    exp.write_text(
        exp.read_text()
        + "\n\ndef get_torch_dataset(split):\n"
        + "    from torch.utils.data import ConcatDataset\n"
        + "    return ConcatDataset([Pickable(split), Pickable(split)])\n"
    )
    assert main(["predict", *pick_args, "-l", "1", "1.vid"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "concatenates several datasets; predict reads videos through one" in errors[0]
