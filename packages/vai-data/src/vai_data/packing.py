"""Convert videos or JPEG frame folders of a split file into the packed frame store (.vpk files or LMDB).

The output is a store plus a 5-column split file (``<key> video_id label start end``) in the store's
root; train on it with ``VideoClipDataset(new_split, store_root, ...)`` (storage is detected). A row whose
video or frames cannot be read is skipped with a WARNING and left out of the new split file, so training on
it never meets a missing entry.
"""

from __future__ import annotations

import logging
import numbers
import os
from dataclasses import dataclass, field

import numpy as np
import torch

from .decode import output_size
from .errors import VideoDecodeError
from .frame_sources import format_frame_path, resize_short_side_thwc
from .jpeg import check_jpeg_quality, decode_jpeg, encode_jpeg
from .packed import PACKED_SUFFIX, _lmdb_module, write_packed
from .pathio import join, local_path, read_bytes
from .split_file import SplitFile, SplitRow, read_split_file, write_split_file

logger = logging.getLogger(__name__)

STORES = ("file", "lmdb")
LMDB_DIRNAME = "frames.lmdb"


def video_to_jpegs(
    path: str, start: int = 0, end: int | None = None, short_side: int | None = None, quality: int = 90
) -> list[bytes]:
    """Decode frames ``start..end`` (inclusive; to the real end when None) of a video to JPEG bytes,
    scaling inside the decoder when ``short_side`` is given."""
    import av

    out: list[bytes] = []
    try:
        with av.open(local_path(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            size = None
            for i, frame in enumerate(container.decode(stream)):
                if end is not None and i > end:
                    break
                if i < start:
                    continue
                if size is None:
                    size = output_size(frame.width, frame.height, short_side)
                out.append(
                    encode_jpeg(frame.to_ndarray(format="rgb24", width=size[0], height=size[1]), quality)
                )
    except (av.error.FFmpegError, IndexError, ValueError, OSError) as e:
        raise VideoDecodeError(path, f"cannot decode for packing ({type(e).__name__}: {e})") from None
    if not out:
        raise VideoDecodeError(path, f"no frames in range {start}..{end}")
    return out


def frames_to_jpegs(
    pattern: str, start: int, end: int, short_side: int | None = None, quality: int = 90
) -> list[bytes]:
    """Read a JPEG frame folder's files ``start..end``; re-encode only when resizing."""
    out = []
    for n in range(start, end + 1):
        fp = format_frame_path(pattern, n)
        try:
            data = read_bytes(fp)
        except OSError as e:
            raise VideoDecodeError(fp, f"cannot read frame ({type(e).__name__})") from None
        if not data:
            raise VideoDecodeError(fp, "frame file is empty (0 bytes)")
        if short_side is not None:
            try:
                img = torch.from_numpy(decode_jpeg(data, short_side))[None]
            except Exception as e:  # Pillow and simplejpeg raise several types for bad data
                raise VideoDecodeError(fp, f"not a readable JPEG ({type(e).__name__}: {e})") from None
            data = encode_jpeg(np.asarray(resize_short_side_thwc(img, short_side)[0]), quality)
        out.append(data)
    return out


def _row_key(row: SplitRow, fmt: str, used: set[str]) -> str:
    base = os.path.dirname(row.path) if fmt == "frames" else os.path.splitext(row.path)[0]
    base = base.replace("\\", "/").strip("/") or str(row.video_id)
    key = base if base not in used else f"{base}__{row.start}-{row.end}"
    used.add(key)
    return key


@dataclass
class PackReport:
    """What :func:`pack_split_report` did: the new split file (listing only the packed rows), how many
    rows and frames were packed, and the skipped rows as ``(row path, reason)``."""

    split_path: str
    packed: int = 0
    frames: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line: counts of packed and skipped rows."""
        return f"packed {self.packed} videos ({self.frames} frames), skipped {len(self.skipped)}"


def _check_options(store: str, short_side: int | None, quality: int) -> None:
    if store not in STORES:
        raise ValueError(f"store={store!r}; choose one of {list(STORES)}")
    if short_side is not None and (
        isinstance(short_side, bool) or not isinstance(short_side, numbers.Integral) or short_side <= 0
    ):
        raise ValueError(
            f"short_side must be a positive number of pixels (None keeps the size), got {short_side!r}"
        )
    check_jpeg_quality(quality)


def _row_jpegs(fmt: str, src: str, row: SplitRow, short_side: int | None, quality: int) -> list[bytes]:
    if fmt == "video":
        return video_to_jpegs(src, row.start or 0, row.end, short_side, quality)
    return frames_to_jpegs(src, row.start or 0, row.end, short_side, quality)


def pack_split(
    split: str | os.PathLike | SplitFile,
    data_root: str | None,
    out_root: str | os.PathLike,
    store: str = "file",
    short_side: int | None = None,
    quality: int = 90,
    progress: bool = False,
) -> str:
    """Pack every row of a video or frames split into ``out_root``; returns the new split file's path.

    A row whose video or frames cannot be read is skipped with one WARNING and left out of the new split
    (see :func:`pack_split_report` for the list)."""
    return pack_split_report(split, data_root, out_root, store, short_side, quality, progress).split_path


def pack_split_report(
    split: str | os.PathLike | SplitFile,
    data_root: str | None,
    out_root: str | os.PathLike,
    store: str = "file",
    short_side: int | None = None,
    quality: int = 90,
    progress: bool = False,
) -> PackReport:
    """:func:`pack_split`, returning a :class:`PackReport`. Options and the split file are checked before
    anything is written (``ValueError``, ``FileNotFoundError``, ``SplitFormatError``); a row that cannot
    be read is skipped, and when every row fails no split file is written and ``ValueError`` says why."""
    _check_options(store, short_side, quality)
    sf = split if isinstance(split, SplitFile) else read_split_file(split)
    if sf.fmt not in ("video", "frames"):
        raise ValueError(f"{sf.path}: only video and frames splits can be packed (got {sf.fmt})")
    out_root = os.fspath(out_root)
    name = os.path.basename(sf.path or "split.csv")
    report = PackReport(os.path.join(out_root, "splits", name))
    lmdb = _lmdb_module() if store == "lmdb" else None  # (before anything is written)
    os.makedirs(out_root, exist_ok=True)
    env = txn = None
    if lmdb is not None:
        env = lmdb.open(os.path.join(out_root, LMDB_DIRNAME), map_size=1 << 40, subdir=True)
        txn = env.begin(write=True)
    used: set[str] = set()
    rows_out = []
    rows = sf.rows
    if progress:
        from tqdm import tqdm

        rows = tqdm(rows, desc="pack", unit="video")
    try:
        for row in rows:
            try:
                jpegs = _row_jpegs(sf.fmt, join(data_root, row.path), row, short_side, quality)
            except (VideoDecodeError, ValueError) as e:  # (ValueError: a frame pattern that cannot be filled)
                report.skipped.append((row.path, str(e)))
                logger.warning("skipped %s (video_id %d): %s", row.path, row.video_id, e)
                continue
            key = _row_key(row, sf.fmt, used)
            if store == "file":
                key += PACKED_SUFFIX
                write_packed(os.path.join(out_root, key), jpegs)
            else:
                txn.put(f"{key}/n".encode(), str(len(jpegs)).encode())
                for j, blob in enumerate(jpegs):
                    txn.put(f"{key}/{j:06d}".encode(), blob)
                if len(rows_out) % 64 == 63:
                    txn.commit()
                    txn = env.begin(write=True)
            rows_out.append(SplitRow(key, row.video_id, row.label, 0, len(jpegs) - 1))
            report.frames += len(jpegs)
        if txn is not None:
            txn.commit()
            txn = None
    finally:
        if txn is not None:
            txn.abort()
        if env is not None:
            env.close()
    if report.skipped and not rows_out:
        path, reason = report.skipped[0]
        raise ValueError(
            f"{sf.path}: none of its {len(report.skipped)} rows could be packed (first: {path}: {reason}); "
            "check the data root and the split's paths"
        )
    write_split_file(report.split_path, rows_out, "gulp", num_classes=sf.num_classes)
    report.packed = len(rows_out)
    logger.info(
        "wrote %s (%d rows) for the %s store in %s", report.split_path, len(rows_out), store, out_root
    )
    return report
