"""Checks of user arguments shared across vai-data (one-line ``ValueError`` naming the argument)."""

from __future__ import annotations

import operator


def positive_int(name: str, value, hint: str = "") -> int:
    """``value`` as an int (Python, numpy or 0-d torch integers), or one ValueError naming ``name``."""
    try:
        as_int = operator.index(value)
    except TypeError:
        as_int = None
    if as_int is None or isinstance(value, bool) or as_int < 1:
        raise ValueError(f"{name}={value!r} must be a positive int{hint}")  # ("8", 8.0, 0, True refused)
    return as_int
