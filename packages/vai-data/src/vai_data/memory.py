"""Keep freed memory in the process for reuse, so clip buffers do not page-fault on every sample.

A DataLoader worker holds each sample of a batch until the collate: the decoded frames behind a crop,
a flipped copy. glibc's malloc serves buffers of a few MB with ``mmap`` or returns freed heap space to
the kernel (``M_MMAP_THRESHOLD`` / ``M_TRIM_THRESHOLD``, both adjusted at run time), so the next
sample's buffers are fresh pages that fault on first touch: about 500 faults and +40 % time for an
8 x 224² TSN clip from stored JPEGs (docs/performance.md). Raising both thresholds makes freed buffers
stay in the heap and be reused; the process's resident size then stays at its peak use instead.

Datasets call :func:`keep_freed_memory_once` when they load a sample, in whichever process that is.
Set ``VAI_DATA_KEEP_FREED_MEMORY=0`` to leave malloc as it is. Other C libraries (macOS, musl) are left
alone.
"""

from __future__ import annotations

import ctypes
import os
import platform

ENV_VAR = "VAI_DATA_KEEP_FREED_MEMORY"
# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# glibc's largest mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX): buffers up to 32 MB (a
# 32-frame 640x360 clip is 22 MB) come from the heap; larger ones are still mapped and unmapped
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 256 << 20  # free space at the heap's top beyond this is still given back

_done_in_pid: int | None = None
_result = False


def keep_freed_memory(mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Set glibc's mmap and trim thresholds for this process; True when they were set, False where the
    C library is not glibc, mallopt refused the values, or ``VAI_DATA_KEEP_FREED_MEMORY=0``."""
    if mmap_threshold < 0 or trim_threshold < 0:
        raise ValueError(
            f"keep_freed_memory: thresholds must be >= 0 bytes (got {mmap_threshold}, {trim_threshold})"
        )
    if os.environ.get(ENV_VAR, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        mallopt(_M_TRIM_THRESHOLD, trim_threshold)
    )


def keep_freed_memory_once() -> bool:
    """:func:`keep_freed_memory` with the defaults, once per process (DataLoader workers included)."""
    global _done_in_pid, _result
    pid = os.getpid()
    if _done_in_pid != pid:
        _done_in_pid, _result = pid, keep_freed_memory()
    return _result
