"""Typo'd exp-config names are reported once with a "did you mean"; the user's own helpers are not;
unknown -D/-M/-E names get a hint; syntax errors name the full path."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from vai_train.cli import main
from vai_train.config import ConfigError, ConfigNotFoundError, discover_roots, exec_config, load_exp_config

TYPOS = """\
include("tinynet-base.py")
import os.path
import torch
from torch.utils.data import Dataset

del num_epochs
num_epoch = 2
batch_szie = 4
lr = 0.1
SIZE = 16
_private = 1


def optimizer(params):  # US spelling of optimiser
    return torch.optim.SGD(params, lr=0.5)


def scheduler(optimizer, iters_per_epoch, last_epoch=-1):  # a parameter named like the typo is no use
    return None


class Wrapped(Dataset):
    def __init__(self, split):
        self.ds = dataset_cfg.TinyDataset(split)

    def __len__(self):
        return min(SIZE, len(self.ds))

    def __getitem__(self, i):
        return self.ds[i]


def unused_helper():
    return os.path.sep


def get_torch_dataset(split):
    return Wrapped(split)
"""


@pytest.fixture
def typo_root(tmp_path: Path, config_root: Path) -> list:
    exp = tmp_path / "root" / "exp_configs" / "tiny"
    exp.mkdir(parents=True)
    (exp / "tinynet-base.py").write_text(
        (config_root / "exp_configs" / "tiny" / "tinynet-base.py").read_text()
    )
    (exp / "tinynet-typos.py").write_text(TYPOS)
    return discover_roots([tmp_path / "root", config_root], use_entry_points=False)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_typos_warn_once_with_did_you_mean(typo_root: list, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    cfg = load_exp_config(typo_root, "tiny", "tinynet", "typos")
    assert cfg.num_epochs == 1000  # the typo really is ignored: hence the warning
    warned = _warnings(caplog)
    by_name = {w.split("'")[1]: w for w in warned}
    assert sorted(by_name) == ["batch_szie", "lr", "num_epoch", "optimizer"] and len(warned) == 4
    assert by_name["num_epoch"].endswith("did you mean 'num_epochs'?")
    assert "tinynet-typos.py:7: " in by_name["num_epoch"]
    assert by_name["batch_szie"].endswith("did you mean 'batch_size'?")
    assert by_name["optimizer"].endswith("did you mean 'optimiser'?")
    assert "nothing in the config uses it" in by_name["lr"]


def test_shipped_test_configs_do_not_warn(config_root: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Helpers (classes, functions used by hooks, _private names, imports) stay quiet."""
    caplog.set_level(logging.WARNING)
    roots = discover_roots([config_root], use_entry_points=False)
    for exp in ("base", "hooks", "mix", "resume", "tuple", "worse", "nan"):
        load_exp_config(roots, "tiny", "tinynet", exp)
    assert _warnings(caplog) == []


def test_unknown_names_suggest_and_point_to_list(base_args: list[str], capsys: pytest.CaptureFixture) -> None:
    def err(old: str, new: str) -> str:
        args = [a if a != old else new for a in base_args]
        assert main(["train", *args, "-e", "1"]) == 1
        lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
        assert len(lines) == 1
        return lines[0]

    assert err("tiny", "tinny").endswith(
        "did you mean -D tiny? (`vai-train list` shows what the config roots offer)"
    )
    assert "did you mean -M tinynet?" in err("tinynet", "tinynett")
    assert "did you mean -E base?" in err("base", "bsae")
    assert err("base", "zzzzzz").endswith("; `vai-train list` shows what the config roots offer")


def test_syntax_error_names_the_full_path(tmp_path: Path) -> None:
    bad = tmp_path / "sub" / "bad.py"
    bad.parent.mkdir()
    bad.write_text("x = 1\nbatch_size = = 3\n")
    with pytest.raises(ConfigError) as e:
        exec_config(bad, "bad_syntax_cfg")
    assert str(e.value) == f"syntax error in config {bad}, line 2: invalid syntax: batch_size = = 3"
    outer = tmp_path / "outer.py"
    outer.write_text("include('sub/bad.py')\n")
    with pytest.raises(ConfigError, match=f"syntax error in config {bad}, line 2"):
        exec_config(outer, "outer_syntax_cfg")


