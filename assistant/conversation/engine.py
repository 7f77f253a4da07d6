"""The conversation engine: one customer turn, from message to grounded, streamed reply.

A turn, top to bottom (`Assistant.chat`):

1. open the session (unknown id -> new session) and its dialogue state (`state.DialogueState`: the active
   product request, the products shown, the product and orders in focus, a pending action); guardrails
   (harmful -> refusal, injection -> refusal);
2. a pending action? an explicit "yes" runs an order action, a size or colour completes a cart line, anything
   else lets it lapse;
3. split the message into its requests ("where is SB-10004 and how long do I have to return it?" is two)
   and, for each, pick the step: the cart, an order (by number, by what was in it, by when), a policy,
   a yes/no or attribute question about the product in focus, "which of those is the lightest", or a
   search: a refinement ("in blue?", "under $70 then") changes the active request, a new product type
   ("and I also need a stove") starts one. Rules and the embedding classifier (`intents`) decide, with
   the dialogue state the classifier cannot see;
4. each step runs its tools against the shop's data (`shopping`, `service`) and builds its answer from the
   data alone; for a single request the chat model may draft the reply from the results fenced in `<data>`
   (the recent turns quoted, fenced too); the grounding checker removes unsupported sentences (a product or
   brand of the catalog that the tools did not return included) and keeps the draft only if it still
   states the required facts, else the template wins;
5. emit the structured events, then the reply as `token` events, then `done`; store the turn and the state.
   A drafted reply streams sentence by sentence: each sentence is checked as soon as the model has written
   it and sent once the kept sentences state the required facts (`_answer`), so the first token follows the
   first checked sentence, not the whole draft.

Facts come from data; the model only phrases them. Every sentence is checked before it is sent, so streamed
text never has to be taken back.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from assistant.conversation import grounding, service, shopping
from assistant.conversation.contract import Event
from assistant.conversation.guardrails import (
    asks_for_others_data,
    asks_to_deceive,
    fence,
    is_harmful,
    is_injection,
    leaks_prompt,
)
from assistant.conversation.intents import IntentRouter, Slots, extract_slots
from assistant.conversation.memory import Session, SessionStore, Turn
from assistant.conversation.state import DialogueState, ProductRequest, next_request
from assistant.conversation.turn import Deps, Step
from assistant.shop.cart import CartStore
from assistant.shop.orders import OrderStore
from assistant.shop.tickets import TicketStore
from assistant.tools import orders as order_tools
from prompts.loader import fill_placeholders, render
from retrieval.attributes import AttributeSchema
from retrieval.catalog import Product
from retrieval.product_types import ProductTypes
from retrieval.query import parse_query

logger = logging.getLogger(__name__)

_GLUE = {"your", "with", "from", "that", "this", "will", "have", "they", "them", "what", "when", "which", "there", "their",
         "about", "into", "only", "also", "more", "most", "some", "other", "than", "then", "please", "policy", "order"}
_ORDER_INTENTS = {"order_status", "cancel_order", "change_order", "return_refund"}
_POLICY_INTENTS = {"delivery", "payment", "account", "policy_question", "return_refund"}
_SERVICE_INTENTS = _ORDER_INTENTS | _POLICY_INTENTS | {"human_handoff"}
_QUOTED_CHARS = 160  # of each earlier message in the draft prompt: the gist, and short enough for a small model
# Where one message holds two requests: a sentence end, or "and"/"also" before a new question or request.
_SPLIT = re.compile(r"(?<=[?.!;])\s+(?=\w)|[,;]?\s+(?:and|plus|&)\s+(?=(?:a|an|some)\s)|[,;]?\s+(?:and|also|plus|&)\s+(?=(?:also\s+)?(?:how|what|when|where|can|could|do|does|is|"
                    r"are|will|would|i\s+(?:also\s+)?(?:need|want|would like)|show|add|remove|cancel|track|tell|let|whats|what's)\b)",
                    re.I)
_FILLER = re.compile(r"^\s*(?:(?:and|also|so|ok(?:ay)?|hi|hey|hello|please|well|actually|now|then)[\s,]+)*"
                     r"(?:(?:can|could) you (?:please )?(?:show|find|get|recommend) me|(?:please )?show me|i(?:'m| am) (?:looking for|after)|"
                     r"looking for|i (?:also )?(?:need|want|would like|'d like)|do you (?:have|sell|carry|stock)|"
                     r"(?:what|how) about|have you got|any|find me|get me|search for)?\s*(?:(?:some|a|an|the)\b)?\s*", re.I)
# "surely that's covered somehow", "is that under warranty": what the rules cover, asked after a fault
_COVERED = re.compile(r"\b(?:covered|cover (?:it|that|this|them)|under (?:the )?(?:warranty|guarantee)|warrant(?:y|ied)|guarantee[ed]?)\b", re.I)
# "swap them for a different model": no exchange (size or colour) but a return and a new order
_OTHER_PRODUCT = re.compile(r"\b(?:different|another|other)\s+(?:model|product|style|item|brand|design|make|kind|type)\b", re.I)
_ORDER_WORD = re.compile(r"\b(?:orders?|ordered|bought|purchased?|parcel|package|delivery|shipped|tracking)\b", re.I)
# "go back to the ones you showed me before", "the earlier ones again", "back to the original list"
_GO_BACK = re.compile(
    r"\b(?:go|get|come|switch|take\s+me|head)\s+back\s+to\s+(?:the|those|your|that)\s+(?:\w+\s+){0,2}?(?:ones?|list|results?|options?|"
    r"lot|selection)\b(?=.{0,40}?\b(?:before|earlier|previous(?:ly)?|first|original(?:ly)?|last\s+time|a\s+minute\s+ago)\b)|"
    r"\b(?:the\s+)?(?:previous|earlier|original|first|other)\s+(?:ones|list|results|options|lot|selection)\s+again\b|"
    r"\b(?:go|get|come|switch)\s+back\s+to\s+(?:the\s+)?(?:previous|earlier|original|first|last)\s+(?:ones|list|results|options|lot|selection|search)\b",
    re.I)
_EXCHANGE = re.compile(r"(?<!forget the )(?<!forget about the )(?<!instead of an )(?<!instead of a )(?<!no )(?<!not an )"
                       r"\b(exchang\w*|swap\w*)\b", re.I)  # "forget the swap - I'd rather have my money back" is a return
_ORDERED = re.compile(r"\b(?:i|we)\s+(?:just\s+)?(?:ordered|bought|purchased|got)\b|\bmy\s+(?:last|latest|recent|previous)?\s*(?:order|purchase|parcel|package|delivery)\b", re.I)
# a question about these is about the rules, whatever order it mentions ("the points I got from that order")
_RULE_TOPIC = re.compile(r"\b(?:reward )?points?\b|\brewards?\b|\bwarrant\w*|\bgift cards?\b", re.I)
_COST_OR_TIME = re.compile(r"\b(?:cost|costs|charge\w*|fee|fees|free|pay|how long|how many days|window)\b", re.I)
# "I cancelled SB-10032 weeks ago and there's still a charge": the customer reports what they did; its state and
# the rule that follows from it answer, not the action again (unless they also ask for one)
_REPORTED = re.compile(r"\b(?:i|we)(?:'ve| have| had)?\s+(?:already\s+)?(cancell?ed|returned|sent (?:it|them|\w+) back)\b", re.I)
_ASKS_ACTION = re.compile(r"\b(?:want|like|need|please|can you|could you|wanna)\b.{0,20}\b(?:cancel|return|refund|send)", re.I)
_HYPOTHETICAL = re.compile(r"^\s*(?:and |so |but |ok )?(?:if|what if|say|suppose)\b", re.I)
# how long the customer goes without ("will i be without a bag for ages while you wait for mine?")
_WAIT_Q = re.compile(r"\b(?:for ages|in the meantime|meanwhile|while (?:you|i|we) wait|how long (?:will|would|does|do) "
                     r"(?:it|that|this|the \w+) take|be without)\b", re.I)
_ACTION_WORDS = {"exchange": "exchange", "start_return": "return", "cancel": "cancel order", "change_address": "change address",
                 "damaged": "damaged item"}
_ACT_ON_IT = re.compile(r"\b(start|open|begin|do|make|process|want|go ahead with|proceed with|set up|arrange|initiate)\b.{0,20}\breturn\b|\breturn (?:it|them|that|this)\b|"
                        r"\b(?:it|they|this|that)\b.{0,12}\bgo back\b|\bsend (?:it|them|this|that) back\b|"
                        r"\b(?:have|get|want) (?:my|the) money back\b", re.I)
_POLICY_Q = re.compile(shopping.OPENING + r"(?:how|what|when|why|which|is there|are there|do you|does|what's|whats)\b"
                       r"(?!\s+about\b)", re.I)  # "what about changing the address ..." is a request
# the time the rules allow or take, not where a parcel is: "how long have i got to ...", "how long til it shows on my card"
_TIME_ALLOWED = re.compile(r"\bhow (?:long|many days|much time) (?:(?:have|has|do|does|would|will) (?:i|we|he|she|they|you)"
                           r"(?: got| have| get)?|is there|am i allowed|are (?:we|they) allowed|is (?:he|she) allowed)\b|"
                           r"\bhow long (?:till|til|until|before|for)\b.{0,40}\b(?:card|account|bank|refund\w*|money|credit\w*)\b|"
                           r"\b(?:deadline|time limit|cut-?off)\b.{0,20}\b(?:return|report|claim|exchange|send)", re.I)
# after a refusal of someone else's data: who they are to the shopper, or what would do instead, is no new request
_PRESSES = re.compile(r"\b(?:i'?m|i am) (?:literally |actually |really )?(?:her|his|their|the)\b|\bjust (?:the|her|his|tell)\b|"
                      r"\b(?:her|his|their) (?:husband|wife|partner|son|daughter|mum|mom|dad|father|mother)\b|\bwould do\b|"
                      r"\b(?:she|he) (?:won't|wont|doesn't|doesnt) mind\b|\bplease\b.{0,20}\b(?:her|his)\b", re.I)
_SUBJECT = re.compile(r"\b(?:return\w*|refund\w*|exchang\w*|cancel\w*|warrant\w*|ship\w*|deliver\w*|damage\w*|fault\w*)\b", re.I)
_REFERRING = re.compile(r"\b(there|that|it|those|this|then|them)\b|^\s*(?:and|also|what about|how about)\b", re.I)
_QUESTION = re.compile(shopping.OPENING + r"(?:how|what|when|why|which|do you|does|is there|are there|can i|could i|will i|"
                       r"what's|whats|how's)\b", re.I)
_ARRIVAL = re.compile(r"\b(arriv\w*|deliver\w*|when will (?:it|they|that)|where is (?:it|my)|track\w*|ship(?:ped)? yet)\b", re.I)
# "order" as a thing the customer has, not the verb ("what size should she order")
_AN_ORDER = re.compile(r"\b(?:my|the|that|this|an?|which|both|two|couple of)\s+(?:[\w-]+\s+){0,3}?(?:order|parcel|package|delivery|"
                       r"shipment)\b|\borders\b", re.I)
# Which size to choose, the sizing guide's subject, not the sizes a product comes in ("what sizes does it come in?")
_SIZE_ADVICE = re.compile(r"\b(?:what|which) size (?:should|do i need|would|to (?:get|order|buy|go for)|is right|fits|for)\b|"
                          r"\bsize (?:up|down)\b|\b(?:go|going) (?:up|down)\b.{0,15}\bsizes?\b|\bsizes?\b.{0,15}\b(?:go|going) (?:up|down)\b|"
                          r"\b(?:in )?between (?:two )?sizes\b|\b(?:go|going) up or down\b|"
                          r"\b(?:regular|long|short|standard|wide)\s+or\s+(?:the\s+|a\s+)?(?:regular|long|short|standard|wide)\b", re.I)
_STATUS_Q = re.compile(r"\b(?:status|showing|show(?:s|ing)? (?:as|up)|say(?:s|ing)?|at now|update)\b|"
                       r"\bwhere(?:'?s| is| are)\s+(?:it|that|this|they|those)(?:\s+(?:at|now|got to))?\s*[?.!]*$", re.I)
_PICK = re.compile(r"^\s*(which|what)\b|\b(of (?:those|these|them)|among (?:those|these|them)|out of (?:those|these))\b", re.I)
# Words of the shop's service side: a message with them is about a policy, whatever it also says
_POLICY_WORDS = re.compile(r"\b(ship\w*|deliver\w*|return\w*|refund\w*|exchange\w*|warrant\w*|polic\w*|pay\w*|charge\w*|"
                           r"fee|fees|order|orders|account|password|gift card|price match|privacy|points|rewards)\b", re.I)
_CART_TOTAL = re.compile(r"^\s*(?:and |so |ok |okay )?(?:what'?s|what is|how much is) (?:the |my )?(?:total|sum|damage)\b|"
                         r"\bhow much (?:is|does) (?:that|it|everything|all that) (?:come to|cost)\b", re.I)
# "what's left in there?" right after a cart turn: the cart
_CART_CONTENTS = re.compile(r"\bwhat'?s\s+(?:left\s+|still\s+|now\s+)?in\s+(?:there|it)\b|"
                            r"\bwhat (?:do i have|have i got|did i add|i'?ve got|i have)\b", re.I)
# "the lightest sleeping bag you have": the whole range, not the ones on screen
_WHOLE_RANGE = re.compile(r"\b(?:you (?:have|sell|carry|stock|got|do)|of (?:them )?all|overall|in the (?:shop|store)|in your (?:shop|store|range))\b", re.I)
_FRUSTRATED = re.compile(r"\b(?:nobody|no one|noone|no-one)\b.{0,30}\b(?:answer|repl|respond|help|get\w* back|call\w* back|pick\w* up)|"
                         r"\b(?:fed up|sick of|ridiculous|unacceptable|waste of (?:my )?time|third time|(?:waited|waiting) (?:for )?"
                         r"(?:days|weeks|ages|hours))\b", re.I)
_ATTRIBUTE_Q = re.compile(r"^\s*(how|what|which|does|do|is|are)\b", re.I)
# "any that are waterproof?", "are any of them under 2 kg", "those ones in blue": about the list, not the one in focus
_ABOUT_LIST = re.compile(r"\bany (?:that|which|of (?:them|those|these))\b|\b(?:those|these|ones)\b|\bwhich of\b|"
                         r"^\s*(?:and |ok |so )?any\b(?! (?:chance|idea|way|news|update|word|luck)\b)", re.I)  # "any in a 10?"
# Words that carry no request of their own: with a budget or a condition they only refine the active request
# ("actually I can go up to 35", "what about under 200 then")
# "a warm coat for her", "some flask for tea": a determiner, up to two words, and the head before a preposition or the end
_NOUN_PHRASE = re.compile(r"\b(?:a|an|some|another|new)\s+((?:[a-z'-]+\s+){0,2}?([a-z]+))(?=\s+(?:for|of|that|which|to|with|"
                          r"in|on|so|and|but|or|under|around|about|from|she|he|they|i|we|his|her|their|my|your|it|at|like)\b|\s*[,.!?;]|\s*$)")
# what the shopper says they need: "need a full pan set that ...", "after a new head torch"
_WANTED = re.compile(r"\b(?:need|needs|want|wants|looking for|after|searching for|shopping for|hunting for)\s+"
                     r"((?:a|an|some|new|a new)\s+(?:[a-z'-]+\s+){0,2}?[a-z]+)(?=\s+(?:for|of|that|which|to|with|in|on|so|"
                     r"and|but|or|under|around|about|from)\b|\s*[,.!?;]|\s*$)")
_COLLECTIVE = frozenset({"set", "kit", "pack", "pair", "bundle", "range", "selection", "collection"})
_BARE = frozenset("""i me my we can could would go spend pay afford actually then what about how maybe ok okay and or but
so also just still only please well hmm um is it that are there any ones one those these them something anything options
let s show have got do you a an the with for of to in on at like instead max maximum budget price less more""".split())


class Assistant:
    """The shop's assistant. Build it with `assistant.wiring.build_assistant(settings)`; all dependencies are
    passed in."""

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
        carts: CartStore | None = None,
        recommender: Any = None,
        return_window_days: int = order_tools.DEFAULT_RETURN_DAYS,
        use_llm: bool = True,
        draft_tokens: int = 60,
        max_drafts: int = 0,
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
        # drafts the model writes at once (0: no limit); a turn that finds them all taken is answered from its
        # template at once, instead of queueing behind the others' drafts for many seconds
        self._draft_slots = threading.BoundedSemaphore(max_drafts) if max_drafts else None
        self.clock = clock or (lambda: datetime.now(UTC))
        self.placeholders = profile.placeholder_values()
        self.system_prompt = render("assistant_system", shop_name=profile.name)
        catalog = list(catalog)
        # Every product in the shop, so the grounding check can tell a product or brand the tools returned this
        # turn from one the model brought in from elsewhere.
        self.catalog_titles = frozenset(p.title.lower() for p in catalog)  # frozen: grounding caches its lookups by it
        self.catalog_brands = frozenset(p.brand.lower() for p in catalog if p.brand and len(p.brand) > 3)
        self._brands = tuple(sorted({p.brand for p in catalog if p.brand}))
        self._categories = tuple(sorted({c for p in catalog for c in p.category}))
        self.carts = carts or CartStore(orders.db_path)
        # the catalog's own words for colours and sizes ("Glacier Blue", "Queen"), and titles a message may name
        self._colour_words = sorted({c.lower() for p in catalog for c in p.colours if len(c) > 2}, key=len, reverse=True)
        self._size_words = {s.lower(): s for p in catalog for s in p.sizes if len(s) > 1 and not s.replace(".", "").isdigit()}
        self._title_words = {w for p in catalog for w in re.findall(r"[a-z]{3,}", p.title.lower())}
        letters = {s for p in catalog for s in p.sizes}
        self._size_words.update({w: s for w, s in shopping.SIZE_WORDS.items() if s in letters and w not in self._size_words})
        self._titles = [(" ".join(t.split()), p) for p in catalog for t in {p.title.lower(), p.title.lower().split(" - ")[0]}
                        if len(t) > 12]
        self.deps = Deps(
            searcher=searcher, documents=documents, orders=orders, carts=self.carts, tickets=tickets, sessions=sessions,
            profile=profile, recommender=recommender, catalog={p.id: p for p in catalog},
            schema=AttributeSchema.from_products(catalog), types=ProductTypes.from_products(catalog),
            return_window_days=return_window_days, clock=lambda: self.clock(), placeholders=self.placeholders,
        )

    # ------------------------------------------------------------ the turn

    def chat(self, session_id: str | None, message: str, user_id: str | None = None) -> Iterator[Event]:
        """Answer one message; yields structured events, `token` events, then `done`.

        The first event of every turn carries `data["session"]` too, so a new session's id is known
        before the reply streams; `done` always carries it.
        """
        started = time.perf_counter()
        session = self.sessions.open(session_id, user_id)
        message = (message or "").strip()
        state = DialogueState.load(session.state)
        steps = self._plan(session, state, message, user_id)
        first = True

        def emit(event: Event) -> Event:
            nonlocal first
            if first:
                event.data["session"] = session.id
                first = False
            return event

        cards = [c for s in steps for c in s.cards]
        citations = [c for s in steps for c in s.citations]
        if cards:
            yield emit(Event(type="products", data={"products": [c.model_dump() for c in cards]}))
        if citations:
            yield emit(Event(type="citation", data={"citations": [c.model_dump() for c in citations]}))
        for event in (e for s in steps for e in s.events):
            yield emit(event)
        if len(steps) == 1:  # each sentence is sent as soon as it has passed the grounding check
            answer = self._answer(session, message, steps[0])
        else:  # several requests: each answered from its data, in the order asked
            answer = _given("\n\n".join(fill_placeholders(s.template.strip(), self.placeholders)[0] for s in steps))
        pieces: list[str] = []
        try:
            while True:
                try:
                    text = next(answer)
                except StopIteration as end:
                    source = end.value
                    break
                pieces.append(text)
                for piece in re.findall(r"\S+\s*|\s+", text):
                    yield emit(Event(type="token", data={"text": piece}))
        finally:  # a shopper who left closes this generator: the draft (and the model's slot) goes with it
            answer.close()
        reply = "".join(pieces)
        intent, tool = steps[0].intent, steps[0].tool
        self.sessions.append(session, "user", message, intent)
        self.sessions.append(session, "assistant", reply, intent)
        state.store(session.state)
        self.sessions.save_state(session)
        logger.info("turn session=%s intents=%s tools=%s answer=%s %.0f ms", session.id[:6], [s.intent for s in steps],
                    [s.tool for s in steps], source, (time.perf_counter() - started) * 1000)
        yield emit(Event(type="done", data={
            "session": session.id, "intent": intent, "reply": reply,
            "products": [c.model_dump() for c in cards], "citations": [c.model_dump() for c in citations],
            "tool": tool, "answer_source": source,
            "intents": [s.intent for s in steps], "tools": [s.tool for s in steps],
        }))

    def _answer(self, session: Session, message: str, step: Step) -> Generator[str, None, str]:
        """Yield the reply in pieces, each one checked before it is yielded; return its source: "llm" (draft
        passed), "repaired" (passed after removing sentences), "fallback" (draft rejected, template sent),
        "template" (no draft for this kind of turn) or "busy" (every draft slot was taken: `llm.max_drafts`).

        The draft streams from the model; each complete sentence is checked against this turn's evidence
        (`grounding.check`) as soon as the model has written it, and a failing one is dropped. The kept
        sentences are held back until together they state the turn's required facts (and, for a policy answer,
        say what the source says); from then on each kept sentence is sent the moment it passes. A draft that
        never gets there sends the template, and nothing of it was sent before.
        """
        template = fill_placeholders(step.template.strip(), self.placeholders)[0]
        if not (self.use_llm and step.task):
            yield template
            return "template"
        if self._draft_slots is not None and not self._draft_slots.acquire(blocking=False):
            yield template  # the same facts, now rather than after the drafts ahead of this one
            return "busy"
        try:
            return (yield from self._drafted(session, message, step, template))
        finally:  # also when the shopper left mid-draft (the generator is closed)
            if self._draft_slots is not None:
                self._draft_slots.release()

    def _drafted(self, session: Session, message: str, step: Step, template: str) -> Generator[str, None, str]:
        """`_answer` for a turn the model drafts (see there)."""
        summary, recent = self.sessions.context(session.id)
        step.evidence.user_message = message
        step.evidence.texts.append(step.data)  # everything the model was shown came from the tools
        step.evidence.catalog_titles = self.catalog_titles  # other products and brands are not this turn's facts
        step.evidence.catalog_brands = self.catalog_brands
        kept: list[str] = []
        dropped: list[tuple[str, str]] = []
        seen: set[str] = set()
        sent = False
        draft = self._draft(step, message, _history(summary, recent, step))
        try:
            for sentence in _complete_sentences(draft):
                sentence = fill_placeholders(sentence, self.placeholders)[0].strip().strip('"').strip()
                key = re.sub(r"\W+", " ", sentence.lower()).strip()
                verdict = grounding.check(sentence, step.evidence)
                if not key or key in seen:
                    dropped.append((sentence, "repeated"))
                elif verdict.dropped:
                    dropped.extend(verdict.dropped)
                elif leaks_prompt(" ".join([*kept, sentence]), self.system_prompt):
                    dropped.append((sentence, "repeats the instructions"))
                else:
                    kept.append(sentence)
                    if sent and not step.listing:
                        yield " " + sentence
                    elif not sent and self._settled(step, kept):
                        sent = True
                        if step.listing:  # a list answer: the model's first sentence leads, the data lines follow
                            yield kept[0] + "\n" + fill_placeholders(step.listing.strip(), self.placeholders)[0]
                        else:
                            yield " ".join(kept)
                seen.add(key)
        finally:
            draft.close()
        if dropped:
            logger.info("grounding dropped %d sentence(s): %s", len(dropped), [r for _, r in dropped][:3])
        if not sent:  # drafted, but the draft did not survive the check
            yield template
            return "fallback"
        return "llm" if not dropped else "repaired"

    def _settled(self, step: Step, kept: list[str]) -> bool:
        """Whether the kept sentences, together, may be sent: they state every required fact (one alternative
        of each group), hold one real sentence, and say what the source says where the step needs that."""
        text = " ".join(kept).lower()
        if not all(any(alt.lower() in text for alt in group) for group in step.required or []):
            return False
        if not any(len(re.findall(r"[A-Za-z][A-Za-z'-]*", k)) >= 4 for k in kept):
            return False
        if step.overlap_with:  # must actually say what the source says, not just stay vague
            source_words = set(re.findall(r"[a-z]{4,}", step.overlap_with.lower())) - _GLUE
            return len(source_words & set(re.findall(r"[a-z]{4,}", text))) >= 3
        return True

    def _draft(self, step: Step, message: str, history: str) -> Iterator[str]:
        """The model's draft as it streams (raw text pieces). Closing the iterator stops the model: the backend
        sees its stream closed and frees the request's slot."""
        from langchain_core.messages import HumanMessage, SystemMessage

        from assistant.conversation.prompting import render_turn

        # the same messages `shopbot finetune build-data` trains on (prompting.render_turn)
        system, user = render_turn(self.system_prompt, message=message, data=step.data, task=step.task, history=history)
        messages = [SystemMessage(content=system["content"]), HumanMessage(content=user["content"])]
        # `max_tokens` is LangChain's per-call length cap: ChatOpenAI sends it, the local backends honour it.
        stream = self.chat_model.stream(messages, max_tokens=self.draft_tokens)
        try:
            for chunk in stream:
                yield str(chunk.content)
        finally:
            stream.close()

    # ------------------------------------------------------------ planning

    def _plan(self, session: Session, state: DialogueState, message: str, user_id: str | None) -> list[Step]:
        d = self.deps
        if not message:
            return [service.chit_chat(d, Step("chit_chat", "none"), "")]
        if is_harmful(message):
            return [service.refusal(d, Step("out_of_scope", "refusal"))]
        if is_injection(message):
            return [service.refusal(d, Step("out_of_scope", "refusal"), "reply_injection")]
        if asks_to_deceive(message):
            ids = extract_slots(message).order_ids
            if ids and user_id:  # "lol i was kidding, what's it actually showing as": that order stays the subject
                state.orders, state.topic = ids, "order"
            return [service.refusal(d, Step("out_of_scope", "refusal"), "reply_dishonest")]
        if asks_for_others_data(message) or (state.topic == "others_data" and _PRESSES.search(message)
                                             and d.types.find(_clean(message)) is None):
            # "i'm literally her husband lol, just the product names would do": pressing after the refusal
            state.topic = "others_data"
            return [service.refusal(d, Step("out_of_scope", "refusal"), "reply_others_data")]
        pending, state.pending = state.pending, None
        if pending:
            slots = extract_slots(message)
            if pending.get("action") == "add_to_cart":
                product = d.catalog.get(pending.get("product_id", ""))
                size, colour = shopping.wanted_variant(message, product, slots)
                if product is not None and (size or colour) and shopping.cart_intent(message) in (None, "add_to_cart"):
                    state.pending = pending
                    return [shopping.cart_add(d, Step("add_to_cart", "cart.add"), state, session.id, message, slots,
                                              product=product, quantity=pending.get("quantity"))]
                if shopping.cart_intent(message) == "remove_from_cart":
                    state.pending = pending  # "take it out again": the removal drops the add still waiting
            else:
                step = service.confirm(d, state, pending, slots, user_id)
                if step is not None and step.tool == "orders.declined" and _asks(message, after_first=True):
                    # "don't start anything yet! do I have to pay for the label?": the no, then the answer
                    return [step, *(self._step(session, state, part, user_id) for part in self._parts(message))]
                if step is not None:
                    return [step]
                if _asks(message) and not slots.order_ids:
                    state.pending = pending  # "ok and how long does a refund take?": the offer stands after the answer
        reported = _REPORTED.search(message)
        if reported and user_id and not _ASKS_ACTION.search(message):
            slots = extract_slots(message)
            if slots.order_ids or _refers_to_order(d, message, user_id):
                status = service.orders(d, Step("order_status", "orders"), state, message, slots, user_id)
                what = "cancelled" if reported.group(1).lower().startswith("cancel") else "returned"
                answer = service.policy(d, Step("policy_question", "policies"), state, message, user_id, context=f"{what} order")
                state.topic = f"policy:{message}"
                return [status, answer] if answer.citations else [status]
        steps: list[Step] = []
        for part in self._parts(message):
            steps.append(self._step(session, state, part, user_id))
        return steps

    def _parts(self, message: str) -> list[str]:
        """The requests of a message, in order (at most three); one part when the pieces ask the same thing."""
        pieces = [p.strip() for p in _SPLIT.split(message) if p and len(p.strip()) > 2]
        if len(pieces) <= 1:
            return [message]
        families = [self._family(p) for p in pieces]
        parts: list[str] = []
        last = None
        lead = ""  # "ok." or "thanks!" before a request belongs to it
        for piece, family in zip(pieces, families, strict=True):
            if not parts and family == "other":
                lead = f"{lead} {piece}".strip()
                continue
            if parts and last == "cart" and family in ("product", "other") and self.deps.types.find(_clean(piece)) is None:
                parts[-1] += " " + piece  # "ok i take the first one. size Throw and the White colour please"
                continue
            two_kinds = family == last == "product" and self._two_kinds(parts[-1], piece)  # "a bag ... plus a pad ..."
            # "the status of SB-1 and can you change its address": two things to do with orders
            # ("i picked the wrong colour on SB-1. can that still be changed?": a question about what was just said)
            two_kinds = two_kinds or family == last == "order" and self.router.route(parts[-1])[0] != self.router.route(piece)[0] \
                and not (not _asks(parts[-1]) and re.search(r"\b(?:that|it|this|them|they|those|these)\b", piece, re.I)
                         and not extract_slots(piece).order_ids)
            # "the boots from SB-1 have started letting water in. can i just send them back?": a question about the
            # order just described is part of it
            about_it = last == "order" and not _asks(parts[-1]) and service.says_damaged(parts[-1]) \
                and not extract_slots(piece).order_ids and re.search(r"\b(?:that|it|this|them|they|those|these)\b", piece, re.I) is not None
            if parts and not two_kinds and (family == last or family == "other" or len(parts) >= 3 or about_it):
                parts[-1] += " " + piece
            else:
                parts.append(f"{lead} {piece}".strip() if lead and not parts else piece)
                last = family
        return parts or [message]

    def _two_kinds(self, first: str, second: str) -> bool:
        """Both name a product type, and not the same one; a word only product titles use ("he camps a lot") is
        no second request beside a type the catalog names ("thinking a lantern?")."""
        types = self.deps.types
        a, b = types.find(_clean(first)), types.find(_clean(second))
        if a is None or b is None or set(a[0]) & set(b[0]):
            return False
        return types.is_named(a[1]) == types.is_named(b[1])

    def _family(self, text: str) -> str:
        if shopping.cart_intent(text):
            return "cart"
        slots = extract_slots(text)
        intent = self.router.route(text)[0]
        if slots.order_ids or (intent in _ORDER_INTENTS - {"return_refund"} and not _QUESTION.search(text)):
            return "order"
        if _QUESTION.search(text) and intent not in ("product_search", "product_question", "compare", "recommendation", "chit_chat"):
            return "policy"  # ("what is going on" after a complaint: small talk that belongs to it, "other")
        if intent == "human_handoff" or intent in _POLICY_INTENTS and _POLICY_WORDS.search(text):
            return "policy"  # ("i roll around alot lol" after a question: no question, no service word, context)
        if intent in ("product_search", "product_question", "compare", "recommendation"):
            parsed = self._parse(text)
            f = parsed.filters
            if _QUESTION.search(text) or self.deps.types.find(_clean(text)) or f.attributes or f.sort or f.colours or f.sizes \
                    or f.price_max is not None or f.price_min is not None or re.search(r"\b(?:show|find|need|want|looking|recommend|suggest)\b", text, re.I):
                return "product"
            # "sorry, i think better not." before "please take it out": no question, no product, no condition
        return "other"

    def _step(self, session: Session, state: DialogueState, message: str, user_id: str | None) -> Step:
        """Pick and run the step for one request, and remember what it was about."""
        step = self._pick_step(session, state, message, user_id)
        if step.tool.startswith("orders."):  # the order action talked about, offered or refused: a policy follow-up leans on it
            state.action = "damaged" if service.says_damaged(message) else step.tool.split(".", 1)[1]
        elif step.tool not in ("policies", "handoff"):
            state.action = ""
        # after a hand-off, "how soon will they answer?" leans on it like a follow-up to a policy answer
        state.topic = {"search": "list", "recommend": "list", "product_details": "product", "policies": f"policy:{message}",
                       "handoff": f"policy:{message} talk to a person",
                       "orders": "order"}.get(step.tool, "order" if step.tool.startswith("orders")
                                             else "cart" if step.tool.startswith("cart") else state.topic)
        return step

    def _pick_step(self, session: Session, state: DialogueState, message: str, user_id: str | None) -> Step:
        d = self.deps
        slots = extract_slots(message)
        cart = shopping.cart_intent(message)
        if cart == "add_to_cart":
            named = self._named_product(message)
            return shopping.cart_add(d, Step(cart, "cart.add"), state, session.id, message, slots, product=named)
        if cart == "remove_from_cart":
            return shopping.cart_remove(d, Step(cart, "cart.remove"), state, session.id, message, slots)
        if cart == "view_cart" or (state.topic == "cart" and (_CART_TOTAL.search(message) or _CART_CONTENTS.search(message))
                                   and not _POLICY_WORDS.search(message)):
            return shopping.cart_view(d, Step("view_cart", "cart.view"), session.id)  # "and what's the total?" after an add
        if state.previous is not None and _GO_BACK.search(message):
            # "sorry - can we go back to the ones you showed me before?": the request before the last change
            state.request, state.previous = state.previous, state.request
            return shopping.search(d, Step("product_search", "search"), state, state.request, "refined")
        intent, confidence, source = self.router.route(message)
        logger.info("intent %s (%.2f, %s)", intent, confidence, source)
        # "exchange SB-10041": the word and an order decide, whatever the classifier guessed (a person only when asked for)
        if _EXCHANGE.search(message) and user_id and (intent not in {"product_search", "compare", "recommendation", "cancel_order"}
                                                      or slots.order_ids and intent != "cancel_order") and (
                intent != "human_handoff" or not _asks_person(message)) and (
                slots.order_ids or state.orders or _refers_to_order(d, message, user_id)):
            intent = "exchange"
            if _OTHER_PRODUCT.search(message):
                # "rather than another size, could you just swap them for a different model?": no exchange does that
                state.orders = slots.order_ids or state.orders  # (the order stays in focus: "then send them back")
                return service.policy(d, Step("policy_question", "policies"), state, message, user_id,
                                      context=_ACTION_WORDS["exchange"])
            if _HYPOTHETICAL.search(message) and _asks(message) and not slots.order_ids:
                # "and if i end up hating the sand one too, can i swap it again?": the rule, nothing to start
                return service.policy(d, Step("policy_question", "policies"), state, message, user_id,
                                      context=_ACTION_WORDS["exchange"])
        waiting = (state.pending or {}).get("action")
        if waiting in _ACTION_WORDS and _asks(message) and _WAIT_Q.search(message) and not slots.order_ids \
                and intent not in _ORDER_INTENTS:
            # "will i be without a bag for ages while you wait for mine?" while an exchange is offered: its timing
            return service.policy(d, Step("policy_question", "policies"), state, message, user_id, context=_ACTION_WORDS[waiting])
        # "would swapping them for a bigger size cost me anything?": the rule for exchanges, not a search
        if _EXCHANGE.search(message) and _asks(message) and _COST_OR_TIME.search(message) and not slots.order_ids:
            return service.policy(d, Step("policy_question", "policies"), state, message, user_id, context=self._context(state, message))
        # "start a return for it": the order in focus ("if I'd rather have my money back, ...?" only asks)
        if intent == "return_refund" and user_id and state.orders and _ACT_ON_IT.search(message) and not _POLICY_Q.search(message) \
                and not _HYPOTHETICAL.search(message):
            return service.orders(d, Step(intent, "orders"), state, message, slots, user_id)
        if _FRUSTRATED.search(message) and intent not in {"product_search", "recommendation", "compare", "product_question"}:
            # "nobody answers my emails": a person should take this over, not another round with the bot
            return service.handoff(d, Step("human_handoff", "handoff"), session.id, message, user_id)
        if state.action == "damaged" and state.orders and _COVERED.search(message) and not slots.order_ids \
                and d.types.find(_clean(message), activities=False) is None and not _asks_person(message):
            # "seriously? they're sold as waterproof. surely that's covered somehow" after a fault: its rules and remedy,
            # for the order in focus
            return service.damaged(d, Step("return_refund", "policies"), state, message,
                                   dataclasses.replace(slots, order_ids=state.orders[:1]), user_id, context="warranty covered")
        if service.says_damaged(message) and intent not in {"cancel_order", "change_order"} and not _asks_person(message) \
                and not (intent in ("product_search", "recommendation") and not slots.order_ids and self._budget(message)):
            # ("his shoes are falling apart ... a new pair, i can spend up to 130": shopping for a replacement)
            return service.damaged(d, Step("return_refund", "policies"), state, message, slots, user_id)
        if intent == "human_handoff" and source == "model" and slots.order_ids and not _asks_person(message):
            intent = "order_status"  # "check SB-10055 for me": the classifier's guess loses to the order number
        if intent == "human_handoff" and source == "model" and _asks_in_words(message) and not _asks_person(message):
            intent = "policy_question"  # "what are your customer service hours?": a question to answer, not a ticket
        if intent == "human_handoff" and source == "model" and confidence < 0.4 and not _asks_person(message) \
                and d.types.find(_clean(message), activities=False) is not None:
            intent = "product_search"  # "tent 2p <350": a kind of product, and a guess that nobody asked for a person
        if intent == "human_handoff":
            return service.handoff(d, Step(intent, "handoff"), session.id, message, user_id)
        # "how fast do I get my money back for a cancelled order?": a question about the rules, not an action
        if intent not in {"product_search", "compare", "recommendation"} and not slots.order_ids and _TIME_ALLOWED.search(message) \
                and (intent != "product_question" or d.types.find(_clean(message)) is None):
            # "how long have i got to report something like that", "how long til it shows on my card": the rule's time
            return service.policy(d, Step("policy_question", "policies"), state, message, user_id, context=self._context(state, message))
        if _SIZE_ADVICE.search(message) and (_asks(message) or _asks_in_words(message)) and not slots.order_ids \
                and not _EXCHANGE.search(message) and not _ORDERED.search(message):
            # "would I need the regular or the long in your sleeping bags?", "if she's between two sizes, go up or down?"
            # (the question says what it asks: "between two sizes" after sleeping bags is no sleeping-bag question)
            return service.policy(d, Step("policy_question", "policies"), state, f"{message} sizing", user_id)
        if intent in {"cancel_order", "change_order", "return_refund", "exchange"} and not slots.order_ids and _POLICY_Q.search(message):
            return service.policy(d, Step("policy_question", "policies"), state, message, user_id, context=self._context(state, message))
        if intent in _ORDER_INTENTS and source == "model" and confidence < 0.4 and not slots.order_ids and state.topic == "product" \
                and state.focus and len(message.split()) <= 5 and shopping.asks_stock(message) and not _ORDER_WORD.search(message):
            intent = "product_question"  # "in stock?" about the product just picked, not an order
        if slots.order_ids and intent in {"delivery", "product_search", "product_question", "chit_chat", "out_of_scope",
                                          "policy_question", "recommendation", "compare"}:
            intent = "order_status"
        # "has the one with the hiking boots in it gone out yet?" about "a couple of orders", "where's my sleeping bag
        # order at?": an order named by what is in it
        if intent not in _ORDER_INTENTS | {"exchange"} and user_id and not slots.order_ids and not _RULE_TOPIC.search(message) \
                and _AN_ORDER.search(message) and all(service.find_orders(d, user_id, message)):
            intent = "order_status"
        # "where's the base layer I ordered?", "when will it arrive?" (an order in focus)
        if intent not in _ORDER_INTENTS | {"exchange"} and user_id and not _RULE_TOPIC.search(message) and (_ORDERED.search(message) or (
                state.orders and state.topic == "order" and (_ARRIVAL.search(message) or _STATUS_Q.search(message)))):
            intent = "order_status"
        if intent in _POLICY_INTENTS and any(r.index is not None for r in slots.refs) and state.shown \
                and shopping.is_yes_no(message) and not _POLICY_WORDS.search(message):
            intent = "product_question"  # "does the first bag you showed me come in a long?": that product
        if intent in _POLICY_INTENTS | {"chit_chat", "out_of_scope", "compare"} and not _POLICY_WORDS.search(message):
            asked = self._parse(message)
            if ((state.request is not None and state.topic == "list" and (_only_constraints(asked) or self._measures_shown(state, asked)))
                    # "whichever of those weighs the least" after an answer that listed products and a policy
                    or (state.request is not None and (_PICK.search(message) or _ABOUT_LIST.search(message))
                        and self._measures_shown(state, asked, sorts=True))
                    or (_only_constraints(asked) and asked.filters.attributes)
                    or (source == "model" and confidence < 0.4 and self._names_catalog_words(message))):
                # "actually I can go up to 35", "something with a laptop sleeve", "daypacks", "any with zero drop?" after
                # trail shoes (an attribute the listed products state): a product request, whatever the classifier guessed
                intent = "product_search"
        if intent in _ORDER_INTENTS | {"exchange"} and not slots.order_ids and state.topic.startswith("policy:") \
                and _QUESTION.search(message) and not re.search(r"\bmy\b.{0,20}\b(?:order|purchase)", message, re.I):
            # "can I use two of them on one order?" after a gift-card answer: a question about the rules
            return service.policy(d, Step("policy_question", "policies"), state, message, user_id, context=self._context(state, message))
        if not user_id and intent in {"cancel_order", "change_order", "return_refund", "exchange", "order_status"} \
                and not slots.order_ids and (_QUESTION.search(message) or _HYPOTHETICAL.search(message)):
            # "can I change the size of something I bought?", "when do i get a tracking number" signed out: the rule,
            # then how to act on an order
            step = service.policy(d, Step("policy_question", "policies"), state, message, user_id, context=self._context(state, message))
            if step.citations:
                step.template = step.template.rstrip() + "\n" + render("reply_sign_in").strip()
            return step
        if intent in {"order_status", "cancel_order", "change_order", "exchange"} or (
                intent == "return_refund" and (slots.order_ids or _refers_to_order(d, message, user_id))):
            return service.orders(d, Step(intent, "orders"), state, message, slots, user_id)
        if intent in _POLICY_INTENTS:
            return service.policy(d, Step(intent, "policies"), state, message, user_id, context=self._context(state, message))

        # shopping: the dialogue state decides what the classifier cannot see
        parsed = self._parse(message)
        found = d.types.find(parsed.text, activities=False)
        f = parsed.filters
        wanted = _WANTED.search(parsed.text.lower())
        if found is not None and wanted and not set(found[1].split()) <= set(wanted.group(1).split()) and (
                intent in ("product_search", "recommendation")):
            # "kitting out a new kitchen - need a full pan set": what is needed is the product, not the room
            own = d.types.find(wanted.group(1), activities=False)
            if own is None and (own := self._phrase_type(wanted.group(1))) is not None:
                parsed.text = f"{own[1]} {parsed.text}"
                self._add_kind(parsed, own[1])
            if own is not None:
                f.categories = [c for c in f.categories if c.lower() not in found[1]]
                found = own
        if found is None and (intent in ("product_search", "recommendation") or (
                intent == "product_question" and not state.shown and state.focus is None)):
            found = self._phrase_type(parsed.text)  # "a flask of tea", "a warm coat for her": other words for a type
            if found is not None:  # the search needs the catalog's word for it
                parsed.text = f"{found[1]} {parsed.text}"
                self._add_kind(parsed, found[1])
        if found is None:  # "kit for camping": the activity names the kind only when no other words do ("a head torch")
            found = d.types.find(parsed.text)
        if found is None and intent in ("product_search", "recommendation") and not (f.attributes or f.colours or f.sizes) and (
                len(set(re.findall(r"[a-z]+", parsed.text.lower())) - _BARE) >= (1 if state.request is None else 2)):
            found = self._dense_type(parsed.text)  # "head torches": no catalog word, but every neighbour is a headlamp
            if found is not None:
                self._add_kind(parsed, found[1])
        elif found is None and state.request is not None and state.request.leaves and f.attributes and (
                len(set(re.findall(r"[a-z]+", parsed.text.lower())) - _BARE) >= 2):
            kind = shopping.products_of(d, state.request.leaves)
            if not any(c.attribute in p.attributes for c in f.attributes for p in kind):
                # "a head torch ... 300 lumens or brighter" after stock pots: a condition pots do not have, so another kind
                found = self._dense_type(parsed.text)
                if found is not None:
                    self._add_kind(parsed, found[1])
        elif found is not None and state.request is not None and state.request.leaves and f.attributes \
                and not set(found[0]) & set(state.request.leaves) and d.types.find(parsed.text, places=False) is None:
            kind = shopping.products_of(d, state.request.leaves)
            if all(any(c.attribute in p.attributes for p in kind) for c in f.attributes):
                # "one with a red light, so I don't wake everyone in the tent" after headlamps: a condition on
                # them; the only type word says where
                f.categories = [c for c in f.categories if c not in found[0]]
                found = None
        if found is not None and state.shown and not d.types.is_named(found[1]) and (_PICK.search(message) or _ABOUT_LIST.search(message)):
            found = None  # "whichever of those weighs the least, we'll be carrying it": a word from titles, about the list
        focus = d.catalog.get(state.focus or "")
        if found is not None and focus is not None and state.topic == "product" and not d.types.is_named(found[1]):
            size, colour = shopping.wanted_variant(message, focus, slots)  # "wat about long?" after a pad with a Long size
            if size in focus.sizes or colour in focus.colours:
                found = None
        active = state.request
        if found is not None and active is not None and active.leaves and state.topic == "list" \
                and not set(found[0]) & set(active.leaves) and (_ABOUT_LIST.search(message) or len(message.split()) <= 4):
            # "the merino ones" after base layers: a word of the shown kind's own titles narrows it, not a new type
            kind = shopping.products_of(d, active.leaves)
            def says(p: Product) -> str:
                return " ".join([p.title, *(str(v) for v in p.attributes.values() if isinstance(v, str))]).lower()
            if any(all(w in says(p) for w in found[1].split()) for p in kind):
                found = (frozenset(active.leaves), active.type_words or found[1])
        if found is not None:  # "hiking boots" names a type; its words are no condition on another attribute too
            # (but "a down jacket" asks for down: a word the kind's category names lack)
            type_words = set(found[1].split()) & {w for leaf in found[0] for w in re.findall(r"[a-z]+", leaf.lower())}
            type_words |= {w.rstrip("s") for w in type_words}
            parsed.filters.attributes = [c for c in parsed.filters.attributes if not (
                c.op == "==" and c.attribute != "type" and set(str(c.value).lower().split()) <= type_words)]
        shown = shopping.shown_products(d, state)
        named = self._named_product(message)
        if named is not None:  # "is the Cairn Sawtooth 1-Person Tent in stock?", "got the Timberline bag in green?"
            state.focus = named.id
            if named.id not in state.shown:
                state.shown = [named.id]
            return shopping.details(d, Step("product_question", "product_details"), state, message, extract_slots(message))
        if len(slots.refs) >= 2 and shown:  # "which is lighter, the first or the second?": those two, side by side
            return shopping.compare_shown(d, Step("compare", "compare"), state, slots, [], sort=parsed.filters.sort)
        names_shown = found is None or any(found[1].split()[-1] in p.title.lower() for p in shown)
        f = parsed.filters
        new_bound = bool(f.price_max is not None or f.price_min is not None or f.colours or f.sizes
                         or any(c.op != "==" for c in f.attributes))
        if parsed.filters.sort is not None and shown and names_shown and not _WHOLE_RANGE.search(message) and not new_bound and (
                _PICK.search(message) or found is None or set(found[0]) <= {c for p in shown for c in p.category}):
            if not (found is not None and re.search(r"\b(show|find|looking|need|want)\b", message, re.I)):
                picked = shopping.pick(d, Step("product_question", "product_details"), state, parsed.filters.sort)
                if picked is not None:
                    return picked
        if focus is not None and (found is None or set(found[0]) & set(focus.category)) and not slots.refs:
            size, colour = shopping.wanted_variant(message, focus, slots)
            # "and in L?", "hmm my husband says that's too loud lol. navy?": a short last sentence
            follow_up = state.topic == "product" and len(_sentences(message)[-1].split()) <= 7
            # ("does any of those come in navy": the list, not the product in focus)
            stock = follow_up and shopping.asks_stock(message) and shopping.is_yes_no(message)  # "in stock?" after the lightest
            if ((size or colour) and (shopping.is_yes_no(message) or follow_up) or stock) and not _ABOUT_LIST.search(message):
                return shopping.details(d, Step("product_question", "product_details"), state, message, slots, yes_no=True)
            if shopping.asked_dimension(message) and _ATTRIBUTE_Q.search(message) and found is None \
                    and not _ABOUT_LIST.search(message):
                return shopping.details(d, Step("product_question", "product_details"), state, message, slots)
        if len(slots.refs) >= 2 and shown:
            return shopping.compare_shown(d, Step("compare", "compare"), state, slots, [])
        filters_list = bool(shown and parsed.filters.attributes and (_PICK.search(message) or _ABOUT_LIST.search(message)))
        if intent == "compare" and not filters_list and (len(slots.refs) != 1 or re.search(r"\b(compare|comparison|difference|differ|vs|versus|better)\b",
                                                                       message, re.I)):
            return shopping.compare_shown(d, Step("compare", "compare"), state, slots, self._search_once(message, 2))
        only_comparative = all(r.comparative and r.index is None and r.noun is None for r in slots.refs)
        if slots.refs and shown and found is None and not (parsed.filters.attributes and _ABOUT_LIST.search(message)) \
                and not (new_bound and only_comparative) and not parsed.lifted:  # "cheaper, sub 90": a new bound on the list
            # ("any 2-person ones that stand up on their own?" sets conditions on the list, it asks about no one product)
            return shopping.details(d, Step("product_question", "product_details"), state, message, slots)
        request, changed = next_request(state.request, parsed, found)
        if changed == "refined" and found is None and request is not None:
            request = _narrowed_to_shown(request, shown)
        # a follow-up to a policy answer ("and for overnight?", "what about to Australia?") stays on the policy
        if state.topic.startswith("policy:") and found is None and changed != "refined" and intent != "recommendation" \
                and not parsed.filters.attributes and not (
                intent == "chit_chat" and source == "rule"):  # "thanks, bye" ends the topic
            return service.policy(d, Step("policy_question", "policies"), state, message, user_id, context=state.topic[7:])
        f = parsed.filters
        constrained = bool([c for c in f.attributes if c.op != "=="] or f.sort or f.price_max is not None or f.price_min is not None or f.colours or f.sizes)
        if intent == "recommendation" and changed != "refined" and not constrained:  # "recommend me a good backpack"
            if changed == "new":
                state.request = request
            return shopping.recommend_for(d, Step(intent, "recommend"), state, message, user_id)
        if changed in ("new", "refined") and (changed == "refined" or intent not in {"chit_chat", "out_of_scope"} or found):
            if state.request is not None and request != state.request:
                state.previous = state.request  # "go back to the ones before" restores it
            state.request = request
            return shopping.search(d, Step("product_search", "search"), state, request, changed)
        if intent == "product_question":
            return shopping.details(d, Step(intent, "product_details"), state, message, slots, self._search_once(message, 1))
        if intent == "product_search":  # a search with neither a known type nor a constraint: its words
            state.request = _request_of(parsed)
            return shopping.search(d, Step("product_search", "search"), state, state.request, "new")
        if intent == "recommendation":
            return shopping.recommend_for(d, Step(intent, "recommend"), state, message, user_id)
        if intent == "chit_chat":
            return service.chit_chat(d, Step(intent, "none"), message)
        return service.refusal(d, Step("out_of_scope", "refusal"))

    def _add_kind(self, parsed, words: str) -> None:
        """The catalog's `type` condition for type words found in other words ("head torch" -> type headlamp),
        as if the shopper had said them."""
        for c in self._parse(words).filters.attributes:
            if c.attribute == "type" and c not in parsed.filters.attributes:
                parsed.filters.attributes.append(c)

    def _parse(self, message: str):
        """The message as a product request; the catalog's own colour and size words ("Charcoal", "Queen")
        count too."""
        parsed = parse_query(_clean(message), brands=self._brands, categories=self._categories, schema=self.deps.schema)
        lowered = message.lower()
        f = parsed.filters
        for word in self._colour_words:  # a shop's colour name only where it reads as one: "in slate", "the coral one"
            if word not in f.colours and re.search(
                    rf"\b(?:in (?:the |a )?{re.escape(word)}|{re.escape(word)} (?:one|colou?r|version))\b", lowered):
                f.colours.append(word)
                parsed.text = re.sub(rf"\b(?:in (?:the |a )?)?{re.escape(word)}\b", " ", parsed.text, flags=re.I).strip()
        for word, size in self._size_words.items():
            if re.search(rf"\b(?:in (?:an? )?{re.escape(word)}|{re.escape(word)}[\s-]size|size {re.escape(word)})\b", lowered) \
                    and size not in f.sizes:
                f.sizes.append(size)
                parsed.text = re.sub(rf"\b(?:in (?:an? )?)?{re.escape(word)}(?:[\s-]size)?\b", " ", parsed.text, flags=re.I).strip()
        return parsed

    def _named_product(self, message: str) -> Product | None:
        """A catalog product the message names by its title ("the Tamarack Timberline -12 °C Down Sleeping Bag")."""
        lowered = " ".join(message.lower().split())
        best, best_len = None, 0
        for title, product in self._titles:
            if len(title) > best_len and title in lowered:
                best, best_len = product, len(title)
        return best

    def _context(self, state: DialogueState, message: str) -> str:
        """The previous policy question, for a follow-up that leans on it ("how much does it cost to ship there?"),
        or the order action waiting for a yes ("how long do I have to do that?" while an exchange is offered)."""
        if state.topic.startswith("policy:") and (_REFERRING.search(message) or len(message.split()) <= 5):
            heads = getattr(self.deps.documents, "heading_words", None)
            if len(message.split()) > 5 and heads is not None and heads(message) - heads(state.topic[7:]):
                return ""  # "... are my basecamp points still there?" after gift cards: a subject of its own
            return state.topic[7:]
        # "how long have i got to report something like that" after a damaged item (whose free return is offered),
        # "and do i have to pay for the postage on that" after a refused return: that item's or that return's rules,
        # unless the message names its own subject ("how long do refunds take")
        leans = _REFERRING.search(message) or len(message.split()) <= 5
        if state.action == "damaged" and leans and not _SUBJECT.search(message) and not service.denies_fault(message):
            return _ACTION_WORDS["damaged"]
        action = (state.pending or {}).get("action")
        if action in _ACTION_WORDS and _REFERRING.search(message):
            return _ACTION_WORDS[action]
        if state.action == "start_return" and leans and not _SUBJECT.search(message):
            return _ACTION_WORDS[state.action]
        return ""

    def _measures_shown(self, state: DialogueState, parsed, sorts: bool = False) -> bool:
        """The message sets a measured or yes/no condition on an attribute the listed products state (or, with
        `sorts`, asks for the best of them on a dimension they measure)."""
        shown = shopping.shown_products(self.deps, state)
        sort = parsed.filters.sort
        if sorts and sort is not None and shown and self.deps.schema.dimension_attribute(sort.dimension, shown):
            return True
        return any(c.op != "==" and any(c.attribute in p.attributes for p in shown) for c in parsed.filters.attributes)

    def _names_catalog_words(self, message: str) -> bool:
        """A short message (up to three words, no question) whose words are all words of product titles."""
        words = [w for w in re.findall(r"[a-z]+", message.lower()) if w not in _BARE]
        return 0 < len(words) <= 3 and not _QUESTION.search(message) and all(
            w in self._title_words or w.rstrip("s") in self._title_words for w in words)

    def _dense_type(self, text: str, k: int = 8) -> tuple[frozenset[str], str] | None:
        """The product type of a request in words the catalog does not use: the leaf category of all `k` nearest
        products by meaning, when they agree (a small embedder is often unsure; then no type), or the `type`
        attribute of three in four of them ("head torch": headlamps, not the lanterns beside them)."""
        near = self._neighbours(text, k) or []
        leaves = [(p.category[-1:] or [""])[0] for p in near]
        if len(leaves) < k or len(set(leaves)) != 1 or not leaves[0]:
            return None
        kind, n = Counter(str(p.attributes.get("type") or "").lower() for p in near).most_common(1)[0]
        if kind and n * 4 >= k * 3:
            found = self.deps.types.find(kind)
            if found is not None and found[0] == {leaves[0]} and self.deps.types.is_named(found[1]):
                return found
        return frozenset({leaves[0]}), leaves[0].lower()

    def _neighbours(self, text: str, k: int) -> list[Product] | None:
        """The `k` products nearest `text` by meaning (None without a vector store)."""
        store = getattr(self.searcher, "store", None)
        if store is None or not text.strip():
            return None
        hits = store.vectors.query(store.embedder.encode_query(text), k)
        return [self.deps.catalog[pid] for pid, _ in hits if pid in self.deps.catalog]

    def _budget(self, message: str) -> bool:
        f = self._parse(message).filters
        return f.price_max is not None or f.price_min is not None

    def _phrase_type(self, text: str, k: int = 8) -> tuple[frozenset[str], str] | None:
        """The type a noun phrase names in words the catalog does not use ("a flask of tea", "a warm coat"):
        a WordNet synonym of its head word that is a catalog type ("rucksack" -> backpack), or a broader or
        narrower noun ("flask" -> bottle, "coat" -> jacket) that at least half of the head's `k` nearest products
        by meaning confirm; else the type all `k` nearest products of the phrase agree on."""
        lowered = text.lower()
        candidates = [(m.group(1), m.group(2), m.start()) for m in _NOUN_PHRASE.finditer(lowered)]
        words = [w for w in re.findall(r"[a-z]+", lowered) if w not in _BARE]
        # the search text of "also a cheap cutlery set, under 30"; "any waterproof ones in that lot" is about the list
        bare = not candidates and 2 <= len(words) <= 4 and not re.search(r"\b(?:that|those|these|them|this)\b", lowered)
        if bare:  # (its own words only: WordNet's relations, no nearest-products guess)
            candidates = [(" ".join(words), words[-1], 0)]
        for phrase, head, start in candidates:
            collective = ""
            one = head[:-1] if head.endswith("s") and head[:-1] in _COLLECTIVE else head  # "pan sets"
            if one in _COLLECTIVE and len(phrase.split()) >= 2:
                collective, head = one, phrase.split()[-2]  # "a cheap cutlery set": what the set is of
            if head in _BARE or len(head) < 3 or re.search(r"\b(?:with|without|has|have|got)\s+$", lowered[:start]):
                continue  # "one with a rain cover": a feature of the product, not the product
            neighbours: list[str] | None = None
            for leaves, words, relation in self.deps.types.related(head):
                if relation != "synonym":
                    if neighbours is None:
                        neighbours = [(p.category[-1:] or [""])[0] for p in self._neighbours(head, k) or []]
                    if sum(leaf in leaves for leaf in neighbours) * 2 < k:
                        continue
                # "a pan set": cookware, and the catalog sells a "cookware set"
                grouped = self.deps.types.find(f"{words} {collective}") if collective else None
                if grouped is not None and grouped[1] == f"{words} {collective}" and self.deps.types.is_named(grouped[1]):
                    return grouped
                return leaves, words
            if phrase != head and len(phrase.split()) <= 3 and not bare:
                found = self._dense_type(phrase, k)
                if found is not None:
                    return found
        return None

    def _search_once(self, message: str, k: int) -> list[Product]:
        return [h.product for h in self.searcher.search(message, k=k).hits]


