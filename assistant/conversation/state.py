"""The dialogue state of a session: what the shopper is looking for, what was shown, what is in focus.

Typed and stored with the session (`memory.Session.state`), so a follow-up two turns later still refines
the same request. Each turn updates it (`next_request`): a refinement ("in blue?", "for less than $70
then", "only the ones in stock") changes the active request; a new product type ("and I also need a
stove") starts a new one; "it / that one / the second / the cheaper one" resolve against what was shown.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from retrieval.attributes import Constraint, Sort
from retrieval.query import Filters, ParsedQuery


class ProductRequest(BaseModel):
    """The active product request: a type, its words, and the constraints gathered over the turns."""

    text: str = Field("", description="The product words searched ('waterproof hiking boots').")
    leaves: list[str] = Field(default_factory=list, description="Leaf categories of the product type, if known.")
    type_words: str = Field("", description="How the shopper named the type ('sleeping pad').")
    filters: Filters = Field(default_factory=Filters)

    def describe(self) -> str:
        """The request in a shopper's words, for a lead line: "sleeping pads under $70 in blue"."""
        f = self.filters
        symbol = {"EUR": "€", "GBP": "£"}.get(f.currency or "", "$")

        def _money(amount: float) -> str:
            return f"{symbol}{amount:,.2f}".replace(".00", "")

        kinds = [c for c in f.attributes if c.op == "==" and isinstance(c.value, str) and c.attribute == "type"]
        noun = str(kinds[0].value) if kinds else self.type_words or (self.text if len(self.text.split()) <= 3 else "")
        if len(self.leaves) == 1 and noun and self.leaves[0].lower().startswith(noun.lower() + " "):
            noun = self.leaves[0]  # "sleeping" said of sleeping pads: the kind's own name reads better
        parts = [_plural(noun.lower()) if noun else "products"]
        parts += list(dict.fromkeys(f"for {c.value} people" if c.attribute.endswith("_persons") else c.phrase
                                    for c in f.attributes if c.phrase and c.op not in ("is", "==")))
        words = [c.phrase if c.phrase and str(c.value).lower() in c.phrase.lower() else str(c.value)  # "max cushioning"
                 for c in f.attributes if c.op == "==" and isinstance(c.value, str) and c not in kinds
                 and str(c.value).lower() not in parts[0]]
        if f.price_around is not None:
            parts.append(f"around {_money(f.price_around)}")
        elif f.price_min is not None and f.price_max is not None:
            parts.append(f"between {_money(f.price_min)} and {_money(f.price_max)}")
        elif f.price_max is not None:
            parts.append(f"under {_money(f.price_max)}")
        elif f.price_min is not None:
            parts.append(f"over {_money(f.price_min)}")
        if f.colours:
            parts.append("in " + " or ".join(f.colours))
        if f.sizes:
            parts.append("in size " + " or ".join(f.sizes))
        if f.in_stock:
            parts.append("in stock")
        lead = " ".join(parts)
        bools = [c.phrase for c in f.attributes if c.op == "is" and c.value is True and c.phrase.lower() not in lead.lower()]
        lead = (" ".join(bools) + " " + lead).strip() if bools else lead
        return lead + (f" ({', '.join(words)})" if words else "")


class DialogueState(BaseModel):
    """Everything later turns refer to."""

    request: ProductRequest | None = None
    previous: ProductRequest | None = Field(None, description="The request before the last change, for 'go back to "
                                            "the ones before'.")
    shown: list[str] = Field(default_factory=list, description="Product ids shown last, in order.")
    focus: str | None = Field(None, description="The product the conversation is about ('it').")
    orders: list[str] = Field(default_factory=list, description="Orders in focus, most recent first.")
    pending: dict[str, Any] | None = Field(None, description="An order action awaiting the customer's yes.")
    topic: str = Field("", description="What the last turn was about: 'list', 'product', 'order', 'policy:<question>'.")
    action: str = Field("", description="The order action last offered or refused ('start_return'), while the "
                        "talk stays on it (its rules are what 'how much is the postage on that?' asks about).")
    variant: dict[str, Any] = Field(default_factory=dict, description="A size/colour asked about for a product "
                                    "('does it come in long?'), so 'add it' needs no second ask.")

    @classmethod
    def load(cls, raw: dict[str, Any]) -> DialogueState:
        """From a session's stored state (older sessions stored plain keys)."""
        if "dialogue" in raw:
            return cls.model_validate(raw["dialogue"])
        return cls(shown=list(raw.get("last_products") or []), focus=raw.get("focus"),
                   orders=[raw["last_order"]] if raw.get("last_order") else [], pending=raw.get("pending"))

    def store(self, raw: dict[str, Any]) -> None:
        raw.clear()
        raw["dialogue"] = self.model_dump(mode="json")


