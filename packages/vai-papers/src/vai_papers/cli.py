"""``vai-papers`` command line: helpers around the shipped experiments."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path


class RunNotFoundError(FileNotFoundError):
    """No finished run (with a summary.csv) under the experiment directory."""


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


def demo_summary_line(run_dir: Path, num_classes: int) -> str:
    """The demo's closing line: last epoch's val top-1 against chance, and where the results are."""
    rows = [r for r in read_summary(run_dir) if r.get("val_acc") not in (None, "")]
    if not rows:
        raise RunNotFoundError(f"{run_dir / 'logs' / 'summary.csv'} has no val_acc value")
    acc = float(rows[-1]["val_acc"])
    return f"demo: val top-1 = {acc:.3f} (chance {1.0 / num_classes:.3f}) — results in {run_dir}"


def _demo_summary(args: argparse.Namespace) -> int:
    run_dir = latest_run_dir(args.experiment_root, args.dataset, args.model, args.exp, args.subfolder)
    from vai_data.synth import SYNTH_CLASSES

    print(demo_summary_line(run_dir, len(SYNTH_CLASSES)))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vai-papers`` console script."""
    parser = argparse.ArgumentParser(prog="vai-papers")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo-summary", help="print the demo's result line from its latest run")
    p.add_argument("-R", "--experiment-root", default="experiments")
    p.add_argument("-D", "--dataset", default="synthetic_motion")
    p.add_argument("-M", "--model", default="tsm_resnet18")
    p.add_argument("-E", "--exp", default="demo")
    p.add_argument("-S", "--subfolder", default=None)
    args = parser.parse_args(argv)
    try:
        return _demo_summary(args)
    except RunNotFoundError as e:
        print(f"vai-papers: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
