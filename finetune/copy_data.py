"""Copywriting training records: prompt-completion pairs of product copy, and the held-out split of products.

The records are built by the caller (the assistant renders each product's prompt with the same function
`copy generate` uses, and picks the target from the product's real description); this module only splits
them by product and shapes them for TRL. The split is a hash of the product id, so it is fixed before any
training, the same on every machine and for every catalog, and a product never moves between splits:
`split_of(id) == "test"` products are never trained or tuned on (`copy eval --split test` scores them).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["CopyExample", "TEST_FRACTION", "VAL_FRACTION", "split_copy_examples", "split_of"]

TEST_FRACTION = 0.10  # held-out products: evaluation only
VAL_FRACTION = 0.03  # validation loss during training (early stopping, best checkpoint)
_SALT = "shopbot-copy-split-v1"  # changing it would change the split: never do it for an existing catalog

Split = Literal["train", "val", "test"]


def split_of(product_id: str) -> Split:
    """The split a product belongs to, from a hash of its id (stable across runs, machines and catalogs)."""
    digest = hashlib.sha256(f"{_SALT}:{product_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    if u < TEST_FRACTION:
        return "test"
    return "val" if u < TEST_FRACTION + VAL_FRACTION else "train"


@dataclass
class CopyExample:
    """One product: the exact chat prompt `copy generate` sends and the description to learn."""

    id: str
    prompt: list[dict[str, str]]  # [{"role": "system", ...}, {"role": "user", ...}]
    target: str

    def to_sft_record(self) -> dict[str, object]:
        """TRL's conversational prompt-completion record (loss on the completion only)."""
        return {"prompt": self.prompt, "completion": [{"role": "assistant", "content": self.target}]}


@dataclass
class CopySplit:
    train: list[CopyExample]
    val: list[CopyExample]
    stats: dict[str, object] = field(default_factory=dict)


def split_copy_examples(examples: list[CopyExample], max_val_examples: int | None = None,
                        stats: dict[str, object] | None = None) -> CopySplit:
    """Train and validation examples by `split_of`; held-out (test) products are dropped here.

    Raises:
        ValueError: no example is left to train on.
    """
    train = [e for e in examples if split_of(e.id) == "train"]
    val = [e for e in examples if split_of(e.id) == "val"][: max_val_examples or None]
    held_out = sum(split_of(e.id) == "test" for e in examples)
    if not train:
        raise ValueError(f"No copy training examples among {len(examples)} (held out: {held_out}); the catalog needs "
                         "products with a real description the claim checker supports.")
    out = dict(stats or {})
    out.update({"format": "copy", "train": len(train), "validation": len(val), "test": held_out,
                "split": f"sha256(id) with salt {_SALT}: test {TEST_FRACTION}, validation {VAL_FRACTION}"})
    return CopySplit(train=train, val=val, stats=out)
