"""Reading checkpoint files: recognise a ``torch.save`` file, load one safely (``weights_only=True``),
unwrap its state_dict from common containers, and :class:`CheckpointError` for a file that cannot be read."""

from __future__ import annotations

import argparse
import re
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch

StateDict = dict[str, torch.Tensor]
#: wrapper keys under which training scripts commonly store the weights, tried in this order
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model_state", "model", "module", "net")
#: prefixes added by DataParallel/DDP or Lightning modules, stripped from every key
STRIP_PREFIXES = ("module.", "model.")


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read or does not fit the model (``strict`` loading)."""


def unwrap_state_dict(
    obj: object, path: str = "<checkpoint>", model_keys: Iterable[str] | None = None
) -> StateDict:
    """Find the tensor dict inside ``obj`` (bare or under a wrapper key) and strip DDP/Lightning prefixes.

    A prefix is stripped when every key carries it, or, with the target model's ``model_keys`` known,
    when 90% do (a Lightning file's network beside a few tensors of its own, such as a loss's class
    weights, which keep their names and stay unused); never when the model's own keys carry it (a
    model holding its network as ``self.model``)."""
    seen = 0
    while isinstance(obj, Mapping) and seen < 4:
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            break
        inner = next((obj[k] for k in WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj, seen = inner, seen + 1
    if not isinstance(obj, Mapping):
        raise CheckpointError(
            f"{path}: expected a state_dict (a dict of tensors), found {type(obj).__name__}"
        )
    state = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not state:
        raise CheckpointError(
            f"{path}: no tensors found (top-level keys: {list(obj)[:8]}); "
            f"save model.state_dict() or wrap it under one of {list(WRAPPER_KEYS)}"
        )
    own = None if model_keys is None else list(model_keys)
    for prefix in STRIP_PREFIXES:
        prefixed = sum(k.startswith(prefix) for k in state)
        if own is None:
            strip = prefixed == len(state)
        else:
            strip = prefixed >= 0.9 * len(state) and not any(k.startswith(prefix) for k in own)
        if prefixed and strip:
            state = {(k[len(prefix) :] if k.startswith(prefix) else k): v for k, v in state.items()}
    return state


def _clip_words(text: str, limit: int = 300) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, with "…" when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"


def _load_error_cause(exc: Exception) -> str:
    """The telling part of a ``torch.load`` error: the sentence naming the global it refused where there
    is one (torch's message opens with generic advice), without terminal escape codes, at most 300
    characters cut at a word boundary."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line]
    for line in lines:
        for marker in ("Unsupported global", "Unsupported operand"):
            if marker in line:
                sentence = line[line.index(marker) :]
                end = sentence.find(". ")  # the refusal itself, not torch's allowlisting advice after it
                return _clip_words(sentence[: end + 1] if end > 0 else sentence)
    return _clip_words(lines[0]) if lines else ""


#: how a ``torch.save`` file starts: a zip archive (torch >= 1.6), or (legacy format) a pickle whose
#: first object is torch's magic number 0x1950A86A20F9469CFC6C (pickle LONG1 opcode, 10 bytes)
_ZIP_MAGIC = b"PK\x03\x04"
_LEGACY_TORCH_MAGIC = b"\x8a\n" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")


def is_torch_save_file(path: str | Path) -> bool:
    """True when ``path`` starts like a ``torch.save`` file (zip or legacy pickle), whatever its suffix:
    a ``.pkl`` named torch checkpoint then loads like a ``.pth`` instead of as a caffe2 blob pickle."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
    except OSError:
        return False
    return head.startswith(_ZIP_MAGIC) or _LEGACY_TORCH_MAGIC in head


def read_state_dict(path: str | Path, model_keys: Iterable[str] | None = None) -> StateDict:
    """Read a local checkpoint safely (``weights_only=True``) and return its state_dict on CPU
    (``model_keys``: the target model's, for :func:`unwrap_state_dict`'s prefix rule)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(
            f"checkpoint {str(p)!r} does not exist; pass the path of a local .pth/.pt file"
        )
    try:
        # EPIC-Kitchens checkpoints store their argparse Namespace; it is plain data, so allow it
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors and unsafe globals come in many types
        with open(p, "rb") as f:
            zip_head = f.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC
        if zip_head and not zipfile.is_zipfile(p):  # e.g. an interrupted download or copy
            raise CheckpointError(
                f"{p}: truncated or corrupt torch.save zip archive ({type(exc).__name__}: "
                f"{_load_error_cause(exc)}); download or save it again"
            ) from exc
        raise CheckpointError(
            f"{p}: cannot be loaded with torch.load(weights_only=True) ({type(exc).__name__}: "
            f"{_load_error_cause(exc)}); re-save it as a plain state_dict"
        ) from exc
    return unwrap_state_dict(obj, str(p), model_keys)
