"""The conversation benchmark (issue 15): both splits resolve against the demo shop, every check passes on a right
turn and fails on a wrong one (built from the demo shop's own data, never fixed ids), and
`shopbot eval conversations --llm none --json` runs end to end."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from assistant.config import DEMO_SHOP_DIR
from assistant.conversation import evaluate as ev

PRODUCT_CHECKS = {"category", "max_price", "min_price", "attribute", "has_variant", "all_in_stock"}


@pytest.fixture(scope="module")
def facts() -> ev.ShopFacts:
    return ev.ShopFacts.load(DEMO_SHOP_DIR)


@pytest.fixture
def store(tmp_path):
    from assistant.shop import data as shop
    from assistant.shop.orders import OrderStore

    orders = OrderStore(tmp_path / "orders.db")
    orders.seed(shop.load_orders(DEMO_SHOP_DIR))
    yield orders
    orders.close()


def _turn(say: str = "", reply: str = "", cards=(), events=(), reasons=None, **done) -> ev.TurnResult:
    products = [{"id": p.id, "title": p.title, "reason": (reasons or {}).get(p.id, "")} for p in cards]
    data = {"reply": reply, "products": products, "citations": [], **done}
    return ev.TurnResult(say, [*events, {"type": "done", "data": data}], data)


def _action(**data) -> dict:
    return {"type": "action", "data": data}


def _customer(facts, **spec) -> ev.Resolved:
    return ev.resolve(ev.Conversation("t", "visible", "orders", [], customer=spec), facts)


def test_both_splits_load_and_resolve_against_the_demo_shop(facts):
    visible, heldout = ev.load_conversations("visible"), ev.load_conversations("heldout")
    assert len(visible) >= 115 and len(heldout) >= 45 and len(visible) + len(heldout) >= 160
    assert [c.id for c in ev.load_conversations("all")] == [c.id for c in visible + heldout]
    for convs in (visible, heldout):
        assert {c.cls for c in convs} == set(ev.CLASSES)
    ids = [c.id for c in visible + heldout]
    assert len(ids) == len(set(ids))
    for conv in visible + heldout:
        assert 2 <= len(conv.turns) <= 6, conv.id
        res = ev.resolve(conv, facts)  # every customer/product spec, placeholder and check parameter resolves
        assert all(turn["expect"] for turn in conv.turns), conv.id
        assert (res.customer is None) == (conv.customer is None), conv.id
        for n, turn in enumerate(conv.turns, 1):  # product constraints some product of the shop meets
            checks = [(k, p) for k, p in turn["expect"] if k in PRODUCT_CHECKS]
            meets = [p for p in facts.catalog.values() if checks and all(
                ev.CHECKS[k](_turn(cards=[p]), ev.Context(facts, res, None), **params) is None for k, params in checks)]
            assert meets or not checks, f"{conv.id} turn {n}: no product of the shop meets {checks}"


def test_heldout_phrasings_are_not_the_visible_ones():
    def says(split):
        return {t["say"].lower() for c in ev.load_conversations(split) for t in c.turns}
    assert not says("visible") & says("heldout")


def test_bad_files_fail_early_with_the_fix(tmp_path, facts):
    (tmp_path / "visible.yaml").write_text("conversations:\n  - {id: x, class: budget, turns: [{say: hi, expect: [nope]}]}\n")
    with pytest.raises(ev.BenchmarkError, match="unknown check 'nope'"):
        ev.load_conversations("visible", tmp_path)
    (tmp_path / "visible.yaml").write_text(
        "conversations:\n  - {id: x, class: budget, turns: [{say: hi, expect: [{max_price: {valu: 3}}]}]}\n")
    with pytest.raises(ev.BenchmarkError, match="max_price"):
        ev.load_conversations("visible", tmp_path)
    conv = ev.Conversation("x", "visible", "budget", [{"say": "{order}", "expect": [("category", {"names": "Shoez"})]}])
    with pytest.raises(ev.BenchmarkError, match="placeholder"):
        ev.resolve(conv, facts)
    with pytest.raises(ev.BenchmarkError, match="split"):
        ev.load_conversations("train")


def test_policy_figures_are_read_from_the_policies(facts):
    text = {p.title: ev._plain(p.text) for p in facts.policies}
    assert f"within {facts.figures['return_window']} of delivery" in text["Returns"]
    standard = facts.shipping["standard"]
    row = next(line for p in facts.policies for line in p.text.splitlines() if line.startswith("| Standard"))
    assert f"${standard['cost']:.2f}" in row and f"${standard['free_from']:g}" in row
    assert {"damage_report_window", "card_refund_time", "international_shipping_cost", "free_shipping_threshold"} <= set(facts.figures)


def _cases(facts, store) -> list[tuple[str, dict, dict, ev.TurnResult, ev.TurnResult]]:
    """(check, params, context fields, a right turn, a wrong turn), all from the demo shop's data."""
    cat = list(facts.catalog.values())
    tents = [p for p in cat if "Tents" in p.category]
    big = [p for p in tents if p.attributes["capacity_persons"] >= 3]
    small = [p for p in tents if p.attributes["capacity_persons"] < 3]
    pad = next(p for p in cat if "Sleeping Pads" in p.category)
    in_stock = [p for p in cat if p.in_stock]
    out = next(p for p in cat if p.in_stock is False)
    prices = sorted(p.price for p in tents)
    mid = prices[len(prices) // 2]
    cheap, dear = [p for p in tents if p.price <= mid], [p for p in tents if p.price > mid]
    lightest = min(tents[:4], key=lambda p: p.attributes["weight_g"])
    heavier = max(tents[:4], key=lambda p: p.attributes["weight_g"])
    sized = next(p for p in in_stock if len({v.size for v in p.variants if v.stock}) > 1
                 and len({v.colour for v in p.variants if v.stock}) > 1 and p.sizes)
    v = next(x for x in sized.variants if x.stock)
    missing_size = next(s for s in ("4", "14", "XXXL", "3XL") if not ev._matching(sized, size=s, in_stock=False))
    colour_word = v.colour.split()[-1].lower()
    no_colour = next(p for p in in_stock if not ev._matching(p, colour=colour_word))
    hygiene = next(p for p in facts.policies if re.search("hygiene", ev._plain(p.text), re.I))
    other_doc = next(p for p in facts.policies if not re.search("hygiene", ev._plain(p.text), re.I))
    hygiene_line = next(s for s in re.split(r"(?<=[.!?])\s+", ev._plain(hygiene.text)) if "hygiene" in s)
    std = facts.shipping["standard"]
    shipped, placed = _customer(facts, status="shipped"), _customer(facts, status="placed")
    returnable = _customer(facts, status="delivered", returnable=True)
    late = _customer(facts, status="delivered", returnable=False)
    mine, other = placed.order.id, returnable.order.id
    window = facts.figures["return_window"]
    cite = lambda p: {"citations": [{"doc_id": p.doc_id, "title": p.title, "snippet": ""}]}  # noqa: E731
    add = lambda p, sku: _action(action="add_to_cart", status="done", product_id=p.id, sku=sku, quantity=1)  # noqa: E731
    return [
        ("intent", {"names": ["product_search"]}, {}, _turn(intent="product_search"), _turn(intent="policy_question")),
        ("tool", {"names": ["orders.*"]}, {}, _turn(tool="orders.cancel"), _turn(tool="search")),
        ("shows_products", {}, {}, _turn(cards=[pad]), _turn()),
        ("no_products", {}, {}, _turn(), _turn(cards=[pad])),
        ("category", {"names": "Tents"}, {}, _turn(cards=tents[:3]), _turn(cards=[tents[0], pad])),
        ("max_price", {"value": mid}, {}, _turn(cards=cheap[:3]), _turn(cards=[cheap[0], dear[0]])),
        ("max_price", {"value": mid, "margin": 10.0}, {}, _turn(cards=[dear[0]]), _turn()),
        ("min_price", {"value": mid}, {}, _turn(cards=dear[:2]), _turn(cards=[dear[0], cheap[0]])),
        ("attribute", {"name": "capacity_persons", "op": ">=", "value": 3}, {}, _turn(cards=big), _turn(cards=[big[0], small[0]])),
        ("has_variant", {"colour": colour_word}, {}, _turn(cards=[sized]), _turn(cards=[sized, no_colour])),
        ("all_in_stock", {}, {}, _turn(cards=in_stock[:3]), _turn(cards=[in_stock[0], out])),
        ("in_stock_first", {}, {}, _turn(cards=[in_stock[0], out]), _turn(cards=[out, in_stock[0]])),
        ("superlative", {"attribute": "weight_g", "pick": "min"}, {"listing": [p.id for p in tents[:4]]},
         _turn(cards=[lightest]), _turn(cards=[heavier])),
        ("superlative", {"attribute": "weight_g", "pick": "min", "among": "catalog", "category": "Tents"}, {},
         _turn(reply=f"The lightest is the {min(tents, key=lambda p: p.attributes['weight_g']).title}."),
         _turn(reply=f"The lightest is the {heavier.title}.")),
        ("variant_answer", {"size": v.size, "position": 1}, {"listing": [sized.id, pad.id]},
         _turn(reply=f"Yes, it comes in size {v.size}."), _turn(reply=f"Sizes: {', '.join(sized.sizes)}.")),
        ("variant_answer", {"size": missing_size, "position": 1}, {"listing": [sized.id, pad.id]},
         _turn(reply=f"Sorry, it doesn't come in {missing_size}."), _turn(reply=f"Yes, {missing_size} is available.")),
        ("variant_answer", {}, {"shown": [out.id]}, _turn(reply="No, it is out of stock at the moment."),
         _turn(reply="Yes, it is in stock.")),
        ("cites", {"matches": "hygiene"}, {}, _turn(**cite(hygiene)), _turn(**cite(other_doc))),
        ("policy_answer", {"topic": "hygiene"}, {}, _turn(reply=hygiene_line), _turn(reply="We have a generous returns policy.")),
        ("states", {"figure": "return_window"}, {}, _turn(reply=f"You have {window} to send it back."),
         _turn(reply="You can send it back.")),
        ("shipping_cost", {"order_value": std["free_from"] - 1}, {}, _turn(reply=f"Standard shipping is ${std['cost']:.2f}."),
         _turn(reply="Shipping is free!")),
        ("shipping_cost", {"order_value": std["free_from"] + 1}, {}, _turn(reply="Standard shipping is free for that order."),
         _turn(reply=f"It costs ${std['cost']:.2f}.")),
        ("order_state", {}, {"res": shipped}, _turn(reply=f"Order {shipped.order.id} is shipped with UPS."),
         _turn(reply=f"Order {shipped.order.id} is delivered.")),
        ("action", {"type": "cancel", "status": "needs_confirmation"}, {"res": placed},
         _turn(events=[_action(action="cancel", status="needs_confirmation", order_id=mine)]),
         _turn(events=[_action(action="cancel", status="needs_confirmation", order_id=other)])),
        ("return_allowed", {}, {"res": returnable},
         _turn(events=[_action(action="start_return", status="needs_confirmation", order_id=other)]),
         _turn(reply="You can return items within the window.")),
        ("return_allowed", {}, {"res": late}, _turn(reply=f"That order is outside the {window} return window."),
         _turn(events=[_action(action="start_return", status="needs_confirmation", order_id=late.order.id)])),
        ("no_action_done", {}, {}, _turn(events=[_action(action="cancel", status="needs_confirmation", order_id=mine)]),
         _turn(events=[_action(action="cancel", status="done", order_id=mine)])),
        ("asks_sign_in", {}, {}, _turn(reply="Please sign in so I can look up your orders."),
         _turn(reply=f"Order {mine} is placed.")),
        ("handoff", {}, {}, _turn(reply="Your ticket is T-123.", events=[{"type": "handoff", "data": {"ticket_id": "T-123"}}]),
         _turn(reply="A person will contact you.")),
        ("refusal", {}, {}, _turn(reply="Sorry, I can't help with that.", tool="refusal"),
         _turn(reply="Here are some tents.", cards=tents[:2])),
        ("offers_remedy", {}, {}, _turn(reply="We will send a free replacement."), _turn(reply="Thanks for letting us know.")),
        ("no_echo", {}, {}, _turn(say="show me cheap tents", reply="Here are tents under budget."),
         _turn(say="show me cheap tents", reply='Here is what I found for "show me cheap tents":')),
        ("no_scores", {}, {}, _turn(cards=[pad], reasons={pad.id: "self-inflating, 4.5/5 rating"}),
         _turn(cards=[pad], reasons={pad.id: "title matches: pad; semantic match 0.66 (rank 1)"})),
        ("cart_add", {"position": 1}, {"listing": [sized.id, pad.id], "target": sized.id},
         _turn(reply="Which size and colour would you like?"), _turn(events=[add(sized, v.sku)])),
        ("cart_add", {"size": v.size, "colour": v.colour}, {"target": sized.id},
         _turn(events=[add(sized, v.sku)]), _turn(events=[add(sized, pad.id)])),
        ("cart_remove", {}, {"cart": {sized.id: 1}},
         _turn(events=[_action(action="remove_from_cart", status="done", product_id=sized.id)]), _turn()),
        ("cart_view", {}, {"cart": {sized.id: 1}},
         _turn(reply=f"Your cart: 1 x {sized.title}.", events=[_action(action="view_cart", status="done")]),
         _turn(reply="Your cart is empty.", events=[_action(action="view_cart", status="done")])),
    ]


def test_every_check_passes_a_right_turn_and_fails_a_wrong_one(facts, store):
    cases = _cases(facts, store)
    assert {name for name, *_ in cases} == set(ev.CHECKS)
    for name, params, fields, good, bad in cases:
        res = fields.pop("res", ev.Resolved())
        assert ev.CHECKS[name](good, ev.Context(facts, res, store, **fields), **params) is None, (name, params)
        assert isinstance(ev.CHECKS[name](bad, ev.Context(facts, res, store, **fields), **params), str), (name, params)


def test_the_verifier_flags_claims_no_source_backs(facts, store):
    customer = _customer(facts, status="placed")
    foreign = next(o for o in facts.orders if o.customer_id != customer.customer)
    product = next(iter(facts.catalog.values()))
    done = {"products": [{"id": product.id}], "citations": []}
    ok = f"{product.title} costs ${product.price:.2f}. Order {customer.order.id} is placed."
    assert ev.unsupported_claims(ok, done, "hi", facts.catalog, store, customer.customer, [], facts.known_text) == []
    bad = f"{product.title} costs $1.23. Order {foreign.id} is placed. Ask Zorblax."
    problems = ev.unsupported_claims(bad, done, "hi", facts.catalog, store, customer.customer, [], facts.known_text)
    assert any("$1.23" in p for p in problems) and any(foreign.id in p for p in problems)
    assert any("Zorblax" in p for p in problems)


def test_eval_conversations_cli_reports_the_json_shape(monkeypatch, shop_indexes, intent_router, tmp_path):
    from typer.testing import CliRunner

    from assistant.cli import app
    from retrieval.config import RecsSettings
    from retrieval.recs.recommend import open_recommender

    searcher, documents, embedder = shop_indexes
    recommender = open_recommender(RecsSettings(), tmp_path, list(searcher.store.products.values()), embedder)
    shared = {"embedder": embedder, "searcher": searcher, "documents": documents, "router": intent_router,
              "recommender": recommender}
    monkeypatch.setattr(ev, "open_indexes", lambda settings: shared)  # the test indexes (hashing embedder)
    result = CliRunner().invoke(app, ["eval", "conversations", "--split", "visible", "--llm", "none", "--limit", "4", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    counts = {"turns", "turns_passed", "conversations", "conversations_passed"}
    assert counts | {"by_class", "drafts", "drafts_passed", "unsupported_claims"} <= set(report)
    assert set(report) - counts - {"by_class", "drafts", "drafts_passed", "unsupported_claims"} <= {"by_split", "failures", "adapter", "drafts_passed_share"}
    assert report["adapter"] is None and report["drafts_passed_share"] is None  # --llm none: no model, no drafts
    first = ev.load_conversations("visible")[:4]
    assert report["conversations"] == 4 and report["turns"] == sum(len(c.turns) for c in first)
    assert set(report["by_class"]) == {c.cls for c in first}
    assert all(set(m) == counts for m in report["by_class"].values())
    assert sum(m["turns"] for m in report["by_class"].values()) == report["turns"]
    assert report["drafts"] == report["drafts_passed"] == 0  # templates only
    assert 0 <= report["turns_passed"] <= report["turns"] and 0 <= report["unsupported_claims"] <= report["turns"]
    assert Counter(f["conversation"] for f in report["failures"]).keys() <= {c.id for c in first}
