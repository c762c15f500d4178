"""One training epoch and one inference pass (validation / eval / features), AMP- and DDP-aware."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.data import DistributedSampler
from tqdm.auto import tqdm

from vai_train.dataset_hooks import device_input_func
from vai_train.engine.criterion import criterion_step_counter
from vai_train.engine.distributed import DistInfo, all_reduce_sum, gather_to_main, reorder_shards
from vai_train.schedulers import step_per_iteration_scheduler, steps_per_iteration

logger = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN/inf; the run stops and the last good checkpoint is kept."""


@dataclass
class AmpSettings:
    """Autocast/GradScaler settings: enabled, dtype (fp16 on CUDA uses a GradScaler)."""

    enabled: bool = False
    dtype: torch.dtype = torch.float16

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.dtype)


def resolve_amp(use_amp: bool, dtype_name: str | None, device: torch.device) -> AmpSettings:
    """fp16 on CUDA and bf16 on CPU unless ``amp_dtype`` says otherwise."""
    if not use_amp:
        return AmpSettings(False)
    name = dtype_name or ("float16" if device.type == "cuda" else "bfloat16")
    dtypes = {
        "float16": torch.float16,
        "fp16": torch.float16,
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
    }
    if name not in dtypes:
        raise ValueError(f"amp_dtype {name!r} unknown; use 'float16' or 'bfloat16'")
    return AmpSettings(True, dtypes[name])


def _labels_for_loss(labels: torch.Tensor, criterion: nn.Module) -> torch.Tensor:
    if isinstance(criterion, (nn.BCEWithLogitsLoss, nn.BCELoss, nn.MultiLabelSoftMarginLoss)):
        return labels.float()
    return labels


def _to(x: Any, device: torch.device) -> Any:
    return x.to(device, non_blocking=True) if isinstance(x, torch.Tensor) else x


def current_lr(optimiser: torch.optim.Optimizer) -> float:
    return float(optimiser.param_groups[0]["lr"])


def real_sample_count(loader: Any) -> int | None:
    """How many of this rank's samples are not DistributedSampler padding; None if nothing is padded.

    Without ``drop_last`` the sampler pads its (shuffled) index list to a multiple of the world size W,
    and rank r's k-th sample is at position r + k*W: positions >= len(dataset) are duplicates, so a
    rank's real samples are its first ``len(range(r, len(dataset), W))`` ones.
    """
    s = getattr(loader, "sampler", None)
    if not isinstance(s, DistributedSampler) or s.drop_last:
        return None
    return len(range(s.rank, len(s.dataset), s.num_replicas))