def _given(text: str) -> Generator[str, None, str]:
    """A reply known in full: one piece, source "template"."""
    yield text
    return "template"


def _complete_sentences(chunks: Iterable[str]) -> Iterator[str]:
    """The sentences of a streamed text, each as soon as the next one has begun (then the rest at the end)."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk
        parts = grounding.split_sentences(buffer)
        if len(parts) < 2:
            continue
        yield from parts[:-1]
        tail = buffer.rstrip()
        buffer = tail[len(tail) - len(parts[-1]):] if tail.endswith(parts[-1]) else parts[-1]
    if buffer.strip():
        yield from grounding.split_sentences(buffer)


def _clean(message: str) -> str:
    """The product words of a request, without the conversational lead ("show me", "I also need a")."""
    cleaned = _FILLER.sub("", message, count=1).strip(" ?!.")
    return cleaned or message


def _asks(message: str, after_first: bool = False) -> bool:
    """A sentence of the message (after its first, with `after_first`) is a question: "hang on, how long do I have?"."""
    return any(_QUESTION.search(s) or s.endswith("?") for s in _sentences(message)[1 if after_first else 0:])


def _asks_in_words(message: str) -> bool:
    """A clause of the message begins like a question ("random one but how long do you keep these chats"); a
    question mark alone does not count."""
    return any(_QUESTION.search(c) for s in _sentences(message) for c in re.split(r",\s+|\s+(?:but|so)\s+|\s+-\s+", s))


def _sentences(message: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+", message.strip())


def _narrowed_to_shown(request: ProductRequest, shown: list[Product]) -> ProductRequest:
    """A qualified request ("a warm jacket") whose listing showed only some of its kinds (insulated, no rain
    jackets) is refined within those kinds: "anything lighter than 400 g" means lighter warm jackets."""
    kinds = {p.category[-1] for p in shown if p.category}
    qualified = set(re.findall(r"[a-z]+", request.text.lower())) - set(request.type_words.split()) - _BARE
    if shown and qualified and kinds and kinds < set(request.leaves):
        return request.model_copy(update={"leaves": sorted(kinds)})
    return request


def _only_constraints(parsed) -> bool:
    """A message that states conditions (a budget, an attribute, a size) and nothing else to look for."""
    f = parsed.filters
    said = f.price_max is not None or f.price_min is not None or f.attributes or f.sizes or f.colours or f.sort
    return bool(said) and not (set(re.findall(r"[a-z]+", parsed.text.lower())) - _BARE)


def _request_of(parsed) -> ProductRequest:
    return ProductRequest(text=parsed.text, filters=parsed.filters.model_copy(update={"categories": []}))


def _asks_person(message: str) -> bool:
    return bool(re.search(r"\b(human|person|agent|someone|representative)\b", message, re.I))


def _refers_to_order(d: Deps, message: str, user_id: str | None) -> bool:
    """Whether a return message points at one of the customer's orders ("return the jacket I bought")."""
    if not user_id:
        return False
    if re.search(r"\b(i|we) (?:bought|ordered|got|received)\b|\bmy (?:last|latest|recent)?\s*(?:order|purchase)\b", message, re.I):
        return True
    found, referred = service.find_orders(d, user_id, message)
    return referred and bool(found)


def _history(summary: str, recent: list[Turn], step: Step | None = None) -> str:
    """The earlier turns for the draft prompt: the summary of older ones, then the last messages, each fenced and
    clipped, in a `<data>` block of their own (customer text is untrusted: quoted, never instructions).

    None for a product list (`step.listing`): its lead sentence is about this turn's products alone, and earlier
    lists in the prompt are what a small model copies a product from instead."""
    if step is not None and step.listing:
        return ""
    lines = [" ".join(fence(summary).split())]
    for t in recent:
        text = " ".join(fence(t.content, _QUOTED_CHARS).split())
        if text:  # a message that was only instructions leaves nothing to quote
            lines.append(f"{'Customer' if t.role == 'user' else 'Assistant'}: {text}")
    lines = [line for line in lines if line]
    if not lines:
        return ""
    return "Earlier in this conversation:\n<data>\n" + "\n".join(lines) + "\n</data>\n\n"


__all__ = ["Assistant", "Slots"]
