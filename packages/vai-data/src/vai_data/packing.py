"""Convert videos or JPEG frame folders of a split file into the packed frame store (.vpk files or LMDB).

The output is a store plus a 5-column split file (``<key> video_id label start end``) in the store's
root; train on it with ``VideoClipDataset(new_split, store_root, ...)`` (storage is detected).
"""

from __future__ import annotations

import logging
import os

import numpy as np
import torch

from .decode import output_size
from .errors import VideoDecodeError
from .frame_sources import format_frame_path, resize_short_side_thwc
from .jpeg import decode_jpeg, encode_jpeg
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
        if short_side is not None:
            img = torch.from_numpy(decode_jpeg(data, short_side))[None]
            data = encode_jpeg(np.asarray(resize_short_side_thwc(img, short_side)[0]), quality)
        out.append(data)
    return out


def _row_key(row: SplitRow, fmt: str, used: set[str]) -> str:
    base = os.path.dirname(row.path) if fmt == "frames" else os.path.splitext(row.path)[0]
    base = base.replace("\\", "/").strip("/") or str(row.video_id)
    key = base if base not in used else f"{base}__{row.start}-{row.end}"
    used.add(key)
    return key


def pack_split(
    split: str | os.PathLike | SplitFile,
    data_root: str | None,
    out_root: str | os.PathLike,
    store: str = "file",
    short_side: int | None = None,
    quality: int = 90,
    progress: bool = False,
) -> str:
    """Pack every row of a video or frames split into ``out_root``; returns the new split file's path."""
    if store not in STORES:
        raise ValueError(f"store={store!r}; choose one of {list(STORES)}")
    sf = split if isinstance(split, SplitFile) else read_split_file(split)
    if sf.fmt not in ("video", "frames"):
        raise ValueError(f"{sf.path}: only video and frames splits can be packed (got {sf.fmt})")
    out_root = os.fspath(out_root)
    os.makedirs(out_root, exist_ok=True)
    env = txn = None
    if store == "lmdb":
        lmdb = _lmdb_module()
        env = lmdb.open(os.path.join(out_root, LMDB_DIRNAME), map_size=1 << 40, subdir=True)
        txn = env.begin(write=True)
    used: set[str] = set()
    rows_out = []
    rows = sf.rows
    if progress:
        from tqdm import tqdm

        rows = tqdm(rows, desc="pack", unit="video")
    try:
        for i, row in enumerate(rows):
            src = join(data_root, row.path)
            if sf.fmt == "video":
                jpegs = video_to_jpegs(src, row.start or 0, row.end, short_side, quality)
            else:
                jpegs = frames_to_jpegs(src, row.start or 0, row.end, short_side, quality)
            key = _row_key(row, sf.fmt, used)
            if store == "file":
                key += PACKED_SUFFIX
                write_packed(os.path.join(out_root, key), jpegs)
            else:
                txn.put(f"{key}/n".encode(), str(len(jpegs)).encode())
                for j, blob in enumerate(jpegs):
                    txn.put(f"{key}/{j:06d}".encode(), blob)
                if i % 64 == 63:
                    txn.commit()
                    txn = env.begin(write=True)
            rows_out.append(SplitRow(key, row.video_id, row.label, 0, len(jpegs) - 1))
        if txn is not None:
            txn.commit()
            txn = None
    finally:
        if txn is not None:
            txn.abort()
        if env is not None:
            env.close()
    name = os.path.basename(sf.path or "split.csv")
    new_split = os.path.join(out_root, "splits", name)
    write_split_file(new_split, rows_out, "gulp", num_classes=sf.num_classes)
    logger.info("packed %d videos into %s (%s store)", len(rows_out), out_root, store)
    return new_split