def test_not_found_error_still_lists_paths(config_root: Path) -> None:
    roots = discover_roots([config_root], use_entry_points=False)
    with pytest.raises(ConfigNotFoundError, match="searched: .*nope.py; `vai-train list`"):
        load_exp_config(roots, "nope", "tinynet", "base")


def test_every_setting_the_engine_reads_is_a_known_name() -> None:
    """A guard on KNOWN_EXP_NAMES: a setting vai-train reads but the list lacks would be warned about as a
    typo in every config that sets it."""
    import re

    import vai_train
    from vai_train.config.known_names import KNOWN_EXP_NAMES

    patterns = [
        r"exp_cfg, \"(\w+)\"",  # getattr(cfg.exp_cfg, "name", default), require(self.exp_cfg, "name", ...)
        r"exp_cfg\.(\w+)",  # self.exp_cfg.load_model()
        r"(?:self|cfg)\.(?:has|get)\(\"(\w+)\"",  # ExpConfig.has/get
    ]
    read = set()
    for path in Path(vai_train.__file__).parent.rglob("*.py"):
        source = path.read_text()
        for pattern in patterns:
            read |= set(re.findall(pattern, source))
    read -= {"__file__", "__vai_files__"}
    assert len(read) > 30  # the patterns still find the accessors
    assert read <= KNOWN_EXP_NAMES, sorted(read - KNOWN_EXP_NAMES)


REALISTIC = """\
from __future__ import annotations

from math import pi
from torch.optim import Optimizer

include("tinynet-base.py")
del num_epochs
num_epoch = 3  # a misspelt setting that the config's own scheduler also reads


def scheduler(optimiser: Optimizer, iters_per_epoch, last_epoch=-1):
    import torch

    return torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=num_epoch * iters_per_epoch)
"""


def test_imports_stay_quiet_and_a_used_misspelt_setting_still_warns(
    tmp_path: Path, config_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exp = tmp_path / "root" / "exp_configs" / "tiny"
    exp.mkdir(parents=True)
    (exp / "tinynet-base.py").write_text(
        (config_root / "exp_configs" / "tiny" / "tinynet-base.py").read_text()
    )
    (exp / "tinynet-real.py").write_text(REALISTIC)
    roots = discover_roots([tmp_path / "root", config_root], use_entry_points=False)
    caplog.set_level(logging.WARNING)
    load_exp_config(roots, "tiny", "tinynet", "real")
    warned = _warnings(caplog)
    assert len(warned) == 1 and warned[0].endswith(
        "'num_epoch' is not an exp-config setting vai-train reads (ignored); did you mean 'num_epochs'?"
    ), warned


def test_start_up_warnings_reach_the_runs_log_files(tmp_path: Path, config_root: Path) -> None:
    """The config is loaded (and its datasets built) before the run directory exists: what they log
    is written into the run's log files once it does."""
    from vai_train.api import run_train

    exp = tmp_path / "root" / "exp_configs" / "tiny"
    exp.mkdir(parents=True)
    (exp / "tinynet-base.py").write_text(
        (config_root / "exp_configs" / "tiny" / "tinynet-base.py").read_text()
    )
    (exp / "tinynet-real.py").write_text(REALISTIC)
    args = ["-D", "tiny", "-M", "tinynet", "-E", "real", "-R", str(tmp_path / "exp"), "-e", "1", "-w", "0"]
    result = run_train(args + ["--config-root", str(tmp_path / "root"), "--config-root", str(config_root)])
    warnings = (result.run_dir / "logs" / "train_WARNING.log").read_text()
    assert "'num_epoch' is not an exp-config setting" in warnings
    assert (
        "'num_epoch' is not an exp-config setting" in (result.run_dir / "logs" / "train_INFO.log").read_text()
    )
