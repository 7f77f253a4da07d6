"""`eval recs`: the temporal-split protocol, its JSON shape, and the default recommender against baselines."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval.config import RecsSettings
from retrieval.errors import RetrievalError
from retrieval.recs.evaluate import evaluate_recs

sys.path.insert(0, str(Path(__file__).parent))  # tests/ is no package; the recs test doubles live beside us
from recs_fakes import BagOfWordsEmbedder  # noqa: E402

THEMES = {
    "garden": ["trowel", "seed tray", "watering can", "plant pot", "gloves", "rake", "twine", "labels"],
    "party": ["balloons", "napkins", "candles", "banner", "paper cups", "streamers", "confetti", "plates"],
    "bath": ["sponge", "soap dish", "towel", "bath salts", "loofah", "robe", "mat", "candle jar"],
    "desk": ["notebook", "pen set", "stapler", "desk tidy", "ruler", "clips", "tape", "folder"],
}


def _transactions(path: Path) -> Path:
    """Customers with a favourite theme buy its items (and a few staples again) over six months."""
    rng = np.random.default_rng(1)
    lines = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"]
    codes = {}
    for t, (theme, names) in enumerate(THEMES.items()):
        for n, name in enumerate(names):
            codes[(theme, n)] = (f"{t + 1}{n:04d}", f"{name} {theme}".upper())
    invoice = 500000
    for c in range(80):
        theme = list(THEMES)[c % 4]
        staple = codes[(theme, c % 3)]
        for month in range(1, 7):
            if rng.random() < 0.25:
                continue
            invoice += 1
            day = f"2011-{month:02d}-{rng.integers(1, 28):02d} 10:00:00"
            picks = rng.choice(8, size=3, replace=False)
            basket = {staple} | {codes[(theme, int(i))] for i in picks}
            if rng.random() < 0.2:  # an impulse buy from another theme
                basket.add(codes[(list(THEMES)[(c + 1) % 4], int(rng.integers(8)))])
            for code, desc in sorted(basket):
                lines.append(f"{invoice},{code},{desc},2,{day},1.5,{12000 + c},United Kingdom")
            if rng.random() < 0.1:
                code, desc = sorted(basket)[0]
                lines.append(f"C{invoice},{code},{desc},-2,{day[:-8]}18:00:00,1.5,{12000 + c},United Kingdom")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_evaluation_json_shape_and_sanity(tmp_path):
    csv = _transactions(tmp_path / "tx.csv")
    result = evaluate_recs(csv, "2011-04-01", BagOfWordsEmbedder(), RecsSettings(als_factors=8), cache_dir=tmp_path)
    assert set(result) == {"new", "all", "baselines"}
    assert set(result["baselines"]) == {"popularity", "als", "ease", "itemknn"}
    blocks = [result["new"], result["all"]] + [
        result["baselines"][b][m] for b in ("popularity", "als", "ease", "itemknn") for m in ("new", "all")
    ]
    for block in blocks:
        assert set(block) == {"recall@20", "ndcg@10", "coverage"}
        assert all(0.0 <= v <= 1.0 for v in block.values())
    json.dumps(result)
    # themed shoppers: knowing the shopper beats knowing only what sells
    assert result["new"]["ndcg@10"] > result["baselines"]["popularity"]["new"]["ndcg@10"]
    assert result["all"]["ndcg@10"] > result["baselines"]["popularity"]["all"]["ndcg@10"]
    assert result["all"]["coverage"] > result["baselines"]["popularity"]["all"]["coverage"]
    # the item-item baselines learn the themes too
    for name in ("ease", "itemknn"):
        assert result["baselines"][name]["new"]["ndcg@10"] > result["baselines"]["popularity"]["new"]["ndcg@10"]


def test_test_window_can_end_before_a_later_check_split(tmp_path):
    """`until` keeps a tuning split's test window clear of the check split's test period."""
    csv = _transactions(tmp_path / "tx.csv")
    full = evaluate_recs(csv, "2011-03-01", None, RecsSettings(als_factors=8))
    capped = evaluate_recs(csv, "2011-03-01", None, RecsSettings(als_factors=8), until="2011-04-01")
    assert capped["all"] != full["all"]
    with pytest.raises(RetrievalError, match="--until"):
        evaluate_recs(csv, "2011-03-01", None, RecsSettings(), until="soon")


def test_bad_split_dates_name_the_fix(tmp_path):
    csv = _transactions(tmp_path / "tx.csv")
    with pytest.raises(RetrievalError, match="YYYY-MM-DD"):
        evaluate_recs(csv, "April", None, RecsSettings())
    with pytest.raises(RetrievalError, match="inside the file's range"):
        evaluate_recs(csv, "2030-01-01", None, RecsSettings())


@pytest.mark.slow
def test_real_online_retail_slice(shared_data, tmp_path):
    """150 of the 1,539 test customers; models train on everything before the split (no embedder: fast)."""
    result = evaluate_recs(
        shared_data / "online_retail" / "online_retail.csv.gz", "2011-11-01", None, RecsSettings(),
        max_customers=150,
    )
    base = result["baselines"]
    assert result["new"]["ndcg@10"] > base["popularity"]["new"]["ndcg@10"]
    assert result["new"]["ndcg@10"] > base["als"]["new"]["ndcg@10"]
    assert result["all"]["ndcg@10"] > base["als"]["all"]["ndcg@10"]
    assert result["all"]["ndcg@10"] > 0.25
