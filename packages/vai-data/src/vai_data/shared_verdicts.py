"""Seek-probe verdicts (:mod:`vai_data.decode_probe`) shared by a dataset's DataLoader workers, across epochs.

The probe costs a PyAV open and a short demux per file (about 6 ms for a 10 s 340x256 H.264 clip, some 6 %
of decoding 8 frames of it with decord), and its cache is per process. DataLoader workers that are not
persistent start afresh every epoch, so without this every epoch probed every video again. A
:class:`SharedVerdicts` table lives in shared memory that the workers inherit (fork) or receive as they start
(spawn, forkserver), like the bad-sample counter: a file probed by any worker in any epoch is looked up, not
probed, by every later worker. A dataset makes one per split (:class:`~vai_data.datasets.VideoClipDataset`
on video files; only decord and torchcodec reads consult it) and installs it with
:func:`vai_data.decode_probe.verdicts_shared_in` around its video sources' reads.

An open-addressing hash table of fixed capacity keyed by a 64-bit BLAKE2b hash of the file's local path;
each slot holds the verdict's kind of problem (the problem's text without its numbers: which packet, which
pts), the upright size, the stream index and whether there are several. Slots are written once, under a lock,
the key last; reads take no lock (the fields are written before the key, which x86's store order keeps
visible in that order; a weaker memory order could at worst pair a key with a stale field for an instant).
A full table stores no more (those files are probed per process, as before), nor does one whose lock a writer
waited for in vain (its holder was killed mid-write): every process then stops waiting for it. A probe that
failed (an I/O error, say) is not stored: the next worker process tries again.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import multiprocessing
import weakref
from collections.abc import Iterator

from . import decode_probe as _p
from .decode_probe import Verdict


def _prefix(template: str) -> str:
    return template.split("{", 1)[0]


# the kinds of problem a verdict can hold: index 0 is "no problem" (decord's seeking is exact on the file);
# a timestamp problem is kept by the prefix of decode_probe's message, as a text without its numbers
_TIMESTAMP_KINDS = (
    (_prefix(_p.NO_PTS_PROBLEM), "packets without timestamps"),
    (_prefix(_p.DUPLICATE_PTS_PROBLEM), "two packets with the same pts"),
    (_prefix(_p.SHOWN_AFTER_KEY_PROBLEM), "open GOP: frames are shown across a keyframe"),
    (_prefix(_p.SHOWN_BEFORE_KEY_PROBLEM), "open GOP: frames are shown across a keyframe"),
    (_prefix(_p.FIRST_PTS_PROBLEM), "the first frame's pts is not the stream's start"),
)
PROBLEM_TEXTS: tuple[str | None, ...] = (
    None,
    *(_p.UNINDEXED_PROBLEM.format(name) for name in _p._UNINDEXED.values()),
    *(_p.OPEN_GOP_CODEC_PROBLEM.format(codec) for codec in sorted(_p._OPEN_GOP_CODECS)),
    *dict.fromkeys(text for _, text in _TIMESTAMP_KINDS),
    "a seeking problem found when the file was first probed",
)
_OTHER = len(PROBLEM_TEXTS) - 1
_PROBE_LIMIT = 64  # slots looked at from a key's home slot before a lookup gives up (a full neighbourhood)
MAX_SLOTS = 1 << 23  # 8 Mi slots (21 bytes each, 168 MiB): enough for 4 million videos


def problem_kind(problem: str | None) -> int:
    """The index in :data:`PROBLEM_TEXTS` of a probe's problem text (its kind; numbers dropped)."""
    if problem is None:
        return 0
    try:
        return PROBLEM_TEXTS.index(problem)
    except ValueError:
        pass
    for prefix, text in _TIMESTAMP_KINDS:
        if problem.startswith(prefix):
            return PROBLEM_TEXTS.index(text)
    return _OTHER


