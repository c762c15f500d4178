"""What the training device pays for the work a train dataset leaves to it (``normalise_on_device``):
the host-to-device copy of a collated uint8 batch plus ``device_transform`` (the crops' resize when
``resize_on_device`` left it, the flips drawn in the workers, normalisation), alone and inside a training
step.

Two batches of the same clips are compared: one whose crops the workers resized (``resize_on_device``
off: the device copies the crops, mirrors the flagged clips and normalises) and one whose resize is left
to the device (it copies the padded source regions and resizes them first). Each is timed alone
(synchronised before and after, so on CUDA this is the call's latency) and as the first part of a
training step (forward, cross-entropy, backward, SGD) of ``--model`` on the batch it makes, with fp16
autocast, a GradScaler and channels_last on CUDA (``--amp`` as the engine runs it), fp32 on the CPU.
The step is timed over several consecutive steps with no synchronisation between them, as training runs
(on a GPU the host queues a step's kernels while the previous ones run), so the ratio of the two steps
is what leaving the resize to the device costs the training device. Medians of interleaved rounds. JPEG
frames at 640x360 and at short side 256, TSN 8 segments; the batch cycles through 4 videos (a batch of
16 holds each clip 4 times, with its region size: the per-clip resizes still run once per clip). On the CPU it always runs the ``--quick``
settings.

    python benchmarks/bench_device_transform.py [--quick] [--device cpu|cuda] [--batch N] [--model NAME]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import torch

STORES = (("frames", "JPEG folder at 640x360"), ("frames_s", "JPEG folder at short side 256"))


def _batch(ds, n: int) -> dict:
    return ds.collate_fn([ds[i % len(ds)] for i in range(n)])


def _timer(device: torch.device):
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def run(fn) -> float:
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        return (time.perf_counter() - t0) * 1e3

    return run


def _on_device(ds, batch: dict, device: torch.device):
    """The engine's part (vai_train.dataset_hooks): move the batch (pinned, non-blocking on CUDA) and the
    flip flags, keep the resize rows on the host (they choose each clip's slices), apply
    ``device_transform``."""
    pin = device.type == "cuda"
    video = batch["video"].pin_memory() if pin else batch["video"]
    keys = {k: batch[k] for k in ds.device_transform.batch_keys}

    def run():
        pending = dict(keys)
        if "flip_pending" in pending:
            pending["flip_pending"] = pending["flip_pending"].to(device, non_blocking=pin)
        return ds.device_transform(video.to(device, non_blocking=pin), **pending)

    return run


def _train_steps(model_name: str, transform, labels: torch.Tensor, device: torch.device, steps: int):
    """``steps`` consecutive training steps, each on what ``transform()`` returns (a fresh copy + transform)."""
    from vai_models import create_model

    cuda = device.type == "cuda"
    model = create_model(model_name, num_classes=8, num_frames=8).to(device)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)

    def run():
        for _ in range(steps):
            with torch.autocast(device.type, dtype=torch.float16, enabled=cuda):
                loss = torch.nn.functional.cross_entropy(model(transform()), labels)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small batch, crop 112, ResNet-18, few rounds")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=None, help="clips per batch (default 16, --quick 4)")
    ap.add_argument("--model", default=None, help="model of the training step (default tsm_resnet50)")
    ap.add_argument("--rounds", type=int, default=None, help="timed rounds (default 10, --quick 3)")
    args, _ = ap.parse_known_args()  # nox -s bench passes its posargs to every script
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("bench_device_transform: --device cuda but torch sees no CUDA device")
    cuda = device.type == "cuda"
    if not cuda and not args.quick:  # a TSM-ResNet-50 step on 16 clips takes a minute on one CPU thread
        print(
            "bench_device_transform: on the CPU this runs the --quick settings (the figures that matter are a GPU's)"
        )
        args.quick = True
    batch_size = args.batch or (4 if args.quick else 16)
    model = args.model or ("tsm_resnet18" if args.quick else "tsm_resnet50")
    rounds = args.rounds or (3 if args.quick else 10)
    steps = 5 if cuda else 1
    crop = 112 if args.quick else 224
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_data import make_data
    from vai_data import VideoClipDataset

    timed = _timer(device)
    precision = "fp16 autocast + GradScaler, channels_last" if cuda else "fp32"
    print(
        f"### Device share of a train batch ({device.type}; {batch_size} clips of 8 x {crop}², TSN 8 segments, "
        f"scale jitter (256, 320); {model} training steps, {precision}; medians of {rounds} interleaved "
        f"rounds, {steps} consecutive steps each)\n"
    )
    print(
        "| storage | copy + device_transform ms: worker resized | device resizes | ratio "
        "| training step ms: worker resized | device resizes | ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as root:
        splits = make_data(root, 4, 32, (360, 640), 256)
        for key, label in STORES:
            kw = dict(train=True, num_frames=8, crop_size=crop, scale_jitter=(256, 320), seed=3)
            kw.update(normalise_on_device=True, bad_sample_policy="raise")
            worker_ds = VideoClipDataset(splits[key], root, resize_on_device=False, **kw)
            device_ds = VideoClipDataset(splits[key], root, resize_on_device=True, **kw)
            worker_batch = _batch(worker_ds, batch_size)
            transforms = [_on_device(worker_ds, worker_batch, device)]
            transforms.append(_on_device(device_ds, _batch(device_ds, batch_size), device))
            labels = worker_batch["label"].to(device)
            fns = [*transforms, *(_train_steps(model, t, labels, device, steps) for t in transforms)]
            for fn in fns:  # warm-up: kernels, allocator, cuDNN's choices
                for _ in range(2):
                    timed(fn)
            times: list[list[float]] = [[] for _ in fns]
            for r in range(rounds):
                order = range(len(fns)) if r % 2 == 0 else reversed(range(len(fns)))
                for k in order:
                    times[k].append(timed(fns[k]))
            worker_ms, device_ms, worker_step, device_step = (statistics.median(t) for t in times)
            worker_step, device_step = worker_step / steps, device_step / steps
            print(
                f"| {label} | {worker_ms:.2f} | {device_ms:.2f} | {device_ms / worker_ms:.2f}x "
                f"| {worker_step:.1f} | {device_step:.1f} | {device_step / worker_step:.3f}x |"
            )


if __name__ == "__main__":
    main()
