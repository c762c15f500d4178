"""``vai-train train``: build everything from the configs, resume if asked, run epochs, write the run dir."""

from __future__ import annotations

import argparse
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vai_train.config import ExpConfig, discover_roots, load_exp_config
from vai_train.early_stopping import ExperimentView, best_epoch, make_condition
from vai_train.engine import builders as B
from vai_train.engine.checkpoint import (
    SAVE_POLICIES,
    load_checkpoint,
    resolve_link,
    save_epoch_checkpoint,
)
from vai_train.engine.distributed import (
    DistInfo,
    all_gather_object,
    barrier,
    broadcast_object,
    broadcast_tensors,
    cleanup_distributed,
    init_distributed,
)
from vai_train.engine.loop import NonFiniteLossError, resolve_amp, run_inference, train_one_epoch
from vai_train.engine.reports import Reporter, save_split_predictions, setup_run_logging
from vai_train.engine.restore import restore_state as _restore
from vai_train.engine.restore import step_plateau as _step_plateau
from vai_train.engine.resume import choose_start
from vai_train.engine.rng import get_rng_state, seed_everything
from vai_train.rundir import experiment_dir, save_configs
from vai_train.schedulers import is_plateau_scheduler
from vai_train.summary import best_row, clip_rows, read_summary, update_row

