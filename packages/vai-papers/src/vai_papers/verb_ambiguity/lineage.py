"""The chain of ``-l N`` continuations behind a run, so the pseudo-label refresh in force at its start is
read from the version that saved it, however many continuations back.

``vai-train train -l N`` starts a new version from epoch N of another (its *source*), which may itself be
a ``-l N`` continuation of a third, and so on. The epoch hook records each link when a continued run starts:
``predictions/pseudo_labels/source.json`` of the new version names the source version's folder and the
epoch the run started at (N + 1). A version without that file (made before it existed) is linked through
the invocations vai-train recorded in its ``configs/args*.json``: the latest one with ``-l N`` (N >= 0)
made the version, from ``-v`` (``auto``: the highest version below it, as vai-train picked it then);
``-l -2`` (the best epoch at the time, not recorded) ends the chain there.

A source's refresh ``epoch_j`` is in a continuation's past only for ``j <= S``, S the epoch the
continuation started at (its file S was computed from the weights the continuation starts from, later ones
from weights it never had), so each step back lowers the last usable epoch to the start epoch of the
version stepped out of; the walk stops once that is below the refresh needed.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from vai_data.pathio import write_local_atomic

logger = logging.getLogger(__name__)

__all__ = ["LINK_FILE", "MAX_DEPTH", "lineage", "read_source", "record_source", "version_of"]

#: the link file in a continued version's ``predictions/pseudo_labels/``
LINK_FILE = "source.json"
#: the most versions followed back (a longer chain is cut with a warning)
MAX_DEPTH = 32


def version_of(pseudo_dir: Path) -> Path:
    """The version folder of ``<version>/predictions/pseudo_labels``."""
    return pseudo_dir.parent.parent


def _pseudo_dir_of(version: Path) -> Path:
    return version / "predictions" / "pseudo_labels"


def record_source(pseudo_dir: Path, source_pseudo_dir: Path, start_epoch: int) -> None:
    """Write ``pseudo_dir/source.json``: this version continues ``source_pseudo_dir``'s version from
    ``start_epoch`` (its path relative to this version, so a moved experiment tree keeps the link, and
    absolute). A failed write is a warning: only later continuations' walk back is cut there."""
    own, source = version_of(pseudo_dir), version_of(source_pseudo_dir)
    if _key(own) == _key(source):
        return
    try:
        relative = os.path.relpath(source.absolute(), own.absolute())
    except ValueError:  # another drive (Windows): the absolute path only
        relative = str(source.absolute())
    link = {
        "source": relative,
        "source_abs": str(source.absolute()),
        "start_epoch": int(start_epoch),
    }
    path = pseudo_dir / LINK_FILE
    try:
        write_local_atomic(str(path), [(json.dumps(link, indent=2) + "\n").encode()], prefix=f".{LINK_FILE}.")
    except OSError as e:
        logger.warning("could not record this run's source version in %s: %s", path, e)


def read_source(version: Path) -> tuple[Path, int] | None:
    """(the source version's pseudo-label folder, the epoch ``version`` started at) of a ``-l N``
    continuation, from its ``source.json``, else its recorded arguments; None for a version that was not
    continued from another (or whose source cannot be told)."""
    link = _read_link_file(version)
    return link if link is not None else _source_from_args(version)


def _read_link_file(version: Path) -> tuple[Path, int] | None:
    path = _pseudo_dir_of(version) / LINK_FILE
    if not path.is_file():
        return None
    try:
        link = json.loads(path.read_text())
        start = link["start_epoch"]
        names = [(version / link["source"]).resolve(), Path(link["source_abs"])]
    except (OSError, ValueError, KeyError, TypeError) as e:
        logger.warning("%s is unreadable (%s); its source version is not followed", path, e)
        return None
    if isinstance(start, bool) or not isinstance(start, int):
        logger.warning("%s: start_epoch %r is not an epoch; its source version is not followed", path, start)
        return None
    for source in names:  # relative first: the tree may have moved
        if source.is_dir():
            return _pseudo_dir_of(source), start
    logger.info("%s names %s, which does not exist; not followed", path, names[1])
    return None


def _source_from_args(version: Path) -> tuple[Path, int] | None:
    """The source vai-train chose for ``version`` from its recorded invocations (see the module doc)."""
    from vai_train.rundir import RunDir, args_history, existing_versions, version_number

    own = version_number(version.name)
    if own is None or not (version / "configs").is_dir():
        return None
    # -l N copied the source's args files in, then added its own: the latest -l N (or -2) made this version
    history = args_history(RunDir(version, own))
    made = [
        i
        for i, a in enumerate(history)
        if isinstance(a, dict) and a.get("load_epoch") is not None and a.get("load_epoch") != -1
    ]
    if not made:
        return None
    copied = history[: made[-1]]  # the source's invocations, as they were when this version was made
    epoch, wanted = history[made[-1]].get("load_epoch"), str(history[made[-1]].get("version", "auto"))
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        return None  # -l -2: the best epoch of the source at the time is not recorded
    if wanted == "auto":
        below = [v for v in existing_versions(version.parent) if v < own]
        if not below:
            return None
        number = below[-1]
    elif wanted.isdigit():
        number = int(wanted)
    else:
        return None
    source = version.parent / f"version_{number:03d}"
    if not source.is_dir():
        return None
    # the candidate must be the version those invocations came from (not one made after the source was
    # deleted, or by another run in between): its history starts with the copied one
    theirs = args_history(RunDir(source, number))
    if not copied or theirs[: len(copied)] != copied:
        logger.info(
            "%s: its recorded source %s is not the version it was continued from; not followed",
            version,
            source,
        )
        return None
    return _pseudo_dir_of(source), epoch + 1


def _key(path: Path) -> str:
    return str(path.absolute().resolve())


def lineage(
    own: Path, source: Path, start_epoch: int, lowest: int, max_depth: int | None = None
) -> Iterator[tuple[Path, int]]:
    """The pseudo-label folders of a continued run's past, nearest first, each with the last epoch whose
    refresh there is this run's: ``source`` (of the version the run in ``own`` continues from
    ``start_epoch``) up to ``start_epoch``, then its source up to the smaller of that and the source's own
    start, ... while that epoch is at least ``lowest``. Stops at a version not continued from another, at a
    cycle back to a folder already seen, or after ``max_depth`` (default :data:`MAX_DEPTH`) versions (both
    with a warning)."""
    depth = MAX_DEPTH if max_depth is None else max_depth
    seen = {_key(own)}
    folder, last = source, start_epoch
    for _ in range(depth):
        if last < lowest:
            return
        if _key(folder) in seen:
            logger.warning(
                "the -l chain of %s comes back to %s; not followed further",
                version_of(own),
                version_of(folder),
            )
            return
        seen.add(_key(folder))
        yield folder, last
        link = read_source(version_of(folder))
        if link is None:
            return
        folder, last = link[0], min(last, link[1])
    if last >= lowest:
        logger.warning(
            "the -l chain of %s is more than %d versions long; not followed to %s",
            version_of(own),
            depth,
            version_of(folder),
        )
