"""The storages a ``VideoClipDataset`` reads, and the frame source of one split row under each.

``video`` (mp4/webm/... through decord, PyAV or torchcodec), ``frames`` (JPEG frame folders),
``gulp`` (GulpIO2 directories), ``packed`` (``.vpk`` files) and ``lmdb`` (the packed LMDB store);
``auto`` picks one from the split file (:func:`detect_storage`).
"""

from __future__ import annotations

import os

from .. import decode
from ..frame_sources import FrameFolderSource, VideoFileSource
from ..pack_stores import LMDB_DIRNAME  # where `vai-data pack --store lmdb` puts the LMDB
from ..packed import PACKED_SUFFIX, open_packed_source
from ..pathio import is_native, join
from ..shared_verdicts import SharedVerdicts
from ..split_file import SplitFile, SplitRow

STORAGES = ("auto", "video", "frames", "gulp", "packed", "lmdb")


def _is_lmdb(folder: str | None) -> bool:
    """``folder`` is an LMDB environment (it holds ``data.mdb``) on a local disk."""
    return folder is not None and is_native(folder) and os.path.isfile(os.path.join(folder, "data.mdb"))


def detect_storage(split: SplitFile, data_root: str | None) -> str:
    """Storage for ``storage='auto'``: the split format, except 5-column keyed rows, which are packed
    ``.vpk`` files, an LMDB (``data_root`` holds ``data.mdb``) or a gulp directory."""
    if split.fmt != "gulp":
        return split.fmt
    if split.rows and split.rows[0].path.endswith(PACKED_SUFFIX):
        return "packed"
    if _is_lmdb(data_root):
        return "lmdb"
    return "gulp"


def _holds_lmdb(data_root: str | None) -> bool:
    """``data_root`` is (or holds, as ``frames.lmdb``) an LMDB environment on a local disk."""
    return data_root is not None and (_is_lmdb(data_root) or _is_lmdb(os.path.join(data_root, LMDB_DIRNAME)))


def _lmdb_inside(data_root: str | None) -> str | None:
    """The LMDB ``data_root/frames.lmdb`` (where ``vai-data pack --store lmdb`` writes it) when ``data_root``
    is that pack's folder rather than the LMDB itself (and no gulp directory either), else None."""
    if data_root is None or _is_lmdb(data_root):
        return None
    inner = os.path.join(data_root, LMDB_DIRNAME)
    if not _is_lmdb(inner):
        return None
    from ..gulp import _META_RE  # (a gulp directory's meta files)

    if any(_META_RE.match(n) for n in os.listdir(data_root)):
        return None
    return inner


def check_storage_fits(storage: str, split: SplitFile, data_root: str | None) -> None:
    """One line when a forced ``packed``/``lmdb`` storage cannot read the split's rows, which would
    otherwise fail sample by sample as unreadable (e.g. ``$VAI_<NAME>_STORAGE=packed`` on an LMDB pack), or
    when keyed rows are read (as LMDB keys or a gulp's, what ``auto`` picks there) from a pack's folder
    whose LMDB is in ``frames.lmdb`` (``data_root`` must be the LMDB itself; it is not changed silently)."""
    if not split.rows:
        return
    if storage in ("lmdb", "gulp"):
        inner = _lmdb_inside(data_root)
        if inner is not None:
            raise ValueError(f"{data_root} holds an LMDB in {LMDB_DIRNAME}: pass data_root={inner}")
    if storage not in ("packed", "lmdb"):
        return
    first = os.fspath(split.rows[0].path)
    where = f"the rows of {split.path}" if split.path else "the split's rows"
    if storage == "packed" and not first.endswith(PACKED_SUFFIX):
        fix = (
            "an LMDB is there: use storage 'lmdb' (or 'auto')"
            if _holds_lmdb(data_root)
            else "use the storage they were written for ('auto' picks it)"
        )
        raise ValueError(f"storage 'packed' reads {PACKED_SUFFIX} files, but {where} name {first!r}: {fix}")
    if storage == "lmdb" and first.endswith(PACKED_SUFFIX):
        raise ValueError(
            f"storage 'lmdb' reads LMDB keys, but {where} name {PACKED_SUFFIX} files ({first!r}): use storage"
            " 'packed' (or 'auto')"
        )


def prepare_video_reading(storage: str, backend: str, num_rows: int) -> SharedVerdicts | None:
    """What a dataset of ``num_rows`` rows under ``storage`` needs before reading videos with ``backend``:
    torchcodec is checked now (one ImportError line, not at the first sample), and decord/torchcodec get
    a seek-probe table shared by the DataLoader workers (vai's PyAV decoder needs no probe). None for
    storages that hold no video files."""
    if storage != "video":
        return None
    if backend == "torchcodec":
        decode._torchcodec_decoder()
    return None if backend == "pyav" else SharedVerdicts(num_rows)


def make_frame_source(
    storage: str,
    data_root: str | None,
    row: SplitRow,
    backend: str = "decord",
    flow_direction: str | None = None,
    verdicts=None,
):
    """The frame source of split row ``row`` under ``storage`` (not ``auto``): ``backend`` decodes videos,
    ``flow_direction`` fills a frame pattern's ``{flow_direction}``, ``verdicts`` (a
    :class:`~vai_data.shared_verdicts.SharedVerdicts`) keeps video files' seek-probe verdicts for every
    DataLoader worker."""
    if storage in ("packed", "lmdb"):
        return open_packed_source(data_root, row.path, row.start or 0, row.end, storage)
    if storage == "video":
        hint = (row.width, row.height) if row.width and row.height else None
        return VideoFileSource(join(data_root, row.path), row.start or 0, row.end, backend, hint, verdicts)
    if storage == "frames":
        return FrameFolderSource(join(data_root, row.path), row.start or 0, row.end, flow_direction)
    if storage == "gulp":
        from ..gulp import GulpSource

        return GulpSource(data_root, row.path, row.start or 0, row.end)
    raise ValueError(f"storage {storage!r} does not hold video rows")
