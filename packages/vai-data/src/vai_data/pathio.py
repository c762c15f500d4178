"""All file access goes through one iopath ``PathManager`` so users can register handlers (S3, HTTP, ...).

Register a handler with ``vai_data.path_manager.register_handler(MyHandler())``; every reader in
vai_data (split files, videos, JPEG folders, packed stores) then accepts that handler's prefix.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable

from iopath.common.file_io import PathManager

path_manager = PathManager()
_POSIX = os.name == "posix"


def get_path_manager() -> PathManager:
    """The PathManager every vai_data reader uses."""
    return path_manager


_prefixes: tuple[int, tuple[str, ...]] = (-1, ())


def _handler_prefixes() -> tuple[str, ...]:
    """The prefixes of the handlers registered on ``path_manager`` (cached until one more registers)."""
    global _prefixes
    handlers = getattr(path_manager, "_path_handlers", None)  # iopath's prefix -> handler map
    if handlers is None:
        return ()
    if _prefixes[0] != len(handlers):
        _prefixes = (len(handlers), tuple(handlers))
    return _prefixes[1]


def is_native(path: str) -> bool:
    """True when ``path`` is a plain local path: no ``scheme://`` and no registered handler's prefix (a
    handler may claim any prefix, 'mem:' or 'data/' as well as 's3://'). vai's fast paths (``open``,
    ``os.pread``) serve native paths only; every other path goes through the PathManager. Any
    ``os.PathLike`` (a ``pathlib.Path``) is taken as its string."""
    if type(path) is not str:
        path = os.fspath(path)
    return "://" not in path and not path.startswith(_handler_prefixes())


def join(root: str | os.PathLike | None, rel: str) -> str:
    """Join a data root and a relative path; works for URL-like roots ('s3://bucket') too."""
    if _POSIX and type(root) is str and type(rel) is str and root and rel[:1] != "/":
        if "://" not in root and "://" not in rel:
            # the usual case, once per sample: a native root and a relative path (os.path.join's result
            # without its half-dozen Python calls)
            return root + rel if root[-1] == "/" else root + "/" + rel
    rel = os.fspath(rel)
    if root is None or root == "" or os.path.isabs(rel) or "://" in rel:
        return rel
    root = os.fspath(root)
    if "://" in root:
        return root.rstrip("/") + "/" + rel.lstrip("/")
    return os.path.join(root, rel)


def read_bytes(path: str | os.PathLike) -> bytes:
    """Read a whole file through the PathManager; native paths (no ``scheme://``) directly, as iopath's
    native handler would, without its per-call overhead (about 15 us a file: 8-frame clips read 8 files)."""
    if type(path) is not str:
        path = os.fspath(path)
    if is_native(path):
        with open(path, "rb") as f:
            return f.read()
    with path_manager.open(path, "rb") as f:
        return f.read()


def exists(path: str | os.PathLike) -> bool:
    """True when the path exists for its handler."""
    return path_manager.exists(os.fspath(path))


def local_path(path: str | os.PathLike) -> str:
    """A local filename for ``path`` (handlers may download/cache); native paths are returned unchanged."""
    path = os.fspath(path)
    if is_native(path):
        return path
    return path_manager.get_local_path(path)


def _file_ancestor(path: str) -> str | None:
    """The nearest existing ancestor folder of ``path`` that is not a folder (a file where a folder is
    needed), or None."""
    parent = os.path.dirname(os.path.abspath(path))
    while parent and not os.path.lexists(parent):
        up = os.path.dirname(parent)
        if up == parent:
            return None
        parent = up
    return parent if parent and not os.path.isdir(parent) else None


def check_folder_target(path: str | os.PathLike, what: str = "output folder") -> None:
    """Raise a one-line ``NotADirectoryError`` when the local folder ``path`` cannot be created or used:
    it is a file, or one of its parents is (called before writing, or to explain a failed ``makedirs``)."""
    path = os.fspath(path)
    if os.path.lexists(path) and not os.path.isdir(path):
        raise NotADirectoryError(f"{what} {path} is a file, not a folder; give a folder path")
    blocker = _file_ancestor(path)
    if blocker is not None:
        raise NotADirectoryError(f"{what} {path}: its parent {blocker} is not a folder")


def write_local_atomic(path: str, parts: Iterable[bytes], prefix: str = ".tmp-", what: str = "file") -> None:
    """Write ``parts`` to the local file ``path`` atomically: into a new file beside it, renamed over
    ``path`` when complete (parent folders are created; on any error the temporary file is removed).
    The file gets the permissions of a plain ``open`` (0666 less the umask), not ``mkstemp``'s 0600, so
    stores and split files shared by a group stay readable. A ``path`` that is a folder, or whose parent is
    a file, raises one line naming ``path`` as ``what`` (``IsADirectoryError``, ``NotADirectoryError``)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write {what} {path}: it is a folder; give a file path")
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = _file_ancestor(path)
        if blocker is not None:
            raise NotADirectoryError(
                f"cannot write {what} {path}: its parent {blocker} is not a folder"
            ) from None
        raise
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(parent, f"{prefix}{os.getpid()}-{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"cannot create a temporary file in {parent}")
    try:
        with os.fdopen(fd, "wb") as f:
            for part in parts:
                f.write(part)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