def train_one_epoch(kit: dict[str, Any], epoch: int, info: DistInfo, opts: dict[str, Any]) -> dict[str, Any]:
    """Train one epoch; returns {"loss", "runtime_sec", "lr", "probs", "labels", "video_ids"} (outputs on rank 0).

    ``opts``: amp (AmpSettings), clip_grad_max_norm, grad_accum_steps, refresh (iterations between
    progress/NaN checks), progress (bool), collect_outputs (bool), activation.
    The loss and outputs leave out the duplicates a DistributedSampler pads with (they still train).
    A criterion with a ``step()`` method is stepped per ``criterion_step_counter``: once after every
    optimiser step (GradScaler-skipped fp16 overflow steps included, like the per-iteration scheduler),
    or once at the end of the epoch.
    """
    model: nn.Module = kit["model"]
    optimiser = kit["optimiser"]
    scheduler = kit.get("scheduler")
    criterion = kit["criterions"]["train"]
    criterion_counter = criterion_step_counter(criterion)  # epoch_start_script may have swapped it
    unpack: Callable = kit["data_unpack_funcs"]["train"]
    loader = kit["train_loader"]
    # the dataset of the loader iterated now (epoch_start_script may have swapped it) brings its device_transform
    reshape: Callable = device_input_func(loader, kit["input_reshape_funcs"]["train"])
    scaler: torch.amp.GradScaler = kit["scaler"]
    ema = kit.get("ema")
    amp: AmpSettings = opts["amp"]
    accum = max(1, int(opts.get("grad_accum_steps", 1)))
    clip = opts.get("clip_grad_max_norm")
    refresh = max(1, int(opts.get("refresh", 10)))
    collect = opts.get("collect_outputs", True)
    activation = opts.get("activation")
    step_per_iter = scheduler is not None and steps_per_iteration(scheduler)
    device = info.device

    model.train()
    start = time.perf_counter()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    n_seen = 0  # real (non-padding) samples
    n_rows = 0  # every row iterated on this rank
    n_real = real_sample_count(loader)
    outputs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    n_batches = len(loader)
    bar = tqdm(
        total=n_batches,
        desc=f"train {epoch}",
        disable=not (info.is_main and opts.get("progress", True)),
        dynamic_ncols=True,
        leave=False,
    )
    optimiser.zero_grad(set_to_none=True)
    for it, batch in enumerate(loader):
        inputs, uids, labels, extra = unpack(batch)
        inputs = reshape(_to(inputs, device), batch)
        labels = _to(labels, device)
        last_micro = (it + 1) % accum == 0 or it + 1 == n_batches
        window = min(accum, n_batches - it // accum * accum)  # the epoch's last window may be shorter
        sync_ctx = (
            model.no_sync()
            if (info.distributed and not last_micro and hasattr(model, "no_sync"))
            else contextlib.nullcontext()
        )
        with sync_ctx:
            with amp.autocast(device):
                logits = model(inputs)
                loss = criterion(logits, _labels_for_loss(labels, criterion))
            scaler.scale(loss / window if window > 1 else loss).backward()
        if last_micro:
            if clip is not None:
                scaler.unscale_(optimiser)
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            scaler.step(optimiser)
            scaler.update()
            optimiser.zero_grad(set_to_none=True)
            if ema is not None:
                ema.update_parameters(model.module if hasattr(model, "module") else model)
            if step_per_iter:
                step_per_iteration_scheduler(scheduler)
        bs = labels.shape[0]
        keep = bs if n_real is None else max(0, min(bs, n_real - n_rows))
        n_rows += bs
        if keep == bs:
            loss_sum.add_(loss.detach(), alpha=bs)
        elif keep > 0:  # the rank's last batch ends with a padding duplicate: its loss without it
            with torch.no_grad(), amp.autocast(device):
                kept = criterion(logits[:keep], _labels_for_loss(labels[:keep], criterion))
            loss_sum.add_(kept.detach(), alpha=keep)
        n_seen += keep
        if last_micro and criterion_counter == "iteration":  # after this batch's loss was counted
            criterion.step()
        if collect and keep > 0:  # raw logits now, one activation call at the end of the epoch
            # metrics score the original labels when a collate mixed them into soft targets (mixup/CutMix)
            hard = extra.get("hard_label") if isinstance(extra, dict) else None
            lab = labels.detach() if hard is None else _to(hard, device)
            if keep < bs:
                logits, lab, uids = logits[:keep], lab[:keep], uids[:keep]
            # a copy: a compiled model's CUDA-graph outputs (compile modes reduce-overhead, max-autotune)
            # are overwritten by its next call
            outputs.append((logits.detach().clone(), lab, uids))
        if (it + 1) % refresh == 0 or it + 1 == n_batches:
            running = loss_sum.item() / max(1, n_seen)
            if not math.isfinite(running):
                bar.close()
                raise NonFiniteLossError(
                    f"non-finite training loss ({running}) at epoch {epoch}, iteration {it + 1}; stopping. "
                    "Lower the learning rate, set clip_grad_max_norm, or disable AMP"
                )
            bar.set_postfix(loss=f"{running:.4f}", lr=f"{current_lr(optimiser):.3g}", refresh=False)
            bar.update((it + 1) - bar.n)
    bar.close()
    if criterion_counter == "epoch":
        criterion.step()
    total_loss, total_n = all_reduce_sum([loss_sum.item(), float(n_seen)], info)
    result: dict[str, Any] = {
        "loss": total_loss / max(1.0, total_n),
        "runtime_sec": time.perf_counter() - start,
        "lr": current_lr(optimiser),
    }
    if collect:
        if outputs:
            with torch.no_grad():
                logits_all = activation(torch.cat([o[0] for o in outputs]).float())
            outputs = [
                (
                    logits_all,
                    torch.cat([o[1] for o in outputs]),
                    torch.cat([torch.as_tensor(o[2]).reshape(-1) for o in outputs]).to(device),
                )
            ]
        result.update(_gather_outputs(outputs, info, reorder=False))
    return result


def _gather_outputs(outputs: list, info: DistInfo, reorder: bool) -> dict[str, Any]:
    if outputs:
        probs = torch.cat([o[0] for o in outputs])
        labels = torch.cat([o[1] for o in outputs])
        vids = torch.cat([torch.as_tensor(o[2]).reshape(-1) for o in outputs]).long()
    else:
        probs, labels, vids = (
            torch.zeros(0, 0),
            torch.zeros(0, dtype=torch.long),
            torch.zeros(0, dtype=torch.long),
        )
    probs, labels, vids = (gather_to_main(t, info) for t in (probs, labels, vids))
    if info.is_main and reorder:
        probs, labels, vids = (reorder_shards(t, info.world_size) for t in (probs, labels, vids))
    if info.is_main:
        return {"probs": probs.cpu(), "labels": labels.cpu(), "video_ids": vids.cpu()}
    return {"probs": None, "labels": None, "video_ids": None}


@torch.no_grad()
def run_inference(
    model: nn.Module,
    loader: torch.utils.data.DataLoader,
    info: DistInfo,
    unpack: Callable,
    reshape: Callable,
    activation: Callable | None,
    criterion: nn.Module | None = None,
    amp: AmpSettings | None = None,
    desc: str = "val",
    progress: bool = True,
    extra_keys: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Forward a ShardSampler loader; rank 0 gets {"loss","runtime_sec","probs","labels","video_ids", extra}.

    ``extra_keys`` are read from the unpacked ``extra`` dict of every batch; a batch without one (tuple
    batches, an unpack function that leaves it out) contributes zeros for it.

    ``model`` must be the unwrapped module (no DDP collectives, ranks may have different batch counts).
    The loader's dataset's ``device_transform`` (if any) runs on the inputs before ``reshape``.
    Outputs are returned in dataset order, identical for any world size.
    """
    amp = amp or AmpSettings(False)
    reshape = device_input_func(loader, reshape)
    model.eval()
    device = info.device
    start = time.perf_counter()
    loss_sum, n_seen = 0.0, 0
    outputs, extras = [], {k: [] for k in extra_keys}
    for batch in tqdm(
        loader, desc=desc, disable=not (info.is_main and progress), dynamic_ncols=True, leave=False
    ):
        inputs, uids, labels, extra = unpack(batch)
        inputs = reshape(_to(inputs, device), batch)
        labels = _to(labels, device)
        with amp.autocast(device):
            out = model(inputs)
        out = out.float()
        if criterion is not None:
            loss_sum += float(criterion(out, _labels_for_loss(labels, criterion))) * labels.shape[0]
        n_seen += labels.shape[0]
        kept = activation(out) if activation is not None else out.clone()  # (a CUDA graph reuses `out`)
        outputs.append((kept, labels, _to(uids, device)))
        for k in extra_keys:  # indices a batch does not carry (tuple batches, custom unpack) are zeros
            v = extra.get(k) if isinstance(extra, dict) else None
            v = torch.zeros(labels.shape[0], dtype=torch.long) if v is None else torch.as_tensor(v)
            extras[k].append(v.to(device))
    total_loss, total_n = all_reduce_sum([loss_sum, float(n_seen)], info)
    result: dict[str, Any] = {"runtime_sec": time.perf_counter() - start, "num_samples": int(total_n)}
    result["loss"] = total_loss / total_n if criterion is not None and total_n else None
    result.update(_gather_outputs(outputs, info, reorder=True))
    for k in extra_keys:
        t = torch.cat(extras[k]) if extras[k] else torch.zeros(0)
        g = gather_to_main(t, info)
        result[k] = reorder_shards(g, info.world_size).cpu() if info.is_main else None
    return result
