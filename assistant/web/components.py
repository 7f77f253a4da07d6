"""The parts the API and the UI call (assistant, search, recommendations, copy, keys, tokens...), built once.

`assistant.web.api` hands them to routes through `Depends` providers and `assistant.web.ui` calls them directly; both
get the same instance from `create_app`, so one process loads each model and index once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from assistant.config import Settings
from assistant.shop.feedback import FeedbackStore
from assistant.web.auth import CustomerTokens, RateLimiter, SessionOwners, load_token_secret
from assistant.web.keys import KeyStore

logger = logging.getLogger(__name__)


class Components:
    """The parts the API and UI call, built on first use (so `/v1/health` and tests never load a model).

    Pass ready-made parts to skip building them. Thread-safe: each part is built once.
    """

    def __init__(self, settings: Settings, **given: Any):
        self.settings = settings
        self._parts: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _get(self, name: str, build: Callable[[], Any]) -> Any:
        if name in self._parts:
            return self._parts[name]
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            if name not in self._parts:
                started = time.perf_counter()
                self._parts[name] = build()
                logger.info("built %s in %.1f s", name, time.perf_counter() - started)
        return self._parts[name]

    def keys(self) -> KeyStore:
        return self._get("keys", lambda: KeyStore(self.settings.database_url))

    def owners(self) -> SessionOwners:
        return self._get("owners", lambda: SessionOwners(self.settings.database_url))

    def feedback(self) -> FeedbackStore:
        return self._get("feedback", lambda: FeedbackStore(self.settings.database_url))

    def tokens(self) -> CustomerTokens:
        secret = self.settings.api.token_secret
        return self._get(
            "tokens",
            lambda: CustomerTokens(load_token_secret(secret.get_secret_value() if secret else None, self.settings.home)),
        )

    def limiter(self) -> RateLimiter:
        api = self.settings.api  # one count for every worker: counters in the shared database (or Redis)
        return self._get("limiter", lambda: RateLimiter(
            api.rate_limit_per_minute, api.rate_limit_storage or self.settings.database_url))

    def assistant(self):
        def build():
            from assistant.wiring import build_assistant

            return build_assistant(self.settings)

        return self._get("assistant", build)

    def _shared(self, attribute: str) -> Any:
        """A part the built assistant already holds (its searcher, chat model...), to avoid loading it twice."""
        assistant = self._parts.get("assistant")
        return getattr(assistant, attribute, None) if assistant is not None else None

    def searcher(self):
        def build():
            shared = self._shared("searcher")
            if shared is not None:
                return shared
            from assistant.conversation.models import resolve_embedding_path
            from retrieval.embed import Embedder
            from retrieval.search import open_searcher

            retrieval = self.settings.retrieval
            embedder = Embedder.from_settings(resolve_embedding_path(retrieval.embedding_model), retrieval)
            return open_searcher(retrieval, self.settings.home, embedder)

        return self._get("searcher", build)

    def recommender(self):
        def build():
            shared = self._shared("recommender")
            if shared is not None:
                return shared
            from retrieval.recs.recommend import open_recommender

            store = self.searcher().store  # the indexed catalog and the embedder it was indexed with
            return open_recommender(
                self.settings.retrieval.recs, self.settings.home, list(store.products.values()), store.embedder
            )

        return self._get("recommender", build)

    def chat_model(self):
        def build():
            shared = self._shared("chat_model") or self._shared("llm")
            if shared is not None:
                return shared
            from assistant.conversation.llm import build_chat_model

            return build_chat_model(self.settings)

        return self._get("chat_model", build)

    def copywriter(self) -> Callable[[Any], Any]:
        """product -> assistant.copywriting.writer.CopyRecord, with the shop's default style and the chat model."""

        def build():
            from assistant.copywriting.writer import generate_copy

            return lambda product: generate_copy(product, None, self.chat_model())

        return self._get("copywriter", build)

    def site_origins(self) -> set[str]:
        """Origins any active site key allows; cached for 2 s (a revoked key stops working within that)."""
        now = time.monotonic()
        cached = self._parts.get("_origins")
        if cached is None or now - cached[0] > 2.0:
            cached = (now, self.keys().site_origins())
            self._parts["_origins"] = cached
        return cached[1]
