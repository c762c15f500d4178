"""Training clips/s through a real DataLoader worker: with and without ``vai_data.keep_freed_memory``, with
the train crops' resize in the worker or left to the device (``resize_on_device``), and with batches loaded
in steps (``VideoClipDataset.__getitems__``, what a worker calls) or sample by sample.

A worker holds every sample of a batch until the collate, so without the malloc tuning each sample's
decode buffers are fresh pages (see vai_data/memory.py). With ``resize_on_device`` the worker hands over
the crops' source regions and the batch is resized on the training device; the main process here only
takes the batches, so the table measures what a worker delivers (the GPU's share is not timed). Each
setting runs in its own process, alternating over several runs; the tables report the medians and the
ratio. One worker, batch 8, 224 crops, JPEG frames at short side 256 and at 640x360 (and, for the
resize comparison, the same videos as mp4 read with decord, whose frames decode at 640x360).

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
FIXED = "256-256"  # scale jitter (min-max short side) of the stored-size comparisons


def child(
    split: str, root: str, sampling: str, frames: int, epochs: int, jitter: str, resize: str, steps: str
) -> None:
    from torch.utils.data import DataLoader, Subset
    from vai_data import VideoClipDataset

    class OneByOne(Subset):
        __getitems__ = None  # the DataLoader then calls __getitem__ for each sample of a batch

    lo, hi = (int(v) for v in jitter.split("-"))
    ds = VideoClipDataset(
        split,
        root,
        train=True,
        num_frames=frames,
        sampling=sampling,
        sampling_rate=2,
        crop_size=224,
        scale_jitter=(lo, hi),
        bad_sample_policy="raise",
        normalise_on_device=True,
        resize_on_device=resize == "1",
    )
    items = (Subset if steps == "1" else OneByOne)(ds, list(range(len(ds))) * 6)
    loader = DataLoader(items, batch_size=8, num_workers=1, collate_fn=ds.collate_fn, persistent_workers=True)
    rates = []
    for epoch in range(epochs + 1):  # the first epoch starts the worker and warms the page cache
        t0, n = time.perf_counter(), 0
        for batch in loader:
            n += batch["video"].shape[0]
        if epoch:
            rates.append(n / (time.perf_counter() - t0))
    print(json.dumps(statistics.median(rates)))


def _runs(split, root, sampling, frames, epochs, runs, settings) -> list[float]:
    """Median clips/s of each setting ((env flag, jitter, resize[, steps]) tuples; steps "1" unless given),
    alternating their order."""
    got: list[list[float]] = [[] for _ in settings]
    for r in range(runs):
        order = list(range(len(settings)))
        for k in order if r % 2 == 0 else order[::-1]:
            keep, jitter, resize, steps = (*settings[k], "1")[:4]
            env = dict(os.environ, VAI_DATA_KEEP_FREED_MEMORY=keep, OMP_NUM_THREADS="1")
            cmd = [
                sys.executable,
                __file__,
                CHILD,
                split,
                root,
                sampling,
                str(frames),
                str(epochs),
                jitter,
                resize,
                steps,
            ]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            got[k].append(json.loads(out.strip().splitlines()[-1]))
    return [statistics.median(g) for g in got]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == CHILD:
        split, root, sampling, frames, epochs, jitter, resize, steps = sys.argv[2:10]
        child(split, root, sampling, int(frames), int(epochs), jitter, resize, steps)
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer videos and runs")
    ap.add_argument("--runs", type=int, default=None, help="process pairs per configuration")
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_data import make_data

    runs = args.runs or (2 if args.quick else 4)
    n_videos, epochs = (4, 2) if args.quick else (8, 3)
    configs = [("sparse", 8, "TSN 8 seg"), ("dense", 32, "dense 32x2")]
    stores = (("frames_s", "JPEG folder at short side 256"), ("frames", "JPEG folder at 640x360"))
    head = f"{n_videos} videos of 64 frames, 1 worker, batch 8, crop 224; medians of {runs} runs each, alternating"
    with tempfile.TemporaryDirectory() as root:
        splits = make_data(root, n_videos, 64, (360, 640), 256)
        print(f"### DataLoader worker clips/s: keep_freed_memory on vs off ({head}; resizes in the worker)\n")
        print("| clips | storage | off clips/s | on clips/s | on / off |")
        print("|---|---|---:|---:|---:|")
        for sampling, frames, name in configs:
            for key, label in stores:
                off, on = _runs(
                    splits[key], root, sampling, frames, epochs, runs, [("0", FIXED, "0"), ("1", FIXED, "0")]
                )
                print(f"| {name} | {label} | {off:.1f} | {on:.1f} | {on / off:.2f}x |")
        print(f"\n### DataLoader worker clips/s: resizes in the worker vs left to the device ({head})\n")
        print(
            "| clips | storage | scale jitter | worker resizes clips/s | device resizes clips/s | device / worker |"
        )
        print("|---|---|---|---:|---:|---:|")
        for sampling, frames, name in configs:
            for key, label, jitter in (
                *((k, lab, FIXED) for k, lab in stores),
                ("frames_s", stores[0][1], "256-320"),
                ("video", "mp4 (decord) at 640x360", FIXED),
                ("video", "mp4 (decord) at 640x360", "256-320"),
            ):
                worker, device = _runs(
                    splits[key], root, sampling, frames, epochs, runs, [("1", jitter, s) for s in "01"]
                )
                lo, hi = jitter.split("-")
                print(
                    f"| {name} | {label} | ({lo}, {hi}) | {worker:.1f} | {device:.1f} | {device / worker:.2f}x |"
                )
        print(
            f"\n### DataLoader worker clips/s: batches sample by sample vs in steps ({head}; device resizes)\n"
        )
        print("| clips | storage | one by one clips/s | in steps clips/s | steps / one by one |")
        print("|---|---|---:|---:|---:|")
        for sampling, frames, name in configs:
            for key, label in stores:
                single, steps = _runs(
                    splits[key],
                    root,
                    sampling,
                    frames,
                    epochs,
                    runs,
                    [("1", FIXED, "1", s) for s in "01"],
                )
                print(f"| {name} | {label} | {single:.1f} | {steps:.1f} | {steps / single:.2f}x |")


if __name__ == "__main__":
    main()
