"""``vai-data synth``: write the synthetic motion dataset (videos and/or frames + split CSVs)."""

from __future__ import annotations

import argparse

from .synth import make_synthetic_dataset


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size {text!r}: expected HxW, e.g. 64x64") from None
    return h, w


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``synth`` options."""
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--num-videos", type=int, default=600)
    parser.add_argument("--frames", type=int, default=16, help="frames per video")
    parser.add_argument("--size", type=_size, default=(64, 64), help="HxW (even), default 64x64")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", choices=["video", "frames", "both"], default="video")
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument(
        "--overwrite", action="store_true", help="regenerate even if a complete dataset exists"
    )


def run(args: argparse.Namespace) -> int:
    """Generate the dataset and print where it is."""
    info = make_synthetic_dataset(
        args.out,
        num_videos=args.num_videos,
        num_frames=args.frames,
        size=args.size,
        seed=args.seed,
        fmt=args.format,
        val_fraction=args.val_fraction,
        overwrite=args.overwrite,
        progress=True,
    )
    print(f"synthetic dataset: {info.num_videos} videos, {info.num_classes} classes in {info.root}")
    return 0
