"""``vai-train train|eval|feature|predict|confusion|visualise|list`` — upstream PyVideoAI's flags on one console script.

Single process: ``vai-train train -D D -M M -E E``. Multi-GPU / multi-node: launch the same command
with ``torchrun ... -m vai_train.cli train ...`` (see docs/train.md "Multi-node").
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from vai_train.engine.checkpoint import SAVE_POLICIES
from vai_train.engine.compiling import compile_failure
from vai_train.logging_setup import log_to_files
from vai_train.metrics.confusion import SORT_KEYS
from vai_train.rundir import default_experiment_root

logger = logging.getLogger(__name__)


def _common(p: argparse.ArgumentParser, need_dme: bool = True) -> None:
    p.add_argument(
        "--config-root",
        action="append",
        default=[],
        metavar="DIR",
        help="extra config root (repeatable); searched before ./configs and installed packages",
    )
    if not need_dme:  # list: every channel folder is listed, and it logs nothing worth a level
        return
    p.add_argument(
        "-c:d", "--dataset_channel", dest="dataset_channel", default=None, help="dataset_configs/ch_<c>/"
    )
    p.add_argument(
        "-c:m", "--model_channel", dest="model_channel", default=None, help="model_configs/ch_<c>/"
    )
    p.add_argument("-c:e", "--exp_channel", dest="exp_channel", default=None, help="exp_configs/ch_<c>/")
    p.add_argument(
        "-L",
        "--log-level",
        "--console_log_level",
        dest="log_level",
        default="INFO",
        help="console log level (files keep every level)",
    )
    p.add_argument(
        "-R",
        "--experiment_root",
        dest="experiment_root",
        default=str(default_experiment_root()),
        help="experiment root (default $VAI_EXPERIMENT_ROOT or ./experiments)",
    )
    p.add_argument("-D", "--dataset", required=True)
    p.add_argument("-M", "--model", required=True)
    p.add_argument("-E", "--experiment_name", required=True)
    p.add_argument("-S", "--subfolder_name", dest="subfolder", default=None)
    p.add_argument("-v", "--version", default="auto", help="version number or 'auto'")
    p.add_argument("-w", "--num_workers", type=int, default=None, help="DataLoader workers per process")
    p.add_argument("--seed", type=int, default=12)
    p.add_argument(
        "-B",
        "--telegram_bot_idx",
        dest="bot_index",
        type=int,
        default=None,
        help="report to Telegram with [Telegram<B>] of key.ini",
    )
    p.add_argument("--amp", action="store_true", help="mixed precision (fp16 on CUDA, bf16 on CPU)")
    p.add_argument(
        "--device", default="auto", help="cpu, cuda, cuda:N or auto (default: this rank's GPU, else CPU)"
    )

    p.add_argument("-r", "--refresh_period", type=int, default=10, help="iterations between progress updates")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument(
        "--plot-period",
        dest="plot_period",
        type=int,
        default=1,
        help="train: redraw plots every N epochs (0: only at the end); eval: redraw if >= 0; -1: never",
    )


def _model_switches(p: argparse.ArgumentParser) -> None:
    """``--channels-last`` and ``--compile`` (with their ``--no-`` forms) for the commands that load a model."""
    p.add_argument(
        "--channels-last",
        dest="channels_last",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep 4-D weights channels_last and 5-D channels_last_3d (faster convolutions, above all with"
        " --amp on a GPU); default: the exp/model config's channels_last (False)",
    )
    p.add_argument(
        "--compile",
        dest="compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the model through torch.compile with the config's compile_options (slower first batches,"
        " faster epochs after); default: the exp/model config's compile (False)",
    )


MODE_HELP = "oneclip or multicrop (default: multicrop for a multicrop* split given with -s, else oneclip)"
WEIGHTS_HELP = "-1: last, -2: best, N: epoch N, none: the exp config's load_pretrained"


def _load_epoch(p: argparse.ArgumentParser, help_: str) -> None:
    """``-l/--load_epoch``: which checkpoint (its meaning per command in ``help_``)."""
    p.add_argument("-l", "--load_epoch", type=int, default=None, help=help_)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vai-train", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train and validate")
    _common(t)
    _model_switches(t)
    _load_epoch(
        t, "-1: resume the last version; -2: new version from its best epoch; N: new version from epoch N"
    )
    t.add_argument(  # checked by run_train: a bad policy is a one-line error with exit status 1
        "-s",
        "--save_mode",
        default=None,
        metavar="POLICY",
        help=f"checkpoint keep policy: {', '.join(SAVE_POLICIES)} (default last_and_peaks; with -l -1 the"
        " policy the version was trained with)",
    )
    t.add_argument(
        "-e", "--num_epochs", type=int, default=None, help="epochs (default: the exp config's num_epochs)"
    )
    t.add_argument(
        "-t", "--multicropval_period", type=int, default=0, help="multi-crop validation every N epochs"
    )
    t.add_argument("-T", "--telegram_post_period", dest="telegram_period", type=int, default=10)
    t.add_argument("-p", "--save_predictions", action="store_true", help="save val predictions every epoch")
    t.add_argument(
        "-WP", "--wandb_project", default=None, help="log epochs to this W&B project (wandb extra)"
    )
    t.add_argument("-WE", "--wandb_entity", default=None, help="W&B entity (team or user)")
    t.add_argument("-WR", "--wandb_run_id", default=None, help="W&B run id to resume")
    t.add_argument(
        "-WUM",
        "--wandb_upload_models",
        default="best_and_last",
        choices=("best_and_last", "no"),
        help="with -WP: upload best.pth and last.pth as W&B artifacts at the end (upstream default)",
    )
    t.add_argument(
        "--persistent-workers",
        dest="persistent_workers",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep the DataLoader workers between epochs (faster epochs; see the docs for what it changes);"
        " default: the exp config's persistent_workers (False)",
    )
    t.add_argument(
        "--sync-bn",
        dest="sync_bn",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="synchronise BatchNorm statistics across the processes of a multi-GPU run (SyncBatchNorm);"
        " default: the exp/model config's sync_bn (False)",
    )
    t.add_argument(
        "--training_speed",
        default="standard",
        choices=("standard", "faster"),
        help="faster: do not gather training outputs to rank 0, so no train metrics (train loss stays)",
    )

    for name, help_ in (
        ("eval", "evaluate a checkpoint on a split"),
        ("feature", "extract per-video features"),
    ):
        e = sub.add_parser(name, help=help_)
        _common(e)
        _model_switches(e)
        _load_epoch(e, WEIGHTS_HELP)
        e.add_argument("-m", "--mode", default=None, choices=("oneclip", "multicrop"), help=MODE_HELP)
        e.add_argument("-s", "--split", default=None, help="dataset split (default val / multicropval by -m)")
        e.add_argument(
            "-p",
            "--save_predictions",
            action="store_true",
            help="save predictions" if name == "eval" else argparse.SUPPRESS,  # feature: refused
        )
        if name == "feature":
            e.add_argument("-f", "--feature_name", default="features", choices=("features", "logits"))

    pr = sub.add_parser(
        "predict", help="top classes of video files (or JPEG frame folders, .vpk files) with a trained model"
    )
    _common(pr)
    _model_switches(pr)
    pr.add_argument(
        "videos",
        nargs="+",
        metavar="VIDEO",
        help="video files, folders of numbered JPEG frames, or packed .vpk files (one kind per call) to classify",
    )
    _load_epoch(pr, WEIGHTS_HELP)
    pr.add_argument("-m", "--mode", default=None, choices=("oneclip", "multicrop"), help=MODE_HELP)
    pr.add_argument(
        "-s",
        "--split",
        default=None,
        help="the split whose test pipeline reads the videos (default val, or multicropval with -m multicrop)",
    )
    pr.add_argument("--top", type=int, default=5, help="classes shown per video (default 5)")
    pr.add_argument(
        "-o", "--output", default=None, metavar="FILE", help="also write the table (.csv or .json)"
    )

    c = sub.add_parser("confusion", help="confusion matrices and per-class accuracy of saved predictions")
    _common(c)
    _load_epoch(c, "-1: last epoch, -2: best epoch, N: epoch N, none: the newest saved predictions")
    c.add_argument(
        "-m",
        "--mode",
        default=None,
        choices=("oneclip", "multicrop"),
        help="the predictions' mode (default multicrop for multicrop* splits, else oneclip)",
    )
    c.add_argument("-s", "--split", default=None, help="dataset split (default val / multicropval by -m)")
    c.add_argument(
        "--sort",
        default="all",
        choices=("all", *SORT_KEYS),
        help="class order of the plots and CSV (default all: one folder per order)",
    )
    c.add_argument(
        "--predictions", default=None, metavar="FILE", help="a predictions .npz to use instead of -l/-s/-m"
    )
    c.add_argument(
        "--no-train-counts",
        dest="no_train_counts",
        action="store_true",
        help="do not build the train dataset to count its classes (no train_freq order, no n_train column)",
    )
    c.add_argument(
        "--no-tensorboard", dest="no_tensorboard", action="store_true", help="no TensorBoard figure"
    )

    v = sub.add_parser(
        "visualise", aliases=["visualize"], help="GIFs and contact sheets of the model's input"
    )
    _common(v)
    v.add_argument("-s", "--split", default="train", help="dataset split (default train)")
    v.add_argument("-n", "--num_samples", type=int, default=8, help="samples to draw (default 8)")
    v.add_argument(
        "-i", "--video_ids", type=int, nargs="+", default=None, metavar="ID", help="draw every view of these"
    )
    v.add_argument(
        "-o", "--output", default=None, help="folder (default <experiment>/visualisations/<split>)"
    )
    v.add_argument("--fps", type=float, default=4.0, help="GIF frames per second (default 4)")
    v.add_argument(
        "--denormalise",
        default="auto",
        choices=("auto", "minmax"),
        help="auto: undo the statistics the dataset normalised with (its normalize), else the model config's"
        " input_mean/input_std; minmax: scale each clip to its range",
    )
    v.add_argument(
        "--before-reshape",
        dest="before_reshape",
        action="store_true",
        help="draw the clips before the exp config's input reshape (e.g. channel sampling's reordering)",
    )
    v.add_argument("--tensorboard", action="store_true", help="also write the sheets to <output>/tensorboard")
    v.add_argument(
        "--graph", action="store_true", help="also write the model's graph to <output>/tensorboard"
    )

    ls = sub.add_parser("list", help="list datasets, models and experiments in the config roots")
    _common(ls, need_dme=False)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit status (1 with one clear line on a user error)."""
    args = parse_args(argv)
    from vai_train.api import dispatch

    try:
        result = dispatch(args)
    except KeyboardInterrupt:
        logger.error("interrupted")
        return 130
    except Exception as e:
        # the traceback goes to the DEBUG log file (and the console with -L DEBUG); the user sees one line
        logger.debug("vai-train %s failed", args.command, exc_info=True)
        line = compile_failure(e) or str(e)
        log_to_files(logging.ERROR, f"vai-train {args.command} failed: {line}")  # the run's *_ERROR.log
        print(f"vai-train {args.command}: error: {line}", file=sys.stderr)
        return 1
    if args.command != "list" and result is not None and _is_main():
        print(result.summary_line() if hasattr(result, "summary_line") else result)
    return 0


def _is_main() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"


if __name__ == "__main__":
    sys.exit(main())
