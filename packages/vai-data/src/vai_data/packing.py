"""Convert videos or JPEG frame folders of a split file into the packed frame store (.vpk files or LMDB).

The output is a store plus a 5-column split file (``<key> video_id label start end``) in the store's
root; train on it with ``VideoClipDataset(new_split, store_root, ...)`` (storage is detected). A row whose
video or frames cannot be read is skipped with a WARNING and left out of the new split file, so training on
it never meets a missing entry.

Keys: a row holding a whole video (or frame folder) is stored under the video's path without extension
(the frame folder's path); a row holding part of one (a segment, as EPIC rows are) under
``<path>__<first>-<last>`` (stored frame numbers). Each entry is tagged with what it holds (the CRC32 of
the row's path and frame range, or "all": the ``.vpk`` header tag, LMDB key ``<key>/tag``), so splits
packed into one store in separate runs never overwrite each other's frames: a key already holding another
segment (or an untagged entry from an older vai) is left alone and the row goes to ``<key>__<tag:08x>``.
Packing the same split again writes the same keys.
"""

from __future__ import annotations

import contextlib
import logging
import numbers
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from .arguments import check_short_side_limit
from .datasets.flow import check_flow_mode
from .decode import _video_stream
from .decode_pyav import SEEK_MIN_FRAMES, _SeekFailed, _walk_frames, pts_count_frames
from .errors import VideoDecodeError
from .frame_sources import _unreadable_cause, format_frame_path, resize_short_side_thwc
from .jpeg import check_jpeg_quality, decode_jpeg, encode_jpeg
from .pack_stores import LMDB_DIRNAME, _FileStore, _LmdbStore, _missing_folders, _remove_created
from .packed import _lmdb_module
from .pathio import check_folder_target, exists, is_native, join, local_path, read_bytes
from .split_file import SplitFile, SplitRow, read_split_file, write_split_file
from .video_stream import FrameConverter

logger = logging.getLogger(__name__)

STORES = ("file", "lmdb")


def video_to_jpegs(
    path: str | os.PathLike,
    start: int = 0,
    end: int | None = None,
    short_side: int | None = None,
    quality: int = 90,
) -> list[bytes]:
    """Decode frames ``start..end`` (inclusive; to the real end when None) of a video to JPEG bytes,
    resized (:func:`vai_data.video_stream.resize_frames`) when ``short_side`` is given."""
    return _decode_video(os.fspath(path), start, end, short_side, quality)[0]


def _decode_video(
    path: str, start: int, end: int | None, short_side: int | None, quality: int
) -> tuple[list[bytes], bool]:
    """:func:`video_to_jpegs`, and whether the video has no frame after the last one returned. A segment
    ``SEEK_MIN_FRAMES`` or more frames in is reached by seeking to the keyframe before it where timestamps
    count frames (so packing the segments of long videos, as EPIC's, is not quadratic); elsewhere every frame
    is decoded from the start and counted."""
    import av

    try:
        with av.open(local_path(path)) as container:
            stream = _video_stream(container, path)
            stream.thread_type = "AUTO"
            if start >= SEEK_MIN_FRAMES and pts_count_frames(container, stream):
                try:
                    return _encode_frames(container, stream, path, start, end, short_side, quality, start)
                except _SeekFailed:
                    container.seek(0)
            return _encode_frames(container, stream, path, start, end, short_side, quality, 0)
    except (av.error.FFmpegError, IndexError, ValueError, OSError) as e:
        raise VideoDecodeError(path, f"{type(e).__name__}: {e}") from None


def _encode_frames(container, stream, path, start, end, short_side, quality, seek_frame):
    """JPEG bytes of frames ``start..end`` (see :func:`_decode_video`); a damaged packet fails the row
    (counting on past it would shift every later frame)."""
    out: list[bytes] = []
    errors: list[str] = []
    at_end, convert = True, FrameConverter(short_side)
    for i, frame in _walk_frames(container, stream, seek_frame, start, errors):
        if errors:
            break
        if end is not None and i > end:
            at_end = False
            break
        if i < start:
            continue
        out.append(encode_jpeg(convert(frame), quality))
    if errors:
        raise VideoDecodeError(path, errors[0])
    if seek_frame and not out:
        raise _SeekFailed()  # e.g. MPEG-TS sought past its end: decode from the start instead
    if not out:
        raise VideoDecodeError(path, f"no frames in range {start}..{end}")
    return out, at_end


def frames_to_jpegs(
    pattern: str | os.PathLike, start: int, end: int, short_side: int | None = None, quality: int = 90
) -> list[bytes]:
    """Read a JPEG frame folder's files ``start..end``; re-encode only when resizing."""
    pattern = os.fspath(pattern)  # (a pathlib.Path)
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
                raise VideoDecodeError(fp, _unreadable_cause(data, e)) from None
            data = encode_jpeg(np.asarray(resize_short_side_thwc(img, short_side)[0]), quality)
        out.append(data)
    return out


