"""``torch.compile`` for training and inference (``--compile`` / ``compile = True``, ``compile_options``).

The model is compiled in place with ``nn.Module.compile(**compile_options)``, as PyTorch advises for a
model that DistributedDataParallel then wraps: its ``__call__`` runs through TorchDynamo while the module,
its parameters, ``state_dict`` keys (no ``_orig_mod.`` prefix), attributes and hooks stay what they were,
so checkpoints, optimisers, EMA copies (which are left uncompiled by the copy and compiled on their own),
exp-config hooks and ``unwrap`` see the usual model. Nothing is traced until the first batch: the first
training and validation batches (and each new batch size, train/eval switch) take longer while it compiles.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

logger = logging.getLogger(__name__)


def compile_wanted(cfg: Any, flag: bool | None = None) -> dict[str, Any] | None:
    """The ``torch.compile`` keyword arguments when ``flag`` (None: the config's ``compile``) asks for
    compiling, else None. ``cfg.compile_options`` validates them (a bad one is refused in one line
    naming the config file), so call this before anything is created."""
    if not (cfg.compile if flag is None else flag):
        return None
    return cfg.compile_options


def _describe(options: dict[str, Any]) -> str:
    return ", ".join(f"{k}={getattr(v, '__name__', v)!r}" for k, v in options.items()) or "defaults"


def compile_in_place(module: nn.Module, options: dict[str, Any] | None, what: str = "model") -> None:
    """``module.compile(**options)`` (nothing when ``options`` is None), logged once."""
    if options is None:
        return
    if not isinstance(module, nn.Module):
        raise TypeError(f"compile_in_place expects an nn.Module, got {type(module).__name__}")
    module.compile(**options)
    logger.info(
        "compile: the %s (%s) runs through torch.compile (%s); the first batches of each size and mode"
        " are slower while it compiles",
        what,
        type(module).__name__,
        _describe(options),
    )


#: the lines of TorchDynamo's errors that are advice about TorchDynamo itself, not about the failure
_BOILERPLATE = ("Set TORCHDYNAMO_VERBOSE", "For even more developer context", "from user code:")


def first_lines(error: BaseException | str, limit: int = 300) -> str:
    """The message of ``error`` up to its first TorchDynamo boilerplate line, in one line of at most
    ``limit`` characters."""
    lines = []
    for line in str(error).splitlines():
        if line.strip().startswith(_BOILERPLATE):
            break
        if line.strip():
            lines.append(line.strip())
    text = " ".join(lines) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and the exceptions under it (``__cause__``, else ``__context__``), outermost first."""
    chain = [error]
    while (nxt := chain[-1].__cause__ or chain[-1].__context__) is not None and nxt not in chain:
        chain.append(nxt)
    return chain


def compile_failure(error: BaseException) -> str | None:
    """One line for a failure inside ``torch.compile`` (TorchDynamo, a backend such as Inductor), with what
    to try; None for any other error. An error of the model itself that TorchDynamo met while tracing
    (a shape mismatch, say) is the model's error: its own message, without the compile advice."""
    exc = getattr(getattr(torch, "_dynamo", None), "exc", None)
    base = getattr(exc, "TorchDynamoException", None)
    if base is None or not isinstance(error, base):
        return None
    chain = _chain(error)
    # the model's own error, met while tracing: an exception it raised (with fullgraph=True reported as
    # Unsupported over an Observed...Error, "raised exception X(...)"), or one of an op on fake tensors
    observed = [e for e in chain if isinstance(e, getattr(exc, "ObservedException", ()))]
    if observed or isinstance(error, getattr(exc, "TorchRuntimeError", ())):
        root = chain[-1]
        if isinstance(root, base):  # no plain exception under it: the Observed one's message names it
            text = first_lines(observed[-1] if observed else root).removeprefix("raised exception ")
        else:
            text = f"{type(root).__name__}: {first_lines(root)}"
        return f"{text} (while torch.compile traced the model)"
    return (
        f"torch.compile failed ({type(error).__name__}: {first_lines(error)}); run without --compile"
        " (--no-compile overrides a config's compile = True), or choose another backend in"
        " compile_options, e.g. {'backend': 'aot_eager'} (no code generation)"
    )
