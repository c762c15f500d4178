"""The loaded (dataset, model, exp) config triple and every exp-config hook with its default.

Each ``ExpConfig`` method/property documents the default used when the exp config leaves the hook
out; ``docs/train.md`` lists the same table.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vai_train.config.known_names import warn_unknown_names
from vai_train.config.loader import ConfigError, ConfigModule, exec_config, require
from vai_train.config.roots import (
    ConfigNotFoundError,
    ConfigRoot,
    dataset_relpath,
    exp_relpath,
    find_config,
    list_configs,
    model_relpath,
)
from vai_train.config.suggest import not_found_hint
from vai_train.dataset_hooks import dataset_attr
from vai_train.engine.compiling import first_lines

logger = logging.getLogger(__name__)

TASKS = ("single_label", "multi_label")


def normalise_task(task: Any, source: str) -> str:
    """Accept "single_label"/"multi_label" or upstream-style task classes/objects (SingleLabel...Task)."""
    if isinstance(task, str):
        name = task
    else:
        name = task.__name__ if isinstance(task, type) else type(task).__name__
    key = name.lower().replace("-", "_")
    if key in TASKS:
        return key
    if key.startswith("singlelabel") or key.startswith("single_label"):
        return "single_label"
    if key.startswith("multilabel") or key.startswith("multi_label"):
        return "multi_label"
    raise ConfigError(f"{source}: task = {name!r} is not understood; use 'single_label' or 'multi_label'")


def default_unpack(batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Default data unpack: a collated sample-dict batch -> (inputs, video_ids, labels, extra)."""
    if isinstance(batch, dict):
        extra = {k: v for k, v in batch.items() if k not in ("video", "label", "video_id")}
        return batch["video"], batch["video_id"], batch["label"], extra
    if isinstance(batch, (list, tuple)) and len(batch) >= 3:
        inputs, uids, labels = batch[0], batch[1], batch[2]
        return inputs, uids, labels, {"rest": batch[3:]}
    raise ConfigError(
        "default data unpack expects sample dicts {'video','label','video_id',...} or tuples "
        "(inputs, video_ids, labels, ...); define get_data_unpack_func(split) in the exp config"
    )


#: (argument, accepted types, what to say) for the torch.compile arguments whose type torch checks late
_COMPILE_OPTION_TYPES = (
    ("fullgraph", bool, "True or False"),
    ("dynamic", (bool, type(None)), "True, False or None"),
    ("mode", (str, type(None)), "a mode name (a str) or None"),
    ("backend", str, "a backend name or a callable backend"),
    ("options", (dict, type(None)), "a dict of backend options or None"),
)


def _compile_probe() -> None:
    """What ``ExpConfig.compile_options`` hands ``torch.compile`` to have it check the options (never run)."""