@dataclass
class _Segment:
    """The frames one row packs: JPEG bytes of stored frames ``first..`` of its source, and whether they
    are all of the source's frames."""

    jpegs: list[bytes]
    first: int
    whole: bool

    @property
    def last(self) -> int:
        return self.first + len(self.jpegs) - 1


def _stored_range(row: SplitRow, grey: bool) -> tuple[int, int | None]:
    """The source frames a row covers; for 'grey' flow (start/end count flow frames, each stored as two
    interleaved u/v images) the images ``2 * start .. 2 * end + 1``."""
    start = row.start or 0
    if not grey:
        return start, row.end
    if row.end is None:
        raise ValueError(f"{row.path}: 'grey' flow needs the split's start/end frame numbers")
    return 2 * start, 2 * row.end + 1


def _whole_folder(pattern: str, first: int, last: int) -> bool:
    """True when a frame folder holds no frame before ``first`` and none after ``last``."""
    before = first > 0 and exists(format_frame_path(pattern, first - 1))
    return not before and not exists(format_frame_path(pattern, last + 1))


def _read_segment(
    fmt: str, src: str, row: SplitRow, short_side: int | None, quality: int, grey: bool
) -> _Segment:
    """Read (and, for videos or a short side, encode) the frames ``row`` packs from source ``src``."""
    first, last = _stored_range(row, grey)
    if fmt == "video":
        jpegs, at_end = _decode_video(src, first, last, short_side, quality)
        return _Segment(jpegs, first, first == 0 and at_end)
    jpegs = frames_to_jpegs(src, first, last, short_side, quality)
    return _Segment(jpegs, first, _whole_folder(src, first, first + len(jpegs) - 1))


def _base_key(row: SplitRow, fmt: str) -> str:
    """A row's source as a key: the frame folder, or the video's path without its extension."""
    base = os.path.dirname(row.path) if fmt == "frames" else os.path.splitext(row.path)[0]
    return base.replace("\\", "/").strip("/") or str(row.video_id)


def _segment_tag(row: SplitRow, seg: _Segment) -> int:
    """Nonzero ``uint32`` naming what a row packs: its source path and stored frame range, or "all" for a
    whole source (so a re-packed source that grew or shrank keeps its key)."""
    span = "all" if seg.whole else f"{seg.first}-{seg.last}"
    return zlib.crc32(f"{row.path}\n{span}".encode()) or 1


def _free_key(base: str, seg: _Segment, tag: int, stored_tag: Callable[[str], int | None]) -> str:
    """The key for a segment: ``base`` (whole source) or ``base__first-last``, unless that key holds
    another segment (or an untagged older entry); then ``<key>__<tag:08x>``."""
    key = base if seg.whole else f"{base}__{seg.first}-{seg.last}"
    for candidate in (key, f"{key}__{tag:08x}"):
        if stored_tag(candidate) in (None, tag):
            return candidate
    raise ValueError(f"store keys {key!r} and {candidate!r} already hold other frames; pack into a new --out")


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
    check_short_side_limit("short_side", short_side)
    check_jpeg_quality(quality)


def _check_flow(flow: str | None, sf: SplitFile) -> bool:
    """Whether a split is packed as 'grey' flow; ``ValueError`` for flow that cannot be packed."""
    mode = check_flow_mode(flow)
    if mode == "RR":
        raise ValueError(
            "flow='RR' keeps u and v in two folders per row and the packed store holds one image sequence "
            "per row: pack 'grey' (interleaved u/v images) or 'RG' flow"
        )
    if mode == "grey" and sf.fmt != "frames":
        raise ValueError(f"{sf.path}: flow='grey' packs interleaved u/v frame folders, not a {sf.fmt} split")
    return mode == "grey"


def check_packed_split_path(split_path: str | None, out_root: str, what: str = "out_root") -> str:
    """The packed split's path for input split ``split_path`` in ``out_root`` (``out_root/splits/<name>``),
    after refusing one that is the input split itself, in one line naming the output folder as ``what``
    (``vai-data pack`` says ``--out``)."""
    out_root = os.fspath(out_root)
    path = os.path.join(out_root, "splits", os.path.basename(split_path or "split.csv"))
    same = split_path and is_native(split_path) and os.path.exists(split_path) and os.path.exists(path)
    if same and os.path.samefile(split_path, path):
        raise ValueError(
            f"packing into {out_root} would overwrite the input split {split_path} with the packed one: "
            f"choose another {what} (e.g. a folder beside the data)"
        )
    return path


