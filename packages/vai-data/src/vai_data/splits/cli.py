"""``vai-data splits <dataset> ...``: one sub-command per dataset module."""

from __future__ import annotations

import argparse
import logging

from . import cater, diving48, epic, hmdb, imagenet, kinetics, something, ucf101
from .common import AnnotationError

logger = logging.getLogger(__name__)
MODULES = (kinetics, something, hmdb, ucf101, epic, diving48, cater, imagenet)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one sub-parser per supported dataset."""
    sub = parser.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    for module in MODULES:
        module.add_cli(sub)


def run(args: argparse.Namespace) -> int:
    """Generate the chosen dataset's splits; a bad annotation or path prints one line and returns 1."""
    try:
        written = args.handler(args)
    except (AnnotationError, FileNotFoundError, ValueError) as e:
        logger.error("%s", e)
        return 1
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0
