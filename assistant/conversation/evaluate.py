"""The conversation benchmark (issue 15): scripted multi-turn chats, every reply checked against the shop's data.

The conversations live in `benchmark/visible.yaml` and `benchmark/heldout.yaml` (the held-out split measures
generalisation: engine work must not tune on it, and reports show only its aggregate). A file is
`{split, conversations: [...]}`; a conversation is

    id: v-budget-1
    class: budget                 # one of CLASSES
    customer: {status: delivered, contains: jacket, returnable: true}   # optional; absent = anonymous
    product: {category: Rain Jackets, has_colour: green}                # optional: the product {product} names
    turns:
      - say: "is the {product} available in green?"
        expect: [{variant_answer: {colour: green}}, no_echo]

Nothing in a file is a shop value: customers, orders and products are picked from the shop's data when the
benchmark runs, and every check computes its expectation from the catalog, the orders and the policies then.

Customer spec (the first order, oldest first, that fits; its customer chats signed in): `status` (one or a
list), `contains` (a product-type word found in an item's category or title), `month` (`last` / `this`,
relative to the shop's today), `returnable` (delivered within the returns policy's window), `latest` (the
customer's newest order), `min_orders`, `other_status` (the customer also has an order in that state),
`orders: none` (a customer without orders). With `contains`/`month` the order is the only one of the
customer's orders the words fit, so "the jacket I bought" is unambiguous (`unique: false` drops that, for
conversations that name the order number).
Product spec: `category`, `in_stock`, `has_size`/`has_colour` (an in-stock variant of it), `lacks_size`/`lacks_colour`
(no variant of it at all).
Placeholders in `say`: {order} {other_order} {foreign_order} {item} {total} {product} (from the specs), and
{size} {colour} (an in-stock variant of the product being added to the cart, chosen during the run).

A check is a name (`no_echo`) or a one-key mapping (`{max_price: {value: 90, margin: 0.1}}`; a scalar is the
check's first parameter). The vocabulary is CHECKS; each function's docstring states what passes. A turn
passes when all its checks pass and the independent verifier (`unsupported_claims`) finds no unsupported
claim; a conversation passes when all its turns pass. The shop's "today" is its latest order event, and the
engine's clock is set to it, so return windows and "last month" do not drift with the calendar.
"""

from __future__ import annotations

import fnmatch
import inspect
import json
import logging
import math
import re
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError

logger = logging.getLogger(__name__)

BENCHMARK_DIR = Path(__file__).parent / "benchmark"
SPLITS = ("visible", "heldout")
CLASSES = ("budget", "refinement", "new_request", "attributes", "yes_no", "policy", "multi_intent",
           "order_reference", "cart", "reply_quality", "orders", "handoff", "refusal")
_DRAFTED = {"llm", "repaired", "fallback"}  # answer sources where the chat model drafted the reply
# Turns asking about the last listing ("the lightest of those", "add the second one"): what they show answers the
# question and does not replace the listing the next turn may still refer to.
_ABOUT_LISTING = {"superlative", "variant_answer", "cart_add", "cart_remove", "cart_view"}
_STATIC = {"order", "other_order", "foreign_order", "item", "total", "product"}
_DYNAMIC = {"size", "colour"}
_CUSTOMER_KEYS = {"status", "contains", "month", "returnable", "latest", "min_orders", "other_status", "orders", "unique"}
_PRODUCT_KEYS = {"category", "in_stock", "has_size", "lacks_size", "has_colour", "lacks_colour"}
_STOP = {"with", "from", "that", "this", "your", "have", "will", "they", "them", "their", "there", "when", "what",
         "which", "into", "only", "also", "more", "than", "then", "must", "been", "were", "does", "over", "under"}
_NUMBER_WORDS = {"1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven", "8": "eight",
                 "9": "nine", "10": "ten", "14": "fourteen", "30": "thirty"}
_STATE_WORDS = {
    "placed": r"placed|processing|not (?:yet )?(?:been )?shipped|hasn't shipped|being (?:prepared|packed)|received",
    "shipped": r"shipped|on (?:its|the) way|in transit|out for delivery|dispatched",
    "delivered": r"delivered|arrived",
    "cancell?ed": r"cancell?ed",
    "returned": r"returned|refunded",
}
_NEG = re.compile(r"\b(no|not|nope|unfortunately|sorry|unavailable|sold out|out of stock)\b|n't\b", re.I)
_POS = re.compile(r"\b(yes|yep|yeah|sure|it does|it is|comes in|available|in stock|we have|we've got|you can get)\b", re.I)
_SCORE = re.compile(r"(?<![\d$.,])\d\.\d{2,}(?!\d)|\b(score|semantic|bm25|cosine|similarity|embedding|rerank)\b", re.I)
_REFUSE = re.compile(r"\b(can(?:no|')t|unable|not able|won't|will not|not allowed|only help|not something)\b", re.I)
_REMEDY = re.compile(r"\b(replacement|replace|refund|prepaid (?:return )?label|free (?:return|of charge)|support team|"
                     r"ticket|connect you|hand (?:you )?(?:over|off)|agent|colleague)\b", re.I)
_POLICY_FIGURES = {  # name: (policy title pattern, pattern whose group 1 is the figure as a reply must state it)
    "return_window": (r"^returns", r"(\d+ days) of delivery"),
    "exchange_window": (r"^exchange", r"(\d+ days) of delivery"),
    "damage_report_window": (r"^damaged", r"(\d+ days) of delivery"),
    "return_label_fee": (r"^returns", r"(\$\d[\d.,]*) label fee"),
    "card_refund_time": (r"^refunds", r"card refunds take (\d+ to \d+ business days)"),
    "warranty_default": (r"^warranty", r"warranty is (\d+ years?)"),
    "international_shipping_cost": (r"^international", r"flat (\$\d[\d.,]*\d)"),
    "international_free_threshold": (r"^international", r"free on orders of (\$\d[\d.,]*\d)"),
    "international_delivery_time": (r"^international", r"(\d+ to \d+ business days)"),
}


class BenchmarkError(AssistantError, ValueError):
    """A conversation file, spec or check that cannot be used with this shop."""


# ---------------------------------------------------------------- the shop's facts


