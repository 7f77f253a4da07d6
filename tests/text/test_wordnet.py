"""WordNet's nouns read from Debian's database files: other words a shopper uses for a product type."""

from __future__ import annotations

from text.wordnet import related_nouns


def test_synonyms_broader_and_narrower_nouns():
    assert ("backpack", "synonym") in related_nouns("rucksack")
    assert ("bottle", "broader") in related_nouns("flask")  # a flask is a kind of bottle
    assert ("jacket", "narrower") in related_nouns("coat")  # a jacket is a kind of coat
    nouns = [n for n, _ in related_nouns("rucksack")]
    assert nouns.index("backpack") < nouns.index("bag")  # synonyms first, then the broader nouns


def test_a_word_wordnet_lacks_has_none():
    assert related_nouns("qwertyuiop") == []
