"""The conversation engine: one customer turn, from message to grounded, streamed reply.

A turn, top to bottom (`Assistant.chat`):

1. open the session (unknown id -> new session), guardrails (harmful -> refusal, injection -> refusal);
2. a pending order action? an explicit "yes" executes it, anything else drops it;
3. route the message to an intent (rules, then the embedding classifier) and extract slots;
4. run the intent's tool (search, details, compare, recommend, orders, policies, handoff) -> structured
   results, product cards and citations;
5. build the templated answer from the data alone, and, for the intents the chat model phrases, let it
   draft a reply from the results fenced in `<data>` (the recent turns quoted, fenced too); the grounding
   checker removes unsupported sentences (a product or brand of the catalog that the tools did not return
   included) and keeps the draft only if it still states the required facts, else the template wins;
6. emit the structured events, then the approved reply as `token` events, then `done`; store the turn.

Facts come from data; the model only phrases them. The reply is checked before any token is sent, so
streamed text never has to be taken back (time to first token includes the draft).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from assistant.conversation import grounding
from assistant.conversation.contract import Citation, Event, ProductCard
from assistant.conversation.guardrails import fence, is_harmful, is_injection, leaks_prompt
from assistant.conversation.intents import IntentRouter, ProductRef, Slots, extract_slots
from assistant.conversation.memory import Session, SessionStore, Turn, summarise
from assistant.shop.orders import OrderStore, OrderView
from assistant.shop.tickets import TicketStore
from assistant.tools import orders as order_tools
from assistant.tools.policies import search_policies
from assistant.tools.products import ProductFacts, compare, product_details
from assistant.tools.recommend import recommend
from assistant.tools.search import search_products
from prompts.loader import fill_placeholders, render
from retrieval.catalog import Product

logger = logging.getLogger(__name__)

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
# Intents whose reply the chat model may phrase (the rest are templates: actions, refusals, handoff).
_LLM_TASKS = {
    "product_search": "task_products",
    "recommendation": "task_products",
    "product_question": "task_product_question",
    "compare": "task_compare",
    "order_status": "task_order_status",
    "policy": "task_policy",
    "chit_chat": "task_chit_chat",
}
_GLUE = {"your", "with", "from", "that", "this", "will", "have", "they", "them", "what", "when", "which", "there", "their",
         "about", "into", "only", "also", "more", "most", "some", "other", "than", "then", "please", "policy", "order"}
_ORDER_INTENTS = {"order_status", "cancel_order", "change_order", "return_refund"}
_POLICY_INTENTS = {"delivery", "payment", "account", "policy_question", "return_refund"}
_ACTION_INTENT = {"cancel": "cancel_order", "change_address": "change_order", "start_return": "return_refund"}
_QUOTED_CHARS = 160  # of each earlier message in the draft prompt: the gist, and short enough for a small model


class _Turn:
    """What a tool step produced for one turn (internal)."""

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


def _stock_phrase(p: Product | ProductCard) -> str:
    if p.in_stock is None:
        return ""
    return "in stock" if p.in_stock else "out of stock"


def _short(title: str) -> str:
    return title.split(" - ")[0].strip()


def _fact(p: Product) -> grounding.ProductFact:
    return grounding.ProductFact(p.id, p.title, p.price, p.currency, p.stock, p.in_stock, p.brand)


class Assistant:
    """The shop's assistant. Build it with `build_assistant(settings)`; all dependencies are passed in."""

    def __init__(
        self,
        *,
        chat_model: Any,
        router: IntentRouter,
        searcher: Any,
        documents: Any,
        orders: OrderStore,
        sessions: SessionStore,
        tickets: TicketStore,
        profile: Any,
        catalog: Iterable[Product],
        recommender: Any = None,
        return_window_days: int = order_tools.DEFAULT_RETURN_DAYS,
        use_llm: bool = True,
        draft_tokens: int = 60,
        clock: Callable[[], datetime] | None = None,
    ):
        self.chat_model = chat_model
        self.router = router
        self.searcher = searcher
        self.documents = documents
        self.orders = orders
        self.sessions = sessions
        self.tickets = tickets
        self.profile = profile
        self.recommender = recommender
        self.return_window_days = return_window_days
        self.use_llm = use_llm and chat_model is not None
        self.draft_tokens = draft_tokens
        self.clock = clock or (lambda: datetime.now(UTC))
        self.placeholders = profile.placeholder_values()
        self.system_prompt = render("assistant_system", shop_name=profile.name)
        # Every product in the shop, so the grounding check can tell a product or brand the tools returned this
        # turn from one the model brought in from elsewhere.
        catalog = list(catalog)
        self.catalog_titles = frozenset(p.title.lower() for p in catalog)  # frozen: grounding caches its lookups by it
        self.catalog_brands = frozenset(p.brand.lower() for p in catalog if p.brand and len(p.brand) > 3)

    # ------------------------------------------------------------ the turn

    def chat(self, session_id: str | None, message: str, user_id: str | None = None) -> Iterator[Event]:
        """Answer one message; yields structured events, `token` events, then `done`.

        The first event of every turn carries `data["session"]` too, so a new session's id is known
        before the reply streams; `done` always carries it.
        """
        started = time.perf_counter()
        session = self.sessions.open(session_id, user_id)
        message = (message or "").strip()
        turn = self._plan(session, message, user_id)
        reply, source = self._answer(session, message, turn)
        first = True

        def emit(event: Event) -> Event:
            nonlocal first
            if first:
                event.data["session"] = session.id
                first = False
            return event

        if turn.cards:
            yield emit(Event(type="products", data={"products": [c.model_dump() for c in turn.cards]}))
        if turn.citations:
            yield emit(Event(type="citation", data={"citations": [c.model_dump() for c in turn.citations]}))
        for event in turn.events:
            yield emit(event)
        for piece in re.findall(r"\S+\s*|\s+", reply):
            yield emit(Event(type="token", data={"text": piece}))
        self.sessions.append(session, "user", message, turn.intent)
        self.sessions.append(session, "assistant", reply, turn.intent)
        self.sessions.save_state(session)
        logger.info(
            "turn session=%s intent=%s tool=%s answer=%s %.0f ms",
            session.id[:6], turn.intent, turn.tool, source, (time.perf_counter() - started) * 1000,
        )
        yield emit(Event(type="done", data={
            "session": session.id, "intent": turn.intent, "reply": reply,
            "products": [c.model_dump() for c in turn.cards], "citations": [c.model_dump() for c in turn.citations],
            "tool": turn.tool, "answer_source": source,
        }))

    def _answer(self, session: Session, message: str, turn: _Turn) -> tuple[str, str]:
        """(reply, source). source: "llm" (draft passed), "repaired" (passed after removing sentences),
        "fallback" (draft rejected, template sent) or "template" (no draft for this kind of turn)."""
        template = fill_placeholders(turn.template.strip(), self.placeholders)[0]
        if not (self.use_llm and turn.task):
            return template, "template"
        summary, recent = self.sessions.context(session.id)
        draft = self._draft(turn, message, _history(summary, recent))
        turn.evidence.user_message = message
        turn.evidence.texts.append(turn.data)  # everything the model was shown came from the tools
        turn.evidence.catalog_titles = self.catalog_titles  # other products and brands are not this turn's facts
        turn.evidence.catalog_brands = self.catalog_brands
        verdict = grounding.check(draft, turn.evidence, turn.required, system_prompt=self.system_prompt)
        if verdict.dropped:
            logger.info("grounding dropped %d sentence(s): %s", len(verdict.dropped), [r for _, r in verdict.dropped][:3])
        if verdict.ok and turn.overlap_with:  # must actually say what the source says, not just stay vague
            source_words = set(re.findall(r"[a-z]{4,}", turn.overlap_with.lower())) - _GLUE
            if len(source_words & set(re.findall(r"[a-z]{4,}", verdict.text.lower()))) < 3:
                return template, "fallback"
        if verdict.ok and not leaks_prompt(verdict.text, self.system_prompt):
            text = verdict.text.strip().strip('"')
            if turn.listing:  # a list answer: the model's first sentence leads, the data lines follow
                text = grounding.split_sentences(text)[0] + "\n" + fill_placeholders(turn.listing.strip(), self.placeholders)[0]
            return text, "llm" if not verdict.dropped else "repaired"
        return template, "fallback"  # drafted, but the draft did not survive the check

    def _draft(self, turn: _Turn, message: str, history: str) -> str:
        from langchain_core.messages import HumanMessage, SystemMessage

        prompt = render(
            "assistant_answer", history=history, data=turn.data, message=fence(message, 500), task=render(turn.task).strip()
        )
        messages = [SystemMessage(content=self.system_prompt), HumanMessage(content=prompt)]
        # `max_tokens` is LangChain's per-call length cap: ChatOpenAI sends it, LocalChatModel honours it.
        text = "".join(str(chunk.content) for chunk in self.chat_model.stream(messages, max_tokens=self.draft_tokens))
        return fill_placeholders(text.strip(), self.placeholders)[0]

    # ------------------------------------------------------------ planning: guardrails, confirmation, routing

    def _plan(self, session: Session, message: str, user_id: str | None) -> _Turn:
        if not message:
            return self._chit_chat(_Turn("chit_chat", "none"), "")
        if is_harmful(message):
            turn = _Turn("out_of_scope", "refusal")
            turn.template = render("reply_refusal", shop_name=self.profile.name)
            return turn
        if is_injection(message):
            turn = _Turn("out_of_scope", "refusal")
            turn.template = render("reply_injection", shop_name=self.profile.name)
            return turn
        slots = extract_slots(message)
        pending = session.state.pop("pending", None)
        if pending:
            turn = self._confirmation(session, pending, slots, user_id)
            if turn is not None:
                return turn
        intent, confidence, source = self.router.route(message)
        intent = self._adjust(intent, slots, session, message)
        logger.info("intent %s (%.2f, %s)", intent, confidence, source)
        return self._run_tool(intent, session, message, slots, user_id)

    def _adjust(self, intent: str, slots: Slots, session: Session, message: str) -> str:
        """Context the classifier cannot see: references to shown products, order numbers."""
        if len(slots.refs) >= 2 and session.last_products and intent not in _ORDER_INTENTS:
            return "compare"
        if slots.refs and session.last_products and intent in {
            "product_search", "chit_chat", "out_of_scope", "recommendation", "policy_question", "delivery"
        }:
            return "compare" if len(slots.refs) >= 2 else "product_question"
        if intent == "compare" and len(slots.refs) == 1 and session.last_products and not re.search(
            r"\b(compare|comparison|difference|differ|vs|versus|better|which)\b", message, re.I
        ):
            return "product_question"
        if slots.order_ids and intent in {"delivery", "product_search", "product_question", "chit_chat", "out_of_scope"}:
            return "order_status"
        return intent

    def _confirmation(self, session: Session, pending: dict, slots: Slots, user_id: str | None) -> _Turn | None:
        proposal = order_tools.Proposal(**pending)
        intent = _ACTION_INTENT[proposal.action]
        named_other = slots.order_ids and proposal.order_id not in slots.order_ids
        if slots.confirms and not named_other and user_id:
            turn = _Turn(intent, f"orders.{proposal.action}")
            result = order_tools.execute(self.orders, user_id, proposal, window_days=self.return_window_days, now=self.clock())
            status = "done" if result.ok else "refused"
            turn.events.append(Event(type="action", data={
                "action": proposal.action, "status": status, "order_id": proposal.order_id, "message": result.message,
            }))
            turn.template = render("reply_action", message=result.message)
            session.state["last_order"] = proposal.order_id
            return turn
        if slots.declines:
            turn = _Turn(intent, "orders.declined")
            turn.template = render("reply_action_declined", order_id=proposal.order_id)
            return turn
        return None  # anything else: the pending action lapses and the message is handled normally

    # ------------------------------------------------------------ tools

    def _run_tool(self, intent: str, session: Session, message: str, slots: Slots, user_id: str | None) -> _Turn:
        if intent == "product_search":
            return self._search(_Turn(intent, "search"), session, message)
        if intent == "product_question":
            return self._details(_Turn(intent, "product_details"), session, message, slots)
        if intent == "compare":
            return self._compare(_Turn(intent, "compare"), session, message, slots)
        if intent == "recommendation":
            return self._recommend(_Turn(intent, "recommend"), session, message, user_id)
        if intent in {"order_status", "cancel_order", "change_order"} or (intent == "return_refund" and slots.order_ids):
            return self._orders(_Turn(intent, "orders"), session, message, slots, user_id)
        if intent in _POLICY_INTENTS:
            return self._policy(_Turn(intent, "policies"), message)
        if intent == "human_handoff":
            return self._handoff(_Turn(intent, "handoff"), session, message, user_id)
        if intent == "chit_chat":
            return self._chit_chat(_Turn(intent, "none"), message)
        turn = _Turn("out_of_scope", "refusal")
        turn.template = render("reply_refusal", shop_name=self.profile.name)
        return turn

    def _show(self, turn: _Turn, session: Session, products: list[Product], reasons: dict[str, str]) -> None:
        turn.cards = [ProductCard.of(p, reasons.get(p.id, "")) for p in products]
        turn.evidence.products = [_fact(p) for p in products]
        session.state["last_products"] = [p.id for p in products]
        if products:
            session.state["focus"] = products[0].id

    def _product_lines(self, products: list[Product], reasons: dict[str, str] | None = None) -> str:
        lines = []
        for i, p in enumerate(products, 1):
            parts = [money(p.price, p.currency)]
            stock = _stock_phrase(p)
            if stock:
                parts.append(stock)
            lines.append(f"{i}. {p.title}: {', '.join(parts)}")
        return "\n".join(lines)

    def _data_products(self, products: list[Product], reasons: dict[str, str] | None = None) -> str:
        rows = []
        for i, p in enumerate(products, 1):
            f = ProductFacts.of(p)
            row = f"[{i}] name: {p.title}; price: {money(p.price, p.currency)}"
            stock = _stock_phrase(p)
            if stock:
                row += f"; {stock}"
            if f.rating is not None:
                row += f"; rating: {f.rating}/5"
            if reasons and reasons.get(p.id):
                row += f"; why: {reasons[p.id]}"
            rows.append(row)
        return "\n".join(rows)

    def _search(self, turn: _Turn, session: Session, message: str) -> _Turn:
        out = search_products(self.searcher, message, k=5)
        self._show(turn, session, out.products, out.reasons)
        if not out.products:
            turn.template = render("reply_no_products", query=message)
            return turn
        turn.template = render("reply_products", query=message, lines=self._product_lines(out.products))
        turn.listing = self._product_lines(out.products)
        turn.data = fence(self._data_products(out.products[:3]))
        turn.task = _LLM_TASKS["product_search"]
        turn.required = [[_short(p.title) for p in out.products[:3]]]
        return turn

    def _resolve(self, refs: list[ProductRef], session: Session) -> list[Product]:
        """Products referred to as "the second one", "the cheaper boots", "that jacket"."""
        shown = product_details(self.searcher, session.last_products)
        picked: list[Product] = []
        for ref in refs:
            pool = shown
            if ref.noun:
                stem = ref.noun.rstrip("s")
                pool = [p for p in shown if stem in p.title.lower() or any(stem in c.lower() for c in p.category)] or shown
            choice = None
            if ref.index is not None and pool:
                if -len(pool) <= ref.index < len(pool):
                    choice = pool[ref.index]
            elif ref.comparative and pool:
                priced = [p for p in pool if p.price is not None]
                if ref.comparative.startswith(("cheap",)) and priced:
                    choice = min(priced, key=lambda p: p.price)
                elif ref.comparative in {"expensive", "more expensive", "pricier", "priciest", "most expensive"} and priced:
                    choice = max(priced, key=lambda p: p.price)
                elif "rated" in ref.comparative:
                    choice = max(pool, key=lambda p: p.rating or 0)
            elif pool:
                focus = session.state.get("focus")
                choice = next((p for p in pool if p.id == focus), pool[0]) if not ref.noun else pool[0]
            if choice is not None and choice not in picked:
                picked.append(choice)
        return picked

    def _details(self, turn: _Turn, session: Session, message: str, slots: Slots) -> _Turn:
        products = self._resolve(slots.refs, session) if slots.refs else []
        if not products and session.state.get("focus") and not re.search(r"\b(the|a|an)\s+\w+\s+\w+", message):
            products = product_details(self.searcher, [session.state["focus"]])
        if not products:
            hits = search_products(self.searcher, message, k=1).products
            products = hits[:1]
        if not products:
            turn.template = render("reply_need_products")
            return turn
        shown = session.state.get("last_products", [])
        turn.cards = [ProductCard.of(p) for p in products]
        turn.evidence.products = [_fact(p) for p in products]
        session.state["focus"] = products[0].id
        if products[0].id not in shown:
            session.state["last_products"] = [p.id for p in products]
        lines, data = [], []
        for p in products:
            f = ProductFacts.of(p)
            facts = [f"{p.title} costs {money(p.price, p.currency)}"]
            stock = _stock_phrase(p)
            if stock:
                facts[0] += f" and is {stock}"
            facts[0] += "."
            if f.sizes:
                facts.append(f"Sizes: {', '.join(f.sizes)}.")
            if f.colours:
                facts.append(f"Colours: {', '.join(f.colours)}.")
            if f.rating is not None:
                facts.append(f"Rated {f.rating}/5" + (f" by {p.rating_count} customers." if p.rating_count else "."))
            if f.highlights:
                facts.append("Highlights: " + "; ".join(f.highlights[:3]) + ".")
            lines.append(" ".join(facts))
            data.append(" ".join(facts) + " " + fence(p.description, 400))
            turn.evidence.texts.append(" ".join(facts) + " " + p.description + " " + " ".join(p.bullets) + " " + str(p.attributes))
        turn.template = render("reply_product_details", lines="\n".join(lines))
        turn.data = "\n".join(data)
        turn.task = _LLM_TASKS["product_question"]
        turn.required = [[_short(p.title) for p in products]]
        return turn

    def _compare(self, turn: _Turn, session: Session, message: str, slots: Slots) -> _Turn:
        products = self._resolve(slots.refs, session) if len(slots.refs) >= 2 else []
        if len(products) < 2:
            products = product_details(self.searcher, session.last_products[:2])
        if len(products) < 2:
            products = search_products(self.searcher, message, k=2).products
        if len(products) < 2:
            turn.template = render("reply_need_products")
            return turn
        result = compare(products)
        turn.cards = [ProductCard.of(p) for p in products]
        turn.evidence.products = [_fact(p) for p in products]
        lines = []
        for f in result.products:
            bits = [money(f.price, f.currency)]
            if f.in_stock is not None:
                bits.append("in stock" if f.in_stock else "out of stock")
            if f.rating is not None:
                bits.append(f"rated {f.rating}/5")
            lines.append(f"- {f.title}: {', '.join(bits)}")
        by_id = {f.id: f for f in result.products}
        if result.cheapest:
            lines.append(f"The cheaper one is {by_id[result.cheapest].title}.")
        if result.best_rated:
            lines.append(f"The best rated is {by_id[result.best_rated].title}.")
        turn.template = render("reply_compare", lines="\n".join(lines))
        turn.listing = "\n".join(lines)
        turn.data = fence(self._data_products(products))
        turn.task = _LLM_TASKS["compare"]
        turn.required = [[_short(products[0].title)], [_short(products[1].title)]]
        return turn

    def _recommend(self, turn: _Turn, session: Session, message: str, user_id: str | None) -> _Turn:
        out = recommend(self.recommender, self.searcher, user_id, message, k=4)
        self._show(turn, session, out.products, out.reasons)
        if not out.products:
            turn.template = render("reply_no_products", query=message)
            return turn
        lines = []
        for i, p in enumerate(out.products, 1):
            reason = out.reasons.get(p.id)
            lines.append(f"{i}. {p.title}: {money(p.price, p.currency)}" + (f" ({reason})" if reason else ""))
            if reason:
                turn.evidence.texts.append(reason)
        turn.template = render("reply_recommend", lines="\n".join(lines))
        turn.listing = "\n".join(lines)
        turn.data = fence(self._data_products(out.products[:3], out.reasons))
        turn.task = _LLM_TASKS["recommendation"]
        turn.required = [[_short(p.title) for p in out.products[:3]]]
        return turn

    # ------------------------------------------------------------ orders

    def _order_line(self, o: OrderView) -> str:
        items = ", ".join(f"{i.quantity} x {i.title}" for i in o.items[:3])
        line = f"Order {o.id} is {o.status}"
        if o.status == "shipped" and o.carrier:
            line += f" with {o.carrier}" + (f" (tracking number {o.tracking_number})" if o.tracking_number else "")
            if o.estimated_delivery:
                line += f", expected by {o.estimated_delivery}"
        elif o.status == "delivered" and o.delivered_at:
            line += f" (delivered on {o.delivered_at[:10]})"
        return line + f". Items: {items}. Total: {money(o.total, o.currency)}."

    def _order_evidence(self, turn: _Turn, orders: list[OrderView]) -> None:
        turn.evidence.orders = [
            grounding.OrderFact(o.id, o.status, {h.get("status", "") for h in o.history} | {o.status}) for o in orders
        ]
        turn.evidence.texts += [o.model_dump_json() for o in orders]

    def _orders(self, turn: _Turn, session: Session, message: str, slots: Slots, user_id: str | None) -> _Turn:
        if not user_id:
            turn.template = render("reply_sign_in")
            if turn.intent != "order_status":
                turn.events.append(Event(type="action", data={
                    "action": {"cancel_order": "cancel", "change_order": "change_address"}.get(turn.intent, "start_return"),
                    "status": "refused", "order_id": slots.order_ids[0] if slots.order_ids else None,
                    "message": "Sign in required.",
                }))
            return turn
        order_ids = slots.order_ids or ([session.state["last_order"]] if session.state.get("last_order") and turn.intent != "order_status" else [])
        if turn.intent == "order_status":
            found = order_tools.lookup(self.orders, user_id, order_ids)
            if found.missing:
                turn.template = render("reply_order_not_found", order_id=found.missing[0])
                return turn
            if not found.orders:
                turn.template = render("reply_no_orders")
                return turn
            self._order_evidence(turn, found.orders)
            session.state["last_order"] = found.orders[0].id
            turn.template = render("reply_orders", lines="\n".join(self._order_line(o) for o in found.orders))
            turn.data = fence("\n".join(self._order_line(o) for o in found.orders))
            if len(found.orders) == 1:
                turn.task = _LLM_TASKS["order_status"]
                turn.required = [[found.orders[0].id], [found.orders[0].status]]
            return turn
        if not order_ids:
            turn.template = render("reply_ask_order_id")
            return turn
        action = {"cancel_order": "cancel", "change_order": "change_address"}.get(turn.intent, "start_return")
        address = order_tools.parse_address(message) if action == "change_address" else None
        proposal = order_tools.propose(
            self.orders, user_id, action, order_ids[0], window_days=self.return_window_days, address=address, now=self.clock()
        )
        turn.tool = f"orders.{action}"
        turn.template = render("reply_action", message=proposal.message)
        if proposal.allowed:
            session.state["pending"] = proposal.model_dump()
            turn.events.append(Event(type="action", data={
                "action": action, "status": "needs_confirmation", "order_id": proposal.order_id, "message": proposal.message,
            }))
        elif self.orders.get(proposal.order_id, user_id) is not None and not (action == "change_address" and not address):
            turn.events.append(Event(type="action", data={
                "action": action, "status": "refused", "order_id": proposal.order_id, "message": proposal.message,
            }))
        if self.orders.get(proposal.order_id, user_id) is not None:
            session.state["last_order"] = proposal.order_id
        return turn

    # ------------------------------------------------------------ policies, handoff, chit-chat

    def _policy(self, turn: _Turn, message: str) -> _Turn:
        out = search_policies(self.documents, message, k=3)
        if not out.citations:
            turn.template = render("reply_no_policy", support_hours=self.profile.support_hours)
            return turn
        best = out.citations[0]
        best.snippet = fill_placeholders(best.snippet, self.placeholders)[0]
        turn.citations = out.citations
        turn.template = render("reply_policy", answer=best.snippet, title=best.title)
        turn.data = "\n".join(f"[{c.title}] {fence(c.snippet, 600)}" for c in out.citations[:2])
        turn.evidence.texts += [c.snippet for c in out.citations] + [c.title for c in out.citations]
        turn.task = _LLM_TASKS["policy"]
        turn.overlap_with = best.snippet
        turn.evidence.strict = True
        figures = re.findall(r"\$\d[\d,.]*|\d+\s*(?:%|days?|business days|hours?|weeks?)", best.snippet)
        turn.required = [figures] if figures else [[w for w in re.findall(r"[a-z]{5,}", best.snippet.lower())[:8]]]
        turn.tool = "policies"
        return turn

    def _handoff(self, turn: _Turn, session: Session, message: str, user_id: str | None) -> _Turn:
        history = self.sessions.history(session.id)
        summary = summarise(history + [_user_turn(message)], max_items=10) or message
        ticket = self.tickets.create(session.id, user_id, reason=message, summary=summary)
        turn.events.append(Event(type="handoff", data={"ticket_id": ticket.id, "reason": ticket.reason}))
        turn.template = render(
            "reply_handoff", ticket_id=ticket.id, phone=self.profile.phone, email=self.profile.email,
            support_hours=self.profile.support_hours,
        )
        return turn

    def _chit_chat(self, turn: _Turn, message: str) -> _Turn:
        if re.search(r"\b(thanks?|thank you|thx|cheers)\b", message, re.I):
            turn.template = render("reply_thanks")
        else:
            turn.template = render("reply_chit_chat", shop_name=self.profile.name)
            turn.task = _LLM_TASKS["chit_chat"]
            turn.required = [["help", "assist"]]
            turn.evidence.texts.append(f"{self.profile.name} shopping assistant products orders returns delivery")
        return turn


def _user_turn(message: str) -> Turn:
    return Turn("user", message)


def _history(summary: str, recent: list[Turn]) -> str:
    """The earlier turns for the draft prompt: the summary of older ones, then the last messages, each fenced and
    clipped, in a `<data>` block of their own (customer text is untrusted: quoted, never instructions)."""
    lines = [" ".join(fence(summary).split())]
    for t in recent:
        text = " ".join(fence(t.content, _QUOTED_CHARS).split())
        if text:  # a message that was only instructions leaves nothing to quote
            lines.append(f"{'Customer' if t.role == 'user' else 'Assistant'}: {text}")
    lines = [line for line in lines if line]
    if not lines:
        return ""
    return "Earlier in this conversation:\n<data>\n" + "\n".join(lines) + "\n</data>\n\n"
