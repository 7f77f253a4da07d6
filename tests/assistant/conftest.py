"""Fixtures for the interface tests: a real uvicorn server on a free loopback port, in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(app, port: int | None = None) -> Iterator[str]:
    """Serve `app` over real HTTP on 127.0.0.1; yields the base URL. (Copy: tests/browser/conftest.py.)"""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"test server on port {port} did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def serve() -> Callable:
    return live_server


# ---------------------------------------------------------------- conversation-engine fixtures (assistant engine work)
# Real Chroma + bm25 indexes of the demo shop, built once per run with the deterministic hashing embedder;
# the intent router uses the real bundled MiniLM (its fitted head is cached in the test cache).


@pytest.fixture(scope="session")
def intent_router(bundled_embedder_dir):
    import os
    from pathlib import Path

    from assistant.config import DEMO_SHOP_DIR
    from assistant.conversation.intents import IntentRouter, dialog_examples, load_seed
    from assistant.shop import data as shop
    from retrieval.embed import Embedder

    cache = Path(os.environ.get("SHOPBOT_TEST_CACHE", Path(__file__).resolve().parents[2] / ".shopbot-test-cache"))
    dialogs = [d.model_dump() for d in shop.load_dialogs(DEMO_SHOP_DIR)]
    return IntentRouter.fit(Embedder(bundled_embedder_dir), load_seed() + dialog_examples(dialogs), cache_dir=cache / "intent")


@pytest.fixture(scope="session")
def shop_indexes(tmp_path_factory):
    """(searcher, documents, embedder) over the demo shop in a session-wide Chroma folder."""
    from assistant.config import DEMO_SHOP_DIR
    from assistant.shop import data as shop
    from retrieval.config import RetrievalSettings
    from retrieval.documents import open_documents
    from retrieval.embed import HashingEmbedder
    from retrieval.ingest import load_catalog
    from retrieval.search import open_searcher, open_store

    home = tmp_path_factory.mktemp("shop-indexes")
    settings, embedder = RetrievalSettings(), HashingEmbedder(256)
    open_store(settings, home, embedder).index(load_catalog(DEMO_SHOP_DIR / "catalog.jsonl").products)
    documents = open_documents(settings, home, embedder)
    documents.index(shop.load_policies(DEMO_SHOP_DIR))
    return open_searcher(settings, home, embedder), documents, embedder


@pytest.fixture
def make_assistant(shop_indexes, intent_router):
    """Build the real engine on this test's data home: `make_assistant(chat_model=None, **overrides)`."""
    from assistant.config import get_settings
    from assistant.wiring import build_assistant

    def make(chat_model=None, **overrides):
        searcher, documents, embedder = shop_indexes
        kwargs = {"embedder": embedder, "searcher": searcher, "documents": documents, "router": intent_router,
                  "use_llm": chat_model is not None}
        kwargs.update(overrides)
        return build_assistant(get_settings(), chat_model, **kwargs)

    return make


@pytest.fixture(scope="session")
def tiny_chat_model(tiny_llm_dir):
    from assistant.conversation.llm import LocalChatModel

    return LocalChatModel(model_path=str(tiny_llm_dir), max_new_tokens=24, temperature=0.0)


# ---------------------------------------------------------------- a scripted chat model for the engine's answer paths


@pytest.fixture
def scripted_chat_model():
    """`scripted_chat_model(*replies)`: a LangChain chat model that answers with `replies` in turn (the last one
    repeats) and records every call in `.calls` as `{"messages": [...], "kwargs": {...}}`.

    A reply is a string, or a callable that gets the prompt (the last message's text) and returns the draft,
    for drafts that quote this turn's data. Fast: no weights, so the engine's grounding paths run in unit tests.
    """
    from typing import Any

    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    class ScriptedChatModel(BaseChatModel):
        replies: list[Any]
        calls: list[dict] = []

        @property
        def _llm_type(self) -> str:
            return "scripted"

        def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
            self.calls.append({"messages": list(messages), "kwargs": kwargs})
            reply = self.replies[min(len(self.calls), len(self.replies)) - 1]
            text = reply(str(messages[-1].content)) if callable(reply) else reply
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def make(*replies: Any) -> ScriptedChatModel:
        return ScriptedChatModel(replies=list(replies), calls=[])

    return make