def next_request(
    active: ProductRequest | None, parsed: ParsedQuery, found_type: tuple[frozenset[str], str] | None,
) -> tuple[ProductRequest | None, str]:
    """The request after this message, and how it changed: "new", "refined" or "none" (no product request).

    A product type different from the active one starts a new request; the same type, or constraints alone
    (price, colour, size, stock, attributes, a superlative), refine the active one: the new constraints win
    and the others are kept.
    """
    f = parsed.filters
    constraints = any((f.price_min is not None, f.price_max is not None, f.colours, f.sizes, f.in_stock, f.attributes,
                       f.sort is not None, f.brands, _lifts(active, parsed.lifted)))
    if found_type is not None:
        leaves, words = found_type
        if active is not None and set(active.leaves) & set(leaves):
            # the same department refines, keeping the budget; another kind in it ("a kettle" then "a camping stove")
            # is now the kind, unless the words only name the department itself ("headlamps & lanterns")
            kind = words if words.split()[-1] != (active.type_words.split() or [""])[-1] and \
                words not in {leaf.lower() for leaf in leaves} else active.type_words
            return _refine(active, parsed, text=parsed.text or active.text, leaves=sorted(set(active.leaves) & set(leaves)) or active.leaves,
                           type_words=kind), "refined"
        return ProductRequest(text=parsed.text, leaves=sorted(leaves), type_words=words, filters=_own(f)), "new"
    if active is not None and constraints:
        return _refine(active, parsed, text=active.text, leaves=active.leaves), "refined"
    return active, "none"


def _own(f: Filters) -> Filters:
    return f.model_copy(update={"categories": []})


def _refine(active: ProductRequest, parsed: ParsedQuery, *, text: str, leaves: list[str],
            type_words: str | None = None) -> ProductRequest:
    old, new = active.filters, parsed.filters
    merged = old.model_copy()
    if new.price_min is not None or new.price_max is not None:
        merged.price_min, merged.price_max, merged.price_around = new.price_min, new.price_max, new.price_around
    for name in ("colours", "sizes", "brands"):
        if getattr(new, name):
            setattr(merged, name, list(getattr(new, name)))
    if new.in_stock:
        merged.in_stock = True
    if new.currency:
        merged.currency = new.currency
    if new.attributes:
        replaced = {c.attribute for c in new.attributes}
        merged.attributes = [c for c in old.attributes if c.attribute not in replaced] + list(new.attributes)
    if new.sort is not None:
        merged.sort = new.sort
    _drop(merged, parsed.lifted)
    if type_words is not None and type_words != active.type_words:  # a new kind: the old kind's `type` no longer holds
        merged.attributes = [c for c in merged.attributes if c.attribute != "type" or c in new.attributes]
    merged.categories = []
    return ProductRequest(text=text, leaves=leaves, type_words=active.type_words if type_words is None else type_words,
                          filters=merged)


_PRICE_WORDS = {"budget", "price", "cost", "costs", "money", "spend", "spending", "limit", "cap"}
_LIST_FIELDS = {"colour": "colours", "color": "colours", "size": "sizes", "brand": "brands"}


def _lifted_attribute(c: Constraint, word: str) -> bool:
    """Whether "forget the <word>" lets go of condition `c`: the word is in its name, value or phrase."""
    stem = word.lower().rstrip("s")
    said = " ".join([c.attribute.replace("_", " "), str(c.value), c.phrase or ""]).lower()
    return c.attribute != "type" and len(stem) >= 3 and re.search(rf"\b{re.escape(stem)}", said) is not None


def _lifts(active: ProductRequest | None, lifted: list[str]) -> bool:
    """Whether the words let go of any condition of the active request."""
    if active is None or not lifted:
        return False
    probe = active.filters.model_copy(deep=True)
    _drop(probe, lifted)
    return probe != active.filters


def _drop(f: Filters, lifted: list[str]) -> None:
    """Remove from `f` what the shopper let go of ('budget', 'colour', 'stock', 'waterproof')."""
    for word in lifted:
        if word in _PRICE_WORDS:
            f.price_min = f.price_max = f.price_around = None
        elif word in _LIST_FIELDS:
            setattr(f, _LIST_FIELDS[word], [])
        elif word == "stock":
            f.in_stock = None
        else:
            f.attributes = [c for c in f.attributes if not _lifted_attribute(c, word)]


def _plural(words: str) -> str:
    if words.endswith(("ware", "wear", "gear", "ing", "equipment")):  # mass nouns: "cookware", "bedding"
        return words
    if words.endswith(("s", "sh", "ch", "x")):
        return words + "es" if not words.endswith("s") else words
    if words.endswith("y") and words[-2:-1] not in "aeiou":
        return words[:-1] + "ies"
    return words + "s"


__all__ = ["Constraint", "DialogueState", "ProductRequest", "Sort", "next_request"]
