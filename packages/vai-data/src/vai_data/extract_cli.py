"""``vai-data extract-frames VIDEO_DIR OUT_DIR``: videos -> ``{:05d}.jpg`` frame folders."""

from __future__ import annotations

import argparse
import logging

from .arguments import MAX_SHORT_SIDE
from .frame_extraction import VIDEO_EXTENSIONS, extract_frames_tree
from .jpeg import JPEG_QUALITY_RANGE

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Positional folders plus size, quality, worker and extension options."""
    parser.add_argument("video_dir", help="folder of videos (searched recursively)")
    parser.add_argument("out_dir", help="output root; <video_dir>/a/b.mp4 -> <out_dir>/a/b/00000.jpg ...")
    parser.add_argument(
        "--short-side",
        type=int,
        default=256,
        help="resize shorter side to this (0 keeps size) (default 256)",
    )
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality 1-100 (default 90)")
    parser.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    parser.add_argument(
        "--ext",
        nargs="+",
        default=list(VIDEO_EXTENSIONS),
        help=f"video file extensions to look for (default {' '.join(VIDEO_EXTENSIONS)})",
    )


def _bad_option(args: argparse.Namespace) -> str | None:
    """One line naming the first out-of-range option, or None."""
    low, high = JPEG_QUALITY_RANGE
    if args.short_side < 0:
        return f"--short-side must be a number of pixels >= 0 (0 keeps the size), got {args.short_side}"
    if args.short_side > MAX_SHORT_SIDE:
        return (
            f"--short-side must be at most {MAX_SHORT_SIDE} pixels (0 keeps the size), got {args.short_side}"
        )
    if not low <= args.quality <= high:
        return f"--quality must be in {low}..{high}, got {args.quality}"
    if args.workers < 1:
        return f"--workers must be at least 1, got {args.workers}"
    return None


def run(args: argparse.Namespace) -> int:
    """Extract all videos; returns 1 when any failed (they are listed), an option is out of range, the
    input folder is missing or a file, a folder is not local (served by an iopath handler) or two videos would be
    extracted into the same or nested frame folders (one ERROR line each)."""
    bad = _bad_option(args)
    if bad is not None:
        logger.error("%s", bad)
        return 1
    try:
        report = extract_frames_tree(
            args.video_dir, args.out_dir, args.short_side or None, args.quality, args.workers, args.ext
        )
    except (OSError, ValueError) as e:  # (a missing folder, or a file given as one)
        logger.error("%s", e)
        return 1
    for rel, error in report.failed.items():
        logger.error("%s: %s", rel, error)
    print(report.summary())
    return 1 if report.failed else 0
