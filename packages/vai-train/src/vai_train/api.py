"""Python API mirroring the CLI: ``run_train(["-D", ...])`` returns a RunResult (used by vai-papers)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from vai_train.engine.result import RunResult


def _parse(command: str, args: Sequence[str] | argparse.Namespace) -> argparse.Namespace:
    if isinstance(args, argparse.Namespace):
        return args
    from vai_train.cli import parse_args

    return parse_args([command, *args])


def run_train(args: Sequence[str] | argparse.Namespace) -> RunResult:
    """Train as ``vai-train train ARGS`` would; returns run_dir, summary rows and the best metric."""
    from vai_train.engine.trainer import run_train as _run

    return _run(_parse("train", args))


def run_eval(args: Sequence[str] | argparse.Namespace) -> RunResult:
    """Evaluate as ``vai-train eval ARGS`` would; ``.metrics`` holds the split's loss and metrics."""
    from vai_train.engine.evaluate import run_eval as _run

    return _run(_parse("eval", args))


def run_feature(args: Sequence[str] | argparse.Namespace) -> RunResult:
    """Extract features as ``vai-train feature ARGS`` would; ``.metrics["path"]`` is the saved file."""
    from vai_train.engine.evaluate import run_feature as _run

    return _run(_parse("feature", args))


def run_predict(args: Sequence[str] | argparse.Namespace) -> RunResult:
    """Top classes of video files as ``vai-train predict ARGS`` prints them; ``.metrics["top"]`` holds
    them per video, ``.metrics["probs"]`` the video-level probabilities."""
    from vai_train.tools.predict import run_predict as _run

    return _run(_parse("predict", args))


def run_confusion(args: Sequence[str] | argparse.Namespace) -> RunResult:
    """Confusion matrices as ``vai-train confusion ARGS`` draws them; ``.metrics`` holds top-1, the mean
    class accuracy and the files written."""
    from vai_train.tools.confusion import run_confusion as _run

    return _run(_parse("confusion", args))


def run_visualise(args: Sequence[str] | argparse.Namespace) -> RunResult:
    """GIFs and contact sheets as ``vai-train visualise ARGS`` writes them; ``.metrics["files"]`` lists them."""
    from vai_train.tools.visualise import run_visualise as _run

    return _run(_parse("visualise", args))


def list_configs_text(args: Sequence[str] | argparse.Namespace = ()) -> str:
    """What ``vai-train list`` prints: datasets, models and experiments with the root each comes from."""
    from vai_train.config import discover_roots, list_configs

    ns = _parse("list", args)
    roots = discover_roots(ns.config_root)
    lines = ["config roots (first wins):"]
    lines += [f"  {r.path}  [{r.source}]" for r in roots] or ["  (none)"]
    for kind, items in list_configs(roots).items():
        lines.append(f"{kind} ({len(items)}):")
        lines += [f"  {name:40s} {root.path} [{root.source}]" for name, root in items] or ["  (none)"]
    return "\n".join(lines)


def dispatch(args: argparse.Namespace) -> Any:
    """Run the sub-command in ``args.command``."""
    if args.command == "train":
        return run_train(args)
    if args.command == "eval":
        return run_eval(args)
    if args.command == "feature":
        return run_feature(args)
    if args.command == "predict":
        return run_predict(args)
    if args.command == "confusion":
        return run_confusion(args)
    if args.command in ("visualise", "visualize"):
        return run_visualise(args)
    if args.command == "list":
        print(list_configs_text(args))  # noqa: T201 - CLI output
        return None
    raise ValueError(f"unknown command {args.command!r}")
