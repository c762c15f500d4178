"""Read GulpIO2 directories (upstream's EPIC-Kitchens / HMDB gulps) without the gulpio2 package.

A gulp directory holds chunk pairs ``data_<n>.gulp`` (concatenated JPEG frames, each padded to a
multiple of 4 bytes) and ``meta_<n>.gmeta`` (JSON: ``{id: {"frame_info": [[offset, pad, length], ...],
"meta_data": [...]}}``, where ``length`` includes the padding). Only the requested frames are read.
"""

from __future__ import annotations

import json
import os
import re
import threading

from .errors import VideoDecodeError
from .frame_sources import JpegFrameSource
from .pathio import exists, path_manager

_META_RE = re.compile(r"^meta_(\w+)\.gmeta$")


class GulpDirectory:
    """Index of one gulp directory: id -> (data file, frame_info, meta_data)."""

    def __init__(self, root: str):
        self.root = os.fspath(root)
        if not exists(self.root):
            raise FileNotFoundError(f"gulp directory {self.root} does not exist; check data_root")
        self.index: dict[str, tuple[str, list[list[int]], list]] = {}
        metas = sorted(n for n in path_manager.ls(self.root) if _META_RE.match(os.path.basename(n)))
        if not metas:
            raise FileNotFoundError(f"{self.root} holds no meta_*.gmeta files; is it a gulp directory?")
        for name in metas:
            chunk = _META_RE.match(os.path.basename(name)).group(1)
            meta_path = os.path.join(self.root, os.path.basename(name))
            data_path = os.path.join(self.root, f"data_{chunk}.gulp")
            with path_manager.open(meta_path, "r") as f:
                try:
                    meta = json.load(f)
                except ValueError as e:
                    raise VideoDecodeError(meta_path, f"gulp meta file is not valid JSON ({e})") from None
            if not isinstance(meta, dict):
                raise VideoDecodeError(meta_path, "gulp meta file does not hold a {id: entry} object")
            for key, entry in meta.items():
                if not isinstance(entry, dict) or not isinstance(entry.get("frame_info"), list):
                    raise VideoDecodeError(meta_path, f"gulp entry {key!r} has no frame_info list")
                previous = self.index.get(str(key))
                if previous is not None:  # (GulpIO2 asserts ids are unique too): the directory is unusable
                    raise ValueError(
                        f"{meta_path}: gulp id {key!r} is also in {os.path.basename(previous[0])}; ids must "
                        "be unique across chunks (a gulp directory written twice?)"
                    )
                self.index[str(key)] = (data_path, entry["frame_info"], entry.get("meta_data", []))

    def __contains__(self, key: str) -> bool:
        return str(key) in self.index

    def __len__(self) -> int:
        return len(self.index)

    def num_frames(self, key: str) -> int:
        return len(self._entry(key)[1])

    def meta_data(self, key: str) -> list:
        return self._entry(key)[2]

    def _entry(self, key: str):
        try:
            return self.index[str(key)]
        except KeyError:
            raise VideoDecodeError(
                f"{self.root}[{key}]", "id not found in the gulp directory's meta files"
            ) from None

    def read_jpeg_bytes(self, key: str, frame_numbers: list[int]) -> list[bytes]:
        """JPEG bytes of the given frames (repeats allowed), reading only those records."""
        data_path, frame_info, _ = self._entry(key)
        n = len(frame_info)
        out: dict[int, bytes] = {}
        try:
            with path_manager.open(data_path, "rb") as f:
                for i in sorted(set(frame_numbers)):
                    if not 0 <= i < n:
                        raise VideoDecodeError(
                            f"{data_path}[{key}]", f"frame {i} outside the {n} frames in the gulp"
                        )
                    loc, pad, length = frame_info[i]
                    f.seek(loc)
                    record = f.read(length)
                    if len(record) != length:
                        raise VideoDecodeError(data_path, f"truncated gulp data file (frame {i} of {key})")
                    out[i] = record[: length - pad]
        except OSError as e:
            raise VideoDecodeError(
                data_path, f"cannot read gulp data file ({type(e).__name__}: {e})"
            ) from None
        return [out[i] for i in frame_numbers]


_CACHE: dict[str, GulpDirectory] = {}
_LOCK = threading.Lock()


def open_gulp_directory(root: str) -> GulpDirectory:
    """A cached :class:`GulpDirectory` (one per directory; it holds no open file, so forked DataLoader
    workers use the index their parent parsed instead of parsing the meta files again)."""
    key = os.fspath(root)
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = GulpDirectory(root)
        return _CACHE[key]


class GulpSource(JpegFrameSource):
    """One gulp id as a frame source; frame ``i`` is gulp frame ``start + i``."""

    def __init__(self, root: str | None, key: str, start: int = 0, end: int | None = None):
        if root is None:
            raise ValueError("gulp storage needs data_root set to the gulp directory")
        self.gulp = open_gulp_directory(root)
        self.key, self.path = key, f"{root}[{key}]"
        self._init_range(self.gulp.num_frames(key), start, end)

    def _blobs(self, numbers: list[int]) -> list[bytes]:
        return self.gulp.read_jpeg_bytes(self.key, numbers)


def write_gulp_directory(
    root: str, videos: dict[str, list[bytes]], chunk: int = 0, meta: dict | None = None
) -> None:
    """Write JPEG frames in GulpIO2's layout (one chunk); used by tests and small conversions."""
    os.makedirs(root, exist_ok=True)
    index: dict[str, dict] = {}
    with open(os.path.join(root, f"data_{chunk}.gulp"), "wb") as f:
        for key, frames in videos.items():
            info = []
            for jpeg in frames:
                pad = (4 - len(jpeg) % 4) % 4
                info.append([f.tell(), pad, len(jpeg) + pad])
                f.write(jpeg + b"\0" * pad)
            index[str(key)] = {"frame_info": info, "meta_data": [dict((meta or {}).get(key, {}))]}
    with open(os.path.join(root, f"meta_{chunk}.gmeta"), "w") as f:
        json.dump(index, f)
