"""``vai-train train``: build everything from the configs, resume if asked, run epochs, write the run dir."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import torch

from vai_train.config import ExpConfig, discover_roots, load_exp_config
from vai_train.early_stopping import ExperimentView, make_condition
from vai_train.engine import builders as B
from vai_train.engine.checkpoint import (
    SAVE_POLICIES,
    droppable_epoch,
    load_checkpoint,
    resolve_link,
)
from vai_train.engine.compiling import compile_in_place, compile_wanted
from vai_train.engine.cpu_bf16_conv3d import guard_if_needed
from vai_train.engine.criterion import prepare_train_criterion
from vai_train.engine.data_kit import build_data_kit
from vai_train.engine.distributed import (
    DistInfo,
    barrier,
    broadcast_object,
    cleanup_distributed,
    init_distributed,
)
from vai_train.engine.epoch import run_epoch
from vai_train.engine.loop import NonFiniteLossError, resolve_amp
from vai_train.engine.reports import Reporter, setup_run_logging
from vai_train.engine.restore import restore_state as _restore
from vai_train.engine.result import RunResult
from vai_train.engine.resume import StartPoint, check_load_epoch, choose_start
from vai_train.engine.rng import seed_everything
from vai_train.logging_setup import RecordBuffer
from vai_train.rundir import args_history, experiment_dir, remove_version, save_configs
from vai_train.summary import best_row, clip_rows, read_summary

logger = logging.getLogger(__name__)


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
    save_mode = getattr(args, "save_mode", None)
    if save_mode is not None and save_mode not in SAVE_POLICIES:  # checked before anything is created
        raise ValueError(f"save policy -s {save_mode!r} unknown; use one of {', '.join(SAVE_POLICIES)}")
    if args.num_epochs is not None and args.num_epochs < 0:
        raise ValueError(f"-e {args.num_epochs}: the number of epochs cannot be negative")
    check_load_epoch(
        args.load_epoch,
        "-1 (resume the last version), -2 (a new version from its best epoch)",
        "start a new version",
    )
    info = init_distributed(args.device)
    try:
        return _train(args, info)
    finally:
        cleanup_distributed()


def _train(args: argparse.Namespace, info: DistInfo) -> RunResult:
    setup_run_logging(None, args.log_level, info.rank, "train")
    early = RecordBuffer().attach()  # what start-up logs goes into the run's log files too
    try:
        return _train_buffered(args, info, early)
    finally:
        early.detach()


def _train_buffered(args: argparse.Namespace, info: DistInfo, early: RecordBuffer) -> RunResult:
    kits: list[dict[str, Any]] = []
    try:
        return _train_with(args, info, early, kits)
    finally:  # persistent DataLoader workers end with the run, not whenever garbage collection finds them
        for kit in kits:
            B.stop_kit_workers(kit)


def _train_with(
    args: argparse.Namespace, info: DistInfo, early: RecordBuffer, kits: list[dict[str, Any]]
) -> RunResult:
    cfg = load_cfg(args)
    compiling = compile_wanted(cfg, getattr(args, "compile", None))  # a bad compile_options: nothing built
    seed_everything(args.seed + info.rank)
    val_metrics = B.split_metrics(cfg, "val")
    best_field, higher = B.best_metric_info(cfg, val_metrics)
    num_epochs = args.num_epochs if args.num_epochs is not None else cfg.num_epochs
    # what can fail without a run directory is built first: a failure leaves no empty version behind
    kit, mc_period = build_data_kit(cfg, args, info, B.resolve_num_workers(args.num_workers, cfg))
    kits.append(kit)
    if args.load_epoch is None and num_epochs < 1:
        logger.warning(
            "nothing trained: %d epochs asked for (-e or the exp config's num_epochs); no run directory"
            " created",
            num_epochs,
        )
        return RunResult(None, best_metric_field=best_field)
    # an unknown ``counter`` or a criterion refusing the run's length fails before any version exists
    kit["criterion_run"] = (B.iters_per_epoch(kit["train_loader"], cfg.grad_accum_steps), num_epochs)
    kit["criterions"]["train"] = prepare_train_criterion(
        kit["criterions"]["train"], info.device, *kit["criterion_run"]
    )
    # settings a config can get wrong are refused before any version is created or written to
    kit["sync_bn"] = B.sync_bn_wanted(cfg, info, getattr(args, "sync_bn", None))
    flag = getattr(args, "channels_last", None)
    kit["channels_last"] = cfg.channels_last if flag is None else flag
    kit["compile"] = compiling
    start = (
        choose_start(exp_dir_of(args), args.load_epoch, args.version, best_field, higher)
        if info.is_main
        else None
    )
    start = broadcast_object(start, info)
    try:
        state = _start_up(args, info, cfg, start, kit, best_field, higher, val_metrics, early)
    except BaseException:
        if info.is_main and start.created:  # never an existing version: only the one this run made
            setup_run_logging(None, args.log_level, info.rank, "train")  # close its log files first
            remove_version(start.run)
            logger.info("start-up failed: removed %s, which this run had created", start.run.path)
        raise
    return _epochs(args, info, cfg, start.run, kit, state, num_epochs, mc_period)


def resolve_save_mode(args: argparse.Namespace, start: StartPoint) -> str:
    """``-s`` if given; on ``-l -1`` the policy recorded with the version (its latest args file);
    else upstream's default ``last_and_peaks``."""
    if getattr(args, "save_mode", None) is not None:
        return args.save_mode
    if args.load_epoch == -1:
        for recorded in reversed(args_history(start.run)):
            if recorded.get("save_mode") in SAVE_POLICIES:
                logger.info(
                    "save policy -s %s, as recorded in %s/configs (give -s to change it)",
                    recorded["save_mode"],
                    start.run.path.name,
                )
                return recorded["save_mode"]
    return "last_and_peaks"


