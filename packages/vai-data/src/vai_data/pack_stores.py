"""The stores ``vai-data pack`` writes into: one ``.vpk`` file per key, or one LMDB holding every key,
and the clean-up of the folders a pack run created when nothing could be packed."""

from __future__ import annotations

import os

from .packed import PACKED_SUFFIX, close_lmdb, packed_tag, write_packed

LMDB_DIRNAME = "frames.lmdb"
# the largest an LMDB store may grow (address space, not disk: the file grows as it is written); 16 TiB holds
# Kinetics-scale frame stores. Windows allocates the whole map on disk: 1 TiB there
_LMDB_MAP_SIZE = 1 << (40 if os.name == "nt" else 44)


class _FileStore:
    """One ``.vpk`` file per key under ``root``."""

    def __init__(self, root: str):
        self.root = root

    def tag(self, key: str) -> int | None:
        return packed_tag(os.path.join(self.root, key + PACKED_SUFFIX))

    def put(self, key: str, jpegs: list[bytes], tag: int) -> str:
        """Store the frames; returns the key the split file names."""
        write_packed(os.path.join(self.root, key + PACKED_SUFFIX), jpegs, tag)
        return key + PACKED_SUFFIX

    def close(self, ok: bool) -> None:
        pass


class _LmdbStore:
    """All keys in one LMDB (``<key>/n``, ``<key>/<i:06d>``, ``<key>/tag``), committed every 64 videos."""

    def __init__(self, lmdb, root: str):
        close_lmdb(
            root
        )  # a read-only environment of this store opened earlier in the process would refuse us
        self.env = lmdb.open(root, map_size=_LMDB_MAP_SIZE, subdir=True)
        self.txn, self.count, self.full = self.env.begin(write=True), 0, lmdb.MapFullError

    def tag(self, key: str) -> int | None:
        tag = self.txn.get(f"{key}/tag".encode())
        if tag is not None:
            return int(tag)
        return None if self.txn.get(f"{key}/n".encode()) is None else 0

    def put(self, key: str, jpegs: list[bytes], tag: int) -> str:
        """Store the frames; returns the key the split file names."""
        try:
            self.txn.put(f"{key}/n".encode(), str(len(jpegs)).encode())
            for j, blob in enumerate(jpegs):
                self.txn.put(f"{key}/{j:06d}".encode(), blob)
            self.txn.put(f"{key}/tag".encode(), str(tag).encode())
            self.count += 1
            if self.count % 64 == 0:
                self.txn.commit()
                self.txn = self.env.begin(write=True)
        except self.full:
            raise self._full_error() from None
        return key

    def close(self, ok: bool) -> None:
        """Commit (``ok``) or abort the open transaction, then close the environment."""
        try:
            if ok:
                self.txn.commit()
            else:
                self.txn.abort()
        except self.full:
            raise self._full_error() from None
        finally:
            self.env.close()

    def _full_error(self) -> OSError:
        return OSError(
            f"the LMDB store {self.env.path()} reached its map size ({_LMDB_MAP_SIZE} bytes): pack the "
            "rest into another --out, or use --store file"
        )


def _missing_folders(path: str) -> list[str]:
    """The folders ``os.makedirs(path)`` would create, deepest first."""
    missing = []
    path = os.path.abspath(path)
    while not os.path.lexists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


def _remove_created(folders: list[str]) -> None:
    """Remove the folders this run created (deepest first) while they hold nothing of anyone else's: an
    LMDB store no row was written to (its ``data.mdb`` and ``lock.mdb``) and empty folders."""
    for folder in folders:
        try:
            if os.path.basename(folder) == LMDB_DIRNAME:
                for name in ("data.mdb", "lock.mdb"):
                    if os.path.isfile(os.path.join(folder, name)):
                        os.remove(os.path.join(folder, name))
            os.rmdir(folder)
        except OSError:
            return  # not empty (someone else's files) or gone: stop here
