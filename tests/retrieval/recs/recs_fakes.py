"""Shared test doubles for the recommendation tests: a bag-of-words embedder and a tiny shop."""

from __future__ import annotations

import hashlib
import re

import numpy as np

from retrieval.catalog import Product

_WORD = re.compile(r"[a-z]+")


class BagOfWordsEmbedder:
    """Deterministic: each lower-cased word hashes to one of `dim` slots; rows are L2-normalised."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.name = f"test-bow-{dim}"
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
        return out


def shop_products() -> list[Product]:
    """Three categories with distinct vocabularies, 8 products each; one kitchen item is out of stock."""
    kinds = {
        "Kitchen": ["kettle", "skillet", "spatula", "teapot", "saucepan", "whisk", "colander", "ladle"],
        "Footwear": ["boots", "sandals", "sneakers", "slippers", "loafers", "clogs", "trainers", "moccasins"],
        "Camping": ["tent", "lantern", "sleeping bag", "stove", "hammock", "tarp", "cot", "headlamp"],
    }
    words = {"Kitchen": "cooking kitchen cookware", "Footwear": "walking shoes footwear", "Camping": "outdoor camping trip"}
    products = []
    for cat, names in kinds.items():
        for n, name in enumerate(names):
            products.append(
                Product(
                    id=f"{cat[:3].upper()}-{n}",
                    title=f"Trail {name.title()}",
                    description=f"A {name} for {words[cat]}.",
                    category=[cat],
                    price=10.0 + 10 * n,
                    stock=0 if (cat == "Kitchen" and n == 7) else 5,
                )
            )
    return products
