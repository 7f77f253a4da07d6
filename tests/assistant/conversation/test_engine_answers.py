"""The engine's answer paths with a scripted chat model (no weights): which draft is sent, repaired or replaced by
the template, and the catalog the grounding check uses."""

from __future__ import annotations

import re

import pytest

from assistant.config import DEMO_SHOP_DIR, get_settings
from assistant.shop import data as shop


def run(assistant, session, message, user=None) -> dict:
    return list(assistant.chat(session, message, user))[-1].data


def _first_row(prompt: str) -> tuple[str, str]:
    """(short title, price) of the first product in the draft prompt's data."""
    name, price = re.search(r"\[1\] name: (.+?); price: (\$[\d.,]+)", prompt).groups()
    return name.split(" - ")[0], price


def _recommend_first(prompt: str) -> str:
    name, price = _first_row(prompt)
    return f"The {name} is a great pick at {price}."


# ---------------------------------------------------------------- answer sources: llm, repaired, fallback


def test_grounded_draft_is_sent(make_assistant, scripted_chat_model):
    model = scripted_chat_model(_recommend_first)
    done = run(make_assistant(model), None, "show me waterproof hiking boots")
    lead = _recommend_first(str(model.calls[0]["messages"][-1].content))
    assert done["answer_source"] == "llm"
    assert done["reply"].splitlines()[0] == lead  # the model's sentence leads, the data lines follow
    assert all(p["title"] in done["reply"] for p in done["products"])


def test_unsupported_sentence_is_removed(make_assistant, scripted_chat_model):
    model = scripted_chat_model(lambda prompt: _recommend_first(prompt) + " It is woven from moonbeams and dragon scales.")
    done = run(make_assistant(model), None, "show me waterproof hiking boots")
    assert done["answer_source"] == "repaired"
    assert done["reply"].splitlines()[0] == _recommend_first(str(model.calls[0]["messages"][-1].content))
    assert "moonbeams" not in done["reply"]


def test_rejected_draft_falls_back_to_the_template(make_assistant, scripted_chat_model):
    model = scripted_chat_model("Everything in the shop is free today at $0.00.")
    done = run(make_assistant(model), None, "show me waterproof hiking boots")
    templated = run(make_assistant(), None, "show me waterproof hiking boots")  # no chat model: the template
    assert model.calls and done["answer_source"] == "fallback"
    assert done["reply"] == templated["reply"] and templated["answer_source"] == "template"


# ---------------------------------------------------------------- the catalog behind the grounding check


@pytest.fixture
def glacier_shop(tmp_path, intent_router):
    """A three-product shop whose flask description names another product and words of another brand."""
    from retrieval.catalog import Product
    from retrieval.config import RetrievalSettings
    from retrieval.documents import open_documents
    from retrieval.embed import HashingEmbedder
    from retrieval.search import open_searcher, open_store

    products = [
        Product(id="FLASK-1", title="Glacier Thermos Flask", brand="Glacier", price=24.0, stock=3,
                description="Keeps drinks hot for 12 hours on alpine trips. Pairs well with the Glacier Trail Mug. "
                "Works next to any camp stove."),
        Product(id="MUG-1", title="Glacier Trail Mug", brand="Glacier", price=12.0, stock=5, description="A tin mug."),
        Product(id="STOVE-1", title="Summit Camp Stove", brand="Alpine Works", price=60.0, stock=2,
                description="A gas stove."),
    ]
    settings, embedder = RetrievalSettings(), HashingEmbedder(64)
    open_store(settings, tmp_path, embedder, name="glacier").index(products)
    searcher = open_searcher(settings, tmp_path, embedder, name="glacier")
    documents = open_documents(settings, tmp_path, embedder, name="glacier-docs")
    documents.index(shop.load_policies(DEMO_SHOP_DIR))
    return {"embedder": embedder, "searcher": searcher, "documents": documents, "router": intent_router}


def test_draft_naming_a_product_or_brand_the_tools_did_not_return_is_repaired(glacier_shop, scripted_chat_model):
    from assistant.wiring import build_assistant

    model = scripted_chat_model(
        "The Glacier Thermos Flask costs $24.00. It pairs well with the Glacier Trail Mug. "
        "It pairs well with a stove from Alpine Works."
    )
    a = build_assistant(get_settings(), model, **glacier_shop)
    done = run(a, None, "tell me about the glacier thermos flask")
    assert [p["id"] for p in done["products"]] == ["FLASK-1"]
    assert done["answer_source"] == "repaired"
    assert done["reply"] == "The Glacier Thermos Flask costs $24.00."


def test_engine_takes_the_catalog_as_an_argument(glacier_shop, scripted_chat_model):
    """The catalog comes from wiring, not from the searcher's internals: a search-only searcher will do."""
    from assistant.conversation.engine import Assistant
    from assistant.wiring import build_assistant

    wired = build_assistant(get_settings(), scripted_chat_model("unused"), **glacier_shop)
    inner = glacier_shop["searcher"]

    class SearchOnly:  # the search API the tools use, no `.store`
        search, get, brands, categories = inner.search, inner.get, inner.brands, inner.categories

    a = Assistant(
        chat_model=wired.chat_model, router=wired.router, searcher=SearchOnly(), documents=wired.documents,
        orders=wired.orders, sessions=wired.sessions, tickets=wired.tickets, profile=wired.profile,
        catalog=list(inner.store.products.values()),
    )
    assert a.catalog_titles == {"glacier thermos flask", "glacier trail mug", "summit camp stove"}
    assert a.catalog_brands == {"glacier", "alpine works"}
    assert wired.catalog_titles == a.catalog_titles
