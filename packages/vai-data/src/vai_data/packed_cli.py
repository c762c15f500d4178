"""``vai-data pack``: convert a split's videos or frame folders into the packed frame store."""

from __future__ import annotations

import argparse
import os

from .packing import LMDB_DIRNAME, STORES, pack_split


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``pack`` options."""
    parser.add_argument("--split", required=True, help="video (7-column) or frames (5-column) split CSV")
    parser.add_argument("--data-root", default=None, help="root the split's paths are relative to")
    parser.add_argument("--out", required=True, help="output directory of the store")
    parser.add_argument(
        "--store", choices=list(STORES), default="file", help="one .vpk per video, or one LMDB"
    )
    parser.add_argument("--short-side", type=int, default=None, help="resize so the shorter side is this")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality when (re-)encoding")


def run(args: argparse.Namespace) -> int:
    """Pack and print where the new split file is and which data_root to use with it."""
    new_split = pack_split(
        args.split, args.data_root, args.out, args.store, args.short_side, args.quality, True
    )
    root = os.path.join(args.out, LMDB_DIRNAME) if args.store == "lmdb" else args.out
    print(f"packed split: {new_split} (use data_root={root})")
    return 0
