"""Forward-time ratios of vai-models, measured in one run so machine load cancels out.

1. TSM vs TSN on the same backbone and frames (the temporal shift should cost <= 5 %).
2. channels_last vs default (contiguous) memory format for the same model.
3. With ``--train``: one training step (forward, loss, backward, SGD) in fp32 against mixed precision
   (bf16 autocast; fp16 autocast with a GradScaler on CUDA), each also in channels_last, as clips/s.
4. With ``--compile``: the same model through ``torch.compile`` (Inductor, ``nn.Module.compile()`` as
   vai-train's ``--compile`` does) against eager, for the forward and (with ``--train``) the training
   step in the default format; compiling happens in the warm-up calls, which are not timed.

Usage: ``python benchmarks/bench_models.py [--quick] [--device cpu|cuda] [--threads N] [--train] [--compile]``.
Prints a markdown table. Timings interleave the compared models round by round and report medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from vai_models import create_model


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved_medians(
    fns: dict, device: torch.device, rounds: int, warmup: int, progress: bool = False
) -> dict[str, float]:
    """Median seconds per call of each ``name: fn()``, calling every fn once per round (interleaved), with
    the device synchronised around each call."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    it = range(rounds)
    if progress:
        try:
            from tqdm import tqdm

            it = tqdm(it, desc="rounds", file=sys.stderr, leave=False)
        except ImportError:
            pass
    for _ in it:
        for name, fn in fns.items():
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(v) for name, v in times.items()}


@torch.inference_mode()
def time_models(models: dict, x: torch.Tensor, rounds: int, warmup: int = 2) -> dict[str, float]:
    """Median seconds per forward for each model, interleaving the models within every round."""
    inputs = {name: x.contiguous(memory_format=fmt) if fmt else x for name, (_, fmt) in models.items()}
    fns = {name: (lambda m=m, inp=inputs[name]: m(inp)) for name, (m, _) in models.items()}
    return interleaved_medians(fns, x.device, rounds, warmup, progress=True)


def time_train_steps(variants: dict, x: torch.Tensor, y: torch.Tensor, rounds: int, warmup: int = 3) -> dict:
    """Median seconds per training step for each ``name: (model, memory_format, amp_dtype)``, interleaved."""
    device = x.device
    state = {}
    for name, (model, fmt, dtype) in variants.items():
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        scaler = (
            torch.amp.GradScaler(device.type) if dtype == torch.float16 and device.type == "cuda" else None
        )
        state[name] = (model.train(), x.contiguous(memory_format=fmt) if fmt else x, dtype, opt, scaler)

    def step(name: str) -> None:
        model, inp, dtype, opt, scaler = state[name]
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = torch.nn.functional.cross_entropy(model(inp), y)
        opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()

    return interleaved_medians({name: (lambda n=name: step(n)) for name in variants}, device, rounds, warmup)


def train_table(
    depth: int, frames: int, crop: int, batch: int, rounds: int, device: torch.device, compiled: bool = False
) -> None:
    """Print clips/s of a TSM training step: fp32 vs mixed precision, default vs channels_last (and, with
    ``compiled``, default through torch.compile)."""
    torch.manual_seed(0)
    reference = create_model(f"tsm_resnet{depth}", num_classes=400, num_frames=frames).to(device)
    dtypes = {"fp32": None, "bf16": torch.bfloat16}
    if device.type == "cuda":
        dtypes["fp16"] = torch.float16
    variants = {}
    layouts = [("default", None), ("channels_last", torch.channels_last_3d)]
    if compiled:
        layouts.append(("default, torch.compile", None))
    for label, dtype in dtypes.items():
        for fmt_label, fmt in layouts:
            model = create_model(f"tsm_resnet{depth}", num_classes=400, num_frames=frames).to(device)
            model.load_state_dict(reference.state_dict())
            if fmt is not None:
                model = model.to(memory_format=torch.channels_last)
            if fmt_label.endswith("torch.compile"):
                model.compile()
            variants[(label, fmt_label)] = (model, fmt, dtype)
    x = torch.randn(batch, 3, frames, crop, crop, device=device)
    y = torch.randint(0, 400, (batch,), device=device)
    t = time_train_steps(variants, x, y, rounds)
    base = t[("fp32", "default")]
    print(
        f"\nTraining step, tsm_resnet{depth}, input {batch}x3x{frames}x{crop}x{crop}, SGD; medians of {rounds} rounds\n"
    )
    print("| precision | memory format | ms / step | clips/s | speed-up vs fp32 default |")
    print("|---|---|---:|---:|---:|")
    for (label, fmt_label), sec in t.items():
        amp = " (GradScaler)" if label == "fp16" else ""
        print(f"| {label}{amp} | {fmt_label} | {sec * 1e3:.1f} | {batch / sec:.1f} | {base / sec:.2f}x |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="ResNet-18, 112x112, few rounds (CPU smoke run)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--train", action="store_true", help="also time training steps: fp32 vs AMP, channels_last"
    )
    parser.add_argument("--compile", action="store_true", help="also time the model through torch.compile")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    depth, crop, frames, batch, rounds = (18, 112, 8, 1, 7) if args.quick else (50, 224, 8, 4, 20)
    if device.type == "cuda" and not args.quick:
        batch = 16

    torch.manual_seed(0)
    tsn = create_model(f"tsn_resnet{depth}", num_classes=400, num_frames=frames).eval().to(device)
    tsm = create_model(f"tsm_resnet{depth}", num_classes=400, num_frames=frames).eval().to(device)
    tsm.load_state_dict(tsn.state_dict())
    tsm_cl = create_model(f"tsm_resnet{depth}", num_classes=400, num_frames=frames).eval().to(device)
    tsm_cl.load_state_dict(tsn.state_dict())
    tsm_cl = tsm_cl.to(memory_format=torch.channels_last)
    x = torch.randn(batch, 3, frames, crop, crop, device=device)

    models = {"tsn": (tsn, None), "tsm": (tsm, None), "tsm_cl": (tsm_cl, torch.channels_last_3d)}
    if args.compile:
        tsm_co = create_model(f"tsm_resnet{depth}", num_classes=400, num_frames=frames).eval().to(device)
        tsm_co.load_state_dict(tsn.state_dict())
        tsm_co.compile()
        models["tsm_co"] = (tsm_co, None)
    t = time_models(models, x, rounds)
    threads = torch.get_num_threads() if device.type == "cpu" else "-"
    print(
        f"Device: {device} (threads {threads}); input {batch}x3x{frames}x{crop}x{crop}; medians of {rounds} rounds\n"
    )
    print("| comparison | baseline ms | candidate ms | ratio (candidate / baseline) |")
    print("|---|---:|---:|---:|")
    print(
        f"| tsm_resnet{depth} vs tsn_resnet{depth} (default format) | {t['tsn'] * 1e3:.1f} | "
        f"{t['tsm'] * 1e3:.1f} | {t['tsm'] / t['tsn']:.3f} |"
    )
    print(
        f"| tsm_resnet{depth}: channels_last vs default | {t['tsm'] * 1e3:.1f} | "
        f"{t['tsm_cl'] * 1e3:.1f} | {t['tsm_cl'] / t['tsm']:.3f} |"
    )
    if args.compile:
        print(
            f"| tsm_resnet{depth}: torch.compile vs eager | {t['tsm'] * 1e3:.1f} | "
            f"{t['tsm_co'] * 1e3:.1f} | {t['tsm_co'] / t['tsm']:.3f} |"
        )
    if args.train:
        train_table(depth, frames, crop, batch, max(5, rounds // 2), device, args.compile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
