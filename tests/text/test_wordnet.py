"""WordNet's nouns read from Debian's database files: other words a shopper uses for a product type."""

from __future__ import annotations

from text.wordnet import only_describes, related_nouns


def test_synonyms_broader_and_narrower_nouns():
    assert ("backpack", "synonym") in related_nouns("rucksack")
    assert ("bottle", "broader") in related_nouns("flask")  # a flask is a kind of bottle
    assert ("jacket", "narrower") in related_nouns("coat")  # a jacket is a kind of coat
    nouns = [n for n, _ in related_nouns("rucksack")]
    assert nouns.index("backpack") < nouns.index("bag")  # synonyms first, then the broader nouns


def test_a_word_wordnet_lacks_has_none():
    assert related_nouns("qwertyuiop") == []


def test_words_wordnet_knows_only_as_adjectives_or_verbs_describe():
    assert only_describes("long") and only_describes("coated")  # "Long-Sleeve Tee", "Ceramic Coated Pan"
    assert not only_describes("boot") and not only_describes("pack")  # nouns
    assert not only_describes("hoodie")  # a word WordNet lacks tells nothing
