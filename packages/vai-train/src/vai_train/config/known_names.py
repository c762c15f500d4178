"""The names vai-train reads from an exp config, and a warning for the ones it would silently ignore.

A typo (``num_epoch = 2``, ``batch_szie = 4``, ``def optimizer(...)``) is not an error in a Python
file, so after loading, every public top-level name of the exp config that vai-train does not read is
looked at once. It is reported (one WARNING per name, with a "did you mean" when a known name is close)
unless it is clearly the user's own: an imported name (``from torch.optim import Optimizer``, ``*``
imports, ``from __future__ import annotations``), a module, a name starting with ``_``, or a name the
config's own code uses (a helper, class or constant referenced by a hook) that is not close to a setting
the config lacks. An unreferenced function or class is reported only when it is close to a known name
(``optimizer`` -> ``optimiser``).
"""

from __future__ import annotations

import ast
import inspect
import logging
import os
import symtable
import types
from pathlib import Path

from vai_train.config.suggest import close_match

logger = logging.getLogger(__name__)

#: every exp-config hook and setting vai-train reads (docs/train.md "Exp config hooks and their defaults")
KNOWN_EXP_NAMES = frozenset(
    {
        "get_torch_dataset",
        "batch_size",
        "val_batch_size",
        "num_epochs",
        "input_frame_length",
        "num_workers",
        "persistent_workers",
        "get_data_unpack_func",
        "get_collate_fn",
        "get_input_reshape_func",
        "load_model",
        "load_pretrained",
        "load_pretrained_postDDP",
        "get_optim_policies",
        "optimiser",
        "scheduler",
        "get_criterion",
        "criterion",  # obsolete: read only to raise a clear error
        "clip_grad_max_norm",
        "grad_accum_steps",
        "use_amp",
        "amp_dtype",
        "channels_last",
        "sync_bn",
        "compile",
        "compile_options",
        "ema_decay",
        "ddp_find_unused_parameters",
        "load_optimiser_state",
        "load_scheduler_state",
        "last_activation",
        "metrics",
        "best_metric",
        "early_stopping_condition",
        "early_stopping_patience",
        "epoch_start_script",
        "predictions_gatherers",
        "metric_plotter",
        "telegram_reporter",
        "feature_extract_model",
    }
)
#: names the loader puts into every exp config
INJECTED_NAMES = frozenset({"dataset_cfg", "model_cfg", "include"})


def _global_uses(table: symtable.SymbolTable) -> set[str]:
    """Module-level names read by code in ``table`` or its nested scopes (a function's own parameter or
    local of the same name is not a use)."""
    used = {
        s.get_name()
        for s in table.get_symbols()
        if s.is_referenced() and (table.get_type() == "module" or s.is_global())
    }
    for child in table.get_children():
        used |= _global_uses(child)
    return used


def _used_and_defined(files: list[Path]) -> tuple[set[str], dict[str, tuple[Path, int]]]:
    """Module-level names read anywhere in ``files`` and, per top-level name, the last file/line
    defining it."""
    used: set[str] = set()
    defined: dict[str, tuple[Path, int]] = {}
    for path in files:
        try:
            source = Path(path).read_text()
            used |= _global_uses(symtable.symtable(source, str(path), "exec"))
            tree = ast.parse(source, str(path))
        except (OSError, SyntaxError, ValueError):
            continue
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined[stmt.name] = (path, stmt.lineno)
                continue
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    defined[node.id] = (path, stmt.lineno)
    return used, defined


def _is_code(value: object) -> bool:
    return inspect.isclass(value) or inspect.isroutine(value) or isinstance(value, types.ModuleType)


def unknown_names(module: types.ModuleType) -> list[tuple[str, str | None, str]]:
    """(name, closest known name or None, where) for each exp-config name vai-train would ignore."""
    files = list(getattr(module, "__vai_files__", []) or [Path(module.__file__)])
    used, defined = _used_and_defined(files)
    names = vars(module)
    out = []
    for name, value in names.items():
        if name.startswith("_") or name in KNOWN_EXP_NAMES or name in INJECTED_NAMES:
            continue
        if name not in defined or isinstance(value, types.ModuleType):
            continue  # imported (``from x import y``, ``*``, ``__future__`` features) or a module
        guess = close_match(name, KNOWN_EXP_NAMES)
        if name in used:
            # the config's own helper or constant, unless it looks like a misspelt setting that the config
            # lacks (``num_epoch = 2`` also used by its scheduler: the run still takes num_epochs' default)
            if guess is None or guess in names:
                continue
        elif guess is None and _is_code(value):
            continue  # an unused helper function/class of the user's own
        path, line = defined.get(name, (Path(module.__file__), None))
        out.append((name, guess, f"{path}:{line}" if line else str(path)))
    return out


def warn_unknown_names(module: types.ModuleType) -> list[str]:
    """Log one WARNING per ignored exp-config name (on rank 0 only); returns the names."""
    found = unknown_names(module)
    if os.environ.get("RANK", "0") != "0":
        return [n for n, _, _ in found]
    for name, guess, where in found:
        if guess:
            logger.warning(
                "%s: '%s' is not an exp-config setting vai-train reads (ignored); did you mean '%s'?",
                where,
                name,
                guess,
            )
        else:
            logger.warning(
                "%s: '%s' is not an exp-config setting vai-train reads and nothing in the config uses it"
                " (ignored); see docs/train.md for the settings",
                where,
                name,
            )
    return [n for n, _, _ in found]
