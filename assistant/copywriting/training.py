"""Training examples for the shop's copywriting adapter, and where that adapter lives.

`copy_examples(products, style)` turns catalog records that already have a real description into
`finetune.copy_data.CopyExample`s: the prompt is `writer.prompt_messages` (the exact prompt `copy generate`
sends) of the record with its description removed, the target is that description as a shop would publish it
after the claim checker: sentences that state something the record does not (a claim it does not support,
a non-word) or that restate the title or a bullet are left out, and a record whose description is mostly
such sentences is left out whole (it would teach the model to invent). Held-out products are not filtered
here: `finetune` drops them by `finetune.copy_data.split_of`, and `copy eval --split test` scores them.

`shop_copy_adapter(settings)` is `<home>/adapters/<shop>-copy`, where `<shop>` is the shop profile's name
as a slug (`trailhead-hearth-copy` for the demo shop).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from assistant.copywriting.claims import Evidence, check_text, restatements, split_sentences
from assistant.copywriting.writer import CopyStyle, clean_draft, prompt_messages
from finetune.copy_data import CopyExample
from retrieval.catalog import Product

logger = logging.getLogger(__name__)

__all__ = ["copy_examples", "copy_target", "shop_copy_adapter", "shop_slug"]

MIN_KEPT_SHARE = 0.5  # of a description's sentences that must survive the checker, else the record is left out
MIN_TARGET_WORDS = 25
MAX_TARGET_WORDS = 80  # the default style's "medium" (80 words): the adapter learns the length it is asked for


def copy_target(product: Product, style: CopyStyle) -> tuple[str | None, str]:
    """The training target for `product` (None when it has none) and why: "ok", "no_description",
    "unsupported" (too many sentences state what the record does not) or "too_short"."""
    if not product.description.strip():
        return None, "no_description"
    evidence = Evidence.of(product.model_copy(update={"description": ""}))
    description = re.sub(r"\s+", " ", product.description).strip()
    sentences = split_sentences(description)
    bad = {c.sentence for c in check_text(description, evidence) if not c.supported}
    bad |= set(restatements(description, evidence))
    kept = [s for i, s in enumerate(sentences) if i not in bad]
    if len(kept) < MIN_KEPT_SHARE * len(sentences):
        return None, "unsupported"
    text = clean_draft(" ".join(kept), style, product.title)
    out, words = [], 0
    for sentence in split_sentences(text):
        n = len(sentence.split())
        if out and words + n > MAX_TARGET_WORDS:
            break
        out.append(sentence)
        words += n
    if words < MIN_TARGET_WORDS or words > MAX_TARGET_WORDS * 1.5:
        return None, "too_short" if words < MIN_TARGET_WORDS else "too_long"
    return " ".join(out), "ok"


def copy_examples(products: Iterable[Product], style: CopyStyle) -> tuple[list[CopyExample], dict[str, Any]]:
    """Examples for every product with a usable description, and counts of what was left out and why."""
    examples: list[CopyExample] = []
    reasons: dict[str, int] = {}
    n = 0
    for product in products:
        n += 1
        target, why = copy_target(product, style)
        reasons[why] = reasons.get(why, 0) + 1
        if target is None:
            continue
        prompt = prompt_messages(product.model_copy(update={"description": ""}), style)
        examples.append(CopyExample(id=product.id, prompt=prompt, target=target))
    stats = {"products": n, "examples": len(examples), "left_out": {k: v for k, v in reasons.items() if k != "ok"},
             "style": style.model_dump(mode="json")}
    logger.info("copy examples: %d of %d products (%s left out)", len(examples), n, stats["left_out"])
    return examples, stats


def shop_slug(settings: Any) -> str:
    """The shop's name as a folder-safe slug: the profile's name, else the shop folder's name."""
    from assistant.errors import ConfigError
    from assistant.shop.data import load_profile

    try:
        name = load_profile(settings.shop_dir).name
    except ConfigError:
        name = Path(settings.shop_dir).name
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "shop"


def shop_copy_adapter(settings: Any) -> Path:
    """`<home>/adapters/<shop>-copy`: where `finetune train --task copy` writes and `copy generate` looks."""
    return settings.adapters_dir / f"{shop_slug(settings)}-copy"


def copy_chat_model(settings: Any, adapter: str = "auto") -> tuple[Any, str]:
    """The chat model `copy generate` writes with, and a line saying which adapter it uses.

    Args:
        settings: the assistant's settings.
        adapter: "auto" (the shop's copy adapter `<home>/adapters/<shop>-copy` when it exists, else the
            configured `llm.adapter`), "none" (the base model) or an adapter folder / name under
            `<home>/adapters`. With an OpenAI-compatible endpoint the adapter is served by the endpoint
            (vLLM: `--enable-lora --lora-modules <name>=<folder>`): a name selects that served model, "auto"
            and "none" keep `llm.model`.

    Raises:
        ModelNotAvailableError: a named adapter does not exist.
    """
    from assistant.conversation.llm import build_chat_model, resolve_adapter

    llm = settings.llm
    if llm.provider == "openai":
        if adapter in ("auto", "none"):
            return build_chat_model(settings), f"endpoint model {llm.model}"
        served = settings.model_copy(update={"llm": llm.model_copy(update={"model": adapter})})
        return build_chat_model(served), f"endpoint model {adapter} (the served copy adapter)"
    if adapter == "none":
        chosen, why = None, "base model, no adapter (--adapter none)"
    elif adapter == "auto":
        own = shop_copy_adapter(settings)
        if (own / "adapter_config.json").is_file():
            chosen, why = str(own), f"the shop's copy adapter {own}"
        else:
            chosen = resolve_adapter(settings, llm.adapter)
            why = f"adapter {chosen} (llm.adapter)" if chosen else f"base model (no copy adapter at {own})"
    else:
        chosen = resolve_adapter(settings, adapter)
        why = f"adapter {chosen}"
    local = settings.model_copy(update={"llm": llm.model_copy(update={"adapter": chosen})})
    return build_chat_model(local), why
