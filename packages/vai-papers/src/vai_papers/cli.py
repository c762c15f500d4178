"""``vai-papers`` command line: helpers around the shipped experiments."""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path


class RunNotFoundError(FileNotFoundError):
    """No finished run (with a summary.csv) under the experiment directory."""


class SummaryError(ValueError):
    """A summary.csv whose val_acc column holds something that is not a number."""


def latest_run_dir(
    root: str | Path, dataset: str, model: str, exp: str, subfolder: str | None = None
) -> Path:
    """The highest ``version_NNN`` directory of ``<root>/<dataset>/<model>/<exp>[/<subfolder>]``."""
    exp_dir = Path(root) / dataset / model / exp
    if subfolder:
        exp_dir = exp_dir / subfolder
    versions = sorted(p for p in exp_dir.glob("version_*") if p.is_dir() and p.name[8:].isdigit())
    if not versions:
        raise RunNotFoundError(f"no version_NNN run directory in {exp_dir}; train first with vai-train train")
    return max(versions, key=lambda p: int(p.name[8:]))


def read_summary(run_dir: Path) -> list[dict[str, str]]:
    """Rows of ``logs/summary.csv`` (one per epoch) of a run directory."""
    path = run_dir / "logs" / "summary.csv"
    if not path.is_file():
        raise RunNotFoundError(f"{path} does not exist; the run has not finished an epoch")
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def demo_summary_line(run_dir: Path, num_classes: int | None) -> str:
    """The demo's closing line: the last epoch's val top-1 (against chance when ``num_classes`` is known)
    and where the results are."""
    path = run_dir / "logs" / "summary.csv"
    rows = [r for r in read_summary(run_dir) if r.get("val_acc") not in (None, "")]
    if not rows:
        raise RunNotFoundError(f"{path} has no val_acc value")
    try:
        acc = float(rows[-1]["val_acc"])
    except ValueError:
        raise SummaryError(
            f"{path}: val_acc {rows[-1]['val_acc']!r} of epoch {rows[-1].get('epoch', '?')} is not a number"
        ) from None
    chance = f" (chance {1.0 / num_classes:.3f})" if num_classes else ""
    return f"demo: val top-1 = {acc:.3f}{chance} — results in {run_dir}"


def _demo_summary(args: argparse.Namespace) -> int:
    run_dir = latest_run_dir(args.experiment_root, args.dataset, args.model, args.exp, args.subfolder)
    num_classes = None
    if args.dataset == "synthetic_motion":  # other datasets' class counts are in their configs
        from vai_data.synth import SYNTH_CLASSES

        num_classes = len(SYNTH_CLASSES)
    print(demo_summary_line(run_dir, num_classes))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vai-papers`` console script."""
    parser = argparse.ArgumentParser(prog="vai-papers")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo-summary", help="print the demo's result line from its latest run")
    p.add_argument(
        "-R",
        "--experiment-root",
        default=os.environ.get("VAI_EXPERIMENT_ROOT", "experiments"),
        help="experiment root (default: $VAI_EXPERIMENT_ROOT, else ./experiments, as vai-train)",
    )
    p.add_argument("-D", "--dataset", default="synthetic_motion")
    p.add_argument("-M", "--model", default="tsm_resnet18")
    p.add_argument("-E", "--exp", default="demo")
    p.add_argument("-S", "--subfolder", default=None)
    args = parser.parse_args(argv)
    try:
        return _demo_summary(args)
    except (RunNotFoundError, SummaryError) as e:
        print(f"vai-papers: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
