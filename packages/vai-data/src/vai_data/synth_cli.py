"""``vai-data synth``: write the synthetic motion dataset (videos and/or frames + split CSVs)."""

from __future__ import annotations

import argparse
import logging

from .pathio import check_folder_target
from .synth import make_synthetic_dataset

logger = logging.getLogger(__name__)


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size {text!r}: expected HxW, e.g. 64x64") from None
    return h, w


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``synth`` options."""
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--num-videos", type=int, default=600, help="at least 2 (default 600)")
    parser.add_argument("--frames", type=int, default=16, help="frames per video, at least 2 (default 16)")
    parser.add_argument("--size", type=_size, default=(64, 64), help="HxW (even, >= 16), default 64x64")
    parser.add_argument("--seed", type=int, default=0, help=">= 0 (default 0)")
    parser.add_argument(
        "--format",
        choices=["video", "frames", "both"],
        default="video",
        help="write mp4 videos, JPEG frame folders or both (default video)",
    )
    parser.add_argument(
        "--val-fraction", type=float, default=0.2, help="share of videos in val, in (0, 1) (default 0.2)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="regenerate even if a complete dataset exists"
    )


def _bad_option(args: argparse.Namespace) -> str | None:
    """One line naming the first out-of-range option, or None."""
    h, w = args.size
    if h < 16 or w < 16 or h % 2 or w % 2:
        return f"--size must be even and at least 16x16 (H.264 yuv420p needs even sizes), got {h}x{w}"
    if args.num_videos < 2:
        return f"--num-videos must be at least 2, got {args.num_videos}"
    if args.frames < 2:
        return f"--frames must be at least 2 (motion needs two frames), got {args.frames}"
    if not 0.0 < args.val_fraction < 1.0:
        return f"--val-fraction must be in (0, 1), got {args.val_fraction}"
    if args.seed < 0:
        return f"--seed must be >= 0, got {args.seed}"
    return None


def run(args: argparse.Namespace) -> int:
    """Generate the dataset and print where it is; a bad option or ``--out`` (a file, or inside one), or a
    failure to write, logs one ERROR line and returns 1 (the traceback at DEBUG)."""
    bad = _bad_option(args)
    if bad is not None:
        logger.error("%s", bad)
        return 1
    try:
        check_folder_target(args.out, "--out")
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
    except (ValueError, OSError) as e:
        logger.debug("vai-data synth failed", exc_info=True)
        logger.error("%s", " ".join(str(e).splitlines()))
        return 1
    print(f"synthetic dataset: {info.num_videos} videos, {info.num_classes} classes in {info.root}")
    return 0