def _start_up(
    args: argparse.Namespace,
    info: DistInfo,
    cfg: ExpConfig,
    start: StartPoint,
    kit: dict[str, Any],
    best_field: str,
    higher: bool,
    val_metrics: list,
    early: RecordBuffer,
) -> dict[str, Any]:
    """Everything between choosing the run directory and the first epoch; fills ``kit``."""
    rd = start.run
    if info.is_main:
        args.save_mode = resolve_save_mode(args, start)
        save_configs(rd, cfg.files, vars(args))
    args.save_mode = broadcast_object(args.save_mode, info)
    setup_run_logging(rd.logs, args.log_level, info.rank, "train", replay=early.detach())
    logger.info("run directory: %s (rank %d/%d, device %s)", rd.path, info.rank, info.world_size, info.device)

    fresh = start.checkpoint is None
    model = B.build_model(cfg, info, fresh, kit["channels_last"])
    if kit["sync_bn"]:
        B.sync_batchnorms(model, info)
    compile_in_place(model, kit["compile"])  # in place, before DDP wraps it (as PyTorch advises)
    kit["model"] = B.wrap_ddp(model, cfg, info, pretrained=fresh)
    kit["optimiser"] = cfg.optimiser(cfg.get_optim_policies(model))  # the unwrapped module
    accum = cfg.grad_accum_steps
    steps_per_epoch = B.iters_per_epoch(kit["train_loader"], accum)
    kit["scheduler"] = cfg.scheduler(kit["optimiser"], steps_per_epoch)
    amp = resolve_amp(args.amp or cfg.use_amp, cfg.amp_dtype, info.device)
    guard_if_needed(model, amp.enabled, amp.dtype, info.device)  # a CPU's wrong bf16 Conv3d weight grads
    kit["scaler"] = torch.amp.GradScaler(info.device.type, enabled=amp.enabled and amp.dtype == torch.float16)
    kit["ema"] = B.make_ema(model, cfg.ema_decay)  # the copy is not compiled: its own compile follows
    if kit["ema"] is not None:
        compile_in_place(kit["ema"].module, kit["compile"], "EMA model (validated)")
    kit["summary"] = read_summary(rd.summary_csv) if info.is_main else []
    kit["best_field"] = best_field
    metrics = {
        "train": B.split_metrics(cfg, "train"),
        "val": val_metrics,
        "multicropval": B.split_metrics(cfg, "multicropval", multicrop=True),
    }
    start_epoch = 1
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
    # on CPU: the RNG states must stay there
    ckpt = load_checkpoint(start.checkpoint, "cpu") if start.checkpoint is not None else None
    if ckpt is not None and info.is_main:  # rows after the checkpoint's epoch are discarded (redone)
        kit["summary"] = _rows_to_resume(rd, int(ckpt["epoch"]), start.source is None, condition, metric_info)
    # every rank holds rank 0's summary rows: hooks (epoch_start_script) and the replay decide alike
    kit["summary"] = broadcast_object(kit["summary"], info)
    if ckpt is not None:
        _restore(kit, ckpt, cfg, info, steps_per_epoch)
        start_epoch = int(ckpt["epoch"]) + 1
        if kit["summary"] and int(kit["summary"][-1]["epoch"]) >= start_epoch:  # kept whole: stopped early
            start_epoch = int(kit["summary"][-1]["epoch"]) + 1
        else:
            logger.info("resumed from %s (epoch %d)", start.checkpoint, ckpt["epoch"])
    # the checkpoint last_and_peaks may drop once the next epoch is saved (only one it wrote itself)
    kit["source_run_dir"] = start.source  # epoch_start_script sees it as exp.extra["source_run_dir"]
    kit["previous_checkpoint"] = droppable_epoch(ckpt, start.checkpoint, rd.weights, args.save_mode)
    # TensorBoard drops the steps >= start_epoch a previous run (or a -l N source) logged
    reporter = Reporter(rd, args, cfg, info, best_field, purge_step=start_epoch) if info.is_main else None
    if reporter:
        reporter.set_directions(metrics)
    opts = {
        "amp": amp,
        "clip_grad_max_norm": cfg.clip_grad_max_norm,
        "grad_accum_steps": accum,
        "refresh": args.refresh_period,
        "progress": not args.no_progress,
        "activation": cfg.last_activation(),
        # --training_speed faster: no train outputs gathered to rank 0, so no train metrics
        "collect_outputs": bool(metrics["train"]) and getattr(args, "training_speed", "standard") != "faster",
    }

    def should_stop() -> bool:  # rank 0 decides on the summary so far
        return (
            info.is_main
            and condition is not None
            and bool(kit["summary"])
            and bool(condition(ExperimentView(kit["summary"], rd), metric_info))
        )

    kit["should_stop"] = should_stop
    return {
        "metrics": metrics,
        "opts": opts,
        "reporter": reporter,
        "start_epoch": start_epoch,
        "best_field": best_field,
        "higher": higher,
    }