def _money(text: str) -> float:
    return float(text.replace("$", "").replace(",", ""))


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[*_`]", "", text))


@dataclass
class ShopFacts:
    """What the checks compute from: the catalog, the shop's original orders, the policies, and derived figures."""

    catalog: dict[str, Any]  # product id -> retrieval.catalog.Product
    orders: list[Any]  # assistant.shop.data.OrderRecord, oldest first
    customers: list[str]
    policies: list[Any]  # assistant.shop.data.Policy
    today: datetime  # the shop's latest order event
    figures: dict[str, str]  # policy figure name -> the figure as stated ("30 days", "$6.95")
    shipping: dict[str, dict]  # delivery option -> {"cost", "free_from"?, "time"?} from the policy's table
    known_text: str  # prompt templates and the shop profile (words a reply may use without a source)

    @classmethod
    def load(cls, shop_dir: Path) -> ShopFacts:
        import prompts
        from assistant.shop import data as shop
        from retrieval.ingest import load_catalog

        shop_dir = Path(shop_dir)
        catalog = {p.id: p for p in load_catalog(shop_dir / "catalog.jsonl").products}
        orders = sorted(shop.load_orders(shop_dir), key=lambda o: (o.created_at, o.id))
        policies = shop.load_policies(shop_dir)
        events = [o.created_at for o in orders] + [h.at for o in orders for h in o.history]
        if not events:
            raise BenchmarkError(f"{shop_dir / 'orders.jsonl'} has no orders; the benchmark needs the shop's orders.")
        figures, shipping = {}, _shipping_table(policies)
        for name, (title, pattern) in _POLICY_FIGURES.items():
            for p in policies:
                m = re.search(title, p.title, re.I) and re.search(pattern, _plain(p.text), re.I)
                if m:
                    figures[name] = m.group(1)
                    break
        for option, row in shipping.items():
            figures[f"{option}_shipping_cost"] = f"${row['cost']:.2f}"
            if "time" in row:
                figures[f"{option}_delivery_time"] = row["time"]
            if "free_from" in row:
                figures["free_shipping_threshold"] = f"${row['free_from']:g}"
        known = [t.read_text(encoding="utf-8") for t in sorted(Path(prompts.__file__).parent.glob("*.md"))]
        known.append((shop_dir / "profile.toml").read_text(encoding="utf-8"))
        return cls(catalog, orders, [c.id for c in shop.load_customers(shop_dir)], policies, max(events), figures,
                   shipping, "\n".join(known))

    def return_window_days(self) -> int:
        if "return_window" not in self.figures:
            raise BenchmarkError("No return window ('within N days of delivery') in a policy titled 'Returns'.")
        return int(self.figures["return_window"].split()[0])

    def policy(self, doc_id: str, title: str = "") -> Any | None:
        return next((p for p in self.policies if p.doc_id == doc_id), None) or next(
            (p for p in self.policies if title and p.title == title), None)


def _shipping_table(policies) -> dict[str, dict]:
    """The delivery-options table of the shipping policy: option -> cost, free-shipping threshold, delivery time."""
    for p in sorted(policies, key=lambda p: not re.match(r"shipping", p.title, re.I)):
        rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in p.text.splitlines()
                if line.strip().startswith("|") and not re.fullmatch(r"[|\s:-]+", line.strip())]
        if not rows or not any(re.search("cost", c, re.I) for c in rows[0]):
            continue
        col = next(i for i, c in enumerate(rows[0]) if re.search("cost", c, re.I))
        when = next((i for i, c in enumerate(rows[0]) if re.search("time", c, re.I)), None)
        table = {}
        for row in rows[1:]:
            prices = re.findall(r"\$(\d[\d,]*(?:\.\d+)?)", row[col])
            if prices:
                table[row[0].lower()] = {"cost": _money(prices[0])}
                days = re.search(r"\d+(?: to \d+)? business days?", row[when]) if when is not None else None
                if days:
                    table[row[0].lower()]["time"] = days.group(0)
                free = re.search(r"free on orders (?:of|over|from) \$(\d[\d,]*(?:\.\d+)?)", row[col], re.I)
                if free:
                    table[row[0].lower()]["free_from"] = _money(free.group(1))
        if table:
            return table
    return {}


def _stem_pattern(word: str) -> re.Pattern:
    stem = re.sub(r"(es|s)$", "", word.lower().strip()) if len(word) > 4 else word.lower()
    return re.compile(rf"\b{re.escape(stem)}(?:e?s)?\b", re.I)


def _product_is(product, word: str) -> bool:
    return bool(_stem_pattern(word).search(" ".join([*product.category, product.title])))


def _in_category(product, names: list[str]) -> bool:
    path = {c.lower() for c in product.category}
    return any(n.lower() in path for n in names)


def _colour_ok(colour: str | None, asked: str) -> bool:
    words = set(re.findall(r"[a-z]+", (colour or "").lower().replace("gray", "grey")))
    return bool(words) and set(re.findall(r"[a-z]+", asked.lower().replace("gray", "grey"))) <= words


def _variants(product) -> list[Any]:
    """The product's variants; a product without variants is one variant with the product's id and stock."""
    from retrieval.catalog import Variant

    return product.variants or [Variant(sku=product.id, stock=product.stock or 0)]


def _matching(product, size: str | None = None, colour: str | None = None, in_stock: bool = True) -> list[Any]:
    return [v for v in _variants(product) if (not in_stock or v.stock > 0)
            and (size is None or (v.size or "").lower() == str(size).lower().removeprefix("size ").strip())
            and (colour is None or _colour_ok(v.colour, colour))]


# ---------------------------------------------------------------- conversations and their specs


@dataclass
class Conversation:
    id: str
    split: str
    cls: str
    turns: list[dict]  # {"say": str, "expect": [(name, params)]}
    customer: dict | None = None
    product: dict | None = None


def load_conversations(split: str = "all", folder: Path = BENCHMARK_DIR) -> list[Conversation]:
    """The benchmark's conversations of `split` (visible, heldout or all), with every check name and parameter checked."""
    if split not in (*SPLITS, "all"):
        raise BenchmarkError(f"Unknown split '{split}'; expected one of {[*SPLITS, 'all']}.")
    import yaml

    out = []
    for name in SPLITS if split == "all" else (split,):
        path = folder / f"{name}.yaml"
        for n, raw in enumerate(yaml.safe_load(path.read_text(encoding="utf-8"))["conversations"]):
            where = f"{path.name} conversation {n} ({raw.get('id')})"
            if raw.get("class") not in CLASSES:
                raise BenchmarkError(f"{where}: class {raw.get('class')!r}; expected one of {list(CLASSES)}.")
            turns = [{"say": str(t["say"]), "expect": [_parse_check(e, where) for e in t.get("expect") or []]}
                     for t in raw["turns"]]
            out.append(Conversation(raw["id"], name, raw["class"], turns, raw.get("customer"), raw.get("product")))
    return out


def _parse_check(entry: Any, where: str) -> tuple[str, dict]:
    name, params = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
    if name not in CHECKS or (isinstance(entry, dict) and len(entry) != 1):
        raise BenchmarkError(f"{where}: unknown check {entry!r}; expected one of {sorted(CHECKS)}.")
    fn = CHECKS[name]
    if not isinstance(params, dict):
        params = {list(inspect.signature(fn).parameters)[2]: params}
    try:
        inspect.signature(fn).bind(None, None, **params)
    except TypeError as exc:
        raise BenchmarkError(f"{where}: check '{name}' {params}: {exc}; see {fn.__name__}'s parameters.") from exc
    return name, params


@dataclass
class Resolved:
    """A conversation's customer, order and product, picked from the shop's data."""

    customer: str | None = None
    order: Any = None  # OrderRecord
    product: Any = None  # Product
    values: dict[str, str] = field(default_factory=dict)


def _month_ok(order, month: str, today: datetime) -> bool:
    if month not in ("last", "this"):
        raise BenchmarkError(f"month: {month!r}; expected 'last' or 'this'.")
    first = today.replace(day=1)
    ref = (first - timedelta(days=1)) if month == "last" else first
    return (order.created_at.year, order.created_at.month) == (ref.year, ref.month)


def _delivered_at(order) -> datetime | None:
    return next((h.at for h in reversed(order.history) if h.status == "delivered"), None)


def _returnable(order, facts: ShopFacts) -> bool:
    delivered = _delivered_at(order)
    return (order.status == "delivered" and delivered is not None
            and facts.today - delivered <= timedelta(days=facts.return_window_days()))


def _refers(order, facts: ShopFacts, contains: str | None, month: str | None) -> bool:
    return ((not contains or any(_product_is(facts.catalog[i.product_id], contains) for i in order.items
                                 if i.product_id in facts.catalog))
            and (not month or _month_ok(order, month, facts.today)))


def resolve(conv: Conversation, facts: ShopFacts) -> Resolved:
    """Pick the conversation's customer, order and product from the shop; check its placeholders and checks."""
    out = Resolved()
    spec, where = conv.customer, f"{conv.split}.yaml {conv.id}"
    if spec:
        if set(spec) - _CUSTOMER_KEYS:
            raise BenchmarkError(f"{where}: customer keys {sorted(set(spec) - _CUSTOMER_KEYS)}; expected {sorted(_CUSTOMER_KEYS)}.")
        if spec.get("orders") == "none":
            with_orders = {o.customer_id for o in facts.orders}
            out.customer = next((c for c in facts.customers if c not in with_orders), None)
            if out.customer is None:
                raise BenchmarkError(f"{where}: no customer without orders in this shop.")
        else:
            out.order = next((o for o in facts.orders if _fits(o, spec, facts)), None)
            if out.order is None:
                raise BenchmarkError(f"{where}: no order in this shop fits the customer spec {spec}.")
            out.customer = out.order.customer_id
            o = out.order
            item = next((i for i in o.items if spec.get("contains") and i.product_id in facts.catalog
                         and _product_is(facts.catalog[i.product_id], spec["contains"])), o.items[0])
            other = [x for x in facts.orders if x.customer_id == o.customer_id and x.id != o.id
                     and x.status == spec.get("other_status", x.status)]
            foreign = [x for x in facts.orders if x.customer_id != o.customer_id]
            out.values.update(order=o.id, item=item.title.split(" - ")[0], total=f"${o.total:.2f}",
                              foreign_order=next((x.id for x in foreign if x.status == "placed"), foreign[0].id))
            if other:
                out.values["other_order"] = other[0].id
    if conv.product:
        if set(conv.product) - _PRODUCT_KEYS:
            raise BenchmarkError(f"{where}: product keys {sorted(set(conv.product) - _PRODUCT_KEYS)}; expected {sorted(_PRODUCT_KEYS)}.")
        short = Counter(p.title.split(" - ")[0] for p in facts.catalog.values())
        out.product = next((p for p in facts.catalog.values() if _product_fits(p, conv.product)
                            and short[p.title.split(" - ")[0]] == 1), None)  # {product} names one product
        if out.product is None:
            raise BenchmarkError(f"{where}: no product in this shop fits the product spec {conv.product}.")
        out.values["product"] = out.product.title.split(" - ")[0]
    for n, turn in enumerate(conv.turns, 1):
        for name in set(re.findall(r"\{(\w+)\}", turn["say"])):
            if name not in _DYNAMIC and name not in out.values:
                raise BenchmarkError(f"{where} turn {n}: placeholder {{{name}}} is not set by the conversation's specs "
                                     f"(static: {sorted(_STATIC)}, dynamic: {sorted(_DYNAMIC)}).")
        for name, params in turn["expect"]:
            _validate(name, params, facts, out, f"{where} turn {n}")
    return out


def _fits(o, spec: dict, facts: ShopFacts) -> bool:
    mine = [x for x in facts.orders if x.customer_id == o.customer_id]
    statuses = spec.get("status") or [o.status]
    return ((o.status in ([statuses] if isinstance(statuses, str) else statuses))
            and _refers(o, facts, spec.get("contains"), spec.get("month"))
            and ("returnable" not in spec or _returnable(o, facts) == spec["returnable"])
            and (not spec.get("latest") or o is max(mine, key=lambda x: (x.created_at, x.id)))
            and len(mine) >= spec.get("min_orders", 1)
            and (not ("contains" in spec or "month" in spec) or spec.get("unique") is False
                 or sum(_refers(x, facts, spec.get("contains"), spec.get("month")) for x in mine) == 1)
            and ("other_status" not in spec or any(x.status == spec["other_status"] for x in mine if x is not o)))


def _product_fits(p, spec: dict) -> bool:
    return ((not spec.get("category") or _in_category(p, [spec["category"]]))
            and ("in_stock" not in spec or p.in_stock == spec["in_stock"])
            and (not spec.get("has_size") or bool(_matching(p, size=spec["has_size"])))
            and (not spec.get("lacks_size") or (bool(p.sizes) and not _matching(p, size=spec["lacks_size"], in_stock=False)))
            and (not spec.get("has_colour") or bool(_matching(p, colour=spec["has_colour"])))
            and (not spec.get("lacks_colour") or not _matching(p, colour=spec["lacks_colour"], in_stock=False)))


def _validate(name: str, params: dict, facts: ShopFacts, res: Resolved, where: str) -> None:
    """Fail early on a check this shop cannot answer: unknown category, attribute, figure or policy topic."""
    categories = {c.lower() for p in facts.catalog.values() for c in p.category}
    attributes = {k for p in facts.catalog.values() for k in p.attributes}
    named = params.get("names") if name == "category" else params.get("category")
    for value in [named] if isinstance(named, str) else named or []:
        if value.lower() not in categories:
            raise BenchmarkError(f"{where}: {name}: category {value!r} is not in the catalog.")
    attr = params.get("attribute") if name == "superlative" else params.get("name") if name == "attribute" else None
    if attr is not None and attr not in attributes:
        raise BenchmarkError(f"{where}: {name}: attribute {attr!r} is not in the catalog; expected one of {sorted(attributes)}.")
    if name == "states" and params["figure"] not in facts.figures:
        raise BenchmarkError(f"{where}: figure {params['figure']!r} is not in the policies; expected one of {sorted(facts.figures)}.")
    for key in ("matches", "topic"):
        if key in params and not any(re.search(params[key], _plain(p.text), re.I) for p in facts.policies):
            raise BenchmarkError(f"{where}: {name}: no policy matches {params[key]!r}.")
    if name in ("order_state", "action", "return_allowed"):
        if res.customer is None or res.order is None:
            raise BenchmarkError(f"{where}: {name} needs a customer spec with an order.")
        _target_order(facts, res, params.get("contains"), params.get("month"), params.get("latest", False))
    if name == "shipping_cost" and not params.get("international") and params.get("option", "standard").lower() not in facts.shipping:
        raise BenchmarkError(f"{where}: shipping option {params.get('option', 'standard')!r} is not in the shipping table {sorted(facts.shipping)}.")


def _target_order(facts: ShopFacts, res: Resolved, contains=None, month=None, latest=False):
    """The order a check is about: the spec's order, or the customer's one order the words/time fit."""
    if not (contains or month or latest):
        return res.order
    mine = [o for o in facts.orders if o.customer_id == res.customer]
    if latest:
        return max(mine, key=lambda o: (o.created_at, o.id))
    fits = [o for o in mine if _refers(o, facts, contains, month)]
    if len(fits) != 1:
        raise BenchmarkError(f"{len(fits)} orders of {res.customer} fit contains={contains!r} month={month!r}; expected one.")
    return fits[0]


# ---------------------------------------------------------------- one turn and its checks


@dataclass
class TurnResult:
    say: str
    events: list[dict]  # {"type", "data"} as the engine streamed them
    done: dict

    @property
    def reply(self) -> str:
        return self.done.get("reply") or ""

    @property
    def cards(self) -> list[str]:
        return [p["id"] for p in self.done.get("products") or []]

    @property
    def actions(self) -> list[dict]:
        return [e["data"] for e in self.events if e["type"] == "action"]


@dataclass
class Context:
    """A conversation's state as the checks see it."""

    facts: ShopFacts
    res: Resolved
    orders: Any  # the conversation's live OrderStore
    listing: list[str] = field(default_factory=list)  # the latest earlier turn's products, unless it asked about a listing
    shown: list[str] = field(default_factory=list)  # the latest earlier turn that showed any product
    cart: dict[str, int] = field(default_factory=dict)  # product id -> quantity, from the engine's own events
    target: str | None = None  # the product being added to the cart
    given: dict = field(default_factory=dict)  # size/colour given so far for `target`


def _products(t: TurnResult, c: Context) -> tuple[list[Any], str | None]:
    unknown = [i for i in t.cards if i not in c.facts.catalog]
    if not t.cards:
        return [], "no products shown"
    return [c.facts.catalog[i] for i in t.cards if i in c.facts.catalog], (f"unknown product ids {unknown}" if unknown else None)


def _each(t, c, ok: Callable[[Any], bool], what: str) -> str | None:
    products, problem = _products(t, c)
    bad = [p.id for p in products if not ok(p)]
    return problem or (f"{bad} not {what}" if bad else None)


def check_intent(t, c, names) -> str | None:
    """The turn's intent is one of `names`."""
    names = [names] if isinstance(names, str) else names
    return None if t.done.get("intent") in names else f"intent {t.done.get('intent')!r}, expected one of {names}"


def check_tool(t, c, names) -> str | None:
    """The turn's tool matches one of `names` (glob patterns: `orders.*`)."""
    names = [names] if isinstance(names, str) else names
    tool = t.done.get("tool") or ""
    return None if any(fnmatch.fnmatch(tool, n) for n in names) else f"tool {tool!r}, expected one of {names}"


def check_shows_products(t, c, min=1) -> str | None:
    """At least `min` products are shown."""
    return None if len(t.cards) >= min else f"{len(t.cards)} products shown, expected at least {min}"


def check_no_products(t, c) -> str | None:
    """No product is shown."""
    return f"showed products {t.cards}" if t.cards else None


def check_category(t, c, names) -> str | None:
    """At least one product is shown, and every one is in one of the categories `names` (the catalog's path)."""
    names = [names] if isinstance(names, str) else names
    return _each(t, c, lambda p: _in_category(p, names), f"in {names}")


def check_max_price(t, c, value, margin=0.0) -> str | None:
    """Every shown product (>= 1) costs at most `value` x (1 + `margin`) ("around 90": margin 0.1)."""
    top = value * (1 + margin)
    return _each(t, c, lambda p: p.price is not None and p.price <= top + 1e-9, f"priced <= {top:g}")


def check_min_price(t, c, value) -> str | None:
    """Every shown product (>= 1) costs at least `value`."""
    return _each(t, c, lambda p: p.price is not None and p.price >= value, f"priced >= {value:g}")


_OPS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
        "==": lambda a, b: str(a).lower() == str(b).lower() if isinstance(a, str) or isinstance(b, str) else a == b,
        "!=": lambda a, b: str(a).lower() != str(b).lower(),
        "contains": lambda a, b: str(b).lower() in (" ".join(a) if isinstance(a, list) else str(a)).lower()}


def _attr_ok(p, name: str, op: str, value) -> bool:
    if op not in _OPS:
        raise BenchmarkError(f"attribute op {op!r}; expected one of {list(_OPS)}.")
    have = p.attributes.get(name)
    try:
        return have is not None and bool(_OPS[op](have, value))
    except TypeError:
        return False


def check_attribute(t, c, name, op, value) -> str | None:
    """Every shown product (>= 1) has catalog attribute `name` with `op` `value` (e.g. capacity_persons >= 3)."""
    return _each(t, c, lambda p: _attr_ok(p, name, op, value), f"{name} {op} {value}")


def check_has_variant(t, c, size=None, colour=None) -> str | None:
    """Every shown product (>= 1) has an in-stock variant of that size and/or colour."""
    return _each(t, c, lambda p: bool(_matching(p, size, colour)), f"in stock in {size or ''} {colour or ''}".rstrip())


def check_all_in_stock(t, c) -> str | None:
    """Every shown product (>= 1) is in stock."""
    return _each(t, c, lambda p: p.in_stock is True, "in stock")


def check_in_stock_first(t, c) -> str | None:
    """No out-of-stock product is shown before an in-stock one."""
    flags = [c.facts.catalog[i].in_stock is not False for i in t.cards if i in c.facts.catalog]
    return "an out-of-stock product is listed before an in-stock one" if flags != sorted(flags, reverse=True) else None


def check_superlative(t, c, attribute, pick, among="previous", category=None, where=None) -> str | None:
    """The product answered (the first shown, else the first one the reply names) has the min/max `attribute`
    among the previous listing (`previous`), this turn's products (`shown`) or the catalog's `category`."""
    if among == "previous":
        pool = [c.facts.catalog[i] for i in c.listing]
    elif among == "shown":
        pool = [c.facts.catalog[i] for i in t.cards if i in c.facts.catalog]
    else:
        pool = [p for p in c.facts.catalog.values() if _in_category(p, [category])]
    pool = [p for p in pool if isinstance(p.attributes.get(attribute), (int, float))
            and all(str(p.attributes.get(k)).lower() == str(v).lower() for k, v in (where or {}).items())]
    if not pool:
        return "no earlier listing to pick from" if among == "previous" and not c.listing else f"no products with {attribute} to compare"
    best = (min if pick == "min" else max)(p.attributes[attribute] for p in pool)
    if t.cards:
        answer = c.facts.catalog.get(t.cards[0])
    else:
        named = [(t.reply.find(p.title.split(" - ")[0]), p) for p in pool if p.title.split(" - ")[0] in t.reply]
        answer = min(named, key=lambda x: x[0])[1] if named else None
    if answer is None:
        return "no product shown or named"
    value = answer.attributes.get(attribute)
    return None if value == best else f"{answer.id} has {attribute}={value}, the {pick} is {best}"


def check_variant_answer(t, c, size=None, colour=None, position=None) -> str | None:
    """The reply says yes or no as the focused product's variants and stock say (no size/colour: is it in stock).
    Focus: the listing's `position`, else the conversation's product, else the first shown, else the last listing's."""
    if position:
        pid = c.listing[position - 1] if len(c.listing) >= position else None
    elif c.res.product is not None:
        pid = c.res.product.id
    else:
        pid = t.cards[0] if t.cards else (c.shown[0] if c.shown else None)
    if pid is None or pid not in c.facts.catalog:
        return f"no product at position {position}" if position else "no product in focus"
    p = c.facts.catalog[pid]
    truth = bool(_matching(p, size, colour)) if (size or colour) else p.in_stock is True
    value = str(size or colour or "")
    sentences = re.split(r"(?<=[.!?])\s+|\n", t.reply)
    about = [s for s in sentences if value and re.search(rf"\b{re.escape(value)}\b", s, re.I)] or sentences[:1]
    opens = [s.strip().lower()[:4] for s in about]  # "Yes, size M is in stock; Sand is sold out." answers yes
    said_no = any(o.startswith("no") for o in opens) or (not any(o.startswith("yes") for o in opens)
                                                        and any(_NEG.search(s) for s in about))
    said_yes = not said_no and any(o.startswith("yes") or _POS.search(s) for o, s in zip(opens, about, strict=True))
    if truth and not said_yes:
        return f"{p.id} is available{' in ' + value if value else ''}, the reply does not say yes"
    if not truth and not said_no:
        return f"{p.id} is not available{' in ' + value if value else ''}, the reply does not say no"
    return None


def check_cites(t, c, matches) -> str | None:
    """A citation is from a policy whose text matches the pattern `matches`."""
    cited = [c.facts.policy(x.get("doc_id", ""), x.get("title", "")) for x in t.done.get("citations") or []]
    if not cited:
        return "no citation"
    ok = any(p is not None and re.search(matches, _plain(p.text), re.I) for p in cited)
    return None if ok else f"cited {[p.doc_id if p else None for p in cited]}, none mentions /{matches}/"


def check_policy_answer(t, c, topic) -> str | None:
    """The reply restates a policy sentence on `topic` (shares >= half, at most 4, of its content words)."""
    def words(s: str) -> set[str]:
        return set(re.findall(r"[a-z]{4,}", s.lower())) - _STOP

    said = words(t.reply)
    lines = [s for p in c.facts.policies for s in re.split(r"(?<=[.!?])\s+", _plain(p.text)) if re.search(topic, s, re.I)]
    best = max(lines or [topic], key=lambda s: len(words(s) & said))
    need = min(4, math.ceil(len(words(best)) / 2))
    return None if len(words(best) & said) >= need else f"the reply does not state the policy on /{topic}/: {best.strip()[:90]!r}"


def _states(reply: str, figure: str) -> bool:
    """Does the reply state the figure ("30 days": also "30-day", "thirty days"; "$6.95": also "6.95 USD")?"""
    if figure.startswith("$"):
        value = _money(figure)
        said = re.findall(r"\$\s?(\d[\d,]*(?:\.\d+)?)|(\d[\d,]*(?:\.\d+)?)\s?(?:usd|dollars|bucks)\b", reply, re.I)
        return any(math.isclose(_money(a or b), value) for a, b in said)
    parts = []
    for tok in figure.split():
        if tok.isdigit():
            parts.append(f"(?:{tok}|{_NUMBER_WORDS.get(tok, tok)})")
        elif tok == "to":
            parts.append("(?:to|-|–)")
        else:
            parts.append(re.escape(tok.removesuffix("s")) + "s?")
    return bool(re.search(r"\b" + r"[\s-]*".join(parts) + r"\b", reply, re.I))


def check_states(t, c, figure) -> str | None:
    """The reply states the policy figure `figure` (a name in the shop's figures, e.g. return_window)."""
    value = c.facts.figures[figure]
    return None if _states(t.reply, value) else f"the reply does not state the {figure} ({value})"


def check_shipping_cost(t, c, order_value, option="standard", international=False) -> str | None:
    """The reply states the shipping cost of an order of `order_value` (the policy's cost, or free over the threshold)."""
    f = c.facts.figures
    if international:
        cost, free_from = _money(f["international_shipping_cost"]), _money(f.get("international_free_threshold", "$inf"))
    else:
        row = c.facts.shipping[option.lower()]
        cost, free_from = row["cost"], row.get("free_from", math.inf)
    if order_value >= free_from:
        return None if re.search(r"\bfree\b", t.reply, re.I) else f"an order of {order_value:g} ships free, the reply does not say so"
    return None if _states(t.reply, f"${cost:.2f}") else f"shipping for {order_value:g} costs ${cost:.2f}, not stated"


def _order_of(c, contains=None, month=None, latest=False):
    return _target_order(c.facts, c.res, contains, month, latest)


def check_order_state(t, c, contains=None, month=None, latest=False) -> str | None:
    """The reply states the current state of the order (the spec's, or the one `contains`/`month`/`latest` picks)."""
    o = _order_of(c, contains, month, latest)
    live = c.orders.get(o.id, c.res.customer)
    pattern = next(v for k, v in _STATE_WORDS.items() if re.fullmatch(k, live.status))
    named = set(re.findall(r"SB-\d+", t.reply))
    if named and o.id not in named:
        return f"the reply is about {sorted(named)}, not {o.id}"
    about = [s for s in re.split(r"(?<=[.!?])\s+|\n", t.reply) if o.id in s] or [t.reply]
    return None if any(re.search(pattern, s, re.I) for s in about) else f"the reply does not say {o.id} is {live.status}"


def check_action(t, c, type, status, contains=None, month=None, latest=False) -> str | None:
    """An action event `type` with a status in `status`, for the order (spec's or picked) when it names one."""
    statuses = [status] if isinstance(status, str) else status
    o = _order_of(c, contains, month, latest)
    found = [a for a in t.actions if a.get("action") == type and a.get("status") in statuses]
    if not found:
        return f"no {type} action with status {statuses} (actions: {[(a.get('action'), a.get('status')) for a in t.actions]})"
    wrong = [a.get("order_id") for a in found if a.get("order_id") and a.get("order_id") != o.id]
    return f"{type} for {wrong}, expected {o.id}" if wrong and len(wrong) == len(found) else None


def check_return_allowed(t, c, contains=None, month=None, latest=False) -> str | None:
    """A return is offered (start_return needing confirmation) exactly when the order is delivered and in the
    window; otherwise none is, and the reply says why."""
    o = _order_of(c, contains, month, latest)
    live = c.orders.get(o.id, c.res.customer)
    delivered = _delivered_at(o)
    allowed = live.status == "delivered" and delivered is not None and (
        c.facts.today - delivered <= timedelta(days=c.facts.return_window_days()))
    offered = [a for a in t.actions if a.get("action") == "start_return" and a.get("status") in ("needs_confirmation", "done")
               and a.get("order_id") in (None, o.id)]
    if allowed:
        return None if offered else f"{o.id} can be returned, no return was offered"
    if offered:
        return f"offered a return of {o.id}, which is {live.status} and outside the rules"
    why = re.search(r"window|\bdays?\b|eligible|no longer|outside|can(?:no|')t|only", t.reply, re.I)
    return None if why else f"{o.id} cannot be returned; the reply does not say why"


def check_no_action_done(t, c) -> str | None:
    """No action was carried out (status done) this turn."""
    done = [(a.get("action"), a.get("order_id")) for a in t.actions if a.get("status") == "done"]
    return f"carried out {done}" if done else None


def check_asks_sign_in(t, c) -> str | None:
    """The reply asks the shopper to sign in and names no order."""
    if re.search(r"SB-\d+", t.reply):
        return "names an order to a signed-out shopper"
    return None if re.search(r"sign(?:ed)?[ -]?in|log(?:ged)?[ -]?in|account", t.reply, re.I) else "does not ask to sign in"


def check_handoff(t, c) -> str | None:
    """A hand-off event with a ticket, and the reply gives the ticket number."""
    tickets = [e["data"].get("ticket_id") for e in t.events if e["type"] == "handoff"]
    if not tickets:
        return "no handoff"
    return None if any(str(x) in t.reply for x in tickets if x) else f"the reply does not give the ticket {tickets[0]}"


def check_refusal(t, c) -> str | None:
    """The request is refused: no products, no action done, and a refusal (tool or wording)."""
    if t.cards or any(a.get("status") == "done" for a in t.actions):
        return "acted on the request (products or an action)"
    return None if t.done.get("tool") == "refusal" or _REFUSE.search(t.reply) else "not refused"


def check_offers_remedy(t, c) -> str | None:
    """A hand-off, a return/exchange, or a reply offering a replacement, refund, free return or the support team."""
    if any(e["type"] == "handoff" for e in t.events) or any(
            a.get("action") in ("start_return", "exchange") and a.get("status") != "refused" for a in t.actions):
        return None
    return None if _REMEDY.search(t.reply) else "no remedy offered (free return, replacement or hand-off)"


def check_no_echo(t, c) -> str | None:
    """The reply does not repeat the shopper's whole message (of 3 words or more)."""
    def norm(s: str) -> str:
        return re.sub(r"\s+", " ", s.lower()).strip(" .!?\"'")

    message = norm(t.say)
    return "the reply echoes the message" if len(message.split()) >= 3 and message in norm(t.reply) else None


def check_no_scores(t, c) -> str | None:
    """No card reason shows internal scores ("semantic match 0.66")."""
    bad = [p.get("reason") for p in t.done.get("products") or [] if _SCORE.search(p.get("reason") or "")]
    return f"internal scores in reasons: {bad[:2]}" if bad else None


def check_cart_add(t, c, position=None, size=None, colour=None, quantity=None) -> str | None:
    """Adding the listing's `position` (or the product being added) with the size/colour given so far: when no
    in-stock variant fits, nothing is added and the reply says so; when a size/colour is still open, nothing is
    added and the reply asks for it; else an add_to_cart (done) of that product with a fitting variant's sku, of
    `quantity` (or all that variant has in stock, which the reply then says: "Only 1 is in stock")."""
    if c.target is None:
        return f"no product at position {position} of the last listing" if position else "no product being added"
    p = c.facts.catalog[c.target]
    size, colour = size or c.given.get("size"), colour or c.given.get("colour")
    fits = _matching(p, size, colour)
    adds = [a for a in t.actions if a.get("action") == "add_to_cart" and a.get("status") == "done"]
    if not fits:
        if adds:
            return f"added {p.id} although no in-stock variant fits size={size} colour={colour}"
        return None if _NEG.search(t.reply) else f"{p.id} has no in-stock variant for size={size} colour={colour}; not said"
    open_ = [d for d in ("size", "colour") if len({getattr(v, d) for v in fits if getattr(v, d)}) > 1]
    if open_:
        if adds:
            return f"added without asking for the {' and '.join(open_)}"
        word = {"size": r"\bsizes?\b", "colour": r"\bcolou?rs?\b"}
        asked = "?" in t.reply and all(re.search(word[d], t.reply, re.I) for d in open_)
        return None if asked else f"did not ask which {' and '.join(open_)}"
    good = [a for a in adds if a.get("product_id") == p.id and a.get("sku") in {v.sku for v in fits}]
    if not good:
        return f"no add_to_cart of {p.id} with a sku in {[v.sku for v in fits][:3]} (added: {[(a.get('product_id'), a.get('sku')) for a in adds]})"
    stock = {v.sku: v.stock for v in fits}
    if quantity is not None and not any(a.get("quantity") == min(quantity, stock[a["sku"]]) for a in good):
        return f"quantity {[a.get('quantity') for a in good]}, expected {quantity} (or all that is in stock)"
    if quantity is not None and any(a.get("quantity") < quantity for a in good) and not re.search(r"\bonly\b", t.reply, re.I):
        return f"{quantity} asked, fewer added, and the reply does not say only that many are in stock"
    return None


def check_cart_remove(t, c, contains=None) -> str | None:
    """A remove_from_cart (done) of a product in the cart (one that is a `contains` when given)."""
    wanted = [i for i in c.cart if not contains or _product_is(c.facts.catalog[i], contains)]
    if not wanted:
        return "nothing in the cart to remove (an earlier add did not happen)"
    ok = [a for a in t.actions if a.get("action") == "remove_from_cart" and a.get("status") == "done" and a.get("product_id") in wanted]
    return None if ok else f"no remove_from_cart of {wanted}"


def check_cart_view(t, c) -> str | None:
    """A view_cart action, and the reply names every product in the cart (or says it is empty)."""
    if not any(a.get("action") == "view_cart" for a in t.actions):
        return "no view_cart action"
    if not c.cart:
        return None if re.search(r"\b(empty|nothing|no items)\b", t.reply, re.I) else "the cart is empty; not said"
    missing = [i for i in c.cart if c.facts.catalog[i].title.split(" - ")[0] not in t.reply]
    return f"the reply does not name {missing}" if missing else None


CHECKS: dict[str, Callable[..., str | None]] = {
    name.removeprefix("check_"): fn for name, fn in sorted(globals().items()) if name.startswith("check_")
}


# ---------------------------------------------------------------- the independent verifier


def unsupported_claims(reply: str, done: dict, message: str, catalog: dict, orders, customer: str | None,
                       events: list[dict], known_text: str) -> list[str]:
    """Claims in `reply` that the catalog, the customer's orders or the citations do not back.

    Independent of the engine's grounding checker; the scripted suite (tests/assistant/conversation/
    test_conversation_suite.py) uses it too. Events are plain dicts; product titles in action events count as shown.
    """
    problems = []
    cards = {p["id"]: catalog[p["id"]] for p in done["products"] if p["id"] in catalog}
    mine = {o.id: o for o in (orders.for_customer(customer, limit=100) if customer else [])}
    cited = " ".join(f"{c['title']} {c['snippet']}" for c in done["citations"])
    records = [p.model_dump_json() for p in cards.values()] + [o.model_dump_json() for o in mine.values()]
    records += [json.dumps(e["data"]) for e in events if e["type"] in ("handoff", "action")]
    allowed_money = {p.price for p in cards.values() if p.price is not None}
    for o in mine.values():
        allowed_money |= {o.total} | {i.unit_price for i in o.items}
    # the customer's own figures (a budget, an order value, in digits or words) and the documented 10% margin of
    # an "around" budget; amounts the engine's stores report in action events (a cart's total)
    from retrieval.attributes import normalise_numbers

    said = [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", normalise_numbers(message))]
    allowed_money |= set(said) | {round(n * 1.1, 2) for n in said}
    for e in events:
        if e["type"] == "action":
            allowed_money |= {float(v) for v in e["data"].values() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    for m in re.finditer(r"\$(\d[\d,]*(?:\.\d+)?)", reply):
        value = float(m.group(1).replace(",", ""))
        if value not in allowed_money and m.group(0) not in cited and m.group(0) not in message:
            problems.append(f"price {m.group(0)}")
    for oid in set(re.findall(r"SB-\d+", reply)):
        if oid not in mine and oid not in message:
            problems.append(f"order {oid} is not the customer's")
    for oid, state in re.findall(r"Order (SB-\d+) is (?:now )?(\w+)", reply):
        if oid in mine and mine[oid].status != state:
            problems.append(f"order {oid} said {state}, is {mine[oid].status}")
        if oid not in mine:
            problems.append(f"state of someone else's order {oid}")
    for line in reply.splitlines():
        for p in cards.values():
            if p.title in line:
                if "out of stock" in line and p.in_stock is not False:
                    problems.append(f"{p.id} said out of stock")
                elif re.search(r"\bin stock\b", line) and "out of stock" not in line and p.in_stock is not True:
                    problems.append(f"{p.id} said in stock")
    known = " ".join([cited, message, known_text, *records, *(p.title for p in cards.values())]
                     + [i.title for o in mine.values() for i in o.items]).lower()
    for word in re.findall(r"(?<=[a-z,;] )[A-Z][A-Za-z'-]+(?![\w-])", reply):  # capitalised words inside sentences
        if word.lower() not in known:
            problems.append(f"name '{word}' from nowhere")
    in_actions = " ".join(records[len(cards) + len(mine):])
    allowed_titles = {p.title for p in cards.values()} | {i.title for o in mine.values() for i in o.items}
    for p in catalog.values():
        if p.title in reply and p.title not in allowed_titles and p.title not in in_actions:
            problems.append(f"product {p.id} not from this turn's tools")
    return problems


# ---------------------------------------------------------------- running


def _dynamic(c: Context, turn: dict) -> dict[str, str]:
    """{size}/{colour}: an in-stock variant of the product being added, fitting what was given so far."""
    position = next((p.get("position") for n, p in turn["expect"] if n == "cart_add" and p.get("position")), None)
    if position:
        c.target = c.listing[position - 1] if len(c.listing) >= position else None
        c.given = {}
    elif c.target is None and c.res.product is not None and any(n == "cart_add" for n, _ in turn["expect"]):
        c.target = c.res.product.id  # "add it" about the conversation's {product}
    values = {}
    if c.target:
        fits = _matching(c.facts.catalog[c.target], c.given.get("size"), c.given.get("colour"))
        if fits:
            values = {k: v for k, v in (("size", fits[0].size), ("colour", fits[0].colour)) if v}
    return values


def _fill(text: str, values: dict[str, str]) -> tuple[str, list[str]]:
    missing = sorted(set(re.findall(r"\{(\w+)\}", text)) - set(values))
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), ""), text), missing


def run_conversation(conv: Conversation, res: Resolved, facts: ShopFacts, assistant, orders) -> list[dict]:
    """Chat `conv` with `assistant` (a fresh one, on the shop's original orders); one result per turn."""
    c, session, out, said = Context(facts, res, orders), None, [], []
    for n, turn in enumerate(conv.turns, 1):
        values = {**res.values, **_dynamic(c, turn)}
        say, missing = _fill(turn["say"], values)
        events = [e.model_dump(mode="json") if hasattr(e, "model_dump") else dict(e)
                  for e in assistant.chat(session, say, res.customer)]
        t = TurnResult(say, events, events[-1]["data"] if events and events[-1]["type"] == "done" else {})
        session = t.done.get("session", session)
        failed = [f"placeholder {{{m}}}: nothing to take it from" for m in missing]
        for name, params in turn["expect"]:
            params = {k: _fill(v, values)[0] if isinstance(v, str) else v for k, v in params.items()}
            problem = CHECKS[name](t, c, **params)
            if problem:
                failed.append(f"{name}: {problem}")
        said.append(say)  # a figure the customer gave earlier (a budget) may be restated later
        unsupported = unsupported_claims(t.reply, {"products": [], "citations": [], **t.done}, "\n".join(said), facts.catalog,
                                         orders, res.customer, events, facts.known_text)
        out.append({"turn": n, "say": say, "reply": t.reply, "answer_source": t.done.get("answer_source"),
                    "failed": failed, "unsupported": unsupported, "passed": not failed and not unsupported})
        for name, params in turn["expect"]:  # what this turn settled for the next: size/colour given, the cart
            if name == "cart_add":
                c.given.update({k: _fill(params[k], values)[0] for k in ("size", "colour") if params.get(k)})
        for a in t.actions:
            if a.get("action") == "add_to_cart" and a.get("status") == "done" and a.get("product_id") in facts.catalog:
                c.cart[a["product_id"]] = c.cart.get(a["product_id"], 0) + int(a.get("quantity") or 1)
            if a.get("action") == "remove_from_cart" and a.get("status") == "done":
                c.cart.pop(a.get("product_id"), None)
        if t.cards:
            c.shown = t.cards
            # a superlative over a category ("which pad has the highest R-value") lists that category anew
            if not any(name in _ABOUT_LISTING and not (name == "superlative" and params.get("among") == "category")
                       for name, params in turn["expect"]):
                c.listing = t.cards
    return out


def summarise(conversations: list[Conversation], results: list[list[dict]]) -> dict:
    """The report: counts overall, by class and by split; failing turns of the visible split only."""
    def tally(pairs) -> dict:
        pairs = list(pairs)
        return {"turns": sum(len(r) for _, r in pairs), "turns_passed": sum(t["passed"] for _, r in pairs for t in r),
                "conversations": len(pairs), "conversations_passed": sum(all(t["passed"] for t in r) for _, r in pairs)}

    pairs = list(zip(conversations, results, strict=True))
    turns = [t for r in results for t in r]
    report = tally(pairs)
    report["by_class"] = {k: tally((c, r) for c, r in pairs if c.cls == k) for k in CLASSES if any(c.cls == k for c in conversations)}
    report["drafts"] = sum(t["answer_source"] in _DRAFTED for t in turns)
    report["drafts_passed"] = sum(t["answer_source"] in ("llm", "repaired") for t in turns)
    report["unsupported_claims"] = sum(bool(t["unsupported"]) for t in turns)
    report["by_split"] = {s: tally((c, r) for c, r in pairs if c.split == s) for s in SPLITS if any(c.split == s for c in conversations)}
    report["failures"] = [{"conversation": c.id, "class": c.cls, **{k: t[k] for k in ("turn", "say", "reply", "failed", "unsupported")}}
                          for c, r in pairs if c.split == "visible" for t in r if not t["passed"]]
    return report


def open_indexes(settings) -> dict[str, Any]:
    """The run's shared, read-mostly parts, built once in `settings.home`: embedder, product and policy indexes,
    intent router and recommender (the `build_assistant` keywords)."""
    from assistant.conversation.intents import IntentRouter, dialog_examples, load_seed
    from assistant.conversation.models import resolve_embedding_path
    from assistant.shop import data as shop
    from assistant.wiring import open_shop_documents, open_shop_searcher
    from retrieval.embed import Embedder
    from retrieval.recs.recommend import open_recommender

    embedder = Embedder.from_settings(resolve_embedding_path(settings.retrieval.embedding_model), settings.retrieval)
    searcher = open_shop_searcher(settings, embedder)
    documents = open_shop_documents(settings, embedder, shop.load_policies(settings.shop_dir))
    # (Copy: assistant/wiring.py build_assistant fits the router the same way.)
    dialogs = [d.model_dump() for d in shop.load_dialogs(settings.shop_dir)] if (Path(settings.shop_dir) / "dialogs.jsonl").is_file() else []
    router = IntentRouter.fit(embedder, load_seed() + dialog_examples(dialogs), cache_dir=settings.home / "cache")
    recommender = open_recommender(settings.retrieval.recs, settings.home, list(searcher.store.products.values()), embedder)
    return {"embedder": embedder, "searcher": searcher, "documents": documents, "router": router, "recommender": recommender}


def run(settings, *, split: str = "all", llm: str = "bundled", adapter: str | None = None, limit: int | None = None,
        progress: Callable[[str], None] | None = None) -> dict:
    """`shopbot eval conversations`: run the benchmark on `settings.shop_dir` in a temporary data home.

    Args:
        split: visible, heldout or all. llm: `bundled` (the bundled chat model drafts replies) or `none`
            (templates only). adapter: LoRA adapter for `llm.adapter`; "none" = no adapter; None = as configured.
        limit: only the first N conversations.
    Raises:
        BenchmarkError: a bad argument, or a conversation this shop's data cannot resolve.
    """
    from assistant.config import BUNDLED_LLM
    from assistant.shop.orders import OrderStore
    from assistant.wiring import build_assistant

    if llm not in ("bundled", "none"):
        raise BenchmarkError(f"Unknown --llm '{llm}'; expected 'bundled' or 'none'.")
    conversations = load_conversations(split)[:limit]
    facts = ShopFacts.load(settings.shop_dir)
    resolved = [resolve(conv, facts) for conv in conversations]  # fail before any model loads
    chat_model = None
    if llm == "bundled":
        from assistant.conversation.llm import build_chat_model

        llm_settings = settings.llm.model_copy(update={
            "provider": "local", "model": BUNDLED_LLM, "adapter": None if adapter == "none" else (adapter or settings.llm.adapter)})
        chat_model = build_chat_model(settings.model_copy(update={"llm": llm_settings}))  # models from the real home
    elif adapter not in (None, "none"):
        logger.warning("--adapter %s is ignored with --llm none (templates only); drop one of them", adapter)
    chroma = settings.retrieval.chroma.model_copy(update={"url": None, "path": None})
    with tempfile.TemporaryDirectory(prefix="shopbot-eval-") as tmp:
        base = settings.model_copy(update={"home": Path(tmp) / "shared",
                                           "retrieval": settings.retrieval.model_copy(update={"chroma": chroma})})
        shared = open_indexes(base)
        results = []
        for n, (conv, res) in enumerate(zip(conversations, resolved, strict=True), 1):
            home = base.model_copy(update={"home": Path(tmp) / f"c{n}"})  # a fresh database: the shop's original orders
            assistant = build_assistant(home, chat_model, use_llm=chat_model is not None, **shared)
            if hasattr(assistant, "clock"):
                assistant.clock = lambda: facts.today
            orders = OrderStore(home.db_path)
            results.append(run_conversation(conv, res, facts, assistant, orders))
            orders.close()
            logger.info("conversation %s: %d/%d turns passed", conv.id, sum(t["passed"] for t in results[-1]), len(results[-1]))
            if progress:
                progress(f"[{n}/{len(conversations)}] {conv.id if conv.split == 'visible' else 'held-out'}: "
                         f"{sum(t['passed'] for t in results[-1])}/{len(results[-1])} turns passed")
    return summarise(conversations, results)


def format_report(report: dict) -> str:
    """The report as text: totals, per class and split, then each failing visible turn with its reasons."""
    def pct(a: int, b: int) -> str:
        return f"{a}/{b} ({a / b:.0%})" if b else "0/0"

    lines = [f"conversations passed {pct(report['conversations_passed'], report['conversations'])}, "
             f"turns passed {pct(report['turns_passed'], report['turns'])}",
             f"turns with unsupported claims: {report['unsupported_claims']}; model drafts kept "
             f"{pct(report['drafts_passed'], report['drafts'])}", "", f"{'class':<16}{'conversations':>16}{'turns':>16}"]
    for name, m in [*report["by_class"].items(), *(("split " + s, m) for s, m in report["by_split"].items())]:
        lines.append(f"{name:<16}{pct(m['conversations_passed'], m['conversations']):>16}{pct(m['turns_passed'], m['turns']):>16}")
    if report["failures"]:
        lines += ["", "failing turns (visible split; held-out failures are not shown):"]
    for f in report["failures"]:
        lines.append(f"- {f['conversation']} turn {f['turn']} [{f['class']}] {f['say']!r}")
        lines.append(f"    reply: {f['reply'][:160]!r}")
        lines += [f"    FAIL {reason}" for reason in f["failed"]] + [f"    UNSUPPORTED {u}" for u in f["unsupported"]]
    return "\n".join(lines)
