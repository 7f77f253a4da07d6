"""The lexical side of search: a bm25s index persisted beside the Chroma collection, plus typo repair.

The index is derived data: `ProductStore` rebuilds it from the documents stored in Chroma whenever their
fingerprint (ids + content hashes) changes, so it always matches the vectors. Typo tolerance corrects a
query word that is not in the catalog vocabulary to the most frequent catalog word within one edit
(insert, delete, substitute or swap), using a symmetric-delete table built on first use.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

_WORD = re.compile(r"\w+", re.UNICODE)
_FORMAT_VERSION = 1


@lru_cache(maxsize=1)
def _bm25s():
    """bm25s, with its logger back under the application's level (it sets itself to DEBUG on import)."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.NOTSET)
    return bm25s


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    _bm25s()
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters/digits), stopwords kept."""
    return _WORD.findall(text.lower())


def analyze(text: str) -> list[str]:
    """Tokens as indexed: lower-cased, English stopwords removed, Snowball-stemmed."""
    stop = _stopwords()
    return _stemmer().stemWords([w for w in words(text) if w not in stop])


def stem(word: str) -> str:
    return _stemmer().stemWord(word.lower())


class LexicalIndex:
    """BM25 over product texts. `ids[i]` is the product id of row i of every score vector."""

    def __init__(self, ids: list[str], retriever, word_counts: dict[str, int], fingerprint: str):
        self.ids = ids
        self.row = {pid: i for i, pid in enumerate(ids)}
        self._bm25 = retriever
        self.word_counts = word_counts  # unstemmed word -> document frequency, for typo repair
        self.fingerprint = fingerprint
        self._deletes: dict[str, list[str]] | None = None

    @classmethod
    def build(cls, ids: list[str], texts: list[str], fingerprint: str) -> LexicalIndex:
        retriever = _bm25s().BM25(k1=1.2, b=0.75)
        tokens = [analyze(t) or ["__empty__"] for t in texts]
        if ids:
            retriever.index(tokens, show_progress=False)
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(set(words(text)))
        return cls(list(ids), retriever, dict(counts), fingerprint)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self.ids:
            self._bm25.save(str(folder / "bm25"), show_progress=False)
        meta = {"version": _FORMAT_VERSION, "fingerprint": self.fingerprint, "ids": self.ids, "words": self.word_counts}
        tmp = folder / "meta.json.tmp"
        tmp.write_text(json.dumps(meta), encoding="utf-8")
        tmp.replace(folder / "meta.json")  # the meta file is written last: a half-saved index is never used

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex | None:
        """The saved index, or None when there is none (or it is from an older format)."""
        bm25s = _bm25s()
        meta_path = folder / "meta.json"
        if not meta_path.is_file():
            return None
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("version") != _FORMAT_VERSION:
            return None
        retriever = bm25s.BM25.load(str(folder / "bm25"), show_progress=False) if meta["ids"] else bm25s.BM25()
        return cls(meta["ids"], retriever, meta["words"], meta["fingerprint"])

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every row for already-analysed query tokens (unknown tokens contribute 0)."""
        if not self.ids:
            return np.zeros(0, dtype=np.float32)
        vocab = self._bm25.vocab_dict
        known = [t for t in tokens if t in vocab]
        if not known:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def rows_containing(self, token: str) -> np.ndarray:
        """Rows whose indexed text has the analysed `token` (empty when the catalog never uses it).

        Read straight from the BM25 matrix (one column per token), so checking which query words a candidate
        has costs no re-analysis of its text.
        """
        column = self._bm25.vocab_dict.get(token) if self.ids else None
        if column is None:
            return np.zeros(0, dtype=np.int64)
        matrix = self._bm25.scores
        return matrix["indices"][matrix["indptr"][column] : matrix["indptr"][column + 1]]

    # ---------------------------------------------------------------- typo repair

    def correct(self, word: str) -> str | None:
        """A catalog word one edit away from an unknown `word` (most frequent wins), or None."""
        word = word.lower()
        if len(word) < 4 or word.isdigit() or word in self.word_counts:
            return None
        if self._deletes is None:
            self._deletes = {}
            for known in self.word_counts:
                if len(known) >= 3 and not known.isdigit():
                    for variant in _deletes(known) | {known}:
                        self._deletes.setdefault(variant, []).append(known)
        candidates: set[str] = set()
        for variant in _deletes(word) | {word}:
            candidates.update(self._deletes.get(variant, ()))
        candidates = {c for c in candidates if _edit_distance_le1(word, c)}
        if not candidates:
            return None
        return max(sorted(candidates), key=lambda c: self.word_counts[c])


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _edit_distance_le1(a: str, b: str) -> bool:
    """True when a and b differ by at most one insert, delete, substitution or adjacent swap."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1 :] == b[i + 1 :]:
            return True
        return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
    return a[i + 1 :] == b[i:] if la > lb else a[i:] == b[i + 1 :]