def _rows_to_resume(
    rd: Any, epoch: int, same_version: bool, condition: Any, metric_info: dict[str, Any]
) -> list[dict[str, Any]]:
    """summary.csv clipped to the checkpoint's ``epoch`` (the later epochs are trained again), except when
    ``-l -1`` continues a version whose whole summary already met the early-stopping condition: then it is
    left whole, so the run stops at once instead of training those epochs again (with ``-s higher``,
    ``last.pth`` is the last improving epoch, before the epochs that stopped the run)."""
    rows = read_summary(rd.summary_csv)
    if (
        same_version
        and condition is not None
        and rows
        and int(rows[-1]["epoch"]) > epoch
        and condition(ExperimentView(rows, rd), metric_info)
    ):
        return rows
    return clip_rows(rd.summary_csv, epoch, rows)


def _epochs(
    args: argparse.Namespace,
    info: DistInfo,
    cfg: ExpConfig,
    rd: Any,
    kit: dict[str, Any],
    state: dict[str, Any],
    num_epochs: int,
    mc_period: int,
) -> RunResult:
    """Run epochs ``start_epoch..num_epochs`` (or none: early stopping met, nothing left to do)."""
    start_epoch, reporter, metrics = state["start_epoch"], state["reporter"], state["metrics"]
    stopped = False
    if start_epoch > 1 and broadcast_object(kit["should_stop"](), info):
        logger.info("early stopping condition already met at epoch %d; not resuming", start_epoch - 1)
        stopped = True
    elif start_epoch > num_epochs:
        done = f"{rd.path.name} is already at epoch {start_epoch - 1} and " if start_epoch > 1 else ""
        logger.warning(
            "nothing trained: %sthe run asks for %d epochs (-e or the exp config's num_epochs)%s",
            done,
            num_epochs,
            "; raise -e to train further" if start_epoch > 1 else "",
        )
    if reporter and not stopped and start_epoch <= num_epochs:
        reporter.start(start_epoch, num_epochs)
    try:
        for epoch in range(start_epoch, num_epochs + 1):
            if stopped:
                break
            if run_epoch(
                epoch, kit, cfg, args, info, state["opts"], metrics, mc_period, num_epochs, rd, reporter
            ):
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
    result = _result(rd, kit["summary"], state["best_field"], state["higher"], stopped)
    if reporter:
        reporter.finish(result)
    logger.info(
        "finished: best %s = %s (epoch %s)%s — results in %s",
        state["best_field"],
        result.best_metric,
        result.best_epoch,
        f"; stopped early at epoch {result.last_epoch}" if stopped else "",
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
