"""The product schema every part of Shopbot shares (catalog import, index, search, chat, copy)."""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field

AttributeValue = str | int | float | bool | list[str]


class Variant(BaseModel):
    """One purchasable variant (a size/colour combination) of a product."""

    model_config = ConfigDict(extra="forbid")

    sku: str
    size: str | None = None
    colour: str | None = None
    stock: int = Field(0, ge=0, description="Units on hand.")
    price: float | None = Field(None, ge=0, description="Overrides the product price when set.")


class Product(BaseModel):
    """A catalog item. Only `id` and `title` are required: ESCI products carry no price or stock."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    description: str = ""
    bullets: list[str] = Field(default_factory=list)
    brand: str | None = None
    category: list[str] = Field(default_factory=list, description="Category path, broadest first.")
    price: float | None = Field(None, ge=0)
    currency: str = "USD"
    stock: int | None = Field(None, ge=0, description="Units on hand over all variants; None = unknown.")
    variants: list[Variant] = Field(default_factory=list)
    attributes: dict[str, AttributeValue] = Field(default_factory=dict, description="e.g. material, colour, waterproof.")
    images: list[str] = Field(default_factory=list)
    url: str | None = None
    rating: float | None = Field(None, ge=0, le=5)
    rating_count: int | None = Field(None, ge=0)

    @property
    def in_stock(self) -> bool | None:
        if self.variants:
            return any(v.stock > 0 for v in self.variants)
        return None if self.stock is None else self.stock > 0

    @property
    def sizes(self) -> list[str]:
        return sorted({v.size for v in self.variants if v.size})

    @property
    def colours(self) -> list[str]:
        found = {v.colour for v in self.variants if v.colour}
        colour = self.attributes.get("colour") or self.attributes.get("color")
        if isinstance(colour, str):
            found.add(colour)
        return sorted(found)

    def content_hash(self) -> str:
        """Stable hash of everything indexed, so unchanged products are skipped on re-index."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]
