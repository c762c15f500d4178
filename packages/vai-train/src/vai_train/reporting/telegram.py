"""Telegram run reports (start, periodic report with plots, early stop, finish, exceptions) via urllib.

Network or API failures are logged at WARNING and never raise into training. The bot token is
registered with :func:`vai_train.logging_setup.register_secret` and never written to logs or messages.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import logging
import mimetypes
import os
import platform
import socket
import sys
import time
import traceback
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from ..logging_setup import redact, register_secret
from .summary_csv import read_summary

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.telegram.org"
MAX_MESSAGE_CHARS = 4096
MAX_CAPTION_CHARS = 1024


@dataclass
class RunInfo:
    """Identifies a run in report titles: ``<dataset> <model> <exp> [sub] v<ver> on <host>``."""

    dataset: str
    model: str
    exp: str
    subfolder: str | None = None
    version: int | str | None = None
    host: str = field(default_factory=socket.gethostname)

    def title(self) -> str:
        parts = [self.dataset, self.model, self.exp]
        if self.subfolder:
            parts.append(self.subfolder)
        if self.version is not None:
            parts.append(f"v{self.version}")
        return " ".join(parts) + f" on {self.host}"


def format_duration(seconds: float) -> str:
    """``3725`` -> ``1h 02m 05s``; ``42.5`` -> ``42.5s``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def _versions() -> str:
    import torch

    try:
        from importlib.metadata import PackageNotFoundError, version

        vai = version("vai-train")
    except PackageNotFoundError:
        vai = "source checkout"
    return f"vai-train {vai}, PyTorch {torch.__version__}, Python {platform.python_version()}"


def format_report(
    summary_csv: str | os.PathLike,
    field_directions: Mapping[str, bool] | None = None,
    title: str = "",
    extra_lines: Sequence[str] = (),
) -> str:
    """Report text from ``summary.csv``: per non-train metric best/last, run times and versions.

    ``field_directions`` maps CSV fields to ``higher_is_better`` (e.g. ``metrics.field_directions(...)``);
    ``*_loss`` fields are lower-is-better and every other non-train field is assumed higher-is-better.
    """
    summary = read_summary(summary_csv)
    directions: dict[str, bool] = {}
    for column in summary.columns:
        split, fld = summary.split_of(column)
        if split == "train" or fld == "runtime_sec" or split is None:
            continue
        directions[column] = not fld.endswith("loss")
    for column, higher in (field_directions or {}).items():
        if column in summary.columns and not column.startswith("train_"):
            directions[column] = higher

    last_epoch = summary.epochs[-1] if summary.epochs else None
    lines = [title, f"Epoch {last_epoch} report" if last_epoch is not None else "No epoch finished yet"]
    for column, higher in directions.items():
        best, last = summary.best(column, higher), summary.last(column)
        if best is None or last is None:
            continue
        word = "Highest" if higher else "Lowest"
        lines.append(
            f"{word} (@ epoch {best[0]}) / Last (@ {last[0]}) {column}: {best[1]:.4f} / {last[1]:.4f}"
        )
    for column, values in summary.columns.items():
        if column.endswith("_runtime_sec"):
            present = [v for v in values if v is not None]
            if present:
                split = column[: -len("_runtime_sec")]
                total = sum(present)
                lines.append(
                    f"Avg / total {split} time: {format_duration(total / len(present))} / {format_duration(total)}"
                )
    lines += list(extra_lines)
    lines.append(_versions())
    return "\n".join(line for line in lines if line)


def key_ini_candidates() -> list[Path]:
    """Where ``key.ini`` is looked for: ``$VAI_KEY_INI``, ``./key.ini``, ``./tools/key.ini``, ``~/.config/vai/key.ini``."""
    paths = [Path(os.environ["VAI_KEY_INI"])] if os.environ.get("VAI_KEY_INI") else []
    return paths + [Path("key.ini"), Path("tools") / "key.ini", Path.home() / ".config" / "vai" / "key.ini"]


