"""The ``<folder>.partial-<host>-<pid>`` folders frame extraction writes before renaming them complete, and
the sweep that removes those a killed extraction left behind.

The host is part of the name: on a filesystem shared by several machines a process id says nothing about
another machine's processes, so only this host's leftovers are judged (and those of older vai versions,
named ``.partial-<pid>``).
"""

from __future__ import annotations

import os
import re
import shutil
import socket


def host_tag(hostname: str) -> str:
    """``hostname`` as partial folders name it: characters other than letters, digits, ``_`` and ``.``
    (``-`` among them, so that the pid splits off) become ``_``."""
    return re.sub(r"[^A-Za-z0-9_.]", "_", hostname) or "localhost"


_HOST = host_tag(socket.gethostname())


def partial_path(out_dir: str) -> str:
    """The folder this process writes ``out_dir``'s frames into before renaming it."""
    return f"{out_dir}.partial-{_HOST}-{os.getpid()}"


def remove_stale_partials(out_dir: str | os.PathLike) -> list[str]:
    """Delete ``<out_dir>.partial-<host>-<pid>`` folders that a killed extraction left behind (their process no
    longer runs; POSIX only); returns the paths removed. Folders of running processes are left alone."""
    parent, name = os.path.split(os.fspath(out_dir).rstrip(os.sep))
    return _remove_stale_partials_in(parent, name)


def _remove_stale_partials_in(parent: str, name: str | None = None) -> list[str]:
    """:func:`remove_stale_partials` for ``name``'s folders in ``parent``, or for every ``<name>.partial-<host>-<pid>``
    there when ``name`` is None (one listing of the folder for a whole tree of videos)."""
    if os.name != "posix":
        return []
    try:
        entries = os.listdir(parent or ".")
    except OSError:
        return []
    removed = []
    for entry in entries:
        stem, sep, owner = entry.rpartition(".partial-")
        host, dash, pid = owner.rpartition("-")
        if (
            sep
            and (name is None or stem == name)
            and (host == _HOST or not dash)  # (another machine's, on a shared filesystem: not ours to judge)
            and pid.isdigit()
            and int(pid) != os.getpid()
            and not _process_runs(int(pid))
        ):
            path = os.path.join(parent, entry)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _process_runs(pid: int) -> bool:
    """Whether process ``pid`` exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process (or no such pid at all)
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


def videos_of_dead_workers(pending: dict[str, tuple]) -> list[str]:
    """The videos of ``pending`` whose ``<dst>.partial-<host>-<pid>`` folder a dead process left behind (its
    worker was killed or crashed mid-video); removes those folders. One listing per output folder."""
    by_dst = {os.path.normpath(args[1]): rel for rel, args in pending.items()}
    culprits = []
    for parent in sorted({os.path.dirname(dst) for dst in by_dst}):
        for path in _remove_stale_partials_in(parent):
            rel = by_dst.get(os.path.normpath(path.rpartition(".partial-")[0]))
            if rel is not None and rel not in culprits:
                culprits.append(rel)
    return culprits
