"""Checks of user arguments shared across vai-data (one-line ``ValueError`` naming the argument)."""

from __future__ import annotations

import operator

import numpy as np


def is_int(value) -> bool:
    """A Python, numpy or 0-d torch integer; not a bool, float or string."""
    if type(value) is int:  # (the per-sample case: samplers check their counts on every clip)
        return True
    try:
        operator.index(value)
    except TypeError:
        return False
    return not isinstance(value, (bool, np.bool_))


def _int_at_least(name: str, value, minimum: int, wanted: str, hint: str) -> int:
    if not is_int(value) or operator.index(value) < minimum:
        raise ValueError(f"{name}={value!r} must be {wanted}{hint}")  # ("8", 8.0, True refused)
    return operator.index(value)


def positive_int(name: str, value, hint: str = "") -> int:
    """``value`` as an int >= 1 (Python, numpy or 0-d torch integers), or one ValueError naming ``name``."""
    return _int_at_least(name, value, 1, "a positive int", hint)


def nonnegative_int(name: str, value, hint: str = "") -> int:
    """``value`` as an int >= 0 (Python, numpy or 0-d torch integers), or one ValueError naming ``name``."""
    return _int_at_least(name, value, 0, "an int >= 0", hint)


# the largest short side vai resizes to: 16K video's short side is 8640; a picture of that short side is
# already gigabytes a clip, and FFmpeg (frame extraction and packing decode with it) refuses pictures of about
# 2^28 bytes a plane (e.g. 133333x100000), whose failure would otherwise blame the video
MAX_SHORT_SIDE = 16384


def check_short_side_limit(name: str, value) -> None:
    """One ``ValueError`` naming ``name`` when a (checked, integer) short side exceeds :data:`MAX_SHORT_SIDE`."""
    if value is not None and value > MAX_SHORT_SIDE:
        raise ValueError(
            f"{name}={value} is larger than {MAX_SHORT_SIDE} pixels, the largest short side vai resizes to "
            "(FFmpeg refuses such pictures)"
        )
