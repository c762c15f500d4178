"""Sort keys for ids that must match upstream's, whose lists were sorted by GNU ``sort`` in a UTF-8 locale."""

from __future__ import annotations

# glibc's en_US.UTF-8 collation (the ISO 14651 table of glibc >= 2.28) for ASCII, as `sort` applies it:
# level 1 compares letters and digits case-folded, ignoring the characters before "$" below; level 3 puts
# lower case first; level 4 compares every character in this table order.
GLIBC_LEVEL4_ORDER = (
    "\t\n\v\f\r !\"#%&'()*+,-./:;<=>?@[\\]^_`{|}~"  # ignored at levels 1 to 3
    "$0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_LEVEL4_RANK = {c: i for i, c in enumerate(GLIBC_LEVEL4_ORDER)}
COLLATION_IGNORED = frozenset(GLIBC_LEVEL4_ORDER[: GLIBC_LEVEL4_ORDER.index("$")])
_GLIBC_SPECIAL = COLLATION_IGNORED | frozenset("$0123456789")  # the table section walked backward at level 2


def en_us_sort_key(text: str) -> tuple:
    """Sort key that orders ASCII names as GNU ``sort`` in the en_US.UTF-8 locale (glibc >= 2.28) does.

    Punctuation is ignored and case folded first (``April_09…``, ``atempting…``, ``Aussie…``; ``sit/T…``,
    ``situp/5…``, ``sit/V…``); names equal so far are told apart by glibc's level-2 weight count
    (:func:`_glibc_level2_length`), then lower case before upper case, then character by character in
    :data:`GLIBC_LEVEL4_ORDER`, then byte order as ``sort``'s last resort. Non-ASCII characters compare by
    code point after the table (an approximation).
    """
    chars = [c for c in text if c not in COLLATION_IGNORED]
    return (
        "".join(c.lower() for c in chars),
        _glibc_level2_length(text),
        tuple(c.isupper() for c in chars),
        tuple(_LEVEL4_RANK.get(c, len(GLIBC_LEVEL4_ORDER) + ord(c)) for c in text),
        text,
    )


def _glibc_level2_length(text: str) -> int:
    """How many level-2 weights glibc's ``strcoll`` compares for ``text``: one per letter, digit or ``$``,
    less one for each run of two or more digits/punctuation that a letter follows and whose second-to-last
    character is a digit (``1_`` in ``np1_ri``): glibc walks such a run backward at level 2 and skips that
    character. All ASCII weights are equal at level 2, so of two names equal at level 1 the one with fewer
    weights sorts first (``1(A`` before ``1a``)."""
    count = sum(1 for c in text if c not in COLLATION_IGNORED)
    i = 0
    while i < len(text):
        if text[i] not in _GLIBC_SPECIAL:
            i += 1
            continue
        j = i
        while j < len(text) and text[j] in _GLIBC_SPECIAL:
            j += 1
        if j - i >= 2 and j < len(text) and text[j - 2] not in COLLATION_IGNORED:
            count -= 1
        i = j
    return count
