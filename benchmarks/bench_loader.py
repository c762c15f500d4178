"""Training clips/s through a real DataLoader worker, with and without ``vai_data.keep_freed_memory``.

A worker holds every sample of a batch until the collate, so without the malloc tuning each sample's
decode buffers are fresh pages (see vai_data/memory.py). Each setting runs in its own process (the
tuning cannot be undone in-process), alternating ON/OFF over several runs; the table reports the
medians and the ratio. One worker, batch 8, 224 crops, frames at short side 256 and at 640x360.

    python benchmarks/bench_loader.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = "--child"


def child(split: str, root: str, sampling: str, frames: int, epochs: int) -> None:
    from torch.utils.data import DataLoader, Subset
    from vai_data import VideoClipDataset

    ds = VideoClipDataset(
        split,
        root,
        train=True,
        num_frames=frames,
        sampling=sampling,
        sampling_rate=2,
        crop_size=224,
        scale_jitter=(256, 256),
        bad_sample_policy="raise",
        normalise_on_device=True,
    )
    items = Subset(ds, list(range(len(ds))) * 6)
    loader = DataLoader(items, batch_size=8, num_workers=1, collate_fn=ds.collate_fn, persistent_workers=True)
    rates = []
    for epoch in range(epochs + 1):  # the first epoch starts the worker and warms the page cache
        t0, n = time.perf_counter(), 0
        for batch in loader:
            n += batch["video"].shape[0]
        if epoch:
            rates.append(n / (time.perf_counter() - t0))
    print(json.dumps(statistics.median(rates)))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == CHILD:
        split, root, sampling, frames, epochs = sys.argv[2:7]
        child(split, root, sampling, int(frames), int(epochs))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer videos and runs")
    ap.add_argument("--runs", type=int, default=None, help="ON/OFF process pairs per configuration")
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_data import make_data

    runs = args.runs or (2 if args.quick else 4)
    n_videos, epochs = (4, 2) if args.quick else (8, 3)
    configs = [("sparse", 8), ("dense", 32)]
    print(
        f"### DataLoader worker clips/s: keep_freed_memory on vs off ({n_videos} videos of 64 frames, "
        f"1 worker, batch 8, crop 224; medians of {runs} runs each, alternating)\n"
    )
    print("| clips | storage | off clips/s | on clips/s | on / off |")
    print("|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as root:
        splits = make_data(root, n_videos, 64, (360, 640), 256)
        for sampling, frames in configs:
            for key, label in (
                ("frames_s", "JPEG folder at short side 256"),
                ("frames", "JPEG folder at 640x360"),
            ):
                got: dict[str, list[float]] = {"0": [], "1": []}
                for r in range(runs):
                    for flag in ("0", "1") if r % 2 == 0 else ("1", "0"):
                        env = dict(os.environ, VAI_DATA_KEEP_FREED_MEMORY=flag, OMP_NUM_THREADS="1")
                        cmd = [
                            sys.executable,
                            __file__,
                            CHILD,
                            splits[key],
                            root,
                            sampling,
                            str(frames),
                            str(epochs),
                        ]
                        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
                        got[flag].append(json.loads(out.strip().splitlines()[-1]))
                off, on = statistics.median(got["0"]), statistics.median(got["1"])
                name = "TSN 8 seg" if sampling == "sparse" else "dense 32x2"
                print(f"| {name} | {label} | {off:.1f} | {on:.1f} | {on / off:.2f}x |")


if __name__ == "__main__":
    main()
