"""WordNet's nouns (Debian's wordnet-base, installed by `make system-deps`): the words a shopper may use for a
product the catalog names otherwise ("flask" for a bottle, "rucksack" for a backpack, "coat" for a jacket).

Read from the database files themselves: `index.noun` gives each noun's synsets as byte offsets into
`data.noun`, so a lookup is a few seeks, nothing is loaded up front. (NLTK's reader wants its own corpus layout.)
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

logger = logging.getLogger(__name__)

WORDNET_DIR = Path("/usr/share/wordnet")
_LINKS = {"@": "hypernym", "@i": "hypernym", "~": "hyponym", "~i": "hyponym"}


def _entries(pos: str) -> list[str]:
    """The lines of `index.<pos>` without the licence header (indented); none when WordNet is not installed."""
    path = WORDNET_DIR / f"index.{pos}"
    if not path.is_file():
        return []
    return [line for line in path.read_text(encoding="utf-8", errors="ignore").splitlines() if not line.startswith(" ")]


@lru_cache(maxsize=1)
def _index() -> dict[str, list[int]]:
    lines = _entries("noun")
    if not lines:
        logger.warning("WordNet is not installed (%s): shoppers' other words for a product type are not looked "
                       "up; run `make system-deps`", WORDNET_DIR / "index.noun")
    index: dict[str, list[int]] = {}
    for line in lines:
        parts = line.split()
        synsets = int(parts[2])
        index[parts[0]] = [int(o) for o in parts[-synsets:]]
    return index


@lru_cache(maxsize=4096)
def _synset(offset: int) -> tuple[tuple[str, ...], tuple[tuple[str, int], ...]]:
    """(lemmas, [(link kind, offset)]) of the noun synset at `offset` of data.noun."""
    with (WORDNET_DIR / "data.noun").open("rb") as f:
        f.seek(offset)
        parts = f.readline().decode("utf-8", errors="ignore").split(" | ")[0].split()
    count = int(parts[3], 16)
    lemmas = tuple(parts[4 + 2 * i].lower().replace("_", " ") for i in range(count))
    at = 4 + 2 * count
    links = []
    for i in range(int(parts[at])):
        symbol, target, pos = parts[at + 1 + 4 * i : at + 4 + 4 * i]
        if pos == "n" and symbol in _LINKS:
            links.append((_LINKS[symbol], int(target)))
    return lemmas, tuple(links)


def related_nouns(word: str, senses: int = 2) -> list[tuple[str, str]]:
    """(noun, relation) near `word` in its first `senses` senses: its "synonym"s, then "broader" nouns, then
    "narrower" ones ("flask" -> bottle, broader; "coat" -> jacket, narrower); [] for a word WordNet lacks."""
    offsets = _index().get(word.lower().replace(" ", "_"), [])[:senses]
    synonyms, broader, narrower = [], [], []
    for offset in offsets:
        lemmas, links = _synset(offset)
        synonyms += lemmas
        for kind, target in links:
            (broader if kind == "hypernym" else narrower).extend(_synset(target)[0])
    out: dict[str, str] = {}
    for relation, lemmas in (("synonym", synonyms), ("broader", broader), ("narrower", narrower)):
        for lemma in lemmas:
            if lemma != word and lemma not in out:
                out[lemma] = relation
    return list(out.items())


@lru_cache(maxsize=4)
def _lemmas(pos: str) -> frozenset[str]:
    return frozenset(line.split(" ", 1)[0] for line in _entries(pos))


def only_describes(word: str) -> bool:
    """Is `word` an adjective or verb WordNet never uses as a noun ("long", "closed", "coated")? Such a word in
    product titles qualifies the product ("Long-Sleeve Tee") and names no kind of it. False for words WordNet
    lacks ("hoodie") and when WordNet is not installed."""
    return word not in _index() and (word in _lemmas("adj") or word in _lemmas("verb"))