def _pack_rows(rows, fmt: str, data_root, short_side, quality, grey: bool, writer, report, rows_out) -> None:
    """Pack ``rows`` (a split's rows, or tqdm over them) of a ``fmt`` split into ``writer``: each packed row's
    new split row goes to ``rows_out``; a row that cannot be read is logged, added to ``report.skipped``
    and left out."""
    for row in rows:
        try:
            seg = _read_segment(fmt, join(data_root, row.path), row, short_side, quality, grey)
            tag = _segment_tag(row, seg)
            key = _free_key(_base_key(row, fmt), seg, tag, writer.tag)
        except (VideoDecodeError, ValueError) as e:  # (ValueError: a frame pattern that cannot be filled)
            report.skipped.append((row.path, str(e)))
            logger.warning("skipped %s (video_id %d): %s", row.path, row.video_id, e)
            continue
        key = writer.put(key, seg.jpegs, tag)
        count = len(seg.jpegs) // 2 if grey else len(seg.jpegs)  # (grey: two images per flow frame)
        rows_out.append(SplitRow(key, row.video_id, row.label, 0, count - 1))
        report.frames += len(seg.jpegs)


def pack_split(
    split: str | os.PathLike | SplitFile,
    data_root: str | None,
    out_root: str | os.PathLike,
    store: str = "file",
    short_side: int | None = None,
    quality: int = 90,
    progress: bool = False,
    flow: str | None = None,
) -> str:
    """Pack every row of a video or frames split into ``out_root``; returns the new split file's path.

    ``flow='grey'`` packs a 'grey' optical-flow frames split (start/end count flow frames; the images
    ``2 * start .. 2 * end + 1`` are stored); read it with ``VideoClipDataset(..., flow="grey")``.
    A row whose video or frames cannot be read is skipped with one WARNING and left out of the new split
    (see :func:`pack_split_report` for the list)."""
    return pack_split_report(
        split, data_root, out_root, store, short_side, quality, progress, flow
    ).split_path


def pack_split_report(
    split: str | os.PathLike | SplitFile,
    data_root: str | None,
    out_root: str | os.PathLike,
    store: str = "file",
    short_side: int | None = None,
    quality: int = 90,
    progress: bool = False,
    flow: str | None = None,
) -> PackReport:
    """:func:`pack_split`, returning a :class:`PackReport`. Options and the split file are checked before
    anything is written (``ValueError``, ``FileNotFoundError``, ``SplitFormatError``; an ``out_root``
    that is a file: ``NotADirectoryError``); a row that cannot be read is skipped, and when every row
    fails no split file is written, the folders this call created are removed again and ``ValueError``
    says why."""
    _check_options(store, short_side, quality)
    sf = split if isinstance(split, SplitFile) else read_split_file(split)
    if sf.fmt not in ("video", "frames"):
        raise ValueError(f"{sf.path}: only video and frames splits can be packed (got {sf.fmt})")
    grey = _check_flow(flow, sf)
    out_root = os.fspath(out_root)
    if not is_native(out_root):
        raise ValueError(
            f"out_root {out_root} is served by an iopath handler: the packed store is written to a local "
            "folder; pack there and copy the folder to its destination"
        )
    report = PackReport(check_packed_split_path(sf.path, out_root))
    lmdb = _lmdb_module() if store == "lmdb" else None  # (before anything is written)
    check_folder_target(out_root, "out_root")
    created = _missing_folders(out_root)  # removed again when no row can be packed
    os.makedirs(out_root, exist_ok=True)
    lmdb_root = os.path.join(out_root, LMDB_DIRNAME)
    if lmdb and not os.path.lexists(lmdb_root):
        created.insert(0, lmdb_root)
    try:
        writer = _LmdbStore(lmdb, lmdb_root) if lmdb else _FileStore(out_root)
    except BaseException:
        _remove_created(created)
        raise
    rows_out = []
    rows = sf.rows
    # a row's WARNING goes through tqdm.write while the bar shows, on a line of its own (not after the bar)
    redirect: contextlib.AbstractContextManager = contextlib.nullcontext()
    if progress:
        from tqdm import tqdm
        from tqdm.contrib.logging import logging_redirect_tqdm

        rows, redirect = tqdm(rows, desc="pack", unit="video"), logging_redirect_tqdm()
    ok = False
    try:
        with redirect:
            _pack_rows(rows, sf.fmt, data_root, short_side, quality, grey, writer, report, rows_out)
        ok = True
    finally:
        writer.close(ok)
        if not rows_out and (report.skipped or not ok):  # nothing packed: leave no empty store behind
            _remove_created(created)
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
