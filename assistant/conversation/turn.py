"""What one step of a turn produces, the parts every step uses, and the shared phrasing of facts.

A message may hold several requests ("where is SB-10004 and how long do I have to return it?"); each is a
`Step` answered by one handler (`shopping`, `service`), and the engine joins them in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from assistant.conversation import grounding
from assistant.conversation.contract import Citation, Event, ProductCard
from assistant.conversation.memory import SessionStore
from assistant.shop.cart import CartStore
from assistant.shop.orders import OrderStore
from assistant.shop.tickets import TicketStore
from retrieval.attributes import AttributeSchema
from retrieval.catalog import Product
from retrieval.product_types import ProductTypes

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


@dataclass
class Deps:
    """The data and stores a step reads and writes (built once by the engine)."""

    searcher: Any
    documents: Any
    orders: OrderStore
    carts: CartStore
    tickets: TicketStore
    sessions: SessionStore
    profile: Any
    recommender: Any
    catalog: dict[str, Product]
    schema: AttributeSchema
    types: ProductTypes
    return_window_days: int
    clock: Callable[[], datetime]
    placeholders: dict[str, str] = field(default_factory=dict)


class Step:
    """What one handler produced: the templated answer, what the model may draft from, and the events."""

    def __init__(self, intent: str, tool: str):
        self.intent = intent
        self.tool = tool
        self.template = ""  # the answer built from data alone
        self.listing = ""  # data lines appended under an approved model sentence (lists of products)
        self.overlap_with = ""  # a source text the draft must share at least 3 content words with
        self.task: str | None = None  # prompt of the model draft, None = template only
        self.data = ""  # the tool results as the model sees them
        self.required: list[list[str]] = []
        self.evidence = grounding.Evidence()
        self.cards: list[ProductCard] = []
        self.citations: list[Citation] = []
        self.events: list[Event] = []


def money(amount: float | None, currency: str = "USD") -> str:
    if amount is None:
        return "price on request"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{amount:,.2f}" if symbol else f"{amount:,.2f} {currency}"


def stock_phrase(p: Product | ProductCard) -> str:
    if p.in_stock is None:
        return ""
    return "in stock" if p.in_stock else "out of stock"


def short(title: str) -> str:
    """A product's name without the variant tail ("Trail Boot - Men's" -> "Trail Boot")."""
    return title.split(" - ")[0].strip()


def fact(p: Product) -> grounding.ProductFact:
    return grounding.ProductFact(p.id, p.title, p.price, p.currency, p.stock, p.in_stock, p.brand)
