"""English word lists (Debian's wamerican and wbritish, installed by `make system-deps`), read once."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

WORD_LISTS = (Path("/usr/share/dict/american-english"), Path("/usr/share/dict/british-english"))


def missing_word_lists() -> list[str]:
    """The word-list files that are not installed."""
    return [str(p) for p in WORD_LISTS if not p.is_file()]


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Lowercase words of the installed lists ("'s" forms folded); empty when none is installed."""
    words: set[str] = set()
    for path in WORD_LISTS:
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8", errors="ignore").splitlines():
            word = line.strip().lower().replace("’", "'")
            if word.endswith("'s"):
                word = word[:-2]
            if word:
                words.add(word)
    return frozenset(words)
