"""``vai-data pack``: convert a split's videos or frame folders into the packed frame store."""

from __future__ import annotations

import argparse
import logging
import os

from .arguments import MAX_SHORT_SIDE
from .jpeg import JPEG_QUALITY_RANGE
from .packing import LMDB_DIRNAME, STORES, check_packed_split_path, pack_split_report
from .pathio import check_folder_target
from .split_file import SplitFormatError

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``pack`` options."""
    parser.add_argument("--split", required=True, help="video (7-column) or frames (5-column) split CSV")
    parser.add_argument("--data-root", default=None, help="root the split's paths are relative to")
    parser.add_argument("--out", required=True, help="output directory of the store")
    parser.add_argument(
        "--store", choices=list(STORES), default="file", help="one .vpk per video, or one LMDB"
    )
    parser.add_argument(
        "--short-side", type=int, default=None, help="resize so the shorter side is this (default: keep)"
    )
    parser.add_argument(
        "--quality", type=int, default=90, help="JPEG quality 1-100 when (re-)encoding (default 90)"
    )
    parser.add_argument(
        "--flow",
        choices=["grey"],
        default=None,
        help="the split is 'grey' optical flow: start/end count flow frames, stored as interleaved u/v "
        "images 2*start..2*end+1, which are packed (read with flow='grey')",
    )


def _bad_option(args: argparse.Namespace) -> str | None:
    """One line naming the first out-of-range option, or None."""
    low, high = JPEG_QUALITY_RANGE
    if args.short_side is not None and args.short_side <= 0:
        return f"--short-side must be a positive number of pixels (leave it out to keep the size), got {args.short_side}"
    if args.short_side is not None and args.short_side > MAX_SHORT_SIDE:
        return f"--short-side must be at most {MAX_SHORT_SIDE} pixels (leave it out to keep the size), got {args.short_side}"
    if not low <= args.quality <= high:
        return f"--quality must be in {low}..{high}, got {args.quality}"
    return None


def run(args: argparse.Namespace) -> int:
    """Pack and print where the new split file is and which data_root to use with it; returns 1 (one
    ERROR line) for a bad option, ``--out`` or split file (and when no row can be packed: a folder it created
    for ``--out`` is removed again), and 1 after packing when rows were skipped (each was
    logged with its reason; the new split leaves them out)."""
    bad = _bad_option(args)
    if bad is not None:
        logger.error("%s", bad)
        return 1
    try:
        check_folder_target(args.out, "--out")
        check_packed_split_path(args.split, args.out, "--out")  # (pack_split_report would say out_root)
        report = pack_split_report(
            args.split,
            args.data_root,
            args.out,
            args.store,
            args.short_side,
            args.quality,
            True,
            args.flow,
        )
    except (OSError, ImportError, SplitFormatError, ValueError) as e:  # (OSError: e.g. a full disk)
        logger.error("%s", e)
        return 1
    root = os.path.join(args.out, LMDB_DIRNAME) if args.store == "lmdb" else args.out
    print(report.summary())
    print(f"packed split: {report.split_path} (use data_root={root})")
    return 1 if report.skipped else 0
