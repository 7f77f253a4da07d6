"""Wiring: the assistant and the shop's indexes built from settings (the composition the CLI, API and UI share).

The engine (`assistant.conversation.engine.Assistant`) receives every dependency; this module opens them:
the shop folder, the embedder, the product and policy indexes, the intent router, the order, session and
ticket stores, the recommender and the chat model.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from assistant.conversation.engine import Assistant
from assistant.conversation.intents import IntentRouter
from assistant.conversation.memory import SessionStore
from assistant.shop.cart import CartStore
from assistant.shop.orders import OrderStore
from assistant.shop.tickets import TicketStore
from assistant.tools import orders as order_tools

logger = logging.getLogger(__name__)

def build_assistant(
    settings,
    chat_model: Any = None,
    *,
    embedder: Any = None,
    searcher: Any = None,
    documents: Any = None,
    recommender: Any = None,
    router: IntentRouter | None = None,
    use_llm: bool = True,
) -> Assistant:
    """Wire the assistant for `settings`: the shop's data, its indexes and the configured chat model.

    Args:
        settings: `assistant.config.Settings`.
        chat_model: a LangChain chat model; None = `build_chat_model(settings)`.
        embedder: the text embedder of the indexes and the intent router; None = the configured model.
        searcher / documents / recommender / router: already built ones (tests, servers); None = open or
            build them here. The shop's catalog and policies are indexed on first use when no index exists.
        use_llm: False = templated answers only (no chat model is loaded).
    """
    from assistant.conversation.intents import dialog_examples, load_seed
    from assistant.conversation.llm import build_chat_model
    from assistant.shop import data as shop

    profile = shop.load_profile(settings.shop_dir)
    policies = shop.load_policies(settings.shop_dir)
    if embedder is None:
        from assistant.conversation.models import resolve_embedding_path
        from retrieval.embed import Embedder

        embedder = Embedder.from_settings(resolve_embedding_path(settings.retrieval.embedding_model), settings.retrieval)
    if searcher is None:
        searcher = open_shop_searcher(settings, embedder)
    if documents is None:
        documents = open_shop_documents(settings, embedder, policies)
    if router is None:
        dialogs = [d.model_dump() for d in shop.load_dialogs(settings.shop_dir)] if (Path(settings.shop_dir) / "dialogs.jsonl").is_file() else []
        router = IntentRouter.fit(embedder, load_seed() + dialog_examples(dialogs), cache_dir=settings.home / "cache")
    catalog = list(searcher.store.products.values())  # what the shop sells: for the recommender and grounding
    if recommender is None:
        recommender = _open_recommender(settings, catalog, embedder)
    orders = OrderStore(settings.database_url)
    if (Path(settings.shop_dir) / "orders.jsonl").is_file():
        orders.seed(shop.load_orders(settings.shop_dir))
    if chat_model is None and use_llm:
        chat_model = build_chat_model(settings)
    return Assistant(
        chat_model=chat_model, router=router, searcher=searcher, documents=documents, orders=orders,
        sessions=SessionStore(settings.database_url), tickets=TicketStore(settings.database_url),
        carts=CartStore(settings.database_url),
        profile=profile,
        catalog=catalog, recommender=recommender, return_window_days=order_tools.return_window_days([p.text for p in policies if "return" in p.doc_id]),
        use_llm=use_llm, max_drafts=draft_slots(settings.llm, chat_model),
    )


def draft_slots(llm, chat_model: Any) -> int:
    """How many replies the chat model drafts at once (`llm.max_drafts`; 0 = no limit). By default as many as
    keep a draft within seconds on this machine: 4 per core on the openvino engine (its decode steps are shared),
    1 on transformers (it writes one reply at a time, the next would wait for it), no limit for an
    OpenAI-compatible server (it sizes its own batches)."""
    if llm.max_drafts is not None:
        return llm.max_drafts
    from assistant.conversation.openvino_llm import OpenVINOChatModel

    if llm.provider == "openai" or chat_model is None:
        return 0
    return 4 * (os.cpu_count() or 1) if isinstance(chat_model, OpenVINOChatModel) else 1


def shop_adapter_path(settings) -> Path:
    """Where `shopbot finetune train` writes the shop's chat adapter: `<home>/adapters/<shop folder name>`."""
    return settings.adapters_dir / Path(settings.shop_dir).name


def with_shop_adapter(settings):
    """The settings the chat model is served with: `llm.adapter` as set ("none" = the base model), else the
    shop's adapter when one was trained (logged either way); any backend loads it through `llm.adapter`."""
    llm = settings.llm
    if llm.adapter and llm.adapter.lower() == "none":
        logger.info("chat model: no adapter (llm.adapter=none)")
        return settings.model_copy(update={"llm": llm.model_copy(update={"adapter": None})})
    if llm.adapter or llm.provider != "local":
        if llm.adapter:
            logger.info("chat adapter: %s (llm.adapter)", llm.adapter)
        return settings
    path = shop_adapter_path(settings)
    if not (path / "adapter_config.json").is_file():
        logger.info("chat model: no shop adapter at %s (train one with `shopbot finetune train`)", path)
        return settings
    logger.info("chat adapter: %s, the shop's own (set llm.adapter to another or to 'none' to override)", path)
    return settings.model_copy(update={"llm": llm.model_copy(update={"adapter": str(path)})})


def open_shop_searcher(settings, embedder):
    """The shop's product search; indexes the shop's catalog first when nothing is indexed yet."""
    from retrieval.errors import IndexNotFoundError
    from retrieval.search import open_searcher, open_store

    try:
        return open_searcher(settings.retrieval, settings.home, embedder)
    except IndexNotFoundError:
        from retrieval.ingest import load_catalog

        catalog = Path(settings.shop_dir) / "catalog.jsonl"
        logger.warning("no product index yet: indexing %s (once)", catalog)
        open_store(settings.retrieval, settings.home, embedder).index(load_catalog(catalog).products)
        return open_searcher(settings.retrieval, settings.home, embedder)


def open_shop_documents(settings, embedder, policies):
    """The shop's policy index (chunks in Chroma); indexes the policies when they changed or are missing."""
    from retrieval.documents import open_documents

    docs = open_documents(settings.retrieval, settings.home, embedder)
    docs.index(policies)
    return docs


def _open_recommender(settings, products, embedder):
    """The shop's personalised recommender (`retrieval.recs.recommend`) over `products`; None when it cannot be opened."""
    from retrieval.errors import RetrievalError
    from retrieval.recs.recommend import open_recommender

    try:
        return open_recommender(settings.retrieval.recs, settings.home, products, embedder)
    except RetrievalError as exc:
        logger.info("no recommender (%s); recommending from search", exc)
        return None
