"""The Gradio web UI: streaming chat with product cards, recommendations, feedback, handoff, operator tools.

A thin adapter over the same `assistant.web.components.Components` the HTTP API uses; mounted at `/`
by `assistant.web.api.create_app`. The UI is the shop's demo and operator console: it runs on the server and
picks the demo customer directly, so bind it to loopback (the default) or put it behind the shop's login.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.conversation.contract import ProductCard, event_dict
from assistant.errors import AssistantError
from retrieval.errors import RetrievalError

logger = logging.getLogger(__name__)

HANDOFF_MESSAGE = "I would like to talk to a human, please."

CSS = """
.sb-cards { display: flex; flex-wrap: wrap; gap: 10px; }
.sb-card { width: 170px; border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 8px;
           background: var(--background-fill-primary); cursor: pointer; display: flex; flex-direction: column; gap: 3px;
           font-size: 13px; }
.sb-card:hover, .sb-card:focus-visible { border-color: var(--color-accent); outline: none; box-shadow: 0 0 0 2px var(--color-accent-soft); }
.sb-card img, .sb-card .sb-ph { width: 100%; height: 100px; object-fit: cover; border-radius: 6px; background: #e8efe9;
           display: flex; align-items: center; justify-content: center; font-size: 28px; color: #1f6f5c; }
.sb-card .sb-title { font-weight: 600; }
.sb-card .sb-price { font-weight: 700; }
.sb-card .sb-in { color: #1f7a3a; } .sb-card .sb-out { color: #a12a2a; }
.sb-card .sb-reason { color: var(--body-text-color-subdued); font-size: 12px; }
.sb-empty { color: var(--body-text-color-subdued); font-size: 14px; }
"""

# Clicking (or Enter on) a card tells Python which product was viewed.
_CARD_CLICKS = """
element.addEventListener('click', (e) => {
  const card = e.target.closest('[data-product-id]');
  if (card) trigger('click', {product_id: card.dataset.productId});
});
element.addEventListener('keydown', (e) => {
  const card = e.target.closest('[data-product-id]');
  if (card && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); trigger('click', {product_id: card.dataset.productId}); }
});
"""


def _money(price: float | None, currency: str | None) -> str:
    if price is None:
        return ""
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get((currency or "").upper())
    return f"{symbol}{price:,.2f}" if symbol else f"{price:,.2f} {currency or ''}".strip()


def cards_html(cards: list[dict[str, Any]], empty: str = "") -> str:
    """Product cards (dicts with id, title, price, currency, stock, in_stock, image, reason) as HTML."""
    if not cards:
        return f'<p class="sb-empty">{html.escape(empty)}</p>' if empty else ""
    out = []
    for c in cards:
        title = html.escape(str(c.get("title", "")))
        image = c.get("image") or ""
        picture = (
            f'<img src="{html.escape(image)}" alt="" loading="lazy" onerror="this.replaceWith(Object.assign(document.createElement(\'div\'),{{className:\'sb-ph\',textContent:\'{html.escape(title[:1])}\'}}))">'
            if image.startswith(("http://", "https://", "/"))
            else f'<div class="sb-ph" aria-hidden="true">{html.escape(title[:1])}</div>'
        )
        stock, in_stock = c.get("stock"), c.get("in_stock")
        if in_stock is None:
            in_stock = stock is None or stock > 0
        stock_text = (f"In stock ({stock})" if stock else "In stock") if in_stock else "Out of stock"
        reason = f'<span class="sb-reason">{html.escape(str(c["reason"]))}</span>' if c.get("reason") else ""
        out.append(
            f'<div class="sb-card" role="button" tabindex="0" data-product-id="{html.escape(str(c["id"]))}" '
            f'aria-label="{title}">{picture}<span class="sb-title">{title}</span>'
            f'<span class="sb-price">{html.escape(_money(c.get("price"), c.get("currency")))}</span>'
            f'<span class="{"sb-in" if in_stock else "sb-out"}">{stock_text}</span>{reason}</div>'
        )
    return '<div class="sb-cards">' + "".join(out) + "</div>"


def _card(product: Any, reason: str = "") -> dict[str, Any]:
    return ProductCard.of(product, reason).model_dump()


def _text(content: Any) -> str:
    """A chat message's text: Gradio 6 hands messages back as lists of parts ({"type": "text", "text": ...})."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or "")
    if isinstance(content, list):
        return "".join(_text(part) for part in content)
    return ""


def demo_customers(shop_dir: Path) -> list[tuple[str, str]]:
    """(label, customer id) pairs from the shop's customers.jsonl, guest first."""
    choices = [("Guest (not signed in)", "")]
    path = Path(shop_dir) / "customers.jsonl"
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                name = row.get("name") or " ".join(filter(None, [row.get("first_name"), row.get("last_name")])) or row["id"]
                choices.append((f"{name} ({row['id']})", row["id"]))
    return choices


def build_ui(components: Any) -> gr.Blocks:
    """The Blocks app over `components` (an `assistant.web.components.Components`)."""
    settings = components.settings

    def respond(message: str, history: list[dict], session_id: str | None, customer: str) -> Iterator[tuple]:
        message = (message or "").strip()
        if not message:
            yield history, "", session_id, gr.skip()
            return
        limit = settings.api.max_message_chars
        if len(message) > limit:
            raise gr.Error(f"Your message is {len(message)} characters; the limit is {limit}.")
        history = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        yield history, "", session_id, gr.skip()
        cards: list[dict] = []
        try:
            for raw in components.assistant().chat(session_id, message, user_id=customer or None):
                event = event_dict(raw)
                kind, data = event["type"], event["data"]
                if kind == "token":
                    history[-1]["content"] += data.get("text", "")
                elif kind == "products":
                    cards = data.get("products", [])
                elif kind == "action" and data.get("message"):
                    history.append({"role": "assistant", "content": f"*{data['message']}*"})
                elif kind == "handoff":
                    ticket = data.get("ticket_id")
                    history.append({"role": "assistant",
                                    "content": f"*Handed over to our team{f' (ticket {ticket})' if ticket else ''}.*"})
                elif kind == "done":
                    session_id = data.get("session") or session_id
                    reply_at = next(i for i in range(len(history) - 1, -1, -1) if history[i]["role"] == "user") + 1
                    history[reply_at]["content"] = data.get("reply", history[reply_at]["content"])  # the checked reply
                    cards = cards or data.get("products", [])
                yield history, "", session_id, cards_html(cards) if cards else gr.skip()
        except (AssistantError, RetrievalError) as exc:
            raise gr.Error(str(exc)) from exc

    def handoff(history: list[dict], session_id: str | None, customer: str) -> Iterator[tuple]:
        yield from respond(HANDOFF_MESSAGE, history, session_id, customer)

    def new_session() -> tuple:
        return [], None, "", "", None, ""

    def recommend(customer: str) -> str:
        if not customer:
            return cards_html([], "Choose a demo customer to see personal recommendations.")
        try:
            recs = components.recommender().recommend(customer, k=6)
            searcher = components.searcher()
        except (ImportError, RetrievalError) as exc:
            return cards_html([], f"Recommendations are unavailable: {exc}")
        cards = []
        for rec in recs:
            product = searcher.get(rec.product_id)
            if product is not None:
                cards.append(_card(product, rec.reason))
        return cards_html(cards, "No recommendations yet.")

    def view(customer: str, session_id: str | None, evt: gr.EventData) -> tuple[str, str]:
        product_id = evt.product_id
        product = components.searcher().get(product_id)
        if product is None:
            raise gr.Error(f"Product '{product_id}' is not in the index; re-run `shopbot index`.")
        if customer:
            from retrieval.recs.events import Event

            # through the recommender, so the shopper's profile (and the panel) updates at once
            components.recommender().record(Event(type="view", user_id=customer, product_id=product_id,
                                                  session_id=session_id, context="ui"))
        c = _card(product)
        detail = (f"**Viewing: {product.title}** — {_money(c['price'], c['currency'])}, "
                  f"{'in stock' if c['in_stock'] else 'out of stock'}"
                  + (f". Recorded a view for {customer}." if customer else ". Choose a demo customer to record views."))
        return detail, recommend(customer)

    def rate(history: list[dict], session_id: str | None, data: gr.LikeData) -> tuple[int | None, str]:
        index = data.index if isinstance(data.index, int) else data.index[0]
        liked = data.liked if isinstance(data.liked, bool) else data.liked == "Like"
        reply = _text(history[index]["content"]) if 0 <= index < len(history) else ""
        asked = next((_text(m["content"]) for m in reversed(history[:index]) if m["role"] == "user"), "")
        saved = components.feedback().add(1 if liked else -1, session_id=session_id, user_message=asked,
                                          reply=reply, source="ui")
        return saved.id, f"Thanks! Saved your {'thumbs up' if liked else 'thumbs down'}; add a comment below if you like."

    def comment(feedback_id: int | None, text: str) -> tuple[str, str]:
        if feedback_id is None:
            raise gr.Error("Rate a reply with thumbs up or down first, then add your comment.")
        components.feedback().set_comment(feedback_id, text)
        return "", "Comment saved. Thank you!"

    def operator_search(query: str) -> list[list]:
        if not (query or "").strip():
            raise gr.Error("Type a search query.")
        result = components.searcher().search(query, k=20)
        return [[h.product.id, h.product.title, h.product.price, h.product.stock, round(float(h.score), 4), "; ".join(h.why)]
                for h in result.hits]

    def operator_copy(product_id: str) -> str:
        product = components.searcher().get((product_id or "").strip())
        if product is None:
            raise gr.Error(f"No product with id '{product_id}'; search the catalog above and copy an id.")
        record = components.copywriter()(product)  # an assistant.copywriting.writer.CopyRecord
        if record.error:
            raise gr.Error(f"Copy for '{product.id}' failed: {record.error}")
        faith = record.faithfulness
        check = f"{faith.supported} of {faith.checked} claims supported by the product data"
        if faith.fallback:
            check += "; phrased from the record because no draft passed the check"
        bullets = "\n".join(f"- {b}" for b in record.bullets)
        return f"### {record.seo_title or record.title}\n\n{record.text}\n\n{bullets}\n\n*Checked: {check}.*"

    with gr.Blocks(title="Shopbot") as demo:
        session = gr.State(None)
        feedback_id = gr.State(None)
        gr.Markdown("## Shopbot — your shop's assistant")
        with gr.Tabs():
            with gr.Tab("Shop", id="shop"):
                with gr.Row():
                    with gr.Column(scale=3):
                        customer = gr.Dropdown(demo_customers(settings.shop_dir), value="", label="Demo customer",
                                               info="Signed-in customer for order questions and recommendations.",
                                               elem_id="customer")
                        chatbot = gr.Chatbot(label="Chat", height=440, elem_id="chat", feedback_options=("Like", "Dislike"),
                                             placeholder="Ask about products, your order, delivery or returns.")
                        with gr.Row():
                            message = gr.Textbox(show_label=False, placeholder="Type a message and press Enter",
                                                 scale=5, elem_id="message", max_lines=4)
                            send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
                        with gr.Row():
                            human = gr.Button("Talk to a human", elem_id="human")
                            new = gr.Button("New session", elem_id="new-session")
                        status = gr.Markdown(elem_id="status")
                        gr.Markdown("#### Products in this answer")
                        cards = gr.HTML("", elem_id="cards", js_on_load=_CARD_CLICKS)
                        with gr.Row():
                            comment_box = gr.Textbox(label="Comment on your rating (optional, helps us improve)", scale=5,
                                                     elem_id="comment")
                            comment_send = gr.Button("Save comment", scale=1, elem_id="comment-send")
                    with gr.Column(scale=2):
                        gr.Markdown("#### Recommended for you")
                        recs = gr.HTML(cards_html([], "Choose a demo customer to see personal recommendations."),
                                       elem_id="recs", js_on_load=_CARD_CLICKS)
                        viewing = gr.Markdown(elem_id="viewing")
            with gr.Tab("Operator", id="operator"):
                gr.Markdown("Search the indexed catalog and write product copy from product data.")
                with gr.Row():
                    query = gr.Textbox(label="Catalog search", scale=5, elem_id="op-query")
                    search_btn = gr.Button("Search", scale=1)
                results = gr.Dataframe(headers=["id", "title", "price", "stock", "score", "why"], interactive=False,
                                       elem_id="op-results")
                with gr.Row():
                    product_id = gr.Textbox(label="Product id", scale=5, elem_id="op-product")
                    copy_btn = gr.Button("Generate copy", scale=1)
                copy_out = gr.Markdown(elem_id="op-copy")

        chat_io = dict(inputs=[message, chatbot, session, customer], outputs=[chatbot, message, session, cards])
        turns = [
            message.submit(respond, **chat_io),
            send.click(respond, **chat_io),
            human.click(handoff, inputs=[chatbot, session, customer], outputs=[chatbot, message, session, cards]),
        ]
        # a new session (or customer) stops a reply still streaming into the old one
        reset = dict(outputs=[chatbot, session, message, cards, feedback_id, status], cancels=turns)
        new.click(new_session, **reset)
        customer.change(new_session, **reset).then(
            recommend, inputs=customer, outputs=recs)
        cards.click(view, inputs=[customer, session], outputs=[viewing, recs])
        recs.click(view, inputs=[customer, session], outputs=[viewing, recs])
        chatbot.like(rate, inputs=[chatbot, session], outputs=[feedback_id, status])
        comment_send.click(comment, inputs=[feedback_id, comment_box], outputs=[comment_box, status])
        query.submit(operator_search, inputs=query, outputs=results)
        search_btn.click(operator_search, inputs=query, outputs=results)
        copy_btn.click(operator_copy, inputs=product_id, outputs=copy_out)
        demo.load(recommend, inputs=customer, outputs=recs)

    demo.queue(default_concurrency_limit=4)
    return demo
