"""The service steps of a turn: orders (found by number, by what was in them or by when), the confirm-before-
write actions on them, policy answers that state the rule or the table row that answers, hand-off, small talk.

A customer only ever sees their own orders; an action runs only after the customer's explicit yes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from assistant.conversation import grounding
from assistant.conversation.contract import Citation, Event
from assistant.conversation.guardrails import fence
from assistant.conversation.intents import Slots
from assistant.conversation.memory import Turn, summarise
from assistant.conversation.state import DialogueState
from assistant.conversation.turn import Deps, Step, money
from assistant.shop.orders import OrderView
from assistant.tools import orders as order_tools
from assistant.tools.policies import search_policies
from prompts.loader import fill_placeholders, render

ACTION_OF_INTENT = {"cancel_order": "cancel", "change_order": "change_address", "return_refund": "start_return",
                    "exchange": "exchange"}
INTENT_OF_ACTION = {v: k for k, v in ACTION_OF_INTENT.items()}
DAMAGE = re.compile(r"\b(tore|torn|ripped|broke|broken|cracked|snapped|fell apart|falling apart|stopped working|"
                    r"(?:doesn'?t|does not|won'?t|didn'?t) work(?!\s+(?:on|with)\b)|(?:letting|lets?|taking)\s+(?:the\s+)?(?:water|rain|wet)\s+in|"
                    r"(?:wet|soaked)\s+(?:inside|through)|leak\w*|defect\w*|faulty|damaged|dented|bent|shattered|scratched|"
                    r"arrived (?:broken|damaged)|missing|never (?:arrived|came)|can(?:'t|not) find (?:the|my) (?:parcel|package)|"
                    r"could(?:n't| not) find (?:the|my) (?:parcel|package))\b", re.I)
_NOT_DAMAGE = re.compile(r"\b(?:not|isn'?t|aren'?t|wasn'?t|nothing|never|no|won'?t|wouldn'?t|doesn'?t|don'?t|shouldn'?t)\s+"
                         r"(?:\w+\s+)?$", re.I)  # "a bottle that won't leak" asks for a product


# "nothing's wrong with it, it's just the wrong type for us": the shopper says there is no fault at all
# ("doesn't work on our hob" is a mismatch, not a fault: see DAMAGE)
_NO_FAULT = re.compile(r"\b(?:nothing(?:'s|\s+is)?\s+wrong|there'?s\s+nothing\s+wrong|no\s+fault|"
                       r"(?:isn'?t|is\s+not|aren'?t|are\s+not)\s+(?:faulty|broken|damaged|defective))\b", re.I)


def denies_fault(message: str) -> bool:
    """"nothing's wrong with it", "it isn't faulty": no damage to talk about."""
    return bool(_NO_FAULT.search(message))


def says_damaged(message: str) -> bool:
    """The message reports damage or a fault ("the strap tore"), not its absence ("something that's not faulty",
    "nothing's wrong with it")."""
    if denies_fault(message):
        return False
    return any(not _NOT_DAMAGE.search(message[: m.start()]) for m in DAMAGE.finditer(message))
_RECENT = re.compile(r"\b(latest|last|most recent|newest|recent)\s+(order|purchase|one)\b|\bi (?:just )?(?:ordered|bought) (?:recently|lately)\b", re.I)
_OLDEST = re.compile(r"\b(first|oldest|earliest)\s+(order|purchase)\b", re.I)
# an order told apart by where it is: "whichever hasn't gone out", "the one still on its way", "the one that came"
_STATUS_SAID = [
    ("placed", re.compile(r"\b(?:hasn'?t|has not|haven'?t|have not|isn'?t|is not|not|yet to|still to)\s+(?:been\s+|yet\s+)?"
                          r"(?:gone out|go out|shipped|dispatched|sent|left|posted)\b|\bstill (?:pending|processing)\b", re.I)),
    ("shipped", re.compile(r"\b(?:on (?:its|the) way|in transit|out for delivery|(?:already|has|have) (?:been )?"
                           r"(?:shipped|dispatched|gone out|left))\b", re.I)),
    ("delivered", re.compile(r"\b(?:the one|one|order|parcel)s? (?:that |which )?(?:already )?(?:came|arrived|was delivered|got here)\b",
                             re.I)),
]
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
           "december"]
_ITEM_STOP = {"with", "from", "that", "this", "have", "your", "mens", "womens", "unisex", "order", "return", "cancel"}


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _date_window(message: str, now: datetime) -> tuple[datetime, datetime] | None:
    """The time a message refers to ("last month", "last week", "yesterday", "in March"), as [start, end)."""
    lowered = message.lower()
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    if "last month" in lowered:
        start = (month - timedelta(days=1)).replace(day=1)
        return start, month
    if "this month" in lowered:
        return month, now + timedelta(seconds=1)
    if "last week" in lowered:
        return day - timedelta(days=day.weekday() + 7), day - timedelta(days=day.weekday())
    if "this week" in lowered:
        return day - timedelta(days=day.weekday()), now + timedelta(seconds=1)
    if "yesterday" in lowered:
        return day - timedelta(days=1), day
    if "today" in lowered:
        return day, now + timedelta(seconds=1)
    for i, name in enumerate(_MONTHS, 1):
        if re.search(rf"\b(?:in|from|during|back in|of)\s+{name}\b", lowered):
            year = now.year if i <= now.month else now.year - 1
            start = datetime(year, i, 1, tzinfo=UTC)
            end = datetime(year + (i == 12), i % 12 + 1, 1, tzinfo=UTC)
            return start, end
    return None


def find_orders(d: Deps, user_id: str, message: str, prefer: str | None = None) -> tuple[list[OrderView], bool]:
    """The customer's orders the message refers to without a number, most recent first (orders in the state
    `prefer` first: a return is for a delivered order), and whether it referred to any (by the kind or name of
    an item, by recency or by date)."""
    orders = sorted(d.orders.for_customer(user_id, limit=100), key=lambda o: o.created_at, reverse=True)
    if prefer:
        orders.sort(key=lambda o: o.status != prefer)  # stable: most recent first within each group
    referred = False
    found = d.types.find(message)
    if found is not None:
        leaves = set(found[0])
        referred = True
        orders = [o for o in orders if any(set(d.catalog[i.product_id].category) & leaves
                                           for i in o.items if i.product_id in d.catalog)]
    words = {w for w in re.findall(r"[a-z]{5,}", message.lower())} - _ITEM_STOP  # model and brand names, not "long"
    named = [o for o in orders if any(words & set(re.findall(r"[a-z]{5,}", i.title.lower())) - _ITEM_STOP
                                      and any(w[0].isupper() for w in re.findall(r"[A-Za-z]{5,}", i.title)
                                              if w.lower() in words) for i in o.items)]
    if found is None and named:  # a model or brand name: "the Rimrock boots"
        orders, referred = named, True
    window = _date_window(message, d.clock())
    if window is not None:
        referred = True
        orders = [o for o in orders if window[0] <= _parse_time(o.created_at) < window[1]]
    said = next((status for status, pattern in _STATUS_SAID if pattern.search(message)), None)
    in_state = [o for o in orders if o.status == said]
    if in_state:  # "cancel whichever one hasn't gone out", "the one that's on its way"
        orders, referred = in_state, True
    if _OLDEST.search(message):
        return orders[-1:], True
    if _RECENT.search(message):
        return orders[:1], True
    return orders, referred


def order_line(o: OrderView) -> str:
    items = ", ".join(f"{i.quantity} x {i.title}" for i in o.items[:3])
    line = f"Order {o.id} is {o.status}"
    if o.status == "shipped" and o.carrier:
        line += f" with {o.carrier}" + (f" (tracking number {o.tracking_number})" if o.tracking_number else "")
        if o.estimated_delivery:
            line += f", expected by {o.estimated_delivery}"
    elif o.status == "delivered" and o.delivered_at:
        line += f" (delivered on {o.delivered_at[:10]})"
    return line + f". Items: {items}. Total: {money(o.total, o.currency)}."


def _order_evidence(step: Step, orders: list[OrderView]) -> None:
    step.evidence.orders = [
        grounding.OrderFact(o.id, o.status, {h.get("status", "") for h in o.history} | {o.status}) for o in orders
    ]
    step.evidence.texts += [o.model_dump_json() for o in orders]


def orders(d: Deps, step: Step, state: DialogueState, message: str, slots: Slots, user_id: str | None) -> Step:
    """Order status, or a proposed action (cancel, address change, return, exchange) awaiting a yes."""
    action = ACTION_OF_INTENT.get(step.intent)
    if not user_id:
        step.template = render("reply_sign_in")
        if action:
            step.events.append(Event(type="action", data={
                "action": action, "status": "refused", "order_id": slots.order_ids[0] if slots.order_ids else None,
                "message": "Sign in required."}))
        return step
    referred_orders: list[OrderView] = []
    order_ids = list(slots.order_ids)
    if not order_ids:
        referred_orders, referred = find_orders(d, user_id, message, "delivered" if action in ("start_return", "exchange") else
                                                "placed" if action in ("cancel", "change_address") else None)
        if referred:
            if not referred_orders:
                step.template = render("reply_order_reference_missing").strip()
                mine = d.orders.for_customer(user_id, limit=5)
                if mine:
                    step.template += "\n" + "\n".join(order_line(o) for o in mine)
                    _order_evidence(step, mine)
                return step
            order_ids = [referred_orders[0].id]
        elif state.orders and (action or _BACK_TO_IT.search(message)):
            order_ids = state.orders[:1]  # "what's it actually showing as": the order in focus
    if action is None:
        found = order_tools.lookup(d.orders, user_id, order_ids)
        if found.missing:
            step.template = render("reply_order_not_found", order_id=found.missing[0])
            return step
        if not found.orders:
            step.template = render("reply_no_orders")
            return step
        _order_evidence(step, found.orders)
        state.orders = [o.id for o in found.orders]
        lines = "\n".join(order_line(o) for o in found.orders)
        step.template = render("reply_orders", lines=lines)
        step.data = fence(lines)
        if len(found.orders) == 1:
            step.task = "task_order_status"
            step.required = [[found.orders[0].id], [found.orders[0].status]]
        return step
    if not order_ids:
        step.template = render("reply_ask_order_id")
        return step
    item = _ITEM_CHANGE.search(message)
    order = d.orders.get(order_ids[0], user_id) if action == "change_address" and item else None
    if order is not None and order_tools.parse_address(message) is None:
        # "I picked the wrong colour on the hoodie, can that still be changed?": the rule for that change, the
        # order's state, and where to make it (this chat changes addresses only)
        policy(d, step, state, f"change the {item.group(1)} of an order", user_id)
        step.task = None
        step.template = "\n".join([order_line(order), step.template, render("reply_item_change").strip()])
        state.orders = [order.id]
        _order_evidence(step, [order])
        return step
    return propose(d, step, state, action, order_ids[0], message, user_id)


_ITEM_CHANGE = re.compile(r"\b(size|colou?r|quantity|how many)\b", re.I)


_BACK_TO_IT = re.compile(r"\b(?:it|that|this)\b", re.I)


def propose(d: Deps, step: Step, state: DialogueState, action: str, order_id: str, message: str, user_id: str) -> Step:
    address = order_tools.parse_address(message) if action == "change_address" else None
    proposal = order_tools.propose(d.orders, user_id, action, order_id, window_days=d.return_window_days,
                                   address=address, now=d.clock())
    step.tool = f"orders.{action}"
    step.template = render("reply_action", message=proposal.message)
    order = d.orders.get(proposal.order_id, user_id)
    if proposal.allowed:
        state.pending = proposal.model_dump()
        step.events.append(Event(type="action", data={
            "action": action, "status": "needs_confirmation", "order_id": proposal.order_id, "message": proposal.message}))
    elif order is not None and not (action == "change_address" and not address):
        step.events.append(Event(type="action", data={
            "action": action, "status": "refused", "order_id": proposal.order_id, "message": proposal.message}))
    if order is not None:
        state.orders = [order.id]
        _order_evidence(step, [order])
    return step


def confirm(d: Deps, state: DialogueState, pending: dict, slots: Slots, user_id: str | None) -> Step | None:
    """A pending order action: an explicit yes runs it, a no drops it, anything else lets it lapse (None)."""
    proposal = order_tools.Proposal(**pending)
    intent = INTENT_OF_ACTION[proposal.action]
    named_other = slots.order_ids and proposal.order_id not in slots.order_ids
    if slots.confirms and not named_other and user_id:
        step = Step(intent, f"orders.{proposal.action}")
        result = order_tools.execute(d.orders, user_id, proposal, window_days=d.return_window_days, now=d.clock())
        step.events.append(Event(type="action", data={
            "action": proposal.action, "status": "done" if result.ok else "refused", "order_id": proposal.order_id,
            "message": result.message}))
        step.template = render("reply_action", message=result.message)
        state.orders = [proposal.order_id]
        return step
    if slots.declines:
        step = Step(intent, "orders.declined")
        step.template = render("reply_action_declined", order_id=proposal.order_id)
        return step
    return None


def damaged(d: Deps, step: Step, state: DialogueState, message: str, slots: Slots, user_id: str | None,
            context: str = "") -> Step:
    """A damaged or faulty item: the damaged-items rule (or the rule `context` asks about: "is that covered?"
    asks the warranty's), and the offer of a free return for the order (or a hand-off when a return cannot start)."""
    policy(d, step, state, message, user_id, context=context)
    step.task = None  # the offer below is an action: the reply is the template
    if not user_id:
        step.template += "\n" + render("reply_damaged_sign_in").strip()
        return step
    order_ids = list(slots.order_ids)
    if not order_ids:
        found, referred = find_orders(d, user_id, message, "delivered")
        order_ids = [found[0].id] if found and referred else state.orders[:1]
    if not order_ids:
        step.template += "\n" + render("reply_damaged_which_order").strip()
        return step
    rule = step.template
    propose(d, step, state, "start_return", order_ids[0], message, user_id)
    if state.pending:
        step.template = rule + "\n" + render("reply_damaged_offer", order_id=order_ids[0]).strip()
    else:
        step.template = rule + "\n" + step.template + "\n" + render("reply_damaged_handoff").strip()
    step.intent, step.tool = "return_refund", "orders.start_return"
    return step


_FREE_OVER = re.compile(r"(?P<fee>[$€£]\s?\d[\d,]*(?:\.\d\d)?)[^.;|]*?\bfree\b[^.;|]*?\b(?:on|for)\s+orders?\s+(?:of|over|above|from)\s+"
                        r"(?P<threshold>[$€£]\s?\d[\d,]*(?:\.\d\d)?)(?P<more>\s+or\s+more)?", re.I)
_AMOUNT = re.compile(r"[$€£]\s?(\d[\d,]*(?:\.\d\d)?)|(\d[\d,]*(?:\.\d\d)?)\s?(?:dollars|bucks|usd|euros?)", re.I)


def _number(text: str) -> float:
    return float(re.sub(r"[^\d.]", "", text))


def fee_for(passage: str, amount: float) -> str | None:
    """The fee a passage gives for an order of `amount`, for a rule like "$6.95, free on orders of $75 or more"."""
    m = _FREE_OVER.search(passage)
    if m is None:
        return None
    threshold = _number(m.group("threshold"))
    free = amount >= threshold if m.group("more") else amount > threshold
    return "free" if free else m.group("fee").replace(" ", "")


def policy(d: Deps, step: Step, state: DialogueState, message: str, user_id: str | None = None, context: str = "") -> Step:
    """The passage that answers: a table row, a rule or the sentences of a section, cited; with an amount in
    the question, the fee the rule gives for it; with a return question and a delivered order in focus, the
    last day of its return window."""
    abroad = " international" if _names_country(f"{message} {context}") else ""  # "to Germany"; "how much?" after "to the UK?"
    out = search_policies(d.documents, message + abroad, k=3, context=context)
    step.tool = "policies"
    if not out.citations:
        step.template = render("reply_no_policy", support_hours=d.profile.support_hours)
        return step
    citations = sorted(out.citations, key=lambda c: _abroad(d, c, f"{message} {context}"))  # home rules first, unless abroad is asked
    best = citations[0]
    best.snippet = fill_placeholders(best.snippet, d.placeholders)[0]
    step.citations = citations
    answer = best.snippet
    amount = _AMOUNT.search(message) or (_AMOUNT.search(context) if context else None)  # "and standard?" keeps the $120
    if amount is not None:  # "shipping on a $30 order": the fee the rule gives for that amount, from the row that says it
        value = _number(amount.group(1) or amount.group(2))
        cited_docs = {c.doc_id for c in citations}  # "points for $10 off" is no shipping question: only cited documents
        hits = [h for h in d.documents.search(f"{message} {context}".strip(), k=20) if h.doc_id in cited_docs]
        named = [h for h in hits if h.kind == "row" and (m := re.match(r"^[^:.]{1,40}:\s*([^.]{1,40})\.", h.text))
                 and re.search(rf"\b{re.escape(m.group(1).strip().lower())}\b", message.lower()) and _MONEY_IN.search(h.text)]
        if named:  # "a $120 order overnight": the row of the option asked for
            hit = named[0]
            label = re.match(r"^[^:.]{1,40}:\s*([^.]{1,40})\.", hit.text).group(1).strip()
            fee = fee_for(hit.text, value) or _MONEY_IN.search(hit.text).group(0)
            answer = f"{label} shipping on a {money(value)} order is {fee}."
            cited = next((c for c in citations if c.doc_id == hit.doc_id), None)
            if cited is not None:
                best = _citing(d, cited, hit)
                step.citations = [cited] + [c for c in citations if c is not cited]
            hits = []
        for hit in hits:
            fee = fee_for(hit.text, value)
            if fee is None or _ABROAD_DOC.search(hit.title) and _abroad(d, Citation(doc_id=hit.doc_id, title=hit.title),
                                                                        f"{message} {context}"):
                continue
            label = re.match(r"^[^:.]{1,40}:\s*([^.]{1,40})\.", hit.text) if hit.kind == "row" else None
            rule = _FREE_OVER.search(hit.text)
            what = f"{label.group(1)} shipping" if label else "Shipping"
            answer = f"{what} on a {money(value)} order is {fee} ({rule.group(0)})."
            cited = next((c for c in citations if c.doc_id == hit.doc_id), None)
            if cited is not None:
                best = _citing(d, cited, hit)
                step.citations = [cited] + [c for c in citations if c is not cited]
            break
    answer += _return_deadline(d, state, message, user_id)
    step.template = render("reply_policy", answer=answer, title=best.title)
    step.data = "\n".join(f"[{c.title}] {fence(c.snippet, 600)}" for c in step.citations[:2])
    step.evidence.texts += [c.snippet for c in step.citations] + [c.title for c in step.citations] + [answer]
    step.task = "task_policy"
    step.overlap_with = best.snippet
    step.evidence.strict = True
    # a draft states every figure of the answer ("2 business days" alone does not answer "how much is expedited
    # shipping?"), but not the amount the customer gave ("on a $30 order")
    asked = {f.rstrip(".,") for f in re.findall(r"\$\d[\d,.]*", message)} | {f"${_number(m.group(1) or m.group(2)):.2f}"
                                                                           for m in _AMOUNT.finditer(message)}
    figures = [f for f in dict.fromkeys(f.rstrip(".,") for f in re.findall(r"\$\d[\d,.]*|\d+\s*(?:%|days?|business days|hours?|weeks?)", answer))
               if f not in asked]
    step.required = [[f] for f in figures[:3]] if figures else [[w for w in re.findall(r"[a-z]{5,}", answer.lower())[:8]]]
    return step


def _citing(d: Deps, cited: Citation, hit) -> Citation:
    """`cited`, showing the passage (`hit`) whose figures the answer states."""
    if hit.text not in cited.snippet:
        cited.snippet = fill_placeholders(hit.text, d.placeholders)[0]
    return cited


_MONEY_IN = re.compile(r"[$€£]\s?\d[\d,]*(?:\.\d\d)?")
_ABROAD_DOC = re.compile(r"\b(international|overseas|worldwide|abroad)\b", re.I)
_ABROAD_ASKED = re.compile(r"\b(international\w*|abroad|overseas|outside (?:the )?(?:us|usa|united states|country)|worldwide|"
                           r"countr(?:y|ies)|customs|duties|dut(?:y|ies)|import (?:tax\w*|fees?|charges?|vat|gst)|vat|gst)\b", re.I)


def _abroad(d: Deps, citation: Citation, message: str) -> bool:
    """Whether a citation is the shop's rule for other countries while the question is not about one: a
    question names a country the policy lists ("to Canada") or says "abroad" to be about one."""
    if not _ABROAD_DOC.search(citation.title + " " + citation.doc_id):
        return False
    if _ABROAD_ASKED.search(message) or _names_country(message):
        return False
    text = " ".join(c.text for c in getattr(d.documents, "chunks", {}).values() if c.doc_id == citation.doc_id)
    names = {w for w in re.findall(r"(?<!^)(?<![.!?]\s)\b(?:[A-Z][a-z]{3,}|[A-Z]{2,3})\b", message)} - {"US", "USA", "ET", "PO"}
    initials = {"".join(w[0] for w in m.split()) for m in re.findall(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)+\b", text)}  # "UK"
    return not any(re.search(rf"\b{re.escape(n)}\b", text) or n in initials for n in names)


@lru_cache(maxsize=1)
def _country_names() -> re.Pattern[str]:
    """Every country's name (ISO 3166, pycountry) but the shop's own, as one pattern."""
    import pycountry

    names = {n.lower() for c in pycountry.countries for n in (c.name, getattr(c, "common_name", "")) if n}
    names -= {"united states", "united states of america"}
    names |= {"uk", "britain", "great britain", "england", "scotland", "wales", "holland", "europe", "eu"}  # as shoppers say them
    return re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b")


def _names_country(message: str) -> bool:
    """"shipping to Germany": a country other than the shop's is named."""
    return bool(_country_names().search(message.lower()))


def _return_deadline(d: Deps, state: DialogueState, message: str, user_id: str | None) -> str:
    if not (user_id and state.orders and re.search(r"\breturn", message, re.I) and
            re.search(r"\b(how long|until when|by when|deadline|still|time|days)\b", message, re.I)):
        return ""
    order = d.orders.get(state.orders[0], user_id)
    if order is None or order.status != "delivered" or not order.delivered_at:
        return ""
    last = (_parse_time(order.delivered_at) + timedelta(days=d.return_window_days)).date().isoformat()
    return f" Order {order.id} was delivered on {order.delivered_at[:10]}, so its return window runs until {last}."


def handoff(d: Deps, step: Step, session_id: str, message: str, user_id: str | None) -> Step:
    history = d.sessions.history(session_id)
    summary = summarise(history + [Turn("user", message)], max_items=10) or message
    ticket = d.tickets.create(session_id, user_id, reason=message, summary=summary)
    step.events.append(Event(type="handoff", data={"ticket_id": ticket.id, "reason": ticket.reason}))
    step.template = render("reply_handoff", ticket_id=ticket.id, phone=d.profile.phone, email=d.profile.email,
                           support_hours=d.profile.support_hours)
    return step


def chit_chat(d: Deps, step: Step, message: str) -> Step:
    if re.search(r"\b(thanks?|thank you|thx|cheers)\b", message, re.I):
        step.template = render("reply_thanks")
    else:
        step.template = render("reply_chit_chat", shop_name=d.profile.name)
        step.task = "task_chit_chat"
        step.required = [["help", "assist"]]
        step.evidence.texts.append(f"{d.profile.name} shopping assistant products orders returns delivery")
    return step


def refusal(d: Deps, step: Step, template: str = "reply_refusal") -> Step:
    step.template = render(template, shop_name=d.profile.name)
    return step


__all__ = ["Citation", "chit_chat", "confirm", "damaged", "fee_for", "find_orders", "handoff", "orders", "policy", "refusal"]
