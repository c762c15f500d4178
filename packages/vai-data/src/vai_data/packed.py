"""The packed frame store: all JPEG frames of one video in one file (``.vpk``) or in an LMDB.

``.vpk`` layout (little-endian): magic ``b"VAIPK001"``, ``uint32`` frame count, ``uint32`` tag (which
segment of which source the packer stored, see :mod:`vai_data.packing`; 0 when unknown; readers ignore it),
``uint64`` offsets[count + 1] (absolute; frame i is bytes ``offsets[i]:offsets[i+1]``), then the JPEGs.
A reader reads the small index, then just the frames it samples (``os.pread`` on local files).
LMDB layout (optional ``lmdb`` extra): key ``<video key>/n`` holds the frame count as ASCII, key
``<video key>/<i:06d>`` frame i's JPEG bytes, key ``<video key>/tag`` the packer's tag as ASCII (absent in
stores written before tags).
"""

from __future__ import annotations

import numbers
import operator
import os
import struct
from collections.abc import Sequence

import numpy as np

from .errors import VideoDecodeError
from .frame_sources import JpegFrameSource
from .pathio import is_native, join, path_manager, write_local_atomic
from .split_file import PACKED_SUFFIX  # noqa: F401 (defined with the split formats; public here too)

MAGIC = b"VAIPK001"
_HEADER = struct.Struct("<8sII")
_SPAN = struct.Struct("<QQ")  # offsets[i], offsets[i + 1]


def _jpeg_buffer(path: str, i: int, frame) -> memoryview:
    """Frame ``i``'s encoded bytes as a flat byte view: bytes, bytearray, or a 1-D (or ``(N, 1)``, as
    ``cv2.imencode`` returns) uint8 buffer such as ``np.frombuffer`` or ``torchvision.io.encode_jpeg`` give;
    a decoded image (2-D or more, or not uint8) or anything without a buffer is refused in one line."""
    given, shape = frame, getattr(frame, "shape", None)
    if hasattr(frame, "numpy") and hasattr(frame, "detach"):  # a torch tensor: its bytes on the host
        frame = frame.detach().cpu().numpy()
    encoded = shape is None or len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)
    if encoded and getattr(frame, "dtype", None) is not None:
        encoded = np.dtype(frame.dtype) == np.uint8
    try:
        view = memoryview(frame) if encoded and not isinstance(frame, str) else None
    except TypeError:
        view = None
    if view is None or not view.c_contiguous:
        raise ValueError(
            f"{path}: frame {i} is not JPEG bytes (a {type(given).__name__}"
            f"{'' if shape is None else f' of shape {tuple(shape)}'}); encode frames with "
            "vai_data.encode_jpeg(image) before packing"
        )
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def write_packed(path: str | os.PathLike, jpegs: Sequence[bytes], tag: int = 0) -> None:
    """Write JPEG byte strings as one ``.vpk`` file (atomically, creating parent directories); ``tag``
    (a ``uint32``) is kept in the header for :func:`packed_tag`. Frames that are not bytes (e.g. decoded
    arrays: encode them with :func:`vai_data.encode_jpeg` first) are refused before anything is written."""
    path = os.fspath(path)
    if isinstance(jpegs, (bytes, bytearray)):
        raise ValueError(
            f"{path}: jpegs must be a list of JPEG byte strings (one per frame), not one bytes object"
        )
    jpegs = [_jpeg_buffer(path, i, j) for i, j in enumerate(jpegs)]
    if not jpegs:
        raise ValueError(f"{path}: refusing to pack a video with no frames")
    if isinstance(tag, bool) or not isinstance(tag, numbers.Integral) or not 0 <= tag < 1 << 32:
        raise ValueError(f"{path}: tag {tag!r} does not fit the header's uint32")
    n = len(jpegs)
    start = _HEADER.size + 8 * (n + 1)
    offsets = np.concatenate([[0], np.cumsum([j.nbytes for j in jpegs])]).astype("<u8") + start
    write_local_atomic(
        path, [_HEADER.pack(MAGIC, n, tag), offsets.tobytes(), *jpegs], prefix=".pack-", what="packed file"
    )


