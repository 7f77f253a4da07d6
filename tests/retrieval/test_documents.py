"""Policy/FAQ passages: chunking by heading and paragraph, indexing, search and re-index."""

from __future__ import annotations

from pathlib import Path

from retrieval.documents import Document, chunk_document, load_documents, open_documents

RETURNS = """# Returns

You can return most items within 30 days of delivery.

## How to start a return

Open your order and choose "Return". Print the prepaid label.

## Items we cannot take back

Used camping stoves and opened food cannot be returned.
"""

SHIPPING = """# Shipping

## Delivery times

Standard delivery takes 3-5 working days. Express delivery arrives next day when ordered before 2 pm.
"""


def _write(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "returns.md").write_text(RETURNS)
    (folder / "shipping.md").write_text(SHIPPING)
    return folder


def test_chunks_follow_headings_and_paragraphs() -> None:
    chunks = chunk_document(Document("returns", "Returns", RETURNS))
    assert [c.section for c in chunks] == ["", "How to start a return", "Items we cannot take back"]
    assert chunks[0].chunk_id == "returns#0" and "30 days" in chunks[0].text
    long = Document("long", "Long", "# Long\n\n" + "\n\n".join(f"Paragraph {i} " + "x" * 300 for i in range(6)))
    parts = [c for c in chunk_document(long, max_chars=700) if c.kind == "section"]
    assert len(parts) == 3 and all(len(p.text) <= 700 for p in parts)
    assert sum(c.kind == "paragraph" for c in chunk_document(long, max_chars=700)) == 6


TABLE = """# Shipping

## Options

| Option | Time | Cost |
|---|---|---|
| Standard | 3 to 5 days | $6.95, free on orders of $75 or more |
| Express | 2 days | $14.95 |

- Not returnable: opened bedding,
  unless faulty.
- Faulty items can always be returned.
"""


def test_table_rows_and_list_items_are_passages_of_their_own() -> None:
    chunks = chunk_document(Document("shipping", "Shipping", TABLE))
    passages = [(c.kind, c.text) for c in chunks if c.kind != "section"]
    assert passages == [
        ("row", "Option: Standard. Time: 3 to 5 days. Cost: $6.95, free on orders of $75 or more."),
        ("row", "Option: Express. Time: 2 days. Cost: $14.95."),
        ("item", "Not returnable: opened bedding, unless faulty."),
        ("item", "Faulty items can always be returned."),
    ]
    assert all(c.section == "Options" for c in chunks)


def test_search_finds_the_row_and_the_rule(tmp_path, settings, shopbot_home, hashing_embedder) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "shipping.md").write_text(TABLE)
    (folder / "returns.md").write_text(RETURNS)
    index = open_documents(settings, shopbot_home, hashing_embedder)
    index.index(load_documents(folder))
    assert index.search("how much is express shipping", k=1)[0].text.startswith("Option: Express")
    # the customer's words ("the zip broke") reach the policy's ("faulty")
    assert "Faulty" in index.search("the zip broke, can I send it back?", k=1)[0].text


def test_index_and_search_policies(tmp_path, settings, shopbot_home, hashing_embedder) -> None:
    docs = load_documents(_write(tmp_path / "policies"))
    assert [d.title for d in docs] == ["Returns", "Shipping"]
    index = open_documents(settings, shopbot_home, hashing_embedder)
    report = index.index(docs)
    assert report == {"documents": 2, "chunks": 4, "embedded": 4, "removed": 0}  # one passage a section: no extra
    hits = index.search("how long does express delivery take", k=2)
    assert hits[0].doc_id == "shipping" and hits[0].title == "Shipping" and "Express" in hits[0].text
    assert hits[0].score > 0
    assert index.search("can I send back opened food or a used camping stove")[0].section == "Items we cannot take back"

    again = open_documents(settings, shopbot_home, hashing_embedder).index(docs)
    assert again["embedded"] == 0
    assert open_documents(settings, shopbot_home, hashing_embedder).index(docs[:1])["removed"] == 1


def test_demo_shop_policies_index(settings, shopbot_home, hashing_embedder) -> None:
    from assistant.config import DEMO_SHOP_DIR

    docs = load_documents(DEMO_SHOP_DIR / "policies")
    assert len(docs) >= 10
    index = open_documents(settings, shopbot_home, hashing_embedder)
    index.index(docs)
    assert index.search("refund", k=3)


def test_a_section_heading_said_in_the_question_finds_its_section(settings, shopbot_home, bundled_embedder_dir) -> None:
    """"When you are charged" answers "am I charged twice if it comes in two boxes?" (a heading's question words,
    "when", "you", count for nothing); the words of a heading few documents use name a subject of its own."""
    from assistant.config import DEMO_SHOP_DIR
    from retrieval.embed import Embedder

    index = open_documents(settings, shopbot_home, Embedder(bundled_embedder_dir))
    index.index(load_documents(DEMO_SHOP_DIR / "policies"))
    assert index.search("if it ends up coming in two boxes am i gonna get charged twice??")[0].section == "When you are charged"
    assert index.heading_words("are my basecamp points still there?") == {"basecamp"}
    assert index.heading_words("is there a minimum order for that?") == set()  # every document speaks of orders


def test_two_subjects_asked_together_find_the_passage_that_names_both(settings, shopbot_home, bundled_embedder_dir) -> None:
    """Rewards points and a gift card "on the same order": the rewards rule that says they combine, not the gift-card
    rules; "for the next morning" asks for overnight delivery."""
    from assistant.config import DEMO_SHOP_DIR
    from retrieval.embed import Embedder

    index = open_documents(settings, shopbot_home, Embedder(bundled_embedder_dir))
    index.index(load_documents(DEMO_SHOP_DIR / "policies"))
    both = index.search("I've got a stack of rewards points and one of your gift cards. can I put both towards the same order?")
    assert "combined with a gift card" in both[0].text
    assert "Overnight" in " ".join(h.text for h in index.search("could you get a parcel to me there for the next morning?", k=2))
