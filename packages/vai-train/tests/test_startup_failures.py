"""A run that fails while starting leaves no empty version behind (and never touches an existing one);
eval of load_pretrained() weights creates no version for nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from vai_train import run_eval, run_train
from vai_train.cli import main

CONFIG_ROOT = Path(__file__).parent / "configs_tiny"


def _override(tmp_path: Path, base_args: list[str], exp: str, body: str) -> list[str]:
    """base_args with an extra first config root holding exp_configs/tiny/tinynet-<exp>.py = ``body``."""
    root = tmp_path / "override"
    (root / "exp_configs" / "tiny").mkdir(parents=True, exist_ok=True)
    (root / "exp_configs" / "tiny" / f"tinynet-{exp}.py").write_text(
        f"include({str(CONFIG_ROOT / 'exp_configs' / 'tiny' / 'tinynet-base.py')!r})\n{body}"
    )
    args = [a if a != "base" else exp for a in base_args]
    return ["--config-root", str(root), *args]


def _versions(base_args: list[str], exp: str = "base") -> list[str]:
    d = Path(base_args[base_args.index("-R") + 1]) / "tiny" / "tinynet" / exp
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def _error(capsys: pytest.CaptureFixture) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]


@pytest.mark.parametrize(
    ("exp", "body", "message"),
    [
        ("none", "def get_torch_dataset(split):\n    return None\n", "returned None"),
        ("missing", "def get_torch_dataset(split):\n    open('/nonexistent/split.csv')\n", "split.csv"),
        ("obsolete", "import torch\ncriterion = torch.nn.CrossEntropyLoss()\n", "'criterion' is obsolete"),
        (
            "pretrained",
            "def load_pretrained(model):\n    raise FileNotFoundError('w.pth missing')\n",
            "w.pth",
        ),
    ],
)
def test_failed_start_leaves_no_version(
    tmp_path: Path, base_args: list[str], capsys: pytest.CaptureFixture, exp: str, body: str, message: str
) -> None:
    args = _override(tmp_path, base_args, exp, body)
    assert main(["train", *args, "-e", "1"]) == 1
    err = _error(capsys)
    assert len(err) == 1 and message in err[0]
    assert _versions(base_args, exp) == []


def test_negative_workers_is_one_line_before_anything(
    base_args: list[str], capsys: pytest.CaptureFixture
) -> None:
    args = list(base_args)
    args[args.index("-w") + 1] = "-1"
    assert main(["train", *args, "-e", "1"]) == 1
    assert _error(capsys) == [
        "vai-train train: error: -w -1: DataLoader workers cannot be negative; use 0 to load in-process"
    ]
    assert _versions(base_args) == []


def test_failed_resume_keeps_the_existing_version(
    tmp_path: Path, base_args: list[str], capsys: pytest.CaptureFixture
) -> None:
    first = run_train(base_args + ["-e", "1"])
    before = sorted(str(p.relative_to(first.run_dir)) for p in first.run_dir.rglob("*"))
    bad = "def optimiser(params):\n    raise ValueError('no optimiser today')\n"
    args = _override(tmp_path, base_args, "base", bad)
    assert main(["train", *args, "-l", "-1", "-e", "2"]) == 1
    assert "no optimiser today" in _error(capsys)[0]
    after = sorted(str(p.relative_to(first.run_dir)) for p in first.run_dir.rglob("*"))
    assert set(before) <= set(after) and _versions(base_args) == ["version_000"]
    assert main(["train", *args, "-e", "2"]) == 1  # a new version that fails goes again
    assert _versions(base_args) == ["version_000"]


def test_eval_of_pretrained_weights_creates_no_version(
    base_args: list[str], capsys: pytest.CaptureFixture
) -> None:
    res = run_eval(base_args)
    assert res.run_dir is None and res.best_epoch is None and _versions(base_args) == []
    assert main(["eval", *base_args]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("eval val_acc = ") and line.endswith("(load_pretrained() weights)")
    res = run_eval(base_args + ["-p"])  # a predictions file needs a home: now a version is made
    assert res.run_dir is not None and (res.run_dir / "predictions" / "epoch_0000_val_oneclip.npz").is_file()
