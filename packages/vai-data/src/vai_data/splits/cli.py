"""``vai-data splits <dataset> ...``: one sub-command per dataset module."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from . import cater, diving48, epic, hmdb, imagenet, kinetics, something, ucf101
from .common import check_out_dir, write_partial_splits

logger = logging.getLogger(__name__)
MODULES = (kinetics, something, hmdb, ucf101, epic, diving48, cater, imagenet)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one sub-parser per supported dataset."""
    sub = parser.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    for module in MODULES:
        module.add_cli(sub)
    for p in sub.choices.values():
        p.add_argument(
            "--partial",
            type=float,
            default=None,
            metavar="P",
            help="also write <split>_partial.csv keeping each row with probability P (drawn as upstream's "
            "--partial of SSv1/SSv2/Diving48/CATER; vai's own option for the other datasets)",
        )
        p.add_argument("--partial-seed", type=int, default=12, help="seed of --partial (default 12)")


def _write_partial(args: argparse.Namespace, written: dict[str, Path]) -> dict[str, Path]:
    """``--partial``: the dataset's own rule where upstream's differs (CATER), else the shared one."""
    handler = getattr(args, "partial_handler", None)
    if handler is not None:
        return handler(args, written)
    return write_partial_splits(written, args.partial, args.partial_seed)


def run(args: argparse.Namespace) -> int:
    """Generate the chosen dataset's splits; a bad annotation, option or path (any ``ValueError`` or
    ``OSError``, annotation errors included) logs one ERROR line and returns 1."""
    try:
        check_out_dir(args.out_dir)  # before any probing: an -o that is a file fails at once
        written = args.handler(args)
        if args.partial is not None:
            written.update(_write_partial(args, written))
    except (ValueError, OSError) as e:
        logger.error("%s", " ".join(str(e).splitlines()))
        return 1
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0
