"""Logging for runs: colour console on rank 0, per-level log files, and redaction of registered secrets.

``setup_logging(log_dir)`` writes ``<prefix>_{DEBUG,INFO,WARNING,ERROR}.log`` (each file holds its level
and above, as upstream PyVideoAI did) and can be called again (e.g. after the run directory is known)
without duplicating handlers. Secrets such as Telegram bot tokens are registered with
:func:`register_secret` and replaced by ``***`` in every record our handlers emit.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from urllib.parse import quote

import colorlog

FILE_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
REDACTED = "***"
_MIN_SECRET_LEN = 4
_NOISY_LOGGERS = ("matplotlib", "PIL", "urllib3", "fsspec")

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(secret: str) -> None:
    """Make every log record handled by :func:`setup_logging`'s handlers (and :func:`redact`) hide ``secret``."""
    if not secret or len(secret) < _MIN_SECRET_LEN:
        return
    with _secrets_lock:
        _secrets.add(secret)
        _secrets.add(quote(secret, safe=""))


def redact(text: str) -> str:
    """Replace every registered secret in ``text`` by ``***``."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactSecretsFilter(logging.Filter):
    """Handler filter rewriting message, traceback and stack text of a record with secrets redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # malformed %-args: leave it to the handler's own error reporting
            return True
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _parse_level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    value = logging.getLevelName(str(level).upper())
    if not isinstance(value, int):
        raise ValueError(
            f"setup_logging: unknown log level {level!r}; use one of DEBUG, INFO, WARNING, ERROR"
        )
    return value


class RecordBuffer(logging.Handler):
    """Keeps what is logged before a run's log files exist (the configs' and datasets' warnings, which are
    built before the run directory is chosen), so :func:`setup_logging` can write it there (``replay``)."""

    def __init__(self, limit: int = 10000) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.limit = limit

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < self.limit:
            self.records.append(record)

    def attach(self) -> RecordBuffer:
        logging.getLogger().addHandler(self)
        return self

    def detach(self) -> list[logging.LogRecord]:
        """Stop buffering (idempotent); returns the records kept."""
        logging.getLogger().removeHandler(self)
        return self.records


def setup_logging(
    log_dir: Path | str | None,
    level: str = "INFO",
    rank: int = 0,
    prefix: str = "train",
    replay: list[logging.LogRecord] | None = None,
) -> None:
    """Configure the root logger for a run (idempotent: replaces the handlers a previous call installed).

    Rank 0 logs at ``level`` to a colour console and, with ``log_dir``, to ``<prefix>_<LEVEL>.log`` files.
    Other ranks print only WARNING and above, and write ``<prefix>_rank<r>_WARNING.log`` when they do.
    ``replay``: records logged (and shown) before the files existed, written to the files only.
    """
    console_level = _parse_level(level)
    root = logging.getLogger()
    remove_logging_handlers()
    root.setLevel(logging.DEBUG)
    for name in _NOISY_LOGGERS:
        noisy = logging.getLogger(name)
        if noisy.level == logging.NOTSET:
            noisy.setLevel(logging.WARNING)

    redactor = RedactSecretsFilter()
    rank_tag = f"[rank {rank}] " if rank else ""
    console = colorlog.StreamHandler(sys.stderr)
    console.setFormatter(
        colorlog.ColoredFormatter(
            f"%(log_color)s%(asctime)s %(levelname)-8s%(reset)s {rank_tag}%(name)s: %(message)s",
            datefmt="%H:%M:%S",
        )
    )
    console.setLevel(console_level if rank == 0 else max(console_level, logging.WARNING))
    handlers: list[logging.Handler] = [console]

    if log_dir is not None:
        log_dir = Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        file_format = logging.Formatter(f"%(asctime)s %(levelname)-8s {rank_tag}%(name)s: %(message)s")
        if rank == 0:
            specs = [(f"{prefix}_{name}.log", _parse_level(name), False) for name in FILE_LEVELS]
        else:
            specs = [(f"{prefix}_rank{rank}_WARNING.log", logging.WARNING, True)]
        for filename, file_level, delay in specs:
            fh = logging.FileHandler(log_dir / filename, mode="a", encoding="utf-8", delay=delay)
            fh.setLevel(file_level)
            fh.setFormatter(file_format)
            handlers.append(fh)

    for handler in handlers:
        handler.addFilter(redactor)
        handler._vai_logging = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    for record in replay or ():
        for handler in handlers[1:]:  # (the console showed them already)
            if record.levelno >= handler.level:
                handler.handle(record)


def log_to_files(level: int, message: str, name: str = "vai_train") -> None:
    """One record for the log files :func:`setup_logging` opened (those whose level admits it), not the
    console: what the CLI prints itself, such as the one-line error that ends a command."""
    record = logging.getLogger(name).makeRecord(name, level, __file__, 0, message, None, None)
    for handler in logging.getLogger().handlers:
        if (
            getattr(handler, "_vai_logging", False)
            and isinstance(handler, logging.FileHandler)
            and level >= handler.level
        ):
            handler.handle(record)


def remove_logging_handlers() -> None:
    """Remove and close the handlers installed by :func:`setup_logging` (end of a run, tests)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_vai_logging", False):
            root.removeHandler(handler)
            handler.close()
