"""`eval personalised-search`: the query rule, the JSON shape, and a lift where shoppers have a taste."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.config import RecsSettings, RetrievalSettings
from retrieval.embed import HashingEmbedder
from retrieval.errors import RetrievalError
from retrieval.personalise_eval import evaluate_personalised_search, head_words

KINDS = ["lunch bag", "cake stand", "tea towel", "gift wrap"]
COLOURS = ["red", "blue", "green", "pink", "black", "white"]


def test_head_words_rule():
    assert head_words("LUNCH BAG RED RETROSPOT") == "lunch bag"
    assert head_words("SET OF 3 CAKE TINS PANTRY DESIGN") == "cake tins"
    assert head_words("REGENCY CAKESTAND 3 TIER") == "regency cakestand"
    assert head_words("T-LIGHT HOLDER") == "t-light holder"
    assert head_words("12") == ""


def _transactions(path):
    """Each customer sticks to one colour and rebuys it across the product kinds, month after month."""
    rng = np.random.default_rng(3)
    lines = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"]
    invoice = 500000
    for c in range(40):
        colour = COLOURS[c % len(COLOURS)]
        for month in range(1, 7):
            invoice += 1
            day = f"2011-{month:02d}-{rng.integers(1, 28):02d} 10:00:00"
            for k in rng.choice(len(KINDS), size=2, replace=False):
                code = f"{k + 1}{COLOURS.index(colour):03d}"
                desc = f"{KINDS[k]} {colour}".upper()
                lines.append(f"{invoice},{code},{desc},2,{day},{1.5 + k},{13000 + c},United Kingdom")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("per_customer", [1, 2])
def test_a_taste_for_a_colour_lifts_the_bought_item(tmp_path, per_customer):
    csv = _transactions(tmp_path / "tx.csv")
    settings = RetrievalSettings(candidates=50, recs=RecsSettings(als_factors=8))
    out = evaluate_personalised_search(csv, "2011-05-01", HashingEmbedder(64), settings, per_customer=per_customer)
    assert set(out) >= {"mrr@10", "ndcg@10", "queries"}
    assert set(out["mrr@10"]) == {"personalised", "plain"} and set(out["ndcg@10"]) == {"personalised", "plain"}
    assert out["queries"] == 40 * per_customer and out["customers"] == 40
    assert out["mrr@10"]["personalised"] > out["mrr@10"]["plain"]
    assert out["ndcg@10"]["personalised"] > out["ndcg@10"]["plain"]


def test_bad_dates_name_the_fix(tmp_path):
    csv = _transactions(tmp_path / "tx.csv")
    with pytest.raises(RetrievalError, match="YYYY-MM-DD"):
        evaluate_personalised_search(csv, "May", HashingEmbedder(64), RetrievalSettings())
    with pytest.raises(RetrievalError, match="inside the file's range"):
        evaluate_personalised_search(csv, "2030-01-01", HashingEmbedder(64), RetrievalSettings())
