"""Execute plain-Python config files into module objects, with ``include()`` for composition.

``include(relative_path)`` executes another file (relative to the file that calls it) into the
calling config's namespace — upstream's ``_exec_relative_``. Every executed file is recorded so the
run directory can keep a copy.
"""

from __future__ import annotations

import logging
import sys
import types
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


class ConfigError(Exception):
    """A config file is malformed or lacks a required item."""


class ConfigModule(types.ModuleType):
    """A module created from a config file; ``__vai_files__`` lists every file it executed."""

    __vai_files__: list[Path]


def _exec_file(path: Path, namespace: dict[str, Any], stack: list[Path], files: list[Path]) -> None:
    try:
        source = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e}") from e
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as e:  # str(e) names only the file's basename: give the full path and the line
        text = (e.text or "").strip()
        raise ConfigError(
            f"syntax error in config {path}, line {e.lineno}: {e.msg}" + (f": {text}" if text else "")
        ) from None
    stack.append(path)
    if path not in files:
        files.append(path)
    try:
        exec(code, namespace)
    finally:
        stack.pop()


def exec_config(path: Path, module_name: str, inject: dict[str, Any] | None = None) -> ConfigModule:
    """Execute ``path`` as a fresh module with ``inject`` names and ``include`` available in it."""
    path = Path(path).resolve()
    module = ConfigModule(module_name)
    module.__file__ = str(path)
    module.__vai_files__ = []
    stack: list[Path] = []
    namespace = module.__dict__

    def include(relative_path: str | Path) -> None:
        """Execute ``relative_path`` (relative to the including file) into this config's namespace."""
        base = stack[-1].parent if stack else path.parent
        target = (base / relative_path).resolve()
        if not target.is_file():
            raise ConfigError(
                f"{stack[-1] if stack else path}: include('{relative_path}') -> {target} does not exist"
            )
        if target in stack:
            raise ConfigError(
                f"{stack[-1]}: include('{relative_path}') is circular ({target} is already executing)"
            )
        logger.debug("config %s includes %s", stack[-1] if stack else path, target)
        _exec_file(target, namespace, stack, module.__vai_files__)

    namespace.update(inject or {})
    namespace["include"] = include
    # make dataclasses/pickling inside configs find the module while it executes
    sys.modules[module_name] = module
    try:
        _exec_file(path, namespace, stack, module.__vai_files__)
    except ConfigError:
        raise
    except Exception as e:
        raise ConfigError(f"error while executing config {path}: {type(e).__name__}: {e}") from e
    return module


def require(module: types.ModuleType, name: str, what: str = "") -> Any:
    """Return ``module.name`` or raise one line naming the file and the missing item."""
    if not hasattr(module, name):
        hint = f" ({what})" if what else ""
        raise ConfigError(
            f"{getattr(module, '__file__', module.__name__)}: required item '{name}' is missing{hint}"
        )
    return getattr(module, name)
