"""Which kind of product a message is about ("sleeping pads", "a stove", "the jacket"), learned from the catalog.

A word is a type word when the products whose titles use it sit in few leaf categories: "stove" names the
camp-kitchen leaf, "jacket" the two jacket leaves, while "waterproof" or a brand is spread over many and names
no type; brand and attribute words never count, nor a word WordNet knows only as an adjective or verb. Category names count too ("Sleeping Pads" -> "sleeping pad"). Nothing is specific to one shop.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable

from retrieval.catalog import Product
from text.dictionary import english_words
from text.wordnet import only_describes, related_nouns

FUZZY_MIN_LETTERS = 5  # shorter words are too close to too many others ("tent" / "vent")
FUZZY_CUTOFF = 0.85  # difflib ratio: "backpak" ~ "backpack" 0.93, "sleping" ~ "sleeping" 0.93
_SUBJECTS = {"i", "he", "she", "we", "they", "you", "who"}  # the word after one is a verb: "he camps a lot"
_PREPOSITIONS = {"in", "into", "inside", "under", "on", "onto", "with", "for", "from", "to", "of", "next", "beside"}
_DETERMINERS = {"the", "a", "an", "my", "his", "her", "our", "their", "your", "its"}
_STOP = {"the", "and", "with", "for", "men", "women", "mens", "womens", "unisex", "kids", "set", "pack", "new", "pro"}


def _singular(word: str) -> str:
    if len(word) > 5 and word.endswith("ing") and word not in ("sleeping", "running", "hiking", "string", "ring"):
        return word[:-3]  # "cooking" ~ "cook"; the adjectives of product names stay whole
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _tokens(text: str) -> list[str]:
    return [_singular(w) for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2]


class ProductTypes:
    """Type words of a catalog -> the leaf categories they name."""

    def __init__(self, words: dict[tuple[str, ...], frozenset[str]], ignored: set[str], named: frozenset = frozenset()):
        self.words = words
        self.ignored = ignored  # brand and attribute words
        self.named = named  # words the catalog names as a type (its categories, a `type` attribute), not inferred from titles
        self._longest = max((len(k) for k in words), default=0)
        self._unigrams = sorted(k[0] for k in words if len(k) == 1)

    @classmethod
    def from_products(cls, products: Iterable[Product], *, min_products: int = 3, coverage: float = 0.8) -> ProductTypes:
        products = [p for p in products if p.category]
        brands = {t for p in products if p.brand for t in _tokens(p.brand)}
        # attribute words describe products of many kinds ("waterproof", "insulated"), they name no type
        brands |= {t for p in products for name in p.attributes for t in _tokens(name.replace("_", " "))}
        by_word: dict[tuple[str, ...], Counter[str]] = {}
        for p in products:
            leaf = p.category[-1]
            tokens = _tokens(p.title)
            grams = {(t,) for t in tokens} | {tuple(tokens[i : i + 2]) for i in range(len(tokens) - 1)}
            for gram in grams:
                by_word.setdefault(gram, Counter())[leaf] += 1
        words: dict[tuple[str, ...], frozenset[str]] = {}
        for gram, leaves in by_word.items():
            total = sum(leaves.values())
            if total < min_products or any(t in _STOP or t in brands for t in gram) or only_describes(gram[-1]):
                continue  # (a phrase ending in an adjective, "long" of "Long-Sleeve Tee", names no kind)
            kept, covered = [], 0
            for leaf, n in leaves.most_common():
                if n * 5 < total:  # a leaf with under a fifth of the word's products is noise
                    break
                kept.append(leaf)
                covered += n
            if covered >= coverage * total and len(kept) <= 3 and len(kept) < len({p.category[-1] for p in products}):
                words[gram] = frozenset(kept)
        kinds: dict[tuple[str, ...], set[str]] = {}  # a catalog's own product-type attribute ("frying pan")
        for p in products:
            kind = p.attributes.get("type")
            if isinstance(kind, str) and _tokens(kind):
                kinds.setdefault(tuple(_tokens(kind)), set()).add(p.category[-1])
        for gram, leaves in kinds.items():
            words.setdefault(gram, frozenset(leaves))
        named = set(kinds)
        for leaf in {p.category[-1] for p in products}:
            tokens = tuple(_tokens(leaf))
            if tokens:
                words[tokens] = frozenset({leaf})
                words.setdefault(tokens[-1:], frozenset({leaf}))
                named |= {tokens, tokens[-1:]}
        return cls(words, brands, frozenset(named))

    def is_named(self, words: str) -> bool:
        """Do these type words (as `find` returns them) come from the catalog's categories or `type` attribute?"""
        return tuple(words.split()) in self.named

    def find(self, text: str, activities: bool = True, places: bool = True) -> tuple[frozenset[str], str] | None:
        """(leaf categories, the words) of the most specific product type `text` names, or None: the longest
        phrase, then the one naming fewer categories, then the first, except that within one noun phrase the head
        (last) word wins ("camp stove" -> stove, "down sleeping bag" -> sleeping bag). A word right after a subject
        pronoun is a verb ("he camps a lot"), and one after a preposition and a determiner says where, not what
        ("a warm jacket ... pack small in the bag"), and a word made from an "-ing" form is an activity ("getting into
        camping ... a lantern"), unless nothing else names a type (and `activities`, `places` allow them)."""
        words = re.findall(r"[a-z]+", text.lower())
        tokens, verbs, objects, gerunds = [], set(), set(), set()
        for i, w in enumerate(words):
            if len(w) > 2:
                if i and words[i - 1] in _SUBJECTS:
                    verbs.add(len(tokens))
                if i >= 2 and words[i - 1] in _DETERMINERS and words[i - 2] in _PREPOSITIONS:
                    objects.add(len(tokens))
                token = _singular(w)
                if w.endswith("ing") and not token.endswith("ing"):
                    gerunds.add(len(tokens))  # "into camping", "always cooking": an activity, not the product
                tokens.append(token)
        also = (set() if activities else gerunds) | (set() if places else objects)
        found = (self._best(tokens, verbs | objects | gerunds) or self._best(tokens, verbs | objects | also)
                 or self._best(tokens, verbs | also))
        if found is not None:
            return found
        for token in tokens:  # "backpak": a misspelt type word, close to one of the catalog's (or clearly closest)
            # a correctly spelt English word is no typo: "all weather" is not "feather"
            if len(token) >= FUZZY_MIN_LETTERS and token not in self.ignored and token not in english_words():
                close = difflib.get_close_matches(token, self._unigrams, n=2, cutoff=FUZZY_CUTOFF)
                if len(close) == 1 or (close and difflib.SequenceMatcher(None, token, close[0]).ratio() > FUZZY_CUTOFF + 0.05):
                    return self.words[(close[0],)], close[0]
        return None

    def related(self, word: str) -> list[tuple[frozenset[str], str, str]]:
        """(leaf categories, type words, relation) of the catalog's types that WordNet puts near `word`, a word
        the catalog does not use ("rucksack" -> backpack, synonym; "flask" -> bottle, broader), nearest first."""
        out = []
        for form in dict.fromkeys([word, _singular(word)]):
            for noun, relation in related_nouns(form):
                tokens = tuple(_tokens(noun))
                for gram in dict.fromkeys([tokens, tokens[-1:]]):  # "vacuum bottle": its head, bottle
                    if gram in self.words and (gram in self.named or not any(t in self.ignored for t in gram)):
                        # a compound's head is a broader kind, even of a synonym ("open air" for outdoors: air?)
                        out.append((self.words[gram], " ".join(gram), relation if gram == tokens else "broader"))
                        break
            if out:
                break
        return out

    def _best(self, tokens: list[str], excluded: set[int]) -> tuple[frozenset[str], str] | None:
        """The type phrase `find` picks among phrases not starting at an `excluded` position."""
        for n in range(min(self._longest, 3), 0, -1):
            found = [(i, tuple(tokens[i : i + n])) for i in range(len(tokens) - n + 1)]
            found = [(i, g) for i, g in found if g in self.words and i not in excluded]
            if not found:
                continue
            fewest = min(len(self.words[g]) for _, g in found)
            ties = [(i, g) for i, g in found if len(self.words[g]) == fewest]
            at, gram = ties[0]
            for i, g in ties[1:]:
                if i <= at + n:  # the next word of the same phrase: its head
                    at, gram = i, g
            return self.words[gram], " ".join(gram)
        return None