@dataclass
class ExpConfig:
    """Dataset, model and exp config modules of one run, plus hook accessors with defaults."""

    dataset: str
    model: str
    exp: str
    dataset_cfg: ConfigModule
    model_cfg: ConfigModule
    exp_cfg: ConfigModule
    roots: dict[str, ConfigRoot] = field(default_factory=dict)

    # ---- helpers -------------------------------------------------------------------------------
    def has(self, name: str) -> bool:
        return hasattr(self.exp_cfg, name)

    def _switch(self, name: str, model_too: bool = True) -> bool:
        """The True/False setting ``name`` of the exp config (then, ``model_too``, the model config),
        default False; anything else is refused in one line naming the file that holds it."""
        holder = self.exp_cfg if hasattr(self.exp_cfg, name) or not model_too else self.model_cfg
        value = getattr(holder, name, False)
        if not isinstance(value, bool):
            where = getattr(holder, "__file__", getattr(holder, "__name__", "config"))
            raise ConfigError(f"{where}: {name} = {value!r}; use True or False")
        return value

    def get(self, name: str, default: Any = None) -> Any:
        """Exp-config attribute, else model-config attribute, else ``default``."""
        if hasattr(self.exp_cfg, name):
            return getattr(self.exp_cfg, name)
        return getattr(self.model_cfg, name, default)

    @property
    def files(self) -> list[tuple[str, Path]]:
        """(kind, path) of every executed config file, for copying into the run directory."""
        out = []
        for kind, mod in (("dataset", self.dataset_cfg), ("model", self.model_cfg), ("exp", self.exp_cfg)):
            out.extend((kind, p) for p in mod.__vai_files__)
        return out

    # ---- dataset -------------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return int(require(self.dataset_cfg, "num_classes", "int, number of classes"))

    @property
    def task(self) -> str:
        """Dataset config ``task``; default "single_label"."""
        return normalise_task(getattr(self.dataset_cfg, "task", "single_label"), self.dataset_cfg.__file__)

    # ---- data ----------------------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        """``batch_size`` (int or zero-arg callable); default 8."""
        bs = getattr(self.exp_cfg, "batch_size", 8)
        return int(bs() if callable(bs) else bs)

    @property
    def val_batch_size(self) -> int:
        """``val_batch_size`` (int or callable); default ``batch_size``."""
        bs = getattr(self.exp_cfg, "val_batch_size", None)
        if bs is None:
            return self.batch_size
        return int(bs() if callable(bs) else bs)

    @property
    def num_epochs(self) -> int:
        """``num_epochs``; default 1000 (upstream), normally overridden by ``-e``."""
        return int(getattr(self.exp_cfg, "num_epochs", 1000))

    @property
    def input_frame_length(self) -> int:
        """``input_frame_length``; default 8."""
        return int(getattr(self.exp_cfg, "input_frame_length", 8))

    def get_torch_dataset(self, split: str) -> torch.utils.data.Dataset:
        """REQUIRED ``get_torch_dataset(split)`` returning a Dataset of sample dicts."""
        fn = require(self.exp_cfg, "get_torch_dataset", "def get_torch_dataset(split) -> Dataset")
        ds = fn(split)
        if ds is None:
            raise ConfigError(f"{self.exp_cfg.__file__}: get_torch_dataset({split!r}) returned None")
        return ds

    def get_data_unpack_func(self, split: str) -> Callable:
        """``get_data_unpack_func(split)``; default unpacks sample dicts into (inputs, ids, labels, extra)."""
        if self.has("get_data_unpack_func"):
            return self.exp_cfg.get_data_unpack_func(split)
        return default_unpack

    def get_collate_fn(self, split: str, dataset: Any = None, training: bool = True) -> Callable | None:
        """``get_collate_fn(split)`` (e.g. vai_data's ``MixupCutmixCollate`` for ``train``); where it is not
        defined or returns None, the dataset's ``collate_fn`` (vai_data datasets have one), else torch's
        default collate. ``eval``/``feature`` of the ``train`` split (``training=False``) skip the hook:
        evaluating or extracting features must not mix clips."""
        if self.has("get_collate_fn") and (training or split != "train"):
            fn = self.exp_cfg.get_collate_fn(split)
            if fn is not None:
                return fn
        return dataset_attr(dataset, "collate_fn")

    def get_input_reshape_func(self, split: str) -> Callable:
        """``get_input_reshape_func(split)``; default model config's ``NCTHW_to_model_input_shape`` or identity."""
        if self.has("get_input_reshape_func"):
            return self.exp_cfg.get_input_reshape_func(split)
        fn = getattr(self.model_cfg, "NCTHW_to_model_input_shape", None)
        return fn if fn is not None else _identity

    @property
    def num_workers(self) -> int | None:
        """``num_workers``; default None: the CLI's ``-w``, else min(4, CPU count)."""
        return getattr(self.exp_cfg, "num_workers", None)

    @property
    def persistent_workers(self) -> bool:
        """``persistent_workers``: keep training's DataLoader workers between epochs (default False)."""
        return self._switch("persistent_workers", model_too=False)

    # ---- model / optimisation ------------------------------------------------------------------
    def load_model(self) -> nn.Module:
        """``load_model()``; default ``model_cfg.load_model(num_classes, input_frame_length)``."""
        if self.has("load_model"):
            return self.exp_cfg.load_model()
        fn = require(self.model_cfg, "load_model", "def load_model(num_classes, input_frame_length, **kw)")
        return fn(self.num_classes, self.input_frame_length)

    def load_pretrained(self, model: nn.Module) -> None:
        """``load_pretrained(model)``; default does nothing."""
        if self.has("load_pretrained"):
            self.exp_cfg.load_pretrained(model)

    def load_pretrained_post_ddp(self, model: nn.Module) -> None:
        """``load_pretrained_postDDP(model)``; default does nothing."""
        if self.has("load_pretrained_postDDP"):
            self.exp_cfg.load_pretrained_postDDP(model)

    def get_optim_policies(self, model: nn.Module) -> Any:
        """Exp then model config ``get_optim_policies(model)``; default ``model.parameters()``."""
        fn = self.get("get_optim_policies")
        return fn(model) if fn is not None else model.parameters()

    def optimiser(self, params: Any) -> torch.optim.Optimizer:
        """``optimiser(params)``; default SGD(lr=0.01, momentum=0.9, weight_decay=5e-4)."""
        if self.has("optimiser"):
            return self.exp_cfg.optimiser(params)
        return torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)

    def scheduler(self, optimiser: torch.optim.Optimizer, iters_per_epoch: int, last_epoch: int = -1) -> Any:
        """``scheduler(optimiser, iters_per_epoch, last_epoch=-1)``; default None (constant LR)."""
        if self.has("scheduler"):
            return self.exp_cfg.scheduler(optimiser, iters_per_epoch, last_epoch)
        return None

    def get_criterion(self, split: str) -> nn.Module:
        """``get_criterion(split)``; default CrossEntropyLoss (single-label) / BCEWithLogitsLoss (multi)."""
        if self.has("criterion") and not self.has("get_criterion"):
            raise ConfigError(
                f"{self.exp_cfg.__file__}: 'criterion' is obsolete; define get_criterion(split)"
            )
        if self.has("get_criterion"):
            return self.exp_cfg.get_criterion(split)
        return nn.CrossEntropyLoss() if self.task == "single_label" else nn.BCEWithLogitsLoss()

    @property
    def clip_grad_max_norm(self) -> float | None:
        """``clip_grad_max_norm``; default None (no clipping)."""
        return getattr(self.exp_cfg, "clip_grad_max_norm", None)

    @property
    def grad_accum_steps(self) -> int:
        """``grad_accum_steps``: micro-batches per optimiser step; default 1."""
        return max(1, int(getattr(self.exp_cfg, "grad_accum_steps", 1)))

    @property
    def use_amp(self) -> bool:
        """Exp then model config ``use_amp``; default False (``--amp`` turns it on)."""
        return bool(self.get("use_amp", False))

    @property
    def channels_last(self) -> bool:
        """Exp then model config ``channels_last``: channels-last weights (default False; ``--channels-last``)."""
        return self._switch("channels_last")

    @property
    def sync_bn(self) -> bool:
        """Exp then model config ``sync_bn``: SyncBatchNorm across a multi-GPU run (default False; ``--sync-bn``)."""
        return self._switch("sync_bn")

    @property
    def compile(self) -> bool:
        """Exp then model config ``compile``: run the model through ``torch.compile`` (default False;
        ``--compile``)."""
        return self._switch("compile")

    @property
    def compile_options(self) -> dict[str, Any]:
        """Exp then model config ``compile_options``: ``torch.compile`` keyword arguments (``mode``,
        ``backend``, ``dynamic``, ``fullgraph``, ``options``...); default {} (Inductor, default mode).
        Checked by ``torch.compile`` itself (a mode or backend it does not know, ``mode`` and ``options``
        together) before anything runs, and refused in one line naming the file that holds them."""
        holder = self.exp_cfg if hasattr(self.exp_cfg, "compile_options") else self.model_cfg
        value = getattr(holder, "compile_options", None)
        if value is None:
            return {}
        where = getattr(holder, "__file__", getattr(holder, "__name__", "config"))
        known = [n for n in inspect.signature(torch.compile).parameters if n != "model"]
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ConfigError(f"{where}: compile_options = {value!r}; use a dict of torch.compile arguments")
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ConfigError(
                f"{where}: compile_options has {', '.join(map(repr, unknown))}, which torch.compile does not"
                f" take; its arguments: {', '.join(known)}"
            )
        if "disable" in value:
            raise ConfigError(
                f"{where}: compile_options has 'disable'; set compile = False (or --no-compile)"
            )
        for name, types, what in _COMPILE_OPTION_TYPES:
            if name in value and not (
                isinstance(value[name], types) or (name == "backend" and callable(value[name]))
            ):
                raise ConfigError(f"{where}: compile_options {name} = {value[name]!r}; use {what}")
        try:
            torch.compile(_compile_probe, **value)
        except Exception as e:  # torch's own check of mode, backend and options, before any tracing
            first = first_lines(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
            raise ConfigError(f"{where}: compile_options = {value!r}: {first}") from e
        return dict(value)

    @property
    def amp_dtype(self) -> str | None:
        """``amp_dtype`` "float16"|"bfloat16"; default float16 on CUDA, bfloat16 on CPU."""
        return getattr(self.exp_cfg, "amp_dtype", None)

    @property
    def ema_decay(self) -> float | None:
        """``ema_decay``: keep EMA weights (validated and saved) when set; default None (off)."""
        return getattr(self.exp_cfg, "ema_decay", None)

    @property
    def ddp_find_unused_parameters(self) -> bool:
        """Exp then model config ``ddp_find_unused_parameters``; default False."""
        return bool(self.get("ddp_find_unused_parameters", False))

    @property
    def load_optimiser_state(self) -> bool:
        return bool(getattr(self.exp_cfg, "load_optimiser_state", True))

    @property
    def load_scheduler_state(self) -> bool:
        return bool(getattr(self.exp_cfg, "load_scheduler_state", True))

    def last_activation(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """``last_activation`` ("softmax"|"sigmoid"|callable|None); default softmax/sigmoid by task."""
        act = getattr(self.exp_cfg, "last_activation", "default")
        if act == "default":
            act = "softmax" if self.task == "single_label" else "sigmoid"
        if act is None or act == "none":
            return _identity
        if act == "softmax":
            return _softmax
        if act == "sigmoid":
            return torch.sigmoid
        if callable(act):
            return act
        raise ConfigError(
            f"{self.exp_cfg.__file__}: last_activation = {act!r}; use 'softmax', 'sigmoid', None or a function"
        )


def _identity(x: Any) -> Any:
    return x


def _softmax(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x, dim=1)


def load_exp_config(
    roots: list[ConfigRoot],
    dataset: str,
    model: str,
    exp: str,
    dataset_channel: str | None = None,
    model_channel: str | None = None,
    exp_channel: str | None = None,
) -> ExpConfig:
    """Find and execute the dataset, model and exp configs (exp config sees dataset_cfg and model_cfg)."""
    d_path, d_root = _find(roots, "dataset", dataset, dataset_channel, dataset, model)
    m_path, m_root = _find(roots, "model", model, model_channel, dataset, model)
    e_path, e_root = _find(roots, "exp", exp, exp_channel, dataset, model)
    dataset_cfg = exec_config(d_path, f"vai_cfg_dataset_{_ident(dataset)}")
    model_cfg = exec_config(m_path, f"vai_cfg_model_{_ident(model)}")
    exp_cfg = exec_config(
        e_path,
        f"vai_cfg_exp_{_ident(dataset)}_{_ident(model)}_{_ident(exp)}",
        inject={"dataset_cfg": dataset_cfg, "model_cfg": model_cfg},
    )
    cfg = ExpConfig(
        dataset,
        model,
        exp,
        dataset_cfg,
        model_cfg,
        exp_cfg,
        {"dataset": d_root, "model": m_root, "exp": e_root},
    )
    require(exp_cfg, "get_torch_dataset", "def get_torch_dataset(split) -> Dataset of sample dicts")
    cfg.num_classes  # noqa: B018 - validate early, one clear line
    cfg.task  # noqa: B018
    logger.info("configs: dataset %s, model %s, exp %s", d_path, m_path, e_path)
    warn_unknown_names(exp_cfg)
    return cfg


def _find(
    roots: list[ConfigRoot], kind: str, name: str, channel: str | None, dataset: str, model: str
) -> tuple[Path, ConfigRoot]:
    """find_config, whose not-found line adds a "did you mean" among what the roots offer."""
    relpath = {
        "dataset": lambda: dataset_relpath(name, channel),
        "model": lambda: model_relpath(name, channel),
        "exp": lambda: exp_relpath(dataset, model, name, channel),
    }[kind]()
    try:
        return find_config(relpath, roots, kind)
    except ConfigNotFoundError as e:
        raise ConfigNotFoundError(f"{e}; {_hint(roots, kind, name, channel, dataset, model)}") from None


def _hint(
    roots: list[ConfigRoot], kind: str, name: str, channel: str | None, dataset: str, model: str
) -> str:
    prefix = f"ch_{channel}/" if channel else ""
    offered = list_configs(roots)
    if kind == "exp":  # experiments of this dataset/model: "ch_c/D/M-E" -> "E"
        stem = f"{prefix}{dataset}/{model.replace('.', '+')}-"
        names = [n[len(stem) :] for n, _ in offered["experiments"] if n.startswith(stem)]
        return not_found_hint("-E", name, names)
    key, flag = ("datasets", "-D") if kind == "dataset" else ("models", "-M")
    names = [
        n[len(prefix) :] for n, _ in offered[key] if n.startswith(prefix) and "/" not in n[len(prefix) :]
    ]
    return not_found_hint(flag, name, names)


def _ident(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)
