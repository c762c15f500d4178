"""'Did you mean ...?' hints: for config names not found (-D/-M/-E) and unknown exp-config attributes."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_match(word: str, candidates: Iterable[str], cutoff: float = 0.75) -> str | None:
    """The candidate closest to ``word`` (difflib ratio >= ``cutoff``), or None."""
    found = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=cutoff)
    return found[0] if found else None


def not_found_hint(flag: str, wanted: str, available: Iterable[str]) -> str:
    """``"did you mean -D toy? (`vai-train list` shows every config)"``, without the guess when none is
    close enough."""
    guess = close_match(wanted, available, cutoff=0.6)
    tail = "`vai-train list` shows what the config roots offer"
    return f"did you mean {flag} {guess}? ({tail})" if guess else f"{tail}"
