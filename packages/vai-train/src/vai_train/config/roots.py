"""Config roots: where dataset/model/exp config files are looked up, in priority order.

Order: every ``--config-root`` given (in order), ``./configs`` if it exists, then roots registered by
installed packages through the ``vai.config_roots`` entry-point group.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "vai.config_roots"


class ConfigNotFoundError(FileNotFoundError):
    """A dataset/model/exp config file was not found in any config root."""


@dataclass(frozen=True)
class ConfigRoot:
    """One directory holding ``dataset_configs/``, ``model_configs/`` and ``exp_configs/``."""

    path: Path
    source: str  # human-readable origin, e.g. "--config-root", "./configs", "entry point vai_papers"


def _entry_point_roots() -> list[ConfigRoot]:
    roots = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            value = obj() if callable(obj) else obj
        except Exception as e:  # a broken plug-in must not stop the others
            logger.warning("config-root entry point %s (%s) failed to load: %s", ep.name, ep.value, e)
            continue
        roots.append(ConfigRoot(Path(str(value)), f"entry point {ep.name}"))
    return roots


def discover_roots(
    cli_roots: list[str | Path] | None = None, use_entry_points: bool = True
) -> list[ConfigRoot]:
    """Return the config roots in lookup order (first root that has a file wins)."""
    roots: list[ConfigRoot] = []
    for r in cli_roots or []:
        p = Path(r).expanduser()
        if not p.is_dir():
            raise NotADirectoryError(
                f"--config-root {r}: not a directory; pass a folder holding dataset_configs/"
            )
        roots.append(ConfigRoot(p.resolve(), "--config-root"))
    local = Path("configs")
    if local.is_dir():
        roots.append(ConfigRoot(local.resolve(), "./configs"))
    if use_entry_points:
        roots.extend(_entry_point_roots())
    seen: set[Path] = set()
    unique = []
    for r in roots:
        if r.path not in seen:
            seen.add(r.path)
            unique.append(r)
    return unique


def _channel_dir(channel: str | None) -> str:
    return f"ch_{channel}/" if channel else ""


def dataset_relpath(dataset: str, channel: str | None = None) -> str:
    """Relative path of a dataset config inside a root."""
    return f"dataset_configs/{_channel_dir(channel)}{dataset}.py"


def model_relpath(model: str, channel: str | None = None) -> str:
    """Relative path of a model config inside a root (upstream: a ``.`` in the name becomes ``+``)."""
    return f"model_configs/{_channel_dir(channel)}{model.replace('.', '+')}.py"


def exp_relpath(dataset: str, model: str, exp: str, channel: str | None = None) -> str:
    """Relative path of an exp config inside a root: ``exp_configs/[ch_c/]<D>/<M>-<E>.py``."""
    return f"exp_configs/{_channel_dir(channel)}{dataset}/{model.replace('.', '+')}-{exp}.py"


def find_config(relpath: str, roots: list[ConfigRoot], kind: str) -> tuple[Path, ConfigRoot]:
    """Find ``relpath`` in the first root that has it; else raise one line listing every path searched."""
    searched = []
    for root in roots:
        candidate = root.path / relpath
        if candidate.is_file():
            return candidate, root
        searched.append(str(candidate))
    where = (
        ", ".join(searched) if searched else "(no config roots: pass --config-root DIR or create ./configs)"
    )
    raise ConfigNotFoundError(f"{kind} config '{relpath}' not found; searched: {where}")


def list_configs(roots: list[ConfigRoot]) -> dict[str, list[tuple[str, ConfigRoot]]]:
    """Everything each root offers: {"datasets"|"models"|"experiments": [(name, root)]}, first root wins."""
    found: dict[str, dict[str, ConfigRoot]] = {"datasets": {}, "models": {}, "experiments": {}}
    for root in roots:
        for sub, key in (("dataset_configs", "datasets"), ("model_configs", "models")):
            base = root.path / sub
            if base.is_dir():
                for f in sorted(base.rglob("*.py")):
                    if f.name.startswith("_"):
                        continue
                    name = f.relative_to(base).with_suffix("").as_posix()
                    found[key].setdefault(name, root)
        base = root.path / "exp_configs"
        if base.is_dir():
            for f in sorted(base.rglob("*.py")):
                rel = f.relative_to(base)
                if f.name.startswith("_") or len(rel.parts) < 2 or "-" not in f.stem:
                    continue
                name = rel.with_suffix("").as_posix()
                found["experiments"].setdefault(name, root)
    return {k: sorted(v.items()) for k, v in found.items()}
