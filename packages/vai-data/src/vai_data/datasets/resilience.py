"""Per-sample seeding and bad-sample handling shared by the datasets.

``sample_seed(seed, epoch, index)`` makes a sample's randomness a pure function of those three numbers,
so the clips of an epoch do not depend on ``num_workers`` or worker scheduling. ``BadSampleTracker``
counts unreadable samples in shared memory (readable from the main process while workers run) and
logs each bad split row once at WARNING, across DataLoader workers and epochs. ``SharedInt`` holds the
epoch the same way, so ``set_epoch`` reaches persistent workers too.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import multiprocessing
import struct
from collections.abc import Callable
from typing import Any

import torch

from ..errors import VideoDecodeError

logger = logging.getLogger(__name__)

BAD_SAMPLE_POLICIES = ("skip", "raise")
MAX_SUBSTITUTES = 20


_FOUR_WORDS = struct.Struct("<4Q")


def sample_seed(seed: int, epoch: int, index: int, attempt: int = 0) -> int:
    """A 63-bit seed that is a pure function of (seed, epoch, index, attempt): BLAKE2b of the four numbers
    (mod 2**64) - well mixed, so neighbouring samples and epochs get unrelated streams, the same on every
    platform, and about 2 us a sample."""
    m = 1 << 64
    words = _FOUR_WORDS.pack(int(seed) % m, int(epoch) % m, int(index) % m, int(attempt) % m)
    return int.from_bytes(hashlib.blake2b(words, digest_size=8).digest(), "little") >> 1


class SampleRNG:
    """``with SampleRNG(seed):`` seeds torch's global CPU generator for one sample and restores its state on
    exit: ``torch.random.fork_rng(devices=[])`` + ``manual_seed`` at a third of the per-sample cost."""

    __slots__ = ("seed", "_state")

    def __init__(self, seed: int):
        self.seed = seed

    def __enter__(self) -> None:
        self._state = torch.get_rng_state()
        torch.default_generator.manual_seed(self.seed)

    def __exit__(self, *exc) -> None:
        torch.set_rng_state(self._state)


def substitute_stride(length: int) -> int:
    """The step between the substitutes tried for an unreadable sample: about 0.618 of the dataset (the
    golden ratio spreads successive substitutes over it, and keeps a bad sample's substitute away from its
    neighbours, which are often bad together) and coprime with its length, so the tries visit distinct
    samples."""
    if length <= 2:
        return 1
    stride = max(int(length * 0.6180339887), 1)
    while math.gcd(stride, length) != 1:
        stride += 1
    return stride


class _LocklessCounter:
    """The shared 64-bit integer alone, for platforms without named semaphores (e.g. AWS Lambda): worker
    increments may then, rarely, be lost."""

    def __init__(self, value: int):
        self._value = multiprocessing.RawValue("q", value)

    @property
    def value(self) -> int:
        return self._value.value

    @value.setter
    def value(self, v: int) -> None:
        self._value.value = v

    def get_lock(self) -> contextlib.nullcontext:
        return contextlib.nullcontext()


def _shared_counter(value: int):
    """A 64-bit integer in shared memory with a lock, passed to DataLoader workers however they start: a
    lock made in the fork context refuses to travel to spawned workers, one made in the spawn context is
    inherited by forked ones too."""
    try:
        return multiprocessing.get_context("spawn").Value("q", value)
    except (ImportError, OSError):  # no sem_open on this platform
        return _LocklessCounter(value)


def _spawning() -> bool:
    """True while this process pickles the arguments of a process it starts (a DataLoader worker): shared
    memory may travel then; a plain pickle or ``deepcopy`` must copy the values instead."""
    return multiprocessing.context.get_spawning_popen() is not None


class SharedInt:
    """A 64-bit integer in shared memory that DataLoader workers inherit (fork) or receive as they start
    (spawn, forkserver), persistent workers included; ``locked`` adds a lock for read-modify-write from
    several processes. A plain pickle or ``deepcopy`` gets a value of its own (the shared memory cannot
    travel there)."""

    def __init__(self, value: int = 0, locked: bool = False):
        self._locked = locked
        self._box = _shared_counter(value) if locked else multiprocessing.RawValue("q", value)

    @property
    def value(self) -> int:
        return int(self._box.value)

    @value.setter
    def value(self, v: int) -> None:
        self._box.value = int(v)

    def add(self, n: int = 1) -> int:
        """Add ``n`` (atomically when locked); the new value."""
        if not self._locked:
            self._box.value += n
            return self._box.value
        with self._box.get_lock():  # workers may add at the same moment
            self._box.value += n
            return self._box.value

    def __getstate__(self) -> dict:
        return {"locked": self._locked, "box": self._box if _spawning() else int(self._box.value)}

    def __setstate__(self, state: dict) -> None:
        self._locked, box = state["locked"], state["box"]
        if isinstance(box, int):
            self.__init__(box, self._locked)
        else:
            self._box = box


class SharedBits:
    """A fixed-size set of bits in shared memory (``RawArray``), travelling as :class:`SharedInt` does."""

    def __init__(self, nbits: int, data: bytes | None = None):
        self._box = multiprocessing.RawArray("B", (nbits + 7) // 8)
        if data is not None:
            self._box[: len(data)] = data
        self.nbits = nbits

    def test_and_set(self, i: int) -> bool:
        """Set bit ``i % nbits``; True when it was set already (two processes racing may both see False)."""
        i %= self.nbits
        byte, mask = i >> 3, 1 << (i & 7)
        seen = bool(self._box[byte] & mask)
        self._box[byte] |= mask
        return seen

    def __getstate__(self) -> dict:
        return {"nbits": self.nbits, "box": self._box if _spawning() else bytes(self._box)}

    def __setstate__(self, state: dict) -> None:
        if isinstance(state["box"], bytes):
            self.__init__(state["nbits"], state["box"])
        else:
            self._box, self.nbits = state["box"], state["nbits"]


# split rows whose bad samples were logged, one bit each (128 KiB): distinct for splits up to a million rows
WARNED_ROWS_BITS = 1 << 20


class BadSampleTracker:
    """Counts bad samples across DataLoader workers and logs each bad split row once at WARNING, across
    workers and epochs (later failures of the row at DEBUG).

    The count and the logged rows live in shared memory that DataLoader workers inherit (fork) or receive
    as they start (spawn, forkserver). A plain pickle or ``deepcopy`` of the dataset gets copies of its own
    starting at the current values: what such a copy counts is not seen by the original."""

    def __init__(self, policy: str):
        if policy not in BAD_SAMPLE_POLICIES:
            raise ValueError(f"bad_sample_policy={policy!r}; choose one of {list(BAD_SAMPLE_POLICIES)}")
        self.policy = policy
        self._count = SharedInt(0, locked=True)
        self._warned = SharedBits(WARNED_ROWS_BITS)

    @property
    def count(self) -> int:
        return self._count.value

    def record(self, error: VideoDecodeError, row: int) -> None:
        """Log ``error`` at WARNING the first time split row ``row`` fails in any worker or epoch, later
        ones at DEBUG: a bad video warns once, whichever frames of it fail and however often workers
        restart."""
        if self._warned.test_and_set(row):
            logger.debug("bad sample skipped again (substituting another): %s", error)
            return
        logger.warning("bad sample skipped (substituting another): %s", error)

    def run(
        self, index: int, length: int, load: Callable[[int, int], Any], views: int = 1, epoch: int = 0
    ) -> Any:
        """Call ``load(index, attempt)``; under ``skip``, on VideoDecodeError retry deterministically with
        other indices until one loads: try ``k`` loads ``index + m * substitute_stride(length)`` with
        ``m = 1 + (epoch + k - 1) mod (length - 1)``, so each epoch starts one step further along (in epoch 0,
        ``m = k``; epoch e + 1's first try is epoch e's second) and a bad sample's stand-in usually changes
        from epoch to epoch instead of one sample standing in for it every time (not where epoch e's first
        try was unreadable too: epoch e + 1 then gets epoch e's stand-in). Each sample that needed a substitute counts once, however many of its
        substitutes were unreadable too. ``views`` samples share a split row (test views), which is what
        the warning is logged once for."""
        try:
            return load(index, 0)
        except VideoDecodeError as e:
            if self.policy == "raise":
                raise
            self._count.add(1)
            self.record(e, index // views)
            first = e
        stride, tries = substitute_stride(length), min(MAX_SUBSTITUTES, length - 1)
        for k in range(1, tries + 1):  # (distinct samples, none of them this one: stride is coprime)
            alt = (index + (1 + (epoch + k - 1) % (length - 1)) * stride) % length
            try:
                return load(alt, k)
            except VideoDecodeError as e:
                self.record(e, alt // views)
        others = f"and {tries} substitute samples failed too" if tries else "and there is no other sample"
        raise VideoDecodeError(
            first.path, f"{first.cause}; {others} - check the data root and the split file"
        )
