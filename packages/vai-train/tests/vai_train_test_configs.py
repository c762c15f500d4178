"""Exp-config variants of the tiny base experiment for vai-train's tests: written under a test's tmp_path,
with the CLI arguments that select them. A uniquely named module, not a test module (test directories of
several packages share one sys.path in a combined pytest run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
BASE_EXP = Path(__file__).parent / "configs_tiny" / "exp_configs" / "tiny" / "tinynet-base.py"

# the tiny val videos, addressed as "<index>.vid": with_videos picks them (vai_data's reads real files)
PICKABLE_EXP = """# ruff: noqa: F821
include({base!r})


class Pickable(dataset_cfg.TinyDataset):
    def with_videos(self, paths):
        picked = [int(str(p).rsplit("/", 1)[-1].split(".")[0]) for p in paths]
        ds = dataset_cfg.TinyDataset(self.split, num_crops=self.num_crops)
        ds.videos, ds.labels = ds.videos[picked], torch.zeros(len(picked), dtype=torch.long)
        return ds


def get_torch_dataset(split):
    return Pickable(split, num_crops=2 if split == "multicropval" else 1)
"""


# the tiny clips (3 x 2 x 8 x 8) through a 3x3x3 conv, whose weight really changes layout, and a record of
# the activations' layout (the 1x1x1 conv of the base net has the same strides in both layouts)
CONV_EXP = """include({base!r})
from torch import nn

LAYOUTS = []


class _Conv3d(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 8, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm3d(8)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        y = self.bn(self.conv(x)).relu()
        LAYOUTS.append(y.is_contiguous(memory_format=torch.channels_last_3d) and not y.is_contiguous())
        return self.fc(y.mean(dim=(2, 3, 4)))


def load_model():
    return _Conv3d()
"""


# a 3x3x3 conv, BatchNorm and a head, without dropout (Inductor draws its own random numbers) or Python side
# effects in forward (each would make Dynamo recompile)
NET_EXP = """include({base!r})
from torch import nn


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 8, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm3d(8)
        self.fc = nn.Linear(8, 4)

    def forward_features(self, x):
        return self.bn(self.conv(x)).relu().mean(dim=(2, 3, 4))

    def forward(self, x):
        return self.fc(self.forward_features(x))


def load_model():
    return _Net()
"""


def last_conv_layouts() -> list[bool]:
    """CONV_EXP's record of the last run (each run executes its config afresh): per forward, whether the
    activations after the conv were channels_last_3d."""
    cfgs = [
        m for m in list(sys.modules.values()) if str(getattr(m, "__file__", "")).endswith("tinynet-conv.py")
    ]
    return cfgs[-1].LAYOUTS


def exp_variant(tmp_path: Path, base_args: list[str], name: str, body: str) -> list[str]:
    """Write ``body`` (``{base!r}`` filled with the base experiment's path) as ``tinynet-<name>.py`` under
    ``tmp_path/cfg`` and return ``base_args`` selecting it (``-E <name>``, that config root first)."""
    folder = tmp_path / "cfg" / "exp_configs" / "tiny"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"tinynet-{name}.py").write_text(body.format(base=str(BASE_EXP)))
    return ["--config-root", str(tmp_path / "cfg"), *[a if a != "base" else name for a in base_args]]


def torchrun(args: list[str], nproc: int = 2, **extra_env: str) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --standalone`` of ``vai_train.cli args`` (this package's ``src`` first
    on PYTHONPATH, one thread per process); asserts it exits 0."""
    env = dict(
        os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1"
    )
    env.update(extra_env)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "vai_train.cli",
        *args,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc
