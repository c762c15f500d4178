"""``vai-train eval`` (metrics of a checkpoint on a split, written into that epoch's summary row) and
``vai-train feature`` (per-video features or logits of a split saved as ``.npz``)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vai_train.atomic import atomic_open
from vai_train.config import ExpConfig
from vai_train.config.loader import ConfigError
from vai_train.engine import builders as B
from vai_train.engine.checkpoint import load_checkpoint, resolve_link
from vai_train.engine.compiling import compile_in_place, compile_wanted
from vai_train.engine.criterion import prepare_eval_criterion
from vai_train.engine.distributed import DistInfo, cleanup_distributed, init_distributed
from vai_train.engine.loop import resolve_amp, run_inference
from vai_train.engine.reports import make_telegram, replot, save_split_predictions, setup_run_logging
from vai_train.engine.result import RunResult
from vai_train.engine.resume import best_epoch_of, check_load_epoch, epoch_checkpoint
from vai_train.engine.rng import seed_everything
from vai_train.engine.trainer import exp_dir_of, load_cfg
from vai_train.logging_setup import RecordBuffer
from vai_train.metrics import average_per_video
from vai_train.reporting.predictions import default_mode
from vai_train.rundir import RunDir, last_version, new_version, resolve_version, save_configs
from vai_train.summary import read_summary, update_row

logger = logging.getLogger(__name__)


def _split(args: argparse.Namespace) -> str:
    return args.split or ("multicropval" if args.mode == "multicrop" else "val")


def _split_and_mode(args: argparse.Namespace) -> str:
    """The split (``-s``, else ``val`` / ``multicropval`` by ``-m``); ``args.mode`` left out becomes the
    split's own (``multicrop`` for ``multicrop*`` splits, as confusion and ``train -p -t`` name them)."""
    split = _split(args)
    if getattr(args, "mode", None) is None:
        args.mode = default_mode(split)
    return split


def _pick(
    args: argparse.Namespace, cfg: ExpConfig, best_field: str, higher: bool, info: DistInfo
) -> tuple[RunDir | None, Path | None, int | None]:
    """(run dir, checkpoint, epoch) for ``-l``/``-v``. Without ``-l`` (load_pretrained weights): the last
    version (or ``-v N``) if there is one, else None — no folder is created just to evaluate."""
    exp_dir = exp_dir_of(args)
    if args.load_epoch is None:
        if args.version != "auto":
            return resolve_version(exp_dir, args.version), None, None
        return last_version(exp_dir), None, None
    rd = resolve_version(exp_dir, args.version)
    if args.load_epoch == -1:
        ckpt = resolve_link(rd.weights, "last.pth")
        if ckpt is None:
            raise FileNotFoundError(f"{rd.weights}/last.pth does not exist; nothing to evaluate")
        return rd, ckpt, None
    epoch = best_epoch_of(rd, best_field, higher) if args.load_epoch == -2 else args.load_epoch
    return rd, epoch_checkpoint(rd, epoch, "the best epoch" if args.load_epoch == -2 else ""), epoch


def output_dir(
    rd: RunDir | None, args: argparse.Namespace, cfg: ExpConfig, early: RecordBuffer, prefix: str
) -> RunDir:
    """The run dir to write files into; a new version only when there is none (and only now, when a
    file is about to be written). A new one gets this command's log files (``<prefix>_*.log``, with what
    was logged so far) and its configs and ``<prefix>_args.json``, as a trained version has."""
    if rd is not None:
        return rd.create()
    rd = new_version(exp_dir_of(args)).create()
    setup_run_logging(rd.logs, args.log_level, 0, prefix, replay=early.detach())
    save_configs(rd, cfg.files, vars(args), prefix=f"{prefix}_")
    logger.info("%s: new version %s for its output", prefix, rd.path)
    return rd


def _load_model(
    cfg: ExpConfig, info: DistInfo, ckpt_path: Path | None, channels_last: bool | None = None
) -> tuple[nn.Module, int | None, dict[str, Any] | None]:
    """Model with checkpoint weights (EMA weights when the run kept them), or load_pretrained; plus the
    checkpoint's criterion entries (``criterion_state``, ``criterion_run``), None without a checkpoint."""
    model = B.build_model(cfg, info, ckpt_path is None, channels_last)
    if ckpt_path is None:  # the weights a fresh training run starts from (inference needs no DDP wrapper)
        cfg.load_pretrained_post_ddp(model)
        return model, None, None
    ckpt = load_checkpoint(ckpt_path, "cpu")
    state = ckpt["model_state"]
    if ckpt.get("ema_state"):
        state = {k[len("module.") :]: v for k, v in ckpt["ema_state"].items() if k.startswith("module.")}
        logger.info("using the EMA weights stored in %s", ckpt_path)
    model.load_state_dict(state)
    crit = {k: ckpt[k] for k in ("criterion_state", "criterion_run") if k in ckpt}
    return model, int(ckpt["epoch"]), crit


def prepare_model(
    args: argparse.Namespace,
    prefix: str,
    runs: Callable[[ExpConfig, nn.Module], nn.Module] | None = None,
) -> tuple[DistInfo, ExpConfig, RunDir | None, nn.Module, int | None, str, tuple]:
    """Process group, configs, version, the module inference runs (``runs(cfg, model)`` of the model
    with its weights, default the model itself; compiled when ``--compile``/``compile`` ask), epoch,
    split, and (the checkpoint's criterion entries, its path) for :func:`prepare_eval_criterion`."""
    check_load_epoch(
        args.load_epoch,
        "-1 (the last checkpoint), -2 (the best epoch)",
        "use the config's load_pretrained() weights",
    )
    info = init_distributed(args.device)
    setup_run_logging(None, args.log_level, info.rank, prefix)
    cfg = load_cfg(args)
    compiling = compile_wanted(cfg, getattr(args, "compile", None))  # a bad compile_options: nothing made
    seed_everything(args.seed + info.rank)
    best_field, higher = B.best_metric_info(cfg, B.split_metrics(cfg, "val"))
    rd, ckpt, _ = _pick(args, cfg, best_field, higher, info)
    if rd is not None and rd.path.is_dir():
        setup_run_logging(rd.logs, args.log_level, info.rank, prefix)
    model, epoch, crit = _load_model(cfg, info, ckpt, getattr(args, "channels_last", None))
    if runs is not None:
        model = runs(cfg, model)
    compile_in_place(model, compiling, "model" if runs is None else "inference module")
    logger.info(
        "%s: %s, weights %s", prefix, rd.path if rd else "(no version yet)", ckpt or "load_pretrained()"
    )
    return info, cfg, rd, model, epoch, _split_and_mode(args), (crit, str(ckpt))


def eval_loader(
    cfg: ExpConfig, split: str, info: DistInfo, args: argparse.Namespace, dataset: Any = None
) -> torch.utils.data.DataLoader:
    """The non-shuffling, sharded loader of the split's dataset (or of ``dataset``, read as that split)."""
    ds = cfg.get_torch_dataset(split) if dataset is None else dataset
    workers = B.resolve_num_workers(args.num_workers, cfg)
    collate = cfg.get_collate_fn(split, ds, training=False)
    return B.make_eval_loader(ds, cfg.val_batch_size, info, args.seed, workers, collate)


