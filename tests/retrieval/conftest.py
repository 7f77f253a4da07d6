"""Retrieval fixtures: a deterministic hashing embedder, a tiny random BERT folder, a small catalog."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from retrieval.catalog import Product, Variant
from retrieval.config import ChromaSettings, RetrievalSettings


@pytest.fixture
def hashing_embedder():
    from retrieval.embed import HashingEmbedder

    return HashingEmbedder(128)


@pytest.fixture(scope="session")
def tiny_embedder_dir(tmp_path_factory: pytest.TempPathFactory, bundled_embedder_dir: Path) -> Path:
    """A randomly initialised 2-layer BERT (hidden 32) with the bundled MiniLM's tokenizer."""
    import torch
    from transformers import BertConfig, BertModel

    out = tmp_path_factory.mktemp("tiny-embedder")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (bundled_embedder_dir / name).exists():
            shutil.copy(bundled_embedder_dir / name, out / name)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(out, safe_serialization=True)
    (out / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}))
    return out


@pytest.fixture
def settings() -> RetrievalSettings:
    return RetrievalSettings(candidates=50, chroma=ChromaSettings(hnsw_construction_ef=100, hnsw_search_ef=100, hnsw_m=16))


def _variants(prefix: str, sizes: list[str], colour: str, stock: int) -> list[Variant]:
    return [Variant(sku=f"{prefix}-{s}", size=s, colour=colour, stock=stock) for s in sizes]


def small_catalog() -> list[Product]:
    """Twelve outdoor products with prices, sizes, colours, brands and stock, enough to test filters."""
    return [
        Product(id="boot-1", title="Trailblazer Waterproof Hiking Boot", brand="Ridgeline", category=["Footwear", "Boots"],
                price=89.0, bullets=["waterproof leather upper", "grippy outsole"],
                variants=_variants("boot-1", ["9", "10", "11"], "Brown", 3)),
        Product(id="boot-2", title="Summit Pro Waterproof Mountaineering Boot", brand="Alpenglow",
                category=["Footwear", "Boots"], price=189.0, bullets=["crampon compatible", "waterproof membrane"],
                variants=_variants("boot-2", ["10", "12"], "Black", 2)),
        Product(id="boot-3", title="Canyon Low Hiking Shoe", brand="Ridgeline", category=["Footwear", "Shoes"], price=64.5,
                bullets=["breathable mesh", "not waterproof"], variants=_variants("boot-3", ["8", "9"], "Grey", 0)),
        Product(id="jacket-1", title="Stormshell Rain Jacket", brand="Alpenglow", category=["Clothing", "Jackets"],
                price=129.0, bullets=["waterproof breathable shell", "packable hood"],
                variants=_variants("jacket-1", ["S", "M", "L"], "Red", 5)),
        Product(id="jacket-2", title="Down Puffer Jacket", brand="Northwind", category=["Clothing", "Jackets"], price=149.0,
                bullets=["800 fill down", "warm winter insulation"], variants=_variants("jacket-2", ["M", "XL"], "Blue", 4)),
        Product(id="tent-1", title="Basecamp 2-Person Backpacking Tent", brand="Northwind", category=["Camping", "Tents"],
                price=219.0, stock=7, bullets=["freestanding", "two doors", "weighs 1.8 kg"]),
        Product(id="tent-2", title="Family Cabin Tent for 6 People", brand="Campwell", category=["Camping", "Tents"],
                price=299.0, stock=0, bullets=["room divider", "easy setup"]),
        Product(id="bag-1", title="Cozy Sleeping Bag 0 C", brand="Campwell", category=["Camping", "Sleeping Bags"],
                price=45.0, stock=12, bullets=["synthetic fill", "compression sack"]),
        Product(id="stove-1", title="Pocket Camping Stove", brand="Flamekit", category=["Camping", "Cooking"], price=29.99,
                stock=20, bullets=["boils water in 3 minutes", "folds small"]),
        Product(id="bottle-1", title="Insulated Water Bottle 750 ml", brand="Flamekit", category=["Accessories"],
                price=24.0, stock=40, attributes={"colour": "Green"}, bullets=["keeps drinks cold 24 hours"]),
        Product(id="lamp-1", title="Rechargeable LED Headlamp", brand="Brightway", category=["Accessories", "Lighting"],
                price=35.0, stock=15, bullets=["400 lumens", "usb rechargeable"]),
        Product(id="sock-1", title="Merino Wool Hiking Socks", brand="Ridgeline", category=["Clothing", "Socks"],
                price=18.0, variants=_variants("sock-1", ["M", "L"], "Grey", 30)),
    ]


@pytest.fixture
def catalog_products() -> list[Product]:
    return small_catalog()


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.jsonl"
    path.write_text("".join(p.model_dump_json() + "\n" for p in small_catalog()), encoding="utf-8")
    return path
