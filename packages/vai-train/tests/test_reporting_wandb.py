"""Optional W&B logging: the engine logs every epoch's summary row to a W&B run (fake wandb module)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from vai_train import run_train
from vai_train.reporting.wandb_logger import WandbLogger


@pytest.fixture
def fake_wandb(monkeypatch):
    calls: dict[str, list] = {"init": [], "log": [], "finish": [], "artifacts": []}

    class Run:
        id, url = "run123", "https://wandb.invalid/run123"

        def log(self, values, step):
            calls["log"].append((step, dict(values)))

        def log_artifact(self, artifact):
            calls["artifacts"].append(artifact)

        def finish(self):
            calls["finish"].append(True)

    class Artifact:
        def __init__(self, name, type):
            self.name, self.type, self.files = name, type, []

        def add_file(self, local_path, name=None):
            self.files.append((local_path, name))

    def init(**kwargs):
        calls["init"].append(kwargs)
        return Run()

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=init, Artifact=Artifact))
    return calls


def test_train_logs_each_epoch_to_wandb(base_args: list[str], fake_wandb) -> None:
    res = run_train(base_args + ["-e", "2", "-WP", "proj", "-WE", "team", "--plot-period", "-1"])
    (init,) = fake_wandb["init"]
    assert init["project"] == "proj" and init["entity"] == "team" and init["id"] is None
    assert Path(init["dir"]) == res.run_dir / "wandb" and init["name"].endswith("v0")
    assert [step for step, _ in fake_wandb["log"]] == [1, 2]
    step, values = fake_wandb["log"][-1]
    assert values["val_acc"] == pytest.approx(float(res.summary[-1]["val_acc"]))
    assert "epoch" not in values and fake_wandb["finish"] == [True]


def test_best_and_last_weights_are_uploaded_unless_wum_no(base_args: list[str], fake_wandb) -> None:
    """-WUM best_and_last (upstream's default): best.pth and last.pth go up as 'weights' artifacts."""
    res = run_train(base_args + ["-e", "2", "-s", "all", "-WP", "proj"])
    arts = {a.name: a for a in fake_wandb["artifacts"]}
    assert sorted(arts) == ["best", "last"] and {a.type for a in arts.values()} == {"weights"}
    weights = res.run_dir / "weights"
    for name in ("best", "last"):
        target = (weights / f"{name}.pth").resolve()
        assert arts[name].files == [(str(target), target.name)]
    fake_wandb["artifacts"].clear()
    run_train(base_args + ["-e", "1", "-WP", "proj", "-WUM", "no"])
    assert fake_wandb["artifacts"] == []


def test_resume_id_is_passed_to_wandb(tmp_path: Path, fake_wandb) -> None:
    WandbLogger("proj", tmp_path, "name", run_id="abc")
    assert fake_wandb["init"][0]["id"] == "abc" and fake_wandb["init"][0]["resume"] == "allow"


def test_missing_wandb_names_the_extra(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb -> ImportError
    with pytest.raises(ImportError, match=r"pip install wandb \(vai-train's \[wandb\] extra\)"):
        WandbLogger("proj", tmp_path, "name")


def test_training_continues_without_wandb(base_args: list[str], monkeypatch, caplog) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)
    res = run_train(base_args + ["-e", "1", "-WP", "proj", "--plot-period", "-1"])
    assert len(res.summary) == 1
    assert any("W&B reporting failed" in r.getMessage() for r in caplog.records)
