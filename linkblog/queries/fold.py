"""Accent folding for PostgreSQL's full-text search, the same on the stored and the searched side.

SQLite's FTS5 index folds accents itself (``unicode61 remove_diacritics 2``, migration 0002). PostgreSQL's
``english`` configuration does not, and its ``unaccent`` dictionary is an extension that an owner whose role may
not create extensions cannot install. So the generated ``search_vector`` columns (migration 0017) pass their text
through the built-in, immutable ``translate(text, ACCENTED, PLAIN)``, and a search folds its words with the same
table here before they become a tsquery: "cafe" finds "Café" and "naïve" finds "naive" on every server.
"""
from __future__ import annotations

import unicodedata
from itertools import chain

# Letters without a canonical decomposition that readers still type without their stroke.
_STROKED = {"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ħ": "h", "Ħ": "H", "ı": "i"}
# Combining marks (text stored decomposed, "e" + U+0301): dropped, as translate() drops unmatched characters.
_MARKS = "".join(chr(cp) for cp in range(0x300, 0x370))


def _pairs() -> list[tuple[str, str]]:
    """Every Latin letter (Latin-1 to Latin Extended-B, Latin Extended Additional) whose canonical
    decomposition starts with an ASCII letter, mapped to that letter. Decompositions are frozen by Unicode's
    stability policy, so the table is the same on every Python."""
    pairs = []
    for cp in chain(range(0xC0, 0x250), range(0x1E00, 0x1F00)):
        ch = chr(cp)
        base = unicodedata.normalize("NFD", ch)[0]
        if base != ch and base.isascii() and base.isalpha():
            pairs.append((ch, base))
    return pairs + sorted(_STROKED.items())


ACCENTED = "".join(a for a, _ in _pairs()) + _MARKS
PLAIN = "".join(p for _, p in _pairs())
_TABLE = str.maketrans({**dict(_pairs()), **{m: None for m in _MARKS}})


def fold(text: str) -> str:
    """``text`` as the PostgreSQL index sees it (``translate(text, ACCENTED, PLAIN)``)."""
    return text.translate(_TABLE)


__all__ = ["ACCENTED", "PLAIN", "fold"]