def infer(
    model: nn.Module,
    loader: torch.utils.data.DataLoader,
    cfg: ExpConfig,
    split: str,
    info: DistInfo,
    args: argparse.Namespace,
    criterion: Any = None,
    activation: bool = True,
    desc: str | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """``run_inference`` with the split's unpack and input reshape, the config's last activation (unless
    ``activation=False``) and AMP as ``--amp``/``use_amp`` ask."""
    return run_inference(
        model,
        loader,
        info,
        cfg.get_data_unpack_func(split),
        cfg.get_input_reshape_func(split),
        cfg.last_activation() if activation else None,
        criterion,
        resolve_amp(args.amp or cfg.use_amp, cfg.amp_dtype, info.device),
        desc=desc or split,
        progress=not args.no_progress,
        **kwargs,
    )


def run_eval(args: argparse.Namespace) -> RunResult:
    """Evaluate and write ``{split}_loss``, ``{split}_runtime_sec`` and metrics into the epoch's summary row
    (not for the ``train`` split, whose columns hold what training measured during the epoch)."""
    info = None
    early = RecordBuffer().attach()  # replayed into the log files of a version eval creates
    try:
        info, cfg, rd, model, epoch, split, crit_ckpt = prepare_model(args, "eval")
        metrics = B.split_metrics(cfg, split, multicrop=args.mode == "multicrop")
        criterion = prepare_eval_criterion(cfg.get_criterion(split), info.device, *crit_ckpt, split)
        out = infer(
            model,
            eval_loader(cfg, split, info, args),
            cfg,
            split,
            info,
            args,
            criterion,
            desc=f"eval {split}",
        )
        row: dict[str, Any] = {f"{split}_runtime_sec": out["runtime_sec"], f"{split}_loss": out["loss"]}
        rows: list[dict[str, Any]] = []
        if info.is_main:
            row.update(B.compute_metrics(metrics, out))
            if epoch is not None and split != "train":
                rows = update_row(rd.summary_csv, epoch, row)
                if args.plot_period >= 0:
                    replot(rd, cfg)
            elif rd is not None:
                rows = read_summary(rd.summary_csv)
                if epoch is not None:  # split "train": its columns are training's record of the epoch
                    logger.info("eval train: summary.csv left as training wrote it (its train_* columns)")
            if args.save_predictions:
                rd = output_dir(rd, args, cfg, early, "eval")
                save_split_predictions(
                    rd,
                    epoch if epoch is not None else 0,
                    split,
                    out,
                    getattr(cfg.exp_cfg, "predictions_gatherers", None),
                    args.mode,
                )
            if args.bot_index is not None:
                _telegram_eval(cfg, args, rd, row, epoch)
            logger.info(
                "eval %s (%s): %s",
                split,
                f"epoch {epoch}" if epoch is not None else "load_pretrained() weights",
                ", ".join(f"{k}={v:.4f}" for k, v in row.items() if isinstance(v, float)),
            )
        return _result(rd, rows, split, metrics, row, epoch, args.mode)
    finally:
        early.detach()
        cleanup_distributed()


def _telegram_eval(
    cfg: ExpConfig, args: argparse.Namespace, rd: RunDir | None, row: dict, epoch: int | None
) -> None:
    try:
        bot = make_telegram(cfg, args, rd)
        bot.eval_result({k: v for k, v in row.items() if isinstance(v, float)}, epoch)
    except Exception as e:  # reporting never fails an evaluation
        logger.warning("Telegram reporting failed: %s", e)


def _result(
    rd: RunDir | None, rows: list, split: str, metrics: list, row: dict, epoch: int | None, mode: str
) -> RunResult:
    """The eval result; its headline is the first field of the first metric, or in multi-crop mode of
    the first video-level metric (``multicropval_vid_acc``: what multi-crop evaluation is for)."""
    headline = metrics
    if mode == "multicrop":
        headline = [m for m in metrics if getattr(m, "video_level", False)] or metrics
    main = headline[0].fields()[0] if headline else f"{split}_loss"
    path = rd.path if rd is not None else None
    return RunResult(path, rows, main, row.get(main), epoch, epoch, False, row, command="eval")


def feature_model(cfg: ExpConfig, model: nn.Module, name: str) -> nn.Module:
    """Exp/model config ``feature_extract_model(model, name)``; default ``forward_features`` or the model."""
    fn = cfg.get("feature_extract_model")
    if fn is not None:
        return fn(model, name)
    if name == "logits":
        return model
    if not hasattr(model, "forward_features"):
        raise ConfigError(
            f"{type(model).__name__} has no forward_features(); define feature_extract_model(model, name)"
            f" in {cfg.exp_cfg.__file__}"
        )
    return ForwardFeatures(model)


class ForwardFeatures(nn.Module):
    """``model.forward_features`` as a module, flattened to (N, D): what ``feature -f features`` extracts."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model.forward_features(x)
        return out.flatten(1) if out.ndim > 2 else out


def save_arrays(path: Path, arrays: dict[str, Any]) -> Path:
    """Atomic ``.npz`` of numeric arrays (no pickles): load with ``np.load(path, allow_pickle=False)``."""
    with atomic_open(path, "wb") as f:
        np.savez(
            f,
            **{
                k: (
                    v.detach().cpu().float().numpy()
                    if isinstance(v, torch.Tensor) and v.is_floating_point()
                    else np.asarray(v.cpu() if isinstance(v, torch.Tensor) else v)
                )
                for k, v in arrays.items()
            },
        )
    return path


def run_feature(args: argparse.Namespace) -> RunResult:
    """Save ``predictions/<feat>_epoch_NNNN_<split>_<mode>.npz``: per-video mean ``<feat>`` plus clip arrays."""
    if getattr(args, "save_predictions", False):  # checked before anything is loaded or created
        raise ValueError(
            "-p: feature always saves its features to predictions/*.npz; -p (save predictions) is for eval"
        )
    early = RecordBuffer().attach()  # replayed into the log files of a version feature creates
    try:
        name = args.feature_name
        # what runs, forward_features or the config's feature_extract_model, is what --compile compiles
        info, cfg, rd, fmodel, epoch, split, _ = prepare_model(
            args, "feature", runs=lambda cfg, model: feature_model(cfg, model, name)
        )
        out = infer(
            fmodel,
            eval_loader(cfg, split, info, args),
            cfg,
            split,
            info,
            args,
            activation=False,
            desc=f"{name} {split}",
            extra_keys=("spatial_idx", "temporal_idx"),
        )
        result = RunResult(rd.path if rd else None, [], None, None, epoch, epoch, command="feature")
        if info.is_main:
            rd = output_dir(rd, args, cfg, early, "feature")
            result.run_dir = rd.path
            clip = out["probs"]
            video_feats, video_labels = average_per_video(clip, out["labels"], out["video_ids"])
            path = rd.predictions / f"{name}_epoch_{epoch or 0:04d}_{split}_{args.mode}.npz"
            save_arrays(
                path,
                {
                    "video_ids": torch.unique(out["video_ids"], sorted=True),
                    name: video_feats,
                    "labels": video_labels,
                    f"clip_{name}": clip,
                    "clip_video_ids": out["video_ids"],
                    "clip_labels": out["labels"],
                    "spatial_idx": out["spatial_idx"],
                    "temporal_idx": out["temporal_idx"],
                },
            )
            logger.info(
                "%s of %d videos (%d clips, dim %d) saved to %s",
                name,
                video_feats.shape[0],
                clip.shape[0],
                clip.shape[1],
                path,
            )
            result.metrics = {
                "path": str(path),
                "num_videos": int(video_feats.shape[0]),
                "dim": int(clip.shape[1]),
            }
        return result
    finally:
        early.detach()
        cleanup_distributed()
