"""Worker CPU per training epoch with the seek-probe verdicts shared across epochs (a dataset's
``SharedVerdicts``, see vai_data/shared_verdicts.py) against each worker generation probing every video
again (the table switched off), in the same run.

vai-train's DataLoader workers are not persistent by default: every epoch starts fresh ones. decord reads first ask
``vai_data.decode_probe.seek_probe`` whether the file seeks exactly (a PyAV open and a short demux); the
probe's own cache is per process, so before the shared table every epoch paid it for every video. Each
setting runs in its own process (2 workers, batch 8, TSN 8 segments, 112 crops from mp4 via decord),
alternating over several runs; the table reports medians of the CPU seconds the workers used per epoch
(``RUSAGE_CHILDREN``: the workers end with each epoch) and of the wall time, epoch 1 (where either probes)
apart from the later ones.

    python benchmarks/bench_probe_sharing.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = "--child"


def child(root: str, shared: bool, epochs: int) -> None:
    import resource
    import time

    from torch.utils.data import DataLoader
    from vai_data import VideoClipDataset

    split = os.path.join(root, "splits", "train.csv")
    ds = VideoClipDataset(split, root, train=True, num_frames=8, crop_size=112, scale_jitter=(128, 160))
    if not shared:
        ds._probe_verdicts = None  # every worker generation probes again, as before the table
    loader = DataLoader(ds, batch_size=8, num_workers=2, persistent_workers=False)
    out = []
    for epoch in range(epochs):
        ds.set_epoch(epoch)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        for _ in loader:
            pass
        wall = time.perf_counter() - t
        time.sleep(0.2)  # the workers exit and are reaped: their CPU time is counted
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        out.append({"cpu": cpu, "wall": wall})
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer videos, epochs and runs")
    ap.add_argument("--runs", type=int, default=None, help="process pairs (default 3, --quick 2)")
    args, _ = ap.parse_known_args()  # nox -s bench passes its posargs to every script
    runs = args.runs or (2 if args.quick else 3)
    videos, epochs = (48, 3) if args.quick else (96, 4)

    from vai_data import make_synthetic_dataset

    with tempfile.TemporaryDirectory() as tmp:
        make_synthetic_dataset(
            tmp, num_videos=videos, num_frames=64, size=(180, 240), seed=0, val_fraction=0.1
        )
        results: dict[bool, list] = {True: [], False: []}
        for _ in range(runs):
            for shared in (False, True):
                cmd = [sys.executable, __file__, CHILD, tmp, str(int(shared)), str(epochs)]
                proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
                results[shared].append(json.loads(proc.stdout.strip().splitlines()[-1]))

    def med(shared: bool, key: str, later: bool) -> float:
        per_run = [
            statistics.mean(e[key] for e in run[1:]) if later else run[0][key] for run in results[shared]
        ]
        return statistics.median(per_run)

    print(
        f"### Seek-probe verdicts shared across epochs (2 workers, {videos} mp4 videos of 64 frames at 240x180,"
        f" decord, {epochs} epochs, medians of {runs} runs)\n"
    )
    print("| epochs | per-process probing: worker CPU s | shared: worker CPU s | ratio | wall s | wall s |")
    print("|---|---:|---:|---:|---:|---:|")
    for later, name in ((False, "1 (both probe)"), (True, f"2-{epochs} (mean)")):
        off, on = med(False, "cpu", later), med(True, "cpu", later)
        print(
            f"| {name} | {off:.2f} | {on:.2f} | {on / off:.3f}x | {med(False, 'wall', later):.2f} |"
            f" {med(True, 'wall', later):.2f} |"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == CHILD:
        child(sys.argv[2], sys.argv[3] == "1", int(sys.argv[4]))
    else:
        main()
