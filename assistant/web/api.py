"""The HTTP API (`/v1`), the embeddable widget (`/static/widget.js`, `/demo`) and, mounted at `/`, the Gradio UI.

A thin adapter: parse and check the request, call the component, format the answer. The parts come from
`assistant.web.components.Components` through `Depends` providers, so a test swaps one with
`app.dependency_overrides`.

Who may call what:
- site key (publishable, browser, origin-bound): chat, search, products, recommendations, feedback;
- secret key (server-to-server): all of those plus events, copy and customer tokens;
- no key: health.
A customer id reaches the assistant only from a valid signed customer token.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, ValidationError
from sse_starlette import EventSourceResponse
from starlette.routing import Match

from assistant.config import Settings
from assistant.conversation.contract import ChatReply, ProductCard, event_dict
from assistant.errors import AssistantError, ModelNotAvailableError
from assistant.shop.feedback import FeedbackStore
from assistant.web.auth import BodySizeLimit, CustomerTokens, InvalidTokenError, SessionOwners, SiteCors
from assistant.web.components import Components
from assistant.web.keys import ApiKey

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
DEMO_KEY_PLACEHOLDER = "__SHOPBOT_SITE_KEY__"

# ---------------------------------------------------------------- shapes

# Request bodies take exactly what the OpenAPI schema says: no unknown fields, and no coercion
# (`"stream": 0` is not a boolean, `"ts": false` is not a time).
_REQUEST_MODEL = ConfigDict(extra="forbid", strict=True)


def _whole(value: object) -> object:
    """600.0 as 600: JSON Schema's `integer` includes it, strict pydantic does not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


_JsonInt = Annotated[int, BeforeValidator(_whole)]


class ChatRequest(BaseModel):
    model_config = _REQUEST_MODEL

    message: str = Field(min_length=1, description="What the customer typed (at most api.max_message_chars).",
                         examples=["waterproof hiking boots under 150"])
    session_id: str | None = Field(
        None, max_length=200, description="Continue this session (from a previous reply); omit to start one."
    )
    customer_token: str | None = Field(
        None, max_length=4000, description="Signed customer token (or the X-Customer-Token header); enables order tools."
    )
    stream: bool = Field(True, description="true: Server-Sent Events; false: one JSON reply when done.")


class SearchHit(BaseModel):
    product: ProductCard
    score: float
    why: list[str] = []


class SearchResponse(BaseModel):
    query: str
    filters: dict[str, Any] = {}
    hits: list[SearchHit]


class Recommendation(BaseModel):
    product: ProductCard
    score: float
    reason: str


class RecommendationsResponse(BaseModel):
    user_id: str | None
    items: list[Recommendation]


# Behaviour events from the shop's backend, one shape per kind, so the OpenAPI schema states the rules that
# retrieval.recs.events.Event checks (a product for all but searches, a query for searches, 1-5 stars for
# ratings). Second copy of those rules: change both together.


class _EventFields(BaseModel):
    model_config = _REQUEST_MODEL

    user_id: str = Field(min_length=1, max_length=200)
    # lax for the date-time: FastAPI validates parsed JSON, where a strict datetime takes no string
    ts: float | Annotated[datetime, Strict(False)] | None = Field(
        None, description="Unix seconds or an ISO 8601 date-time; default now."
    )
    session_id: str | None = Field(None, max_length=200)
    context: str | None = Field(None, max_length=2000, description="Where the event happened.")
    value: float | None = None


class ProductEventIn(_EventFields):
    """A view, click, add to cart or purchase of one product."""

    type: Literal["view", "click", "add_to_cart", "purchase"]
    product_id: str = Field(min_length=1, max_length=200)
    value: float | None = Field(None, description="Quantity, for purchases.")