def _chunks(text: str, size: int = MAX_MESSAGE_CHARS) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class TelegramReporter:
    """Send run messages and plots to one Telegram chat through the Bot API (``urllib`` only).

    Build it with :meth:`from_key_ini` (``[Telegram<bot_index>]`` with ``token`` and ``chat_id``).
    Every send method returns ``True`` on success and ``False`` (after a WARNING) on any failure.
    """

    def __init__(
        self,
        token: str,
        chat_id: str | int,
        run: RunInfo | None = None,
        api_base: str = DEFAULT_API_BASE,
        timeout: float = 10.0,
        retry_after_s: float = 60.0,
        title: str | None = None,
    ) -> None:
        if not token or not str(chat_id):
            raise ValueError("TelegramReporter: token and chat_id must both be set")
        if not api_base.startswith(("http://", "https://")):
            raise ValueError(
                f"TelegramReporter: api_base must start with http:// or https://, got {api_base!r}"
            )
        register_secret(token)
        self._token = token
        self.chat_id = str(chat_id)
        self.run = run
        self._title = title
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout
        self.retry_after_s = retry_after_s
        self._offline_until = 0.0

    @classmethod
    def from_key_ini(
        cls,
        path: str | os.PathLike | None = None,
        bot_index: int = 0,
        run: RunInfo | None = None,
        api_base: str | None = None,
        timeout: float = 10.0,
        title: str | None = None,
    ) -> TelegramReporter:
        """Read ``[Telegram<bot_index>]`` ``token`` / ``chat_id`` (optional ``api_base``) from ``key.ini``.

        Without ``path`` the first existing of :func:`key_ini_candidates` is used.
        """
        if path is None:
            found = [p for p in key_ini_candidates() if p.is_file()]
            if not found:
                searched = ", ".join(str(p) for p in key_ini_candidates())
                raise FileNotFoundError(
                    f"no Telegram key.ini found (searched {searched}); create one with a [Telegram{bot_index}] "
                    "section holding token and chat_id, or set $VAI_KEY_INI"
                )
            path = found[0]
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"Telegram key file not found: {path}; create it with a [Telegram{bot_index}] section "
                "holding token and chat_id (see docs/metrics-and-reporting.md)"
            )
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(path)
        section = f"Telegram{bot_index}"
        if not parser.has_section(section):
            raise ValueError(  # not KeyError: its message would print inside quotes
                f"{path}: no [{section}] section (found {parser.sections()}); check the -B bot index"
            )
        missing = [k for k in ("token", "chat_id") if not parser.get(section, k, fallback="").strip()]
        if missing:
            raise ValueError(f"{path}: [{section}] is missing {missing}")
        base = api_base or parser.get(section, "api_base", fallback=DEFAULT_API_BASE)
        token, chat_id = parser.get(section, "token").strip(), parser.get(section, "chat_id").strip()
        return cls(token, chat_id, run, base, timeout, title=title)

    from_ini = from_key_ini

    def __repr__(self) -> str:
        return f"TelegramReporter(chat_id={self.chat_id!r}, api_base={self.api_base!r})"

    @property
    def title(self) -> str:
        if self._title:
            return self._title
        return self.run.title() if self.run else socket.gethostname()

    # ------------------------------------------------------------------ transport
    def _post(self, method: str, body: bytes, content_type: str) -> bool:
        if time.monotonic() < self._offline_until:
            logger.debug("Telegram %s skipped: API unreachable at the last attempt", method)
            return False
        url = f"{self.api_base}/bot{self._token}/{method}"
        headers = {"Content-Type": content_type}
        try:
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as e:
            detail = ""
            with contextlib.suppress(Exception):
                detail = json.loads(e.read()).get("description", "")
            logger.warning("Telegram %s failed: HTTP %s %s", method, e.code, redact(str(detail or e.reason)))
            return False
        except Exception as e:  # network down, DNS, timeout, bad JSON: never break training
            note = ""
            if isinstance(e, OSError):  # unreachable / timeout: don't stall the next sends for `timeout` each
                self._offline_until = time.monotonic() + self.retry_after_s
                note = f" (sends in the next {self.retry_after_s:.0f}s are skipped)"
            logger.warning("Telegram %s failed: %s: %s%s", method, type(e).__name__, redact(str(e)), note)
            return False
        if not payload.get("ok", False):
            logger.warning("Telegram %s failed: %s", method, redact(str(payload.get("description", payload))))
            return False
        return True

    def send_message(self, text: str) -> bool:
        """Send ``text`` (split into 4096-character messages); secrets are redacted first."""
        ok = True
        for chunk in _chunks(redact(text)):
            body = json.dumps({"chat_id": self.chat_id, "text": chunk, "disable_web_page_preview": True})
            ok = self._post("sendMessage", body.encode(), "application/json") and ok
        return ok

    def send_photo(self, path: str | os.PathLike, caption: str | None = None) -> bool:
        """Upload an image file with ``sendPhoto`` (multipart/form-data)."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as e:
            logger.warning("Telegram sendPhoto: cannot read %s: %s", path, e)
            return False
        boundary = uuid.uuid4().hex
        fields = {"chat_id": self.chat_id}
        if caption:
            fields["caption"] = redact(caption)[:MAX_CAPTION_CHARS]
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields.items()
        ]
        filename = path.name.replace('"', "_")
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="{filename}"\r\n'
            f"Content-Type: {mime}\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        return self._post("sendPhoto", b"".join(parts), f"multipart/form-data; boundary={boundary}")

    # ------------------------------------------------------------------ run events
    def start(self, message: str = "") -> bool:
        """Announce that training (or evaluation) started."""
        return self.send_message("\n".join(filter(None, [f"Started: {self.title}", message, _versions()])))

    def report(
        self,
        summary_csv: str | os.PathLike,
        plots: Sequence[str | os.PathLike] = (),
        field_directions: Mapping[str, bool] | None = None,
        extra_lines: Sequence[str] = (),
    ) -> bool:
        """Periodic report: best/last of every non-train metric, run times, versions, then each plot (png)."""
        try:
            text = format_report(summary_csv, field_directions, self.title, extra_lines)
        except (OSError, ValueError) as e:
            logger.warning("Telegram report skipped: %s", e)
            return False
        ok = self.send_message(text)
        for plot in plots:
            if Path(plot).suffix.lower() in (".png", ".jpg", ".jpeg"):
                ok = self.send_photo(plot, caption=Path(plot).stem) and ok
        return ok

    def early_stop(self, epoch: int, reason: str = "") -> bool:
        """Announce early stopping at ``epoch``."""
        return self.send_message(
            f"Early stopping at epoch {epoch}: {self.title}" + (f"\n{reason}" if reason else "")
        )

    def finish(self, message: str = "") -> bool:
        """Announce the end of the run."""
        return self.send_message("\n".join(filter(None, [f"Finished: {self.title}", message])))

    def eval_result(self, values: Mapping[str, float], epoch: int | None = None) -> bool:
        """Send evaluation results ``{field: value}``."""
        head = f"Evaluation{f' (epoch {epoch})' if epoch is not None else ''}: {self.title}"
        return self.send_message("\n".join([head, *(f"{k}: {v:.4f}" for k, v in values.items())]))

    def exception(
        self, exc: BaseException, exc_type: type[BaseException] | None = None, tb: TracebackType | None = None
    ) -> bool:
        """Send the traceback of ``exc`` (secrets redacted, split over several messages if long)."""
        lines = traceback.format_exception(exc_type or type(exc), exc, tb or exc.__traceback__)
        return self.send_message(f"Error in {self.title}:\n" + "".join(lines))

    def excepthook(self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        """``sys.excepthook``-compatible: report the exception, then defer to the previous hook."""
        if not issubclass(exc_type, KeyboardInterrupt):
            self.exception(exc, exc_type, tb)
        self._previous_hook(exc_type, exc, tb)

    _previous_hook = staticmethod(sys.__excepthook__)

    def install_excepthook(self) -> None:
        """Report any uncaught exception of this process before Python prints it."""
        self._previous_hook = sys.excepthook
        sys.excepthook = self.excepthook

    @contextlib.contextmanager
    def catch_exceptions(self) -> Iterator[TelegramReporter]:
        """``with reporter.catch_exceptions(): train()`` sends any exception's traceback, then re-raises."""
        try:
            yield self
        except KeyboardInterrupt:
            self.send_message(f"Interrupted (KeyboardInterrupt): {self.title}")
            raise
        except Exception as e:
            self.exception(e)
            raise
