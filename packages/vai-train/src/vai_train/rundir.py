"""The run directory ``<root>/<D>/<M>/<E>[/<S>]/version_NNN/`` and its sub-folders (upstream layout)."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SUBDIRS = ("configs", "logs", "weights", "tensorboard", "plots", "predictions")
_VERSION_RE = re.compile(r"^version_(\d+)$")


def default_experiment_root() -> Path:
    """``$VAI_EXPERIMENT_ROOT`` or ``./experiments``."""
    return Path(os.environ.get("VAI_EXPERIMENT_ROOT", "experiments"))


def _segment(name: str, channel: str | None) -> str:
    return f"ch_{channel}_{name}" if channel else name


def experiment_dir(
    root: str | Path,
    dataset: str,
    model: str,
    exp: str,
    subfolder: str | None = None,
    channels: tuple[str | None, str | None, str | None] = (None, None, None),
) -> Path:
    """Directory that holds the ``version_NNN`` folders of one experiment."""
    d = (
        Path(root)
        / _segment(dataset, channels[0])
        / _segment(model, channels[1])
        / _segment(exp, channels[2])
    )
    return d / subfolder if subfolder else d


def version_number(name: str) -> int | None:
    """N of a ``version_NNN`` folder name; None for any other name."""
    m = _VERSION_RE.match(name)
    return int(m.group(1)) if m else None


def existing_versions(exp_dir: Path) -> list[int]:
    """Sorted version numbers present under ``exp_dir``."""
    if not exp_dir.is_dir():
        return []
    return sorted(n for p in exp_dir.iterdir() if p.is_dir() and (n := version_number(p.name)) is not None)


@dataclass
class RunDir:
    """Paths of one run (``version_NNN``)."""

    path: Path
    version: int

    @property
    def configs(self) -> Path:
        return self.path / "configs"

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    @property
    def weights(self) -> Path:
        return self.path / "weights"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    @property
    def predictions(self) -> Path:
        return self.path / "predictions"

    @property
    def summary_csv(self) -> Path:
        return self.logs / "summary.csv"

    def checkpoint(self, epoch: int) -> Path:
        return self.weights / f"epoch_{epoch:04d}.pth"

    def create(self) -> RunDir:
        for s in SUBDIRS:
            (self.path / s).mkdir(parents=True, exist_ok=True)
        return self


def open_version(exp_dir: Path, version: int) -> RunDir:
    """The ``version_NNN`` run dir (not created)."""
    return RunDir(exp_dir / f"version_{version:03d}", version)


def new_version(exp_dir: Path) -> RunDir:
    """Create the next free ``version_NNN`` (first is 000); safe against a concurrent creator."""
    exp_dir.mkdir(parents=True, exist_ok=True)
    v = (existing_versions(exp_dir) or [-1])[-1] + 1
    while True:
        rd = open_version(exp_dir, v)
        try:
            rd.path.mkdir()
        except FileExistsError:
            v += 1
            continue
        return rd.create()


def last_version(exp_dir: Path) -> RunDir | None:
    """The highest existing version, or None."""
    versions = existing_versions(exp_dir)
    return open_version(exp_dir, versions[-1]) if versions else None


def resolve_version(exp_dir: Path, version: str | int) -> RunDir:
    """``-v auto`` (the last existing version) or an integer; raise one line if it does not exist."""
    if str(version) == "auto":
        rd = last_version(exp_dir)
        if rd is None:
            raise FileNotFoundError(f"no version_NNN under {exp_dir}; train first or check -R/-D/-M/-E/-S")
        return rd
    rd = open_version(exp_dir, int(version))
    if not rd.path.is_dir():
        have = ", ".join(str(v) for v in existing_versions(exp_dir)) or "none"
        raise FileNotFoundError(f"{rd.path} does not exist (versions available: {have})")
    return rd


def save_configs(rd: RunDir, files: list[tuple[str, Path]], args: dict[str, Any], prefix: str = "") -> Path:
    """Copy every executed config file into ``configs/`` and record the invocation's arguments.

    The first run of a version writes ``args.json`` (upstream layout); every later one (``-l -1``
    resumes, the run continuing a ``-l N`` branch) adds ``args_1.json``, ``args_2.json``, ... so the
    original flags (``-s``, ``-e``, ``--seed``, ...) are never overwritten. Returns the file written.
    """
    rd.configs.mkdir(parents=True, exist_ok=True)
    for kind, src in files:
        dst_dir = rd.configs / f"{kind}_configs"
        dst_dir.mkdir(exist_ok=True)
        dst = dst_dir / src.name
        if dst.exists() and dst.resolve() != src.resolve() and dst.read_bytes() != src.read_bytes():
            dst = dst_dir / f"{src.parent.name}__{src.name}"
        shutil.copy2(src, dst)
    base = f"{prefix}args"
    path = rd.configs / f"{base}.json"
    n = 0
    while path.exists():
        n += 1
        path = rd.configs / f"{base}_{n}.json"
    path.write_text(json.dumps(args, indent=2, sort_keys=True, default=str) + "\n")
    return path


def args_history(rd: RunDir, prefix: str = "") -> list[dict[str, Any]]:
    """The recorded invocations of a version, oldest first (``args.json``, ``args_1.json``, ...);
    unreadable files are skipped."""
    base = f"{prefix}args"
    found = []
    for p in rd.configs.glob(f"{base}*.json") if rd.configs.is_dir() else []:
        m = re.fullmatch(rf"{re.escape(base)}(?:_(\d+))?\.json", p.name)
        if m:
            found.append((int(m.group(1) or 0), p))
    out = []
    for _, p in sorted(found):
        try:
            out.append(json.loads(p.read_text()))
        except (OSError, ValueError):
            logger.warning("%s is unreadable; ignored", p)
    return out


def remove_version(rd: RunDir) -> None:
    """Delete a version folder (only ever called on one this very run created)."""
    shutil.rmtree(rd.path, ignore_errors=True)


def copy_version_without_weights(src: RunDir, dst: RunDir) -> None:
    """For ``-l N``: copy configs/logs/plots/tensorboard of ``src`` into the new ``dst`` (not weights)."""
    for s in ("configs", "logs", "plots", "tensorboard"):
        if (src.path / s).is_dir():
            shutil.copytree(src.path / s, dst.path / s, dirs_exist_ok=True)