def packed_tag(path: str) -> int | None:
    """The header tag of the ``.vpk`` file at local ``path``: ``None`` when there is no file, 0 for files
    written without a tag and for anything at ``path`` that is not a ``.vpk`` file."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEADER.size)
    except FileNotFoundError:
        return None
    except OSError:  # (a directory, no permission: not a packed file this run may replace)
        return 0
    if len(head) < _HEADER.size or head[:8] != MAGIC:
        return 0
    return _HEADER.unpack(head)[2]


class _PositionalReader:
    """Reads at offsets of one file: ``os.pread`` on native paths (no file object, no seeks), seek + read
    through the PathManager for paths a registered handler serves and where there is no pread."""

    def __init__(self, path: str):
        self._fd: int | None = None
        self._f = None
        path = os.fspath(path)
        if not is_native(path):
            self._f = path_manager.open(path, "rb")
        elif hasattr(os, "pread"):
            self._fd = os.open(path, os.O_RDONLY)
        else:  # Windows has no pread
            self._f = open(path, "rb")  # closed in __exit__

    def read_at(self, offset: int, size: int) -> bytes:
        if self._fd is not None:
            return os.pread(self._fd, size, offset)
        self._f.seek(offset)
        return self._f.read(size)

    def size(self) -> int:
        """The file's length in bytes."""
        if self._fd is not None:
            return os.fstat(self._fd).st_size
        return self._f.seek(0, os.SEEK_END)

    def __enter__(self) -> _PositionalReader:
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)
        else:
            self._f.close()


_FIRST_READ = 4096  # header + the index of videos up to 500 frames in one read
_MAX_FRAME_BYTES = 1 << 28  # no JPEG frame is 256 MB: a larger span means a corrupt index


def _check_index_fits(path: str, n: int, need: int, file_size: int) -> None:
    """Refuse a header whose frame count implies an index longer than the file (a corrupt count would
    otherwise ask for gigabytes before anything is checked)."""
    if need > file_size:
        raise VideoDecodeError(
            path,
            f"truncated packed index or corrupt frame count: the header's {n} frames need a {need}-byte "
            f"header and index, the file has {file_size} bytes; re-run `vai-data pack`",
        )


class PackedFile:
    """Random access to the frames of one ``.vpk`` file."""

    def __init__(self, path: str | os.PathLike):
        self.path = path = os.fspath(path)
        try:
            with _PositionalReader(path) as f:
                head = f.read_at(0, _FIRST_READ)
                if len(head) < _HEADER.size:
                    raise VideoDecodeError(path, "packed file too short for its header (empty or truncated)")
                magic, n, _ = _HEADER.unpack_from(head)
                if magic != MAGIC:
                    raise VideoDecodeError(
                        path, f"not a vai packed file (magic {magic!r}); re-run `vai-data pack`"
                    )
                need = _HEADER.size + 8 * (n + 1)
                if len(head) < need and len(head) == _FIRST_READ:
                    _check_index_fits(path, n, need, f.size())
                    head += f.read_at(len(head), need - len(head))
        except FileNotFoundError:
            raise VideoDecodeError(
                path, "packed file does not exist; check data_root and the split file"
            ) from None
        except OSError as e:
            raise VideoDecodeError(path, f"cannot read ({type(e).__name__}: {e})") from None
        if len(head) < need:
            raise VideoDecodeError(path, "truncated packed index")
        self._index = head  # offsets are unpacked per wanted frame (a sample reads 8-32 of hundreds)
        self._data_start = need
        self.num_frames = int(n)

    @property
    def offsets(self) -> np.ndarray:
        """Byte offsets of every frame (``num_frames + 1`` values; frame i is ``offsets[i]:offsets[i+1]``)."""
        return np.frombuffer(self._index, dtype="<u8", count=self.num_frames + 1, offset=_HEADER.size).astype(
            np.int64
        )

    def read_jpeg_bytes(self, frame_numbers: Sequence[int]) -> list[bytes]:
        """JPEG bytes of the given frames (repeats allowed), reading each once."""
        frame_numbers = [operator.index(i) for i in frame_numbers]  # ints, numpy or 0-d tensor scalars
        out: dict[int, bytes] = {}
        index, span, start = self._index, _SPAN.unpack_from, self._data_start
        try:
            with _PositionalReader(self.path) as f:
                for i in frame_numbers:
                    if i in out:
                        continue
                    if not 0 <= i < self.num_frames:
                        raise VideoDecodeError(
                            self.path, f"frame {i} outside the {self.num_frames} packed frames"
                        )
                    lo, hi = span(index, _HEADER.size + 8 * i)
                    if not start <= lo <= hi <= lo + _MAX_FRAME_BYTES or hi >= 1 << 62:
                        raise VideoDecodeError(
                            self.path,
                            f"corrupt packed index (frame {i} at bytes {lo}..{hi}); re-run `vai-data pack`",
                        )
                    out[i] = f.read_at(lo, hi - lo)
                    if len(out[i]) != hi - lo:
                        raise VideoDecodeError(self.path, f"truncated packed file (frame {i})")
        except FileNotFoundError:
            raise VideoDecodeError(self.path, "packed file disappeared while reading") from None
        except OSError as e:
            raise VideoDecodeError(self.path, f"cannot read ({type(e).__name__}: {e})") from None
        return [out[i] for i in frame_numbers]


