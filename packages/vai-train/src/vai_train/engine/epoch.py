"""One training epoch of a run: train, validate, the summary row, the checkpoint (keep policy, peaks)."""

from __future__ import annotations

import argparse
import logging
import math
from typing import Any

from vai_train.config import ExpConfig
from vai_train.early_stopping import ExperimentView, best_epoch
from vai_train.engine import builders as B
from vai_train.engine.checkpoint import save_epoch_checkpoint
from vai_train.engine.criterion import (
    criterion_on_device,
    criterion_state,
    prepare_train_criterion,
    restore_criterion,
)
from vai_train.engine.distributed import DistInfo, all_gather_object, broadcast_object, broadcast_tensors
from vai_train.engine.loop import NonFiniteLossError, run_inference, train_one_epoch
from vai_train.engine.reports import save_split_predictions
from vai_train.engine.restore import step_plateau as _step_plateau
from vai_train.engine.rng import get_rng_state
from vai_train.schedulers import is_plateau_scheduler
from vai_train.summary import update_row

logger = logging.getLogger(__name__)


def after_epoch_start_script(kit: dict[str, Any], before: Any, info: DistInfo) -> None:
    """A train criterion the hook put in place is readied as the first one was (device, counter, the
    run's length); on the first epoch of a resumed run the checkpoint's criterion_state is loaded into
    the criterion in force after the hook (which may have put in a fresh one)."""
    crits = kit["criterions"]
    for split, crit in crits.items():
        crits[split] = criterion_on_device(crit, info.device)
    if crits["train"] is not before:
        crits["train"] = prepare_train_criterion(crits["train"], info.device, *kit["criterion_run"])
    pending = kit.pop("pending_criterion_state", None)  # the first epoch of a resumed run
    if pending is not None:
        state, source, restored = pending
        if crits["train"] is not restored:  # restore_state could not load it into this one already
            restore_criterion(crits["train"], state, source)


def run_epoch(
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
        before = kit["criterions"]["train"]
        view = ExperimentView(kit["summary"], rd, {"source_run_dir": kit.get("source_run_dir")})
        loaders = {name: kit[name] for name in B.LOADER_KEYS if name in kit}
        ret = cfg.exp_cfg.epoch_start_script(epoch, view, args, info.rank, info.world_size, kit)
        if isinstance(ret, dict):
            kit.update(ret)
        B.stop_replaced_workers(loaders, kit)  # a replaced loader's persistent workers end now
        after_epoch_start_script(kit, before, info)
    for name in B.LOADER_KEYS:
        if name in kit:
            B.set_loader_epoch(kit[name], args.seed, epoch, info.rank)
    tr = train_one_epoch(kit, epoch, info, opts)
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
            # every rank stepped its own criterion alike: rank 0's state stands for all
            "criterion_state": criterion_state(kit["criterions"]["train"]),
            # (optimiser steps per epoch, epochs): the run's length the criterion was told, for eval
            "criterion_run": list(kit["criterion_run"]),
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
        saved = save_epoch_checkpoint(
            rd.weights, epoch, state, is_best, args.save_mode, previous=kit.get("previous_checkpoint")
        )
        if args.save_mode == "last_and_peaks" and saved is not None:
            kit["previous_checkpoint"] = epoch
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