class SearchEventIn(_EventFields):
    """A catalog search."""

    type: Literal["search"]
    product_id: str | None = Field(None, max_length=200)
    # not blank: str.strip(), which Event applies, also strips the separators \x1c-\x1f
    context: str = Field(max_length=2000, pattern=r"[^\s\x1c-\x1f]", description="The query (not blank).")


class RateEventIn(_EventFields):
    """A star rating of one product."""

    type: Literal["rate"]
    product_id: str = Field(min_length=1, max_length=200)
    value: float = Field(ge=1, le=5, description="Stars, 1 to 5.")


EventIn = Annotated[ProductEventIn | SearchEventIn | RateEventIn, Field(discriminator="type")]


class EventsRequest(BaseModel):
    model_config = _REQUEST_MODEL

    events: list[EventIn] = Field(min_length=1, max_length=1000)


class EventsAccepted(BaseModel):
    accepted: int


class FeedbackRequest(BaseModel):
    model_config = _REQUEST_MODEL

    session_id: str = Field(max_length=200, description="The session whose reply is rated.")
    rating: Literal["up", "down"]
    comment: str = Field("", max_length=2000)
    message: str = Field("", max_length=4000, description="The customer's message that was answered.")
    reply: str = Field("", max_length=8000, description="The reply being rated.")
    customer_token: str | None = Field(None, max_length=4000)


class FeedbackAccepted(BaseModel):
    id: int


class CopyRequest(BaseModel):
    model_config = _REQUEST_MODEL

    product_id: str = Field(min_length=1, max_length=200, description="A product of the indexed catalog.",
                            examples=["TH-BOOT-001"])


class TokenRequest(BaseModel):
    model_config = _REQUEST_MODEL

    user_id: str = Field(min_length=1, max_length=200)
    ttl_s: _JsonInt = Field(3600, ge=60, le=7 * 24 * 3600)


class TokenResponse(BaseModel):
    token: str
    user_id: str
    expires_at: float


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    llm_provider: str


class ErrorBody(BaseModel):
    detail: str


class FieldError(BaseModel):
    """One problem with one part of the request, as pydantic reports it."""

    type: str = Field(description="What is wrong, e.g. 'missing' or 'string_too_short'.")
    loc: list[str | int] = Field(description="Where, e.g. ['body', 'events', 0, 'value'].")
    msg: str
    input: Any = None
    ctx: dict[str, Any] | None = None


class ValidationErrorBody(BaseModel):
    """A request that does not match the schema (every 422 of this API has this shape)."""

    detail: str = Field(description="Every problem, in one sentence.")
    errors: list[FieldError]


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error codes a route can answer besides the router's 401, 403 and 429."""
    known = {400: ("The body is not readable JSON.", ErrorBody), 404: ("Not found.", ErrorBody),
             413: ("Request body or message too large.", ErrorBody),
             422: ("The request does not match the schema.", ValidationErrorBody),
             502: ("The model failed to produce a result.", ErrorBody)}
    return {code: {"description": known[code][0], "model": known[code][1]} for code in codes}


def _components(request: Request) -> Components:
    return request.app.state.components


def _part(name: str, what: str) -> Callable[[Request], Any]:
    """A Depends provider for one component; a part whose package is not installed answers 503."""

    def provide(request: Request) -> Any:
        try:
            return getattr(_components(request), name)()
        except ImportError as exc:
            raise HTTPException(503, f"{what} is not available in this installation ({exc}).") from exc

    provide.__name__ = f"get_{name}"
    return provide


get_assistant = _part("assistant", "The assistant")
get_searcher = _part("searcher", "Catalog search")
get_recommender = _part("recommender", "Recommendations")
get_copywriter = _part("copywriter", "Product copy")
get_keys = _part("keys", "The key store")
get_owners = _part("owners", "The session store")
get_feedback = _part("feedback", "The feedback store")
get_tokens = _part("tokens", "Customer tokens")


def get_settings_dep(request: Request) -> Settings:
    return _components(request).settings


# ---------------------------------------------------------------- callers


