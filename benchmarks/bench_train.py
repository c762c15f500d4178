"""Epoch time of the vai-train engine vs a hand-written PyTorch loop (same model, data, batch size).

    python benchmarks/bench_train.py [--quick] [--device cpu|cuda] [--clock cpu|wall]

Both train the same small 3D conv net on the same in-memory clips with SGD, batch size and DataLoader
settings; the engine's ``train_runtime_sec`` (from summary.csv) is compared with the hand loop's
epoch time. The first epoch of each is a warm-up and is not counted. Prints one table and the ratio,
and the engine with ``--channels-last`` and with ``--compile`` (torch.compile, Inductor) against the engine
without (run before and after them); the compiled run's first epoch, which compiles, is shown apart.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import torch

SRC = Path(__file__).resolve().parents[1] / "packages" / "vai-train" / "src"
if SRC.is_dir():  # run from a checkout without installing
    sys.path.insert(0, str(SRC))

from vai_train import run_train  # noqa: E402
from vai_train.config import exec_config  # noqa: E402
from vai_train.summary import read_summary  # noqa: E402

DATASET = """
import torch
from torch.utils.data import Dataset

num_classes = 10
task = "single_label"


class Clips(Dataset):
    def __init__(self, n, frames, size, seed):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 3, frames, size, size, generator=g)
        self.y = torch.randint(0, num_classes, (n,), generator=g)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"video": self.x[i], "label": int(self.y[i]), "video_id": i, "spatial_idx": 0,
                "temporal_idx": 0, "frame_indices": torch.zeros(1, dtype=torch.long)}
"""

MODEL = """
from torch import nn


def load_model(num_classes, input_frame_length, width=32):
    return nn.Sequential(
        nn.Conv3d(3, width, 3, padding=1), nn.BatchNorm3d(width), nn.ReLU(),
        nn.Conv3d(width, width, 3, stride=(1, 2, 2), padding=1), nn.BatchNorm3d(width), nn.ReLU(),
        nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(width, num_classes),
    )
"""

EXP = """
import torch

batch_size = {batch}
input_frame_length = {frames}
num_workers = 0


def get_torch_dataset(split):
    n = {n_train} if split == "train" else {n_val}
    return dataset_cfg.Clips(n, {frames}, {size}, seed=0 if split == "train" else 1)


def optimiser(params):
    return torch.optim.SGD(params, lr=0.01, momentum=0.9)
