"""The one sentence splitter (and its clause variant for chat messages)."""

from __future__ import annotations

from text import split_clauses, split_sentences


def test_sentences_keep_decimals_and_abbreviations_whole():
    text = "It holds 2.5 L. It is 12 in. wide and light! Works e.g. for hiking. Costs $84.95 approx. Now 10% off."
    assert split_sentences(text) == [
        "It holds 2.5 L.",
        "It is 12 in. wide and light!",
        "Works e.g. for hiking.",
        "Costs $84.95 approx. Now 10% off.",
    ]
    assert split_sentences("Here are some options: Bluewater Bottle Co. Boulder 0.75 L Bottle: $44.95. In stock.") == [
        "Here are some options: Bluewater Bottle Co. Boulder 0.75 L Bottle: $44.95.", "In stock."]  # a company's "Co."


def test_line_breaks_and_bullet_markers_end_sentences():
    assert split_sentences("Intro line\n- one bullet\n* two\n• three\n2. numbered\n3) also\n\n") == [
        "Intro line", "one bullet", "two", "three", "numbered", "also",
    ]


def test_quotes_unicode_capitals_and_repeated_marks():
    assert split_sentences('He said "stop." Then left. Wow!! Él vino. ¿Qué?') == [
        'He said "stop."', "Then left.", "Wow!!", "Él vino.", "¿Qué?",
    ]


def test_lowercase_after_a_full_stop_does_not_start_a_sentence():
    assert split_sentences("Made of nylon. approx. weight 450 g.") == ["Made of nylon. approx. weight 450 g."]


def test_empty_text_has_no_sentences():
    assert split_sentences("") == [] and split_sentences(" \n ") == []


def test_clauses_also_split_on_commas_semicolons_colons_and_lowercase_starts():
    text = "my email is [EMAIL], do you sell trail shoes? thanks; bye: ok. e.g. this"
    assert split_clauses(text) == ["my email is [EMAIL],", "do you sell trail shoes?", "thanks;", "bye:", "ok.", "e.g. this"]
    assert split_clauses("It costs 1,299.50 today") == ["It costs 1,299.50 today"]