@dataclass
class Caller:
    """Who is calling: the key, and the customer if a valid token came with the request."""

    key: ApiKey
    origin: str | None


def _client_ip(request: Request) -> str:
    # uvicorn's proxy_headers already rewrote client from X-Forwarded-For for trusted proxies
    return request.client.host if request.client else "unknown"


def _limit(request: Request, name: str) -> None:
    wait = _components(request).limiter().hit(name)
    if wait:
        raise HTTPException(
            429, f"Too many requests for {name.split(':')[0]} (api.rate_limit_per_minute); retry in {wait:.0f} s.",
            headers={"Retry-After": str(max(1, round(wait)))},
        )


def _authenticate(request: Request, x_shopbot_key: str | None, authorization: str | None, kinds: tuple[str, ...]) -> Caller:
    _limit(request, f"ip:{_client_ip(request)}")
    plain = x_shopbot_key or (authorization[7:].strip() if authorization and authorization.lower().startswith("bearer ") else None)
    if not plain:
        raise HTTPException(401, "Missing API key: send it in the X-Shopbot-Key header (see `shopbot keys create`).")
    key = _components(request).keys().verify(plain)
    if key is None:
        raise HTTPException(401, "Unknown or revoked API key; create one with `shopbot keys create`.")
    origin = request.headers.get("origin")
    if key.kind == "site":
        if not origin:
            raise HTTPException(
                403, "Site keys are only accepted from a browser page on an allowed origin; server-to-server calls use a secret key."
            )
        if not key.allows_origin(origin):
            logger.info("refused origin %s for key %s", origin, key.id)
            raise HTTPException(403, f"Origin '{origin}' is not allowed for this site key; add it with `shopbot keys create --origin {origin}`.")
    if key.kind not in kinds:
        raise HTTPException(403, f"This endpoint needs a {' or '.join(kinds)} key; a {key.kind} key was sent.")
    _limit(request, f"key:{key.id}")
    return Caller(key=key, origin=origin)


KeyHeader = Annotated[str | None, Header(description="Your site or secret key.")]
AuthHeader = Annotated[str | None, Header(description="Alternatively: `Bearer <key>`.")]


def any_key(request: Request, x_shopbot_key: KeyHeader = None, authorization: AuthHeader = None) -> Caller:
    return _authenticate(request, x_shopbot_key, authorization, ("site", "secret"))


def secret_key(request: Request, x_shopbot_key: KeyHeader = None, authorization: AuthHeader = None) -> Caller:
    return _authenticate(request, x_shopbot_key, authorization, ("secret",))


def _customer(tokens: CustomerTokens, token: str | None) -> str | None:
    if not token:
        return None
    try:
        return tokens.verify(token)
    except InvalidTokenError as exc:
        raise HTTPException(401, str(exc)) from exc


def _sse(event: dict[str, Any]) -> dict[str, str]:
    """An assistant event as sse-starlette writes it: `event: <type>` and `data: <json>` lines."""
    return {"event": event["type"], "data": json.dumps(event["data"], ensure_ascii=False, default=str)}


_END = object()  # what `next(turn, _END)` returns once a turn has no more events


# ---------------------------------------------------------------- routes

router = APIRouter(prefix="/v1", responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 429: {"model": ErrorBody}})


@router.get("/health", response_model=Health, tags=["meta"])
def health(settings: Annotated[Settings, Depends(get_settings_dep)]) -> Health:
    """Liveness: answers without a key and without loading any model."""
    return Health(status="ok", version=_version(), llm_provider=settings.llm.provider)