"""


def write_root(root: Path, p: dict[str, int]) -> None:
    for rel, text in (
        ("dataset_configs/bench.py", DATASET),
        ("model_configs/convnet.py", MODEL),
        ("exp_configs/bench/convnet-bench.py", EXP.format(**p)),
    ):
        f = root / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(textwrap.dedent(text))


class _CpuClock:
    """Stands in for the ``time`` module inside vai_train.engine.loop so its epoch timer reads CPU time."""

    perf_counter = staticmethod(time.process_time)


def hand_loop(root: Path, p: dict[str, int], epochs: int, device: torch.device, clock) -> list[float]:
    """The plain PyTorch loop: DataLoader, forward, CE loss, backward, SGD step, loss.item()."""
    ds_cfg = exec_config(root / "dataset_configs/bench.py", "bench_ds")
    m_cfg = exec_config(root / "model_configs/convnet.py", "bench_model")
    torch.manual_seed(12)
    ds = ds_cfg.Clips(p["n_train"], p["frames"], p["size"], seed=0)
    model = m_cfg.load_model(10, p["frames"]).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    crit = torch.nn.CrossEntropyLoss()
    loader = torch.utils.data.DataLoader(
        ds, batch_size=p["batch"], shuffle=True, num_workers=0, generator=torch.Generator().manual_seed(12)
    )
    times = []
    for _ in range(epochs):
        model.train()
        start = clock()
        total = 0.0
        for batch in loader:
            x, y = batch["video"].to(device), batch["label"].to(device)
            loss = crit(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(clock() - start)
    return times


def engine(root: Path, exp_root: Path, epochs: int, device: torch.device, extra: tuple = ()) -> list[float]:
    res = run_train(
        [
            "-D",
            "bench",
            "-M",
            "convnet",
            "-E",
            "bench",
            "-R",
            str(exp_root),
            "--config-root",
            str(root),
            "-e",
            str(epochs),
            "-w",
            "0",
            "--no-progress",
            "--plot-period",
            "-1",
            "--device",
            str(device),
            "-L",
            "WARNING",
            *extra,
        ]
    )
    return [float(r["train_runtime_sec"]) for r in read_summary(res.run_dir / "logs" / "summary.csv")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer clips and epochs (smoke run)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default=None,
        help="cpu: process CPU time with 1 thread (robust on a shared machine; CPU default); wall: wall time",
    )
    args = ap.parse_args()
    device = torch.device(args.device)
    use_cpu_clock = (args.clock or ("cpu" if device.type == "cpu" else "wall")) == "cpu"
    if use_cpu_clock:
        import vai_train.engine.loop as loop

        torch.set_num_threads(1)
        loop.time = _CpuClock  # the engine's train_runtime_sec now measures CPU seconds
    clock = time.process_time if use_cpu_clock else time.perf_counter
    p = (
        {"batch": 8, "frames": 4, "size": 32, "n_train": 64, "n_val": 16}
        if args.quick
        else {"batch": 16, "frames": 8, "size": 48, "n_train": 256, "n_val": 32}
    )
    epochs = 3 if args.quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "configs"
        write_root(root, p)
        hand = hand_loop(root, p, epochs, device, clock)[1:]
        eng = engine(root, Path(tmp) / "exp", epochs, device)[1:]
        hand2 = hand_loop(root, p, epochs, device, clock)[1:]  # again, to bracket drift on a shared machine
        # the engine with --channels-last (channels_last_3d weights for this 3D net), between two plain runs
        eng_cl = engine(root, Path(tmp) / "exp", epochs, device, ("--channels-last",))[1:]
        # --compile (Inductor) needs a C++ compiler on the CPU; without one the row is left out
        can_compile = device.type != "cpu" or shutil.which("g++") or shutil.which("c++")
        first_co, *eng_co = (
            engine(root, Path(tmp) / "exp", epochs, device, ("--compile",)) if can_compile else [None]
        )
        eng2 = engine(root, Path(tmp) / "exp", epochs, device)[1:]
    h = statistics.median(hand + hand2)
    e = statistics.median(eng)
    rows = [("hand-written PyTorch loop", h, hand + hand2), ("vai-train engine", e, eng)]
    e_cl, e_both = statistics.median(eng_cl), statistics.median(eng + eng2)
    rows += [
        ("vai-train engine, --channels-last", e_cl, eng_cl),
        ("vai-train engine (both plain runs)", e_both, eng + eng2),
    ]
    if eng_co:
        rows[-1:-1] = [
            ("vai-train engine, --compile", statistics.median(eng_co), eng_co),
            ("vai-train engine, --compile: first epoch (compiling)", first_co, [first_co]),
        ]
    print(
        f"### vai-train epoch time ({'CPU' if use_cpu_clock else 'wall'} clock, device {device}, "
        f"{torch.get_num_threads()} thread(s), {p['n_train']} clips 3x{p['frames']}x{p['size']}x{p['size']}, "
        f"batch {p['batch']})\n"
    )
    print("| loop | median s/epoch | epochs (after warm-up) |")
    print("|---|---|---|")
    for name, med, ts in rows:
        print(f"| {name} | {med:.3f} | {', '.join(f'{t:.3f}' for t in ts)} |")
    print(f"\nratio engine / hand-written: **{e / h:.3f}x** (target <= 1.03x)")
    print(f"ratio engine --channels-last / engine: **{e_cl / e_both:.3f}x** (informational: no target)")
    if eng_co:
        e_co = statistics.median(eng_co)
        print(
            f"ratio engine --compile / engine: **{e_co / e_both:.3f}x** (after its first epoch; informational)"
        )
    else:
        print("engine --compile: not run (no C++ compiler for Inductor on the CPU)")


if __name__ == "__main__":
    main()