class PackedFileSource(JpegFrameSource):
    """A ``.vpk`` file as a frame source."""

    def __init__(self, path: str | os.PathLike, start: int = 0, end: int | None = None):
        self.pack = PackedFile(path)
        self.path = self.pack.path
        self._init_range(self.pack.num_frames, start, end)

    def _blobs(self, numbers: list[int]) -> list[bytes]:
        return self.pack.read_jpeg_bytes(numbers)


# the read-only environment of each store, by real path, with the process that opened it
_LMDB_ENVS: dict[str, tuple[int, object]] = {}
_REAL_PATHS: dict[str, str] = {}  # root as given -> its real path


def _lmdb_module():
    try:
        import lmdb
    except ImportError:
        raise ImportError(
            "the LMDB frame store needs the lmdb package: pip install lmdb (vai-data's [lmdb] extra)"
        ) from None
    return lmdb


def open_lmdb(root: str | os.PathLike):
    """A read-only LMDB environment, opened once per process and store (however ``root`` is spelt).

    py-lmdb refuses to open a store twice in one process, and an environment must not be used across a
    fork: a forked DataLoader worker that inherited the parent's environment (the parent read a sample
    first) closes its copy, which leaves the parent's open, and opens its own. A store whose ``data.mdb``
    is shorter than its pages need (an interrupted copy) raises ``OSError`` here: reading it would kill the
    process with SIGBUS."""
    if type(root) is not str:
        root = os.fspath(root)  # (a pathlib.Path)
    real = _REAL_PATHS.get(root)
    if real is None:  # one realpath per spelling, not one per sample (relative ones follow the cwd)
        real = os.path.realpath(root)
        if os.path.isabs(root):
            _REAL_PATHS[root] = real
    entry = _LMDB_ENVS.get(real)
    if entry is not None and entry[0] == os.getpid():
        return entry[1]
    lmdb = _lmdb_module()
    if entry is not None:  # inherited through a fork
        del _LMDB_ENVS[real]
        entry[1].close()
    if not os.path.isdir(root):
        raise FileNotFoundError(
            f"LMDB frame store {root} does not exist; create it with `vai-data pack --store lmdb`"
        )
    env = lmdb.open(root, readonly=True, lock=False, readahead=False, meminit=False, max_readers=512)
    try:
        _check_complete(env, root)
    except BaseException:
        env.close()
        raise
    _LMDB_ENVS[real] = (os.getpid(), env)
    return env


def _check_complete(env, root: str) -> None:
    """``OSError`` unless ``data.mdb`` holds every page the store's last commit uses."""
    need = (env.info()["last_pgno"] + 1) * env.stat()["psize"]
    size = os.path.getsize(os.path.join(root, "data.mdb"))
    if size < need:
        raise OSError(
            f"LMDB frame store {root} is truncated: data.mdb holds {size} bytes, its pages need {need} "
            "(an interrupted copy?); copy or pack it again"
        )


def close_lmdb(root: str) -> None:
    """Close this process's cached read-only environment of the LMDB store at ``root``, if any (py-lmdb
    opens a store once per process: packing into a store read earlier in the process needs it closed;
    the next :func:`open_lmdb` opens it again)."""
    entry = _LMDB_ENVS.pop(os.path.realpath(root), None)
    if entry is not None:
        entry[1].close()


class LmdbSource(JpegFrameSource):
    """One video's frames in an LMDB store."""

    def __init__(self, root: str | os.PathLike, key: str, start: int = 0, end: int | None = None):
        self.env, self.key, self.path = open_lmdb(root), key, f"{os.fspath(root)}[{key}]"
        with self.env.begin(buffers=False) as txn:
            n = txn.get(f"{key}/n".encode())
        if n is None:
            raise VideoDecodeError(self.path, "key not found in the LMDB frame store")
        self._init_range(int(n), start, end)

    def _blobs(self, numbers: list[int]) -> list[bytes]:
        out: dict[int, bytes] = {}
        with self.env.begin(buffers=False) as txn:
            for i in set(numbers):
                blob = txn.get(f"{self.key}/{i:06d}".encode())
                if blob is None:
                    raise VideoDecodeError(self.path, f"frame {i} missing from the LMDB frame store")
                out[i] = blob
        return [out[i] for i in numbers]


def open_packed_source(data_root: str | None, key: str, start: int, end: int | None, storage: str = "packed"):
    """Frame source for a packed row: ``storage='packed'`` reads ``data_root/key`` (a .vpk file),
    ``storage='lmdb'`` reads key ``key`` of the LMDB at ``data_root``."""
    if storage == "lmdb":
        if data_root is None:
            raise ValueError("lmdb storage needs data_root set to the LMDB directory")
        return LmdbSource(os.fspath(data_root), key, start, end)
    return PackedFileSource(join(data_root, key), start, end)