logger = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What a train/eval run produced: its directory, summary rows and best metric."""

    run_dir: Path
    summary: list[dict[str, Any]] = field(default_factory=list)
    best_metric_field: str | None = None
    best_metric: float | None = None
    best_epoch: int | None = None
    last_epoch: int | None = None
    stopped_early: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)
    command: str = "train"

    def summary_line(self) -> str:
        """One line for the console: the main metric and where the results are."""
        if self.command == "feature":
            return f"{self.metrics.get('path', 'features')} — {self.metrics.get('num_videos')} videos"
        if self.best_metric is None:
            return f"results in {self.run_dir}"
        what = "best" if self.command == "train" else f"{self.command}"
        return (
            f"{what} {self.best_metric_field} = {self.best_metric:.4f} (epoch {self.best_epoch})"
            f" — results in {self.run_dir}"
        )


def load_cfg(args: argparse.Namespace) -> ExpConfig:
    """Config roots from ``--config-root``/./configs/entry points, then the D/M/E configs."""
    roots = discover_roots(args.config_root)
    return load_exp_config(
        roots,
        args.dataset,
        args.model,
        args.experiment_name,
        args.dataset_channel,
        args.model_channel,
        args.exp_channel,
    )


def exp_dir_of(args: argparse.Namespace) -> Path:
    return experiment_dir(
        args.experiment_root,
        args.dataset,
        args.model,
        args.experiment_name,
        args.subfolder,
        (args.dataset_channel, args.model_channel, args.exp_channel),
    )


def run_train(args: argparse.Namespace) -> RunResult:
    """Train per ``args`` (the parsed ``vai-train train`` flags); see docs/train.md."""
    if args.save_mode not in SAVE_POLICIES:  # checked before anything is created
        raise ValueError(f"save policy -s {args.save_mode!r} unknown; use one of {', '.join(SAVE_POLICIES)}")
    info = init_distributed(args.device)
    try:
        return _train(args, info)
    finally:
        cleanup_distributed()


def _train(args: argparse.Namespace, info: DistInfo) -> RunResult:
    setup_run_logging(None, args.log_level, info.rank, "train")
    cfg = load_cfg(args)
    seed_everything(args.seed + info.rank)
    val_metrics = B.split_metrics(cfg, "val")
    best_field, higher = B.best_metric_info(cfg, val_metrics)

    start = (
        choose_start(exp_dir_of(args), args.load_epoch, args.version, best_field, higher)
        if info.is_main
        else None
    )
    start = broadcast_object(start, info)
    rd = start.run
    if info.is_main:
        save_configs(rd, cfg.files, vars(args))
    setup_run_logging(rd.logs, args.log_level, info.rank, "train")
    logger.info("run directory: %s (rank %d/%d, device %s)", rd.path, info.rank, info.world_size, info.device)

    workers = B.resolve_num_workers(args.num_workers, cfg)
    train_ds = cfg.get_torch_dataset("train")
    val_ds = cfg.get_torch_dataset("val")
    kit: dict[str, Any] = {
        "train_loader": B.make_train_loader(train_ds, cfg, info, args.seed, workers),
        "val_loader": B.make_eval_loader(
            val_ds, cfg.val_batch_size, info, args.seed, workers, cfg.get_collate_fn("val", val_ds)
        ),
    }
    mc_period = args.multicropval_period or 0
    if mc_period > 0:
        mc_ds = cfg.get_torch_dataset("multicropval")
        kit["multicropval_loader"] = B.make_eval_loader(
            mc_ds, cfg.val_batch_size, info, args.seed, workers, cfg.get_collate_fn("multicropval", mc_ds)
        )
    model = B.build_model(cfg, info, pretrained=start.checkpoint is None)
    kit["model"] = B.wrap_ddp(model, cfg, info)
    kit["optimiser"] = cfg.optimiser(cfg.get_optim_policies(model))  # the unwrapped module
    accum = cfg.grad_accum_steps
    steps_per_epoch = B.iters_per_epoch(kit["train_loader"], accum)
    kit["scheduler"] = cfg.scheduler(kit["optimiser"], steps_per_epoch)
    amp = resolve_amp(args.amp or cfg.use_amp, cfg.amp_dtype, info.device)
    kit["scaler"] = torch.amp.GradScaler(info.device.type, enabled=amp.enabled and amp.dtype == torch.float16)
    kit["ema"] = B.make_ema(model, cfg.ema_decay)
    kit["criterions"] = {s: cfg.get_criterion(s) for s in ("train", "val", "multicropval")}
    kit["data_unpack_funcs"] = {s: cfg.get_data_unpack_func(s) for s in ("train", "val", "multicropval")}
    kit["input_reshape_funcs"] = {s: cfg.get_input_reshape_func(s) for s in ("train", "val", "multicropval")}
    kit["summary"] = read_summary(rd.summary_csv) if info.is_main else []
    kit["best_field"] = best_field
    metrics = {
        "train": B.split_metrics(cfg, "train"),
        "val": val_metrics,
        "multicropval": B.split_metrics(cfg, "multicropval", multicrop=True),
    }
    activation = cfg.last_activation()

    start_epoch = 1
    # on CPU: the RNG states must stay there
    ckpt = load_checkpoint(start.checkpoint, "cpu") if start.checkpoint is not None else None
    if ckpt is not None and info.is_main:  # rows after the checkpoint's epoch are discarded (redone)
        kit["summary"] = clip_rows(rd.summary_csv, int(ckpt["epoch"]))
    # every rank holds rank 0's summary rows: hooks (epoch_start_script) and the replay decide alike
    kit["summary"] = broadcast_object(kit["summary"], info)
    if ckpt is not None:
        _restore(kit, ckpt, cfg, info, steps_per_epoch)
        start_epoch = int(ckpt["epoch"]) + 1
        logger.info("resumed from %s (epoch %d)", start.checkpoint, ckpt["epoch"])
    num_epochs = args.num_epochs if args.num_epochs is not None else cfg.num_epochs
    metric_info = {
        "best_metric_fieldname": best_field,
        "best_metric_higher_is_better": higher,
        "val_loss_fieldname": "val_loss",
        "metrics": metrics,
    }
    condition = make_condition(
        getattr(cfg.exp_cfg, "early_stopping_condition", None),
        getattr(cfg.exp_cfg, "early_stopping_patience", None),
    )
    reporter = Reporter(rd, args, cfg, info, best_field) if info.is_main else None
    if reporter:
        reporter.set_directions(metrics)
    opts = {
        "amp": amp,
        "clip_grad_max_norm": cfg.clip_grad_max_norm,
        "grad_accum_steps": accum,
        "refresh": args.refresh_period,
        "progress": not args.no_progress,
        "activation": activation,
    }

    def should_stop() -> bool:  # rank 0 decides on the summary so far
        return (
            info.is_main
            and condition is not None
            and bool(kit["summary"])
            and bool(condition(ExperimentView(kit["summary"], rd), metric_info))
        )

    kit["should_stop"] = should_stop

    stopped = False
    if start_epoch > 1 and broadcast_object(should_stop(), info):
        logger.info("early stopping condition already met at epoch %d; not resuming", start_epoch - 1)
        stopped = True
    if reporter and not stopped:
        reporter.start(start_epoch, num_epochs)
    epoch = start_epoch - 1
    try:
        for epoch in range(start_epoch, num_epochs + 1):
            if stopped:
                break
            if _run_epoch(epoch, kit, cfg, args, info, opts, metrics, mc_period, num_epochs, rd, reporter):
                logger.info("early stopping at epoch %d", epoch)
                stopped = True
                if reporter:
                    reporter.early_stop(epoch)
    except NonFiniteLossError as e:
        last = resolve_link(rd.weights, "last.pth")
        err = NonFiniteLossError(f"{e}; last good checkpoint: {last.resolve() if last else 'none yet'}")
        if reporter:
            reporter.exception(err)
        raise err from e
    except Exception as e:
        if reporter:
            reporter.exception(e)
        raise
    barrier(info)
    result = _result(rd, kit["summary"], best_field, higher, stopped)
    if reporter:
        reporter.finish(result)
    logger.info(
        "finished: best %s = %s (epoch %s) — results in %s",
        best_field,
        result.best_metric,
        result.best_epoch,
        rd.path,
    )
    return result


def _result(rd: Any, rows: list[dict[str, Any]], best_field: str, higher: bool, stopped: bool) -> RunResult:
    best = best_row(rows, best_field, higher)
    return RunResult(
        rd.path,
        rows,
        best_field,
        None if best is None else float(best[best_field]),
        None if best is None else int(best["epoch"]),
        rows[-1]["epoch"] if rows else None,
        stopped,
    )


def _run_epoch(
    epoch: int,
    kit: dict[str, Any],
    cfg: ExpConfig,
    args: argparse.Namespace,
    info: DistInfo,
    opts: dict[str, Any],
    metrics: dict[str, list],
    mc_period: int,
    num_epochs: int,
    rd: Any,
    reporter: Any,
) -> bool:
    """Train + validate one epoch, write its summary row and checkpoint; True if early stopping triggers."""
    if hasattr(cfg.exp_cfg, "epoch_start_script"):
        ret = cfg.exp_cfg.epoch_start_script(
            epoch, ExperimentView(kit["summary"], rd), args, info.rank, info.world_size, kit
        )
        if isinstance(ret, dict):
            kit.update(ret)
    for name in ("train_loader", "val_loader", "multicropval_loader"):
        if name in kit:
            B.set_loader_epoch(kit[name], args.seed, epoch, info.rank)
    tr = train_one_epoch(kit, epoch, info, {**opts, "collect_outputs": bool(metrics["train"])})
    row: dict[str, Any] = {"train_runtime_sec": tr["runtime_sec"], "train_loss": tr["loss"], "lr": tr["lr"]}
    bad = B.bad_sample_count(kit["train_loader"], info)
    if bad is not None:
        row["train_bad_samples"] = bad
    if info.is_main:
        row.update(B.compute_metrics(metrics["train"], tr))
    sync_eval_state(kit, info)
    eval_model = kit["ema"].module if kit["ema"] is not None else B.unwrap(kit["model"])
    splits = ["val"] + (
        ["multicropval"] if mc_period > 0 and (epoch % mc_period == 0 or epoch == num_epochs) else []
    )
    for split in splits:
        out = run_inference(
            eval_model,
            kit[f"{split}_loader"],
            info,
            kit["data_unpack_funcs"][split],
            kit["input_reshape_funcs"][split],
            opts["activation"],
            kit["criterions"][split],
            opts["amp"],
            desc=f"{split} {epoch}",
            progress=opts["progress"],
        )
        row[f"{split}_runtime_sec"], row[f"{split}_loss"] = out["runtime_sec"], out["loss"]
        if info.is_main:
            row.update(B.compute_metrics(metrics[split], out))
            if args.save_predictions:
                save_split_predictions(
                    rd, epoch, split, out, getattr(cfg.exp_cfg, "predictions_gatherers", None)
                )
    val_loss = row.get("val_loss")
    if val_loss is not None and not math.isfinite(val_loss):
        raise NonFiniteLossError(f"non-finite validation loss ({val_loss}) at epoch {epoch}; stopping")
    best_field = kit["best_field"]
    if kit["scheduler"] is not None and is_plateau_scheduler(kit["scheduler"]):
        vals = broadcast_object((row.get("val_loss"), row.get(best_field)), info)
        _step_plateau(kit["scheduler"], *vals)
    rng_states = all_gather_object(get_rng_state(), info)
    if info.is_main:
        higher = next((m.higher_is_better for m in metrics["val"] if best_field in m.fields()), True)
        cur = row.get(best_field)
        peaks = peak_epochs(kit["summary"], best_field, higher)
        is_best = cur is not None and (
            not peaks or _better(cur, kit["summary"], peaks[-1], best_field, higher)
        )
        state = {
            "epoch": epoch,
            "model_state": B.unwrap(kit["model"]).state_dict(),
            "optimiser_state": kit["optimiser"].state_dict(),
            "scheduler_state": kit["scheduler"].state_dict() if kit["scheduler"] is not None else None,
            "amp_scaler_state": kit["scaler"].state_dict() if kit["scaler"].is_enabled() else None,
            "ema_state": kit["ema"].state_dict() if kit["ema"] is not None else None,
            "rng_states": rng_states,
            "best_metric_field": best_field,
            "peak_epochs": peaks + ([epoch] if is_best else []),
        }
        kit["summary"] = update_row(rd.summary_csv, epoch, row)
        stop = kit["should_stop"]()
        state["early_stopping_state"] = {
            "stopped": stop,
            "best_val_loss_epoch": best_epoch(kit["summary"], "val_loss", False, latest_on_ties=True),
            "best_metric_epoch": best_epoch(kit["summary"], best_field, higher, latest_on_ties=True),
        }
        save_epoch_checkpoint(rd.weights, epoch, state, is_best, args.save_mode)
        logger.info("epoch %d: %s", epoch, ", ".join(f"{k}={_fmt(v)}" for k, v in row.items()))
        if reporter:
            reporter.epoch(epoch, row, kit["summary"])
    # the decision and the new summary rows go to every rank (hooks there read exp.summary)
    stop, kit["summary"] = broadcast_object((stop, kit["summary"]) if info.is_main else None, info)
    return bool(stop)


def sync_eval_state(kit: dict[str, Any], info: DistInfo) -> None:
    """Give every rank rank 0's buffers (BatchNorm statistics differ per rank after the last training
    batch) and rank 0's EMA copy, so each rank validates exactly the weights rank 0 checkpoints."""
    broadcast_tensors(B.unwrap(kit["model"]).buffers(), info)
    if kit["ema"] is not None:
        broadcast_tensors([*kit["ema"].parameters(), *kit["ema"].buffers()], info)


def peak_epochs(rows: list[dict[str, Any]], field_name: str, higher: bool) -> list[int]:
    """Epochs whose ``field_name`` beat every earlier epoch (the checkpoints ``last_and_peaks`` keeps)."""
    peaks, best = [], None
    for r in sorted(rows, key=lambda r: r["epoch"]):
        v = r.get(field_name)
        if v is None:
            continue
        if best is None or (v > best if higher else v < best):
            best = v
            peaks.append(int(r["epoch"]))
    return peaks


def _better(cur: float, rows: list[dict[str, Any]], peak: int, field_name: str, higher: bool) -> bool:
    best = next(r[field_name] for r in rows if r["epoch"] == peak)
    return cur > best if higher else cur < best


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)
