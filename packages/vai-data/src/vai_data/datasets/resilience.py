"""Per-sample seeding and bad-sample handling shared by the datasets.

``sample_seed(seed, epoch, index)`` makes a sample's randomness a pure function of those three numbers,
so the clips of an epoch do not depend on ``num_workers`` or worker scheduling. ``BadSampleTracker``
counts unreadable samples in shared memory (readable from the main process while workers run) and
logs each bad path once per process.
"""

from __future__ import annotations

import hashlib
import logging
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


class BadSampleTracker:
    """Counts bad samples across DataLoader workers and logs each bad path once per process.

    The count lives in shared memory that DataLoader workers inherit (fork) or receive as they start
    (spawn, forkserver). A plain pickle or ``deepcopy`` of the dataset gets a counter of its own starting
    at the current count: what such a copy counts is not seen by the original."""

    def __init__(self, policy: str):
        if policy not in BAD_SAMPLE_POLICIES:
            raise ValueError(f"bad_sample_policy={policy!r}; choose one of {list(BAD_SAMPLE_POLICIES)}")
        self.policy = policy
        self._count = multiprocessing.RawValue("q", 0)  # shared memory, inherited by workers
        self._warned: set[str] = set()

    @property
    def count(self) -> int:
        return int(self._count.value)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if multiprocessing.context.get_spawning_popen() is None:
            # a plain pickle or deepcopy (not a worker being started): the shared counter cannot travel
            # (RawValue only passes to processes being spawned), the copy counts on from the same value
            state["_count"] = self.count
        return state

    def __setstate__(self, state: dict) -> None:
        if isinstance(state["_count"], int):
            state["_count"] = multiprocessing.RawValue("q", state["_count"])
        self.__dict__.update(state)

    def record(self, error: VideoDecodeError) -> None:
        self._count.value += 1
        if error.path not in self._warned:
            self._warned.add(error.path)
            logger.warning("bad sample skipped (substituting another): %s", error)

    def run(self, index: int, length: int, load: Callable[[int, int], Any]) -> Any:
        """Call ``load(index, attempt)``; under ``skip``, on VideoDecodeError retry deterministically with
        other indices (``index + k * stride``) until one loads."""
        try:
            return load(index, 0)
        except VideoDecodeError as e:
            if self.policy == "raise":
                raise
            self.record(e)
            first = e
        stride = 7919 % max(length, 1) or 1  # a prime stride spreads substitutes over the dataset
        for k in range(1, min(MAX_SUBSTITUTES, length) + 1):
            alt = (index + k * stride) % length
            try:
                return load(alt, k)
            except VideoDecodeError as e:
                self.record(e)
        raise VideoDecodeError(
            first.path,
            f"{first.cause}; and {min(MAX_SUBSTITUTES, length)} substitute samples failed too - "
            "check the data root and the split file",
        )
