"""``vai-data`` command line: a thin dispatcher over sub-command modules.

Each sub-command lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``;
the module is imported only when its sub-command is used, so ``vai-data --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("vai_data.synth_cli", "write the synthetic motion dataset (videos/frames + split CSVs)"),
    "splits": ("vai_data.splits.cli", "generate split CSVs from a dataset's official annotation files"),
    "extract-frames": ("vai_data.extract_cli", "decode videos into JPEG frame folders"),
    "pack": ("vai_data.packed_cli", "convert videos or frame folders into the packed frame store"),
    "link-ffmpeg": ("vai_data.ffmpeg_libs", "let torchcodec load the FFmpeg libraries PyAV's wheel bundles"),
}


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(text: str) -> str:
    """``-L``'s value in upper case (any case is accepted); argparse refuses other names with one line."""
    level = text.upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"unknown logging level {text!r}; choose one of {', '.join(LOG_LEVELS)} (any case)"
        )
    return level


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vai-data", description="vai-data tools")
    parser.add_argument(
        "-L",
        "--log-level",
        type=_log_level,
        choices=LOG_LEVELS,
        default="INFO",
        help="logging level, any case (default INFO)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vai-data`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top_parser()
    known, rest = top.parse_known_args(argv)
    if known.command is None:
        top.print_help()
        return 2
    module_name, help_text = SUBCOMMANDS[known.command]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"vai-data {known.command}", description=help_text)
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    logging.basicConfig(level=known.log_level, format="%(levelname)s %(name)s: %(message)s")
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