def path_key(path: str) -> int:
    """A nonzero 64-bit key of ``path``, the same in every process (Python's ``hash`` is salted per process)."""
    digest = hashlib.blake2b(path.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little") or 1


_TABLES: weakref.WeakSet = weakref.WeakSet()  # every table alive in this process (clear_every_table)
_LOCK_WAIT_S = 5.0  # a writer that died holding the lock must not hang the others: the table stops storing


def clear_every_table() -> None:
    """Forget the verdicts of every table alive in this process (``decode_probe.clear_cache`` calls it)."""
    for table in list(_TABLES):
        table.clear()


def _process_lock():
    """A lock shared with DataLoader workers however they start (one made in the spawn context is inherited
    by forked workers too; a fork-context one refuses to travel to spawned ones); without sem_open on this
    platform, none: two workers filling one slot at the same instant could then mix two verdicts."""
    try:
        return multiprocessing.get_context("spawn").Lock()
    except (ImportError, OSError):
        return None


@contextlib.contextmanager
def _holding(lock) -> Iterator[bool]:
    """Hold ``lock`` (True), or give up after ``_LOCK_WAIT_S`` (False: a worker killed while it held it)."""
    if lock is None:
        yield True
        return
    got = lock.acquire(timeout=_LOCK_WAIT_S)
    try:
        yield got
    finally:
        if got:
            lock.release()


class SharedVerdicts:
    """Seek-probe verdicts for about ``expected_files`` files in shared memory (see the module's docs)."""

    def __init__(self, expected_files: int):
        if isinstance(expected_files, bool) or not isinstance(expected_files, int) or expected_files < 0:
            raise ValueError(
                f"expected_files={expected_files!r}; give the number of video files (an int >= 0)"
            )
        slots = 64
        while slots < 2 * expected_files and slots < MAX_SLOTS:
            slots *= 2
        self._make(slots)

    def _make(self, slots: int) -> None:
        self.slots = slots
        self._keys = multiprocessing.RawArray("Q", slots)  # 0: empty
        self._kinds = multiprocessing.RawArray("b", slots)
        self._sizes = multiprocessing.RawArray("i", 2 * slots)  # width, height; -1: unknown
        self._streams = multiprocessing.RawArray("i", slots)  # -1: none; -2 - i: stream i with others
        self._lock = _process_lock()
        self._lock_lost = multiprocessing.RawValue("b", 0)  # set once a writer timed out: stores no more
        _TABLES.add(self)

    def get(self, path: str) -> Verdict | None:
        """The verdict stored for ``path``, or None."""
        key, mask = path_key(path), self.slots - 1
        slot = key & mask
        for _ in range(min(_PROBE_LIMIT, self.slots)):
            found = self._keys[slot]
            if found == 0:
                return None
            if found == key:
                return self._verdict(slot)
            slot = (slot + 1) & mask
        return None

    def put(self, path: str, verdict: Verdict) -> bool:
        """Store ``verdict`` for ``path`` (kept as it is when another process stored one first); False when
        the neighbourhood of its slot is full."""
        key, mask = path_key(path), self.slots - 1
        if self._lock_lost.value:
            return False
        with _holding(self._lock) as held:
            if not held:  # its holder died with it (killed mid-put): every process stops waiting for it
                self._lock_lost.value = 1
                return False
            slot = key & mask
            for _ in range(min(_PROBE_LIMIT, self.slots)):
                found = self._keys[slot]
                if found == key:
                    return True
                if found == 0:
                    self._kinds[slot] = problem_kind(verdict.problem)
                    width, height = verdict.size if verdict.size is not None else (-1, -1)
                    self._sizes[2 * slot], self._sizes[2 * slot + 1] = width, height
                    stream = -1 if verdict.stream_index is None else verdict.stream_index
                    self._streams[slot] = -2 - stream if verdict.several_streams and stream >= 0 else stream
                    self._keys[slot] = key  # last: a reader that sees the key sees the rest
                    return True
                slot = (slot + 1) & mask
        return False

    def _verdict(self, slot: int) -> Verdict:
        width, height, stream = self._sizes[2 * slot], self._sizes[2 * slot + 1], self._streams[slot]
        several = stream <= -2
        index = -2 - stream if several else (None if stream == -1 else stream)
        size = None if width < 0 else (width, height)
        return Verdict(PROBLEM_TEXTS[self._kinds[slot]], size, index, several)

    def __len__(self) -> int:
        """How many files have a verdict stored."""
        return sum(1 for k in self._keys if k)

    def clear(self) -> None:
        """Forget every verdict (in every process sharing the table)."""
        with _holding(self._lock):  # (cleared even without it: nothing else to do)
            ctypes.memset(self._keys, 0, ctypes.sizeof(self._keys))

    def __getstate__(self) -> dict:
        # the shared memory travels to a process being started; a plain pickle or deepcopy gets an empty
        # table of its own (verdicts are a cache: the copy probes again)
        from .datasets.resilience import _spawning  # (the datasets package imports this module)

        if _spawning():
            return {
                "slots": self.slots,
                "arrays": (self._keys, self._kinds, self._sizes, self._streams, self._lock, self._lock_lost),
            }
        return {"slots": self.slots}

    def __setstate__(self, state: dict) -> None:
        if "arrays" in state:
            self.slots = state["slots"]
            self._keys, self._kinds, self._sizes, self._streams, self._lock, self._lock_lost = state["arrays"]
            _TABLES.add(self)
        else:
            self._make(state["slots"])