def _sse_event(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI schema of one Server-Sent Event of `kind` whose `data:` line is JSON matching `data`."""
    return {"type": "object", "required": ["event", "data"], "properties": {
        "event": {"const": kind},
        "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": data},
    }}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_CHAT_EVENTS = {"oneOf": [  # assistant.conversation.contract: the events of one turn
    _sse_event("token", {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}),
    _sse_event("products", {"type": "object", "required": ["products"],
                            "properties": {"products": {"type": "array", "items": _ref("ProductCard")}}}),
    _sse_event("citation", {"type": "object", "required": ["citations"],
                            "properties": {"citations": {"type": "array", "items": _ref("Citation")}}}),
    _sse_event("action", {"type": "object"}),
    _sse_event("handoff", {"type": "object"}),
    _sse_event("done", _ref("ChatReply")),
    _sse_event("error", _ref("ErrorBody")),
]}


@router.post(
    "/chat",
    tags=["chat"],
    response_model=None,
    responses={200: {
        "description": "`text/event-stream` of assistant events (token, products, citation, action, handoff, done, "
        "error; the schema describes one event), or with `stream: false` one ChatReply JSON object.",
        "model": ChatReply,
        "content": {"text/event-stream": {"schema": _CHAT_EVENTS}},
    }, **_responses(400, 404, 413, 422)},
)
def chat(
    body: ChatRequest,
    caller: Annotated[Caller, Depends(any_key)],
    settings: Annotated[Settings, Depends(get_settings_dep)],
    tokens: Annotated[CustomerTokens, Depends(get_tokens)],
    owners: Annotated[SessionOwners, Depends(get_owners)],
    assistant: Annotated[Any, Depends(get_assistant)],
    x_customer_token: Annotated[str | None, Header(description="Signed customer token.")] = None,
) -> EventSourceResponse | ChatReply:
    """One chat turn. Streams the assistant's events as Server-Sent Events: `event: <type>` and `data: <json>`.

    The `done` event carries `session`; send it back as `session_id` to continue the conversation.
    """
    limit = settings.api.max_message_chars
    if len(body.message) > limit:
        raise HTTPException(413, f"message is {len(body.message)} characters; the limit is {limit} (api.max_message_chars).")
    user_id = _customer(tokens, body.customer_token or x_customer_token)
    if body.session_id and not owners.may_continue(body.session_id, caller.key.id, user_id):
        raise HTTPException(
            404, "Unknown session for this key and customer; omit session_id to start a new session."
        )
    started = time.perf_counter()
    events = iter(assistant.chat(body.session_id, body.message, user_id=user_id))
    first = event_dict(next(events))  # errors before the first event still become a proper HTTP error
    claimed = bool(body.session_id)

    def all_events() -> Iterator[dict[str, Any]]:
        yield first
        for event in events:
            yield event_dict(event)

    def owned(stream: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        nonlocal claimed
        for event in stream:
            session = event["data"].get("session") or event["data"].get("session_id")
            if session and not claimed:
                owners.claim(session, caller.key.id, user_id)  # before the client can learn the id
                claimed = True
            if event["type"] == "done":
                logger.info("chat session=%s key=%s intent=%s %.2f s", session, caller.key.id,
                            event["data"].get("intent"), time.perf_counter() - started)
            yield event

    if not body.stream:
        actions, handoff, done = [], None, None
        for event in owned(all_events()):
            if event["type"] == "action":
                actions.append(event["data"])
            elif event["type"] == "handoff":
                handoff = event["data"]
            elif event["type"] == "done":
                done = event["data"]
        if done is None:
            raise HTTPException(500, "The assistant ended the turn without a 'done' event.")
        return ChatReply(**{k: v for k, v in done.items() if k in ChatReply.model_fields}, actions=actions, handoff=handoff)

    async def stream() -> AsyncIterator[dict[str, str]]:
        turn = owned(all_events())
        try:
            while (event := await anyio.to_thread.run_sync(next, turn, _END)) is not _END:
                yield _sse(event)
        except AssistantError as exc:  # mid-stream the status is sent already: report it as an event
            yield _sse({"type": "error", "data": {"detail": str(exc)}})
        finally:
            # A client that goes away cancels this stream (sse-starlette listens for the disconnect); closing
            # the assistant's generator here means it computes nothing more for nobody.
            def close_turn() -> None:
                turn.close()
                if hasattr(events, "close"):
                    events.close()

            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(close_turn)

    # `sep="\n"`: the same `event:`/`data:` lines as before; pings are `: ping ...` comment frames, which
    # EventSource and the widget skip.
    return EventSourceResponse(stream(), ping=settings.api.sse_ping_s, sep="\n", headers={"Cache-Control": "no-cache"})


@router.get("/search", response_model=SearchResponse, tags=["catalog"], responses=_responses(422))
def search(
    request: Request,
    caller: Annotated[Caller, Depends(any_key)],
    tokens: Annotated[CustomerTokens, Depends(get_tokens)],
    searcher: Annotated[Any, Depends(get_searcher)],
    q: Annotated[str, Query(min_length=1, max_length=500, description="What the shopper typed.", examples=["tent for two"])],
    k: Annotated[int, Query(ge=1, le=50)] = 10,
    user_id: Annotated[str | None, Query(
        max_length=200, description="Secret keys only: the customer or session id the shop's events were recorded under.",
    )] = None,
    x_customer_token: Annotated[str | None, Header(description="Signed customer token: personalise for that customer.")] = None,
) -> SearchResponse:
    """Hybrid catalog search; filters (price, size, colour...) are understood from the query. With a customer token
    (or `user_id` from a secret key) the relevant hits are reordered by the shopper's behaviour, and each hit that
    moved says so in `why`; without one the ranking is the same for everyone."""
    from retrieval.personalise import personalised_search

    if user_id is not None and caller.key.kind != "secret":
        raise HTTPException(403, "user_id is only accepted with a secret key; from a browser send X-Customer-Token.")
    user = user_id or _customer(tokens, x_customer_token)
    recommender = get_recommender(request) if user else None  # anonymous searches never load the recommender
    result = personalised_search(searcher, recommender, q, k=k, user_id=user)
    filters = result.filters.model_dump(exclude_none=True) if isinstance(result.filters, BaseModel) else dict(result.filters or {})
    hits = [SearchHit(product=ProductCard.of(h.product), score=float(h.score), why=list(h.why)) for h in result.hits]
    return SearchResponse(query=q, filters=filters, hits=hits)


@router.get("/products/{product_id}", response_model=ProductCard, tags=["catalog"], responses=_responses(404, 422))
def product(
    product_id: Annotated[str, PathParam(examples=["TH-BOOT-001"])],
    caller: Annotated[Caller, Depends(any_key)],
    searcher: Annotated[Any, Depends(get_searcher)],
) -> ProductCard:
    found = searcher.get(product_id)
    if found is None:
        raise HTTPException(404, f"No product with id '{product_id}' in the indexed catalog.")
    return ProductCard.of(found)


@router.get("/recommendations", response_model=RecommendationsResponse, tags=["recommendations"], responses=_responses(422))
def recommendations(
    caller: Annotated[Caller, Depends(any_key)],
    tokens: Annotated[CustomerTokens, Depends(get_tokens)],
    recommender: Annotated[Any, Depends(get_recommender)],
    searcher: Annotated[Any, Depends(get_searcher)],
    k: Annotated[int, Query(ge=1, le=50)] = 10,
    user_id: Annotated[str | None, Query(description="Secret keys only; site keys send a customer token.")] = None,
    x_customer_token: Annotated[str | None, Header()] = None,
) -> RecommendationsResponse:
    """Personalised recommendations, each with the reason it was chosen (guests: what is popular now)."""
    if user_id is not None and caller.key.kind != "secret":
        raise HTTPException(403, "user_id is only accepted with a secret key; from a browser send X-Customer-Token.")
    user = user_id or _customer(tokens, x_customer_token)  # None: a guest gets trending and popular products
    items = []
    for rec in recommender.recommend(user, k=k):
        found = searcher.get(rec.product_id)
        if found is not None:
            items.append(Recommendation(product=ProductCard.of(found, rec.reason), score=float(rec.score), reason=rec.reason))
    return RecommendationsResponse(user_id=user, items=items)


@router.post("/events", response_model=EventsAccepted, tags=["recommendations"], responses=_responses(400, 413, 422))
def events(
    body: EventsRequest,
    caller: Annotated[Caller, Depends(secret_key)],
    recommender: Annotated[Any, Depends(get_recommender)],
) -> EventsAccepted:
    """Ingest behaviour events (views, carts, purchases...) from the shop's backend; recommendations use them at once."""
    from retrieval.recs.events import Event

    parsed = []
    for i, event in enumerate(body.events):
        try:
            parsed.append(Event(**event.model_dump(exclude_none=True)))
        except ValidationError as exc:  # a rule of Event that EventIn does not state: answer 422 all the same
            raise RequestValidationError(
                [{**e, "loc": ("body", "events", i, *e["loc"])} for e in exc.errors(include_url=False)]
            ) from exc
    for event in parsed:
        recommender.record(event)
    return EventsAccepted(accepted=len(parsed))


@router.post("/feedback", response_model=FeedbackAccepted, tags=["chat"], responses=_responses(400, 404, 413, 422))
def feedback(
    body: FeedbackRequest,
    caller: Annotated[Caller, Depends(any_key)],
    tokens: Annotated[CustomerTokens, Depends(get_tokens)],
    owners: Annotated[SessionOwners, Depends(get_owners)],
    store: Annotated[FeedbackStore, Depends(get_feedback)],
    x_customer_token: Annotated[str | None, Header()] = None,
) -> FeedbackAccepted:
    """Thumbs up/down on a reply, with an optional comment (kept for fine-tuning)."""
    user_id = _customer(tokens, body.customer_token or x_customer_token)
    if not owners.may_continue(body.session_id, caller.key.id, user_id):
        raise HTTPException(404, "Unknown session for this key and customer; rate replies of your own session.")
    saved = store.add(
        1 if body.rating == "up" else -1, session_id=body.session_id, comment=body.comment,
        user_message=body.message, reply=body.reply, source=f"api:{caller.key.id}",
    )
    return FeedbackAccepted(id=saved.id)


@router.post("/copy", tags=["catalog"], responses=_responses(400, 404, 413, 422, 502))
def copy(
    body: CopyRequest,
    caller: Annotated[Caller, Depends(secret_key)],
    searcher: Annotated[Any, Depends(get_searcher)],
    copywriter: Annotated[Any, Depends(get_copywriter)],
) -> dict[str, Any]:
    """Write marketing copy for one catalog product from its own data."""
    found = searcher.get(body.product_id)
    if found is None:
        raise HTTPException(404, f"No product with id '{body.product_id}' in the indexed catalog.")
    record = copywriter(found)  # an assistant.copywriting.writer.CopyRecord
    if record.error:
        raise HTTPException(502, f"Copy generation for '{found.id}' failed: {record.error}")
    return record.model_dump(mode="json", by_alias=True)


@router.post("/customer-tokens", response_model=TokenResponse, tags=["security"], responses=_responses(400, 413, 422))
def customer_token(
    body: TokenRequest,
    caller: Annotated[Caller, Depends(secret_key)],
    tokens: Annotated[CustomerTokens, Depends(get_tokens)],
) -> TokenResponse:
    """Mint a signed customer token for the shop's signed-in customer (put it in `data-customer-token`)."""
    now = time.time()
    return TokenResponse(token=tokens.issue(body.user_id, body.ttl_s, now=now), user_id=body.user_id, expires_at=now + body.ttl_s)


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
def not_found(path: str, request: Request) -> None:
    """404 for unknown paths; 405 with `Allow` for a known path called with a method it does not take."""
    allowed = sorted({method for route in router.routes
                      if isinstance(route, APIRoute) and route.matches(request.scope)[0] is Match.PARTIAL
                      for method in route.methods})  # PARTIAL: the path matches, the method does not
    if allowed:
        raise HTTPException(405, f"/v1/{path} does not take {request.method}; use {' or '.join(allowed)}.",
                            headers={"Allow": ", ".join(allowed)})
    raise HTTPException(404, f"No API route /v1/{path}; see /docs for the routes.")


# ---------------------------------------------------------------- app


def _version() -> str:
    try:
        return metadata.version("shopbot")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _one_line(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "Invalid request: " + "; ".join(parts)


class _WorkerHeader:
    """ASGI middleware: `X-Shopbot-Worker: <pid>` on API answers, to see a load balancer spread the work."""

    def __init__(self, app):
        self.app = app
        self.value = str(os.getpid()).encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1"):
            await self.app(scope, receive, send)
            return

        async def tagged(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-shopbot-worker", self.value)]}
            await send(message)

        await self.app(scope, receive, tagged)


def create_app(
    settings: Settings,
    assistant: Any = None,
    *,
    searcher: Any = None,
    recommender: Any = None,
    copywriter: Any = None,
    ui: bool = True,
    demo_site_key: str | None = None,
) -> FastAPI:
    """The FastAPI app: API under /v1, widget under /static, demo page at /demo, Gradio UI at / (if `ui`).

    Parts not passed in are built from `settings` on first use.
    """
    app = FastAPI(
        title="Shopbot API",
        version=_version(),
        description="Grounded shopping assistant and customer service. Authenticate with `X-Shopbot-Key`.",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    components = Components(
        settings, assistant=assistant, searcher=searcher, recommender=recommender, copywriter=copywriter
    )
    app.state.components = components
    app.state.demo_site_key = demo_site_key
    app.include_router(router)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _one_line(exc), "errors": json.loads(json.dumps(exc.errors(), default=str))}, 422)

    @app.exception_handler(AssistantError)
    async def _assistant_error(request: Request, exc: AssistantError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 503 if isinstance(exc, ModelNotAvailableError) else 400)

    from retrieval.errors import IndexNotFoundError, RetrievalError

    @app.exception_handler(RetrievalError)
    async def _retrieval_error(request: Request, exc: RetrievalError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 503 if isinstance(exc, IndexNotFoundError) else 400)

    @app.get("/static/widget.js", include_in_schema=False)
    def widget_js() -> FileResponse:
        return FileResponse(STATIC_DIR / "widget.js", media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"})

    @app.get("/demo", include_in_schema=False)
    def demo(request: Request) -> HTMLResponse:
        key = request.app.state.demo_site_key
        if not key:
            return HTMLResponse(
                "<p>No demo site key. Create one for this origin with "
                f"<code>shopbot keys create --origin {request.base_url.scheme}://{request.base_url.netloc}</code> "
                "and embed the widget with it.</p>", 404,
            )
        page = (STATIC_DIR / "demo-host.html").read_text(encoding="utf-8")
        return HTMLResponse(page.replace(DEMO_KEY_PLACEHOLDER, key))

    # Outermost first: body size, then CORS, then the app.
    app.add_middleware(_WorkerHeader)
    app.add_middleware(SiteCors, allowed_origins=components.site_origins)
    app.add_middleware(BodySizeLimit, max_bytes=settings.api.max_body_bytes)

    if ui:
        import gradio as gr

        from assistant.web.ui import CSS, build_ui

        blocks = build_ui(components)
        gr.mount_gradio_app(app, blocks, path="/", css=CSS, footer_links=["api"], run_history=False)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` workers (`shopbot serve --workers N`): settings from the environment."""
    from assistant.config import get_settings

    settings = get_settings()
    key_file = settings.home / "demo-site-key"
    return create_app(settings, ui=False, demo_site_key=key_file.read_text().strip() if key_file.is_file() else None)
