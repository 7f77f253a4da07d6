"""The wire contract: what one chat turn sends out, defined once for the engine, the API, the UI and the CLI.

A turn is a stream of `Event`s (`{"type": ..., "data": {...}}`): `products` (a list of `ProductCard`),
`citation` (a list of `Citation`), `action`, `handoff`, `token` (reply text) and a final `done` whose data
is a `ChatReply` without actions and handoff. The API's OpenAPI document is generated from these models.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from retrieval.catalog import Product

EventType = Literal["token", "products", "citation", "action", "handoff", "done", "error"]


class Event(BaseModel):
    """One streamed event of a turn."""

    type: EventType
    data: dict[str, Any] = Field(default_factory=dict)


class ProductCard(BaseModel):
    """A product as a reply, the widget and the UI show it."""

    id: str
    title: str
    price: float | None = None
    currency: str = ""
    stock: int | None = None
    in_stock: bool | None = None
    url: str | None = None
    image: str | None = None
    reason: str = ""

    @classmethod
    def of(cls, product: Product, reason: str = "") -> ProductCard:
        return cls(
            id=product.id, title=product.title, price=product.price, currency=product.currency or "",
            stock=product.stock, in_stock=product.in_stock, url=product.url,
            image=product.images[0] if product.images else None, reason=reason,
        )


class Citation(BaseModel):
    """A policy passage a reply is based on."""

    doc_id: str
    title: str = ""
    snippet: str = ""


class ChatReply(BaseModel):
    """A whole turn at once: the `done` event's data plus the turn's actions and hand-off."""

    session: str
    intent: str | None = None
    reply: str
    products: list[ProductCard] = []
    citations: list[Citation] = []
    actions: list[dict[str, Any]] = []
    handoff: dict[str, Any] | None = None


def event_dict(event: Event | dict[str, Any]) -> dict[str, Any]:
    """An event (model or dict) as plain JSON-ready `{"type": ..., "data": {...}}`."""
    if isinstance(event, BaseModel):
        event = event.model_dump(mode="json")
    return {"type": str(event["type"]), "data": dict(event.get("data") or {})}
