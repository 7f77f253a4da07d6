"""Product copy: descriptions, fact bullets and SEO titles written from product data, checked for faithfulness.

`write_copy(products, style, chat_model)` yields one `CopyRecord` per product, a batch at a time:
the local model generates a whole batch in one padded `generate_batch` call (KV cache, sorted by prompt
length so padding stays small); an OpenAI-compatible endpoint gets `workers` concurrent requests.
Every draft is checked with `assistant.copywriting.claims`; with the default style a draft that makes unsupported
claims is regenerated once with those claims named, then any sentence still unsupported is dropped, so the
final copy states nothing the record does not. Bullets and the SEO title are phrased from the record
itself, never generated. `generate_copy(product, style, chat_model)` does the same for one product.

The resumable JSONL output is `assistant.copywriting.journal`; scoring against real descriptions (`shopbot copy
eval`) is `assistant.copywriting.evaluate`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assistant.copywriting.claims import Claim, Evidence, check_text, normalise, restatements, split_sentences
from assistant.errors import AssistantError, ConfigError
from retrieval.catalog import Product

logger = logging.getLogger(__name__)

STYLES_DIR = Path(__file__).parent / "styles"
DEFAULT_STYLE = STYLES_DIR / "default.yaml"
PIPELINE_VERSION = "3"  # part of every input hash: bump it when the output for the same input changes
_WORDS = {"short": 40, "medium": 80, "long": 140}
_LANGUAGES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian", "nl": "Dutch",
              "pt": "Portuguese", "sv": "Swedish", "da": "Danish", "nb": "Norwegian", "fi": "Finnish", "pl": "Polish",
              "cs": "Czech", "tr": "Turkish", "ja": "Japanese", "zh": "Chinese", "ko": "Korean"}
# models known to write English only: other locales get a warning (the copy would be English or broken)
_ENGLISH_ONLY_MODELS = ("bundled:smollm2", "smollm2")
_PROMPT_BULLETS = 5  # of the record's bullets shown to the model, each cut to _BULLET_CHARS at a word
_BULLET_CHARS = 160  # (a 135M model reads a short prompt better, and each prompt token costs training time)
_PLACEHOLDER = re.compile(r"\[[^\]]{2,40}\]|\{[^}]{2,40}\}|<[^>]{2,40}>")
_PREAMBLE = re.compile(r"^(?:sure|certainly|here(?:'s| is)|product description|description|title)\b[^.!?:\"]*[:\"]\s*",
                       re.IGNORECASE)
# sentences about the task rather than the product ("Here is a description...", "using only the facts")
_META = re.compile(r"\b(?:facts?|product description|description|prompt|word count|words?|as an ai|copywriter|"
                   r"online shop)\b|^(?:sure|certainly|"
                   r"here(?:'s| is)|i hope|let me know|note)\b", re.IGNORECASE)


class CopyError(AssistantError):
    """A product's copy could not be generated (recorded in its `error`, the batch goes on)."""


class CopyStyle(BaseModel):
    """How copy reads; loaded from YAML (`assistant/copywriting/styles/default.yaml` documents every key)."""

    model_config = ConfigDict(extra="forbid")

    language: str = Field("English", min_length=2, description="Language of the copy, passed to the model.")
    locale: str = Field(
        "en", pattern=r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$",
        description="BCP 47 tag of the copy's language (en, en-GB, de-DE, fr); the bundled model writes English only.",
    )
    tone: str = Field("friendly and clear", min_length=2)
    length: Literal["short", "medium", "long"] = Field("medium", description="~40, ~80 or ~140 words.")
    format: Literal["paragraph", "bullets"] = Field("paragraph", description="bullets: one '- ' sentence a line.")
    bullets: int = Field(5, ge=0, le=12, description="Fact bullets phrased from the record.")
    seo_title_max_chars: int = Field(60, ge=20, le=200)
    brand_voice_examples: list[str] = Field(default_factory=list, max_length=5)
    forbidden_words: list[str] = Field(default_factory=list)
    faithfulness: Literal["regenerate", "drop", "flag"] = Field(
        "regenerate", description="Unsupported sentences: regenerate once then drop, drop, or keep and flag."
    )

    @model_validator(mode="after")
    def _language_of_locale(self) -> CopyStyle:
        primary = self.locale.replace("_", "-").split("-")[0].lower()
        if "language" not in self.model_fields_set:  # the language follows the locale unless set too
            if primary not in _LANGUAGES:
                raise ValueError(f"locale '{self.locale}': set `language` too (the language's name as the model "
                                 f"should read it); known without it: {sorted(_LANGUAGES)}")
            name = _LANGUAGES[primary]
            if self.locale.replace("_", "-").lower() in ("en-gb", "en-au", "en-ie", "en-nz"):
                name = "British English"
            self.language = name
        return self

    @property
    def english(self) -> bool:
        """Whether the copy is English (the claim lexicons and the non-word check are English)."""
        return self.locale.replace("_", "-").split("-")[0].lower() == "en"

    @property
    def words(self) -> int:
        return _WORDS[self.length]

    @property
    def max_new_tokens(self) -> int:
        return int(self.words * 1.6) + 24  # ~1.3 tokens a word plus room to finish the sentence

    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:12]


def warn_if_unwritable(style: CopyStyle, model: str) -> str | None:
    """A warning (logged and returned) when `style` asks for a language `model` is known not to write."""
    if style.english or not any(m in model.lower() for m in _ENGLISH_ONLY_MODELS):
        return None
    message = (f"style locale '{style.locale}' asks for {style.language} copy, but {model} writes English only: "
               "expect English or broken text. Use a multilingual model (SHOPBOT_LLM__MODEL) for this locale. "
               "The claim checker's word lists are English, so the non-word check is off for this locale.")
    logger.warning(message)
    return message


def load_style(path: Path | None = None) -> CopyStyle:
    """The style in `path` (YAML; missing keys keep their defaults), or the default style."""
    import yaml

    path = Path(path) if path else DEFAULT_STYLE
    if not path.is_file():
        raise ConfigError(f"Style file '{path}' does not exist; pass an existing YAML file with --style "
                          f"(see {DEFAULT_STYLE} for every key).")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"Style file '{path}' is not valid YAML: {exc}".replace("\n", " ")) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"Style file '{path}' must be a mapping of keys to values, got {type(data).__name__}.")
    try:
        return CopyStyle.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "-"
        known = sorted(CopyStyle.model_fields)
        hint = f"known keys: {known}" if err["type"] == "extra_forbidden" else (
            f"got {err.get('input')!r}" if err["type"] != "value_error" else "see the locale and language keys")
        raise ConfigError(f"Style file '{path}', key '{key}': {err['msg']} ({hint}).") from exc


# ---------------------------------------------------------------- records


class Faithfulness(BaseModel):
    """Claims found in the final copy and whether the record supports each; how the draft was repaired."""

    checked: int = 0
    supported: int = 0
    claims: list[Claim] = Field(default_factory=list)
    draft_checked: int = 0  # claims in the first draft, before any repair
    draft_unsupported: int = 0
    regenerated: bool = False
    dropped_sentences: int = 0
    fallback: bool = False  # nothing generated survived: the copy was phrased from the record

    @property
    def unsupported(self) -> list[str]:
        return [c.text for c in self.claims if not c.supported]


class CopyRecord(BaseModel):
    """One line of the output JSONL. `copy` is the description; `error` is set when generation failed."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    title: str
    text: str = Field("", alias="copy")
    bullets: list[str] = Field(default_factory=list)
    seo_title: str = ""
    faithfulness: Faithfulness = Field(default_factory=Faithfulness)
    model: str = ""
    timings: dict[str, float] = Field(default_factory=dict)  # seconds; generation time is the batch's share
    input_hash: str = ""
    error: str | None = None

    def to_json(self) -> str:
        return json.dumps(self.model_dump(by_alias=True, mode="json"), ensure_ascii=False)


def input_hash(product: Product, style: CopyStyle, model_name: str) -> str:
    """Changes whenever the product, the style, the model or this pipeline changes."""
    key = "\n".join([product.model_dump_json(), style.model_dump_json(), model_name, PIPELINE_VERSION])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def model_name_of(chat_model: Any) -> str:
    return str(getattr(chat_model, "model_name", None) or type(chat_model).__name__)


# ---------------------------------------------------------------- prompts


_DISPLAY_UNITS = {"g": "g", "kg": "kg", "l": "L", "ml": "ml", "cm": "cm", "mm": "mm", "m": "m", "in": "in",
                  "w": "W", "v": "V", "mah": "mAh", "h": "h", "gb": "GB", "c": "°C", "years": "years",
                  "months": "months", "gsm": "gsm", "g_m2": "g/m²", "m2": "m²", "persons": "persons", "lm": "lm",
                  "min": "min", "oz": "oz", "lb": "lb"}
_KEY_UNIT = re.compile(r"_(" + "|".join(sorted(_DISPLAY_UNITS, key=len, reverse=True)) + r")$")


def _humanise(key: str) -> str:
    """`temperature_rating_c` -> "Temperature rating" (the unit goes after the value)."""
    return _KEY_UNIT.sub("", key).replace("_", " ").strip().capitalize()


def _unit_of(key: str) -> str:
    m = _KEY_UNIT.search(key)
    return _DISPLAY_UNITS[m.group(1)] if m else ""


def fact_lines(product: Product) -> list[str]:
    """The record's facts as short `Name: value` lines (what the model sees, and the bullets' source)."""
    lines = []
    for key, value in product.attributes.items():
        if isinstance(value, bool):
            lines.append(_humanise(key) if value else f"Not {_humanise(key).lower()}")
        elif isinstance(value, list):
            lines.append(f"{_humanise(key)}: {', '.join(str(v) for v in value)}")
        else:
            unit = _unit_of(key)
            lines.append(f"{_humanise(key)}: {value}{' ' + unit if unit else ''}")
    keys = {k.lower() for k in product.attributes}
    if product.sizes:
        lines.append(f"Sizes: {', '.join(product.sizes)}")
    colours = sorted({v.colour for v in product.variants if v.colour})
    if colours and not keys & {"colour", "color", "colours", "colors"}:
        lines.append(f"Colours: {', '.join(colours)}")
    return lines


def _title_parts(title: str) -> list[str]:
    """A marketplace title split at " - ", " | " and commas (not inside parentheses): name first, then features."""
    parts, depth, current = [], 0, ""
    for token in re.split(r"(\s+[-–—|]\s+|\s*\|\s*|,\s+|[()])", title):
        if token in ("(", ")"):
            depth += 1 if token == "(" else -1
            current += token
        elif depth <= 0 and re.fullmatch(r"\s+[-–—|]\s+|\s*\|\s*|,\s+", token or "x"):
            parts.append(current)
            current = ""
        else:
            current += token
    parts.append(current)
    parts = [p.strip(" ,.-–|") for p in parts]
    return [p[0].upper() + p[1:] for p in parts if len(p) > 2]


def _title_fragments(product: Product) -> list[str]:
    return _title_parts(product.title)[1:]


def prompt_messages(product: Product, style: CopyStyle, avoid: Sequence[str] = ()) -> list[dict[str, str]]:
    """The system + user turns asking for `product`'s description, as `{"role", "content"}` dicts.

    The one prompt of product copy: `copy generate` sends it (`build_messages`), and the copy adapter is
    trained on it (`assistant.copywriting.training`), so the adapter sees at run time exactly what it learnt
    from. It holds the title, brand, category, attributes, variants' sizes and colours and up to 5 bullets;
    never the record's own description, which is what is being written (and the training target).
    `avoid` names claims to leave out (the regeneration request).
    """
    from prompts.loader import render

    facts = [f"Name: {product.title}"]
    if product.brand:
        facts.append(f"Brand: {product.brand}")
    if product.category:
        facts.append(f"Category: {' > '.join(product.category)}")
    facts += fact_lines(product)
    facts += [f"Feature: {_clip(b, _BULLET_CHARS)}" for b in product.bullets[:_PROMPT_BULLETS]]
    voice = ""
    if style.brand_voice_examples:
        voice = "\nExamples of the shop's voice (tone only, not facts):\n" + "\n".join(
            f"- {e}" for e in style.brand_voice_examples
        )
    forbidden = f"\nNever use these words: {', '.join(style.forbidden_words)}." if style.forbidden_words else ""
    system = render("copy_system", language=style.language, tone=style.tone, voice=voice).strip()
    request = render("copy_user", facts="\n".join(facts), words=style.words, language=style.language,
                     avoid=forbidden).strip()
    if avoid:
        request = render("copy_repair", request=request, unsupported=", ".join(f'"{a}"' for a in avoid)).strip()
    return [{"role": "system", "content": system}, {"role": "user", "content": request}]


def _clip(text: str, chars: int) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= chars else text[:chars].rsplit(" ", 1)[0].rstrip(" ,;:-") + " ..."


def build_messages(product: Product, style: CopyStyle, avoid: Sequence[str] = ()) -> list[Any]:
    """`prompt_messages` as LangChain messages (what the chat models take)."""
    from langchain_core.messages import HumanMessage, SystemMessage

    system, user = prompt_messages(product, style, avoid)
    return [SystemMessage(content=system["content"]), HumanMessage(content=user["content"])]


# ---------------------------------------------------------------- generation


def _complete(chat_model: Any, conversations: list[list[Any]], max_new_tokens: int, workers: int) -> list[str | Exception]:
    """Replies for each conversation, or the exception that stopped it; one bad item never sinks the rest."""
    if not conversations:
        return []
    if hasattr(chat_model, "generate_batch"):
        return _complete_local(chat_model, conversations, max_new_tokens)

    def one(messages: list[Any]) -> str | Exception:
        try:
            return str(chat_model.invoke(messages).content)
        except Exception as exc:  # recorded on the product; the batch goes on
            return exc

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, conversations))


def _complete_local(chat_model: Any, conversations: list[list[Any]], max_new_tokens: int) -> list[str | Exception]:
    limit = chat_model.context_length()
    results: list[str | Exception] = [CopyError("not generated")] * len(conversations)
    ok: list[int] = []
    for i, messages in enumerate(conversations):
        n = chat_model.prompt_tokens(messages)
        if n + max_new_tokens > limit:
            results[i] = CopyError(f"prompt is {n} tokens; with {max_new_tokens} new tokens it exceeds the model's "
                                   f"context of {limit}; shorten the product's title or attributes")
        else:
            ok.append(i)
    if not ok:
        return results
    try:
        replies = chat_model.generate_batch([conversations[i] for i in ok], max_new_tokens=max_new_tokens)
        for i, reply in zip(ok, replies, strict=True):
            results[i] = reply
    except Exception as exc:  # e.g. out of memory: retry one by one so only the culprit fails
        if len(ok) == 1:
            results[ok[0]] = exc
            return results
        logger.warning("batch of %d failed (%s); retrying one at a time", len(ok), exc)
        for i in ok:
            results[i] = _complete_local(chat_model, [conversations[i]], max_new_tokens)[0]
    return results


def clean_draft(raw: str, style: CopyStyle, title: str = "") -> str:
    """Model output -> plain sentences: no markdown, preamble, placeholders, repeats or near-repeats, echoed
    title, cut-off last sentence or forbidden words."""
    text = re.sub(r"[*_#`]+", "", raw)
    text = _PREAMBLE.sub("", text.strip())
    echo = re.match(rf"(?:the\s+)?{re.escape(title)}", text, re.IGNORECASE) if title else None
    if echo:  # the title echoed, often without a full stop before the first real sentence
        rest = text[echo.end() :].lstrip(" .:-–")
        # "<title> is a ..." keeps its subject: without it the copy would open "Is a ..."
        subject = re.match(r"\s*(?:is|are|was|has|have|offers?|features?|comes?|provides?|makes?|brings?|lets?|will|can)\b",
                           text[echo.end():])
        text = rest if len(rest.split()) >= 3 and not subject else text
    sentences: list[str] = []
    seen: list[set[str]] = []
    for sentence in split_sentences(text):
        sentence = _PREAMBLE.sub("", sentence).strip().strip('"')
        sentence = remove_forbidden(sentence, style.forbidden_words)
        words = set(re.findall(r"\w+", normalise(sentence)))
        if len(sentence.split()) < 3 or _PLACEHOLDER.search(sentence) or _META.search(sentence):
            continue
        if any(len(words & other) >= 0.7 * min(len(words), len(other)) for other in seen):
            continue  # small models repeat themselves with small variations
        seen.append(words)
        sentences.append(sentence)
    if sentences and not sentences[-1].endswith((".", "!", "?")):
        sentences.pop()  # cut off by the token limit
    return " ".join(sentences)


def remove_forbidden(text: str, words: Sequence[str]) -> str:
    """`text` without any forbidden word or phrase (whole words, case-insensitive), spacing repaired."""
    for word in words:
        text = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", "", text, flags=re.IGNORECASE)
    text = re.sub(r"\s+([,.;:!?])", r"\1", re.sub(r"\s{2,}", " ", text)).strip(" ,;:")
    return text[:1].upper() + text[1:]


def fact_bullets(product: Product, style: CopyStyle) -> list[str]:
    """Up to `style.bullets` bullets phrased from the record: attributes, variants, title parts, own bullets."""
    candidates = fact_lines(product) + _title_fragments(product)
    candidates += [b if len(b) <= 160 else b[:157].rsplit(" ", 1)[0] + "..." for b in product.bullets]
    if product.brand:
        candidates.append(f"Brand: {product.brand}")
    out: list[str] = []
    seen: set[str] = set()
    for candidate in candidates:
        candidate = remove_forbidden(candidate, style.forbidden_words)
        if len(candidate) > 1 and normalise(candidate) not in seen:
            seen.add(normalise(candidate))
            out.append(candidate)
    return out[: style.bullets]


def seo_title(product: Product, style: CopyStyle) -> str:
    """Brand + title, cut at a word boundary to `style.seo_title_max_chars`."""
    title = product.title
    if product.brand and product.brand.lower() not in title.lower():
        title = f"{product.brand} {title}"
    title = remove_forbidden(title, style.forbidden_words)
    if len(title) > style.seo_title_max_chars:
        title = title[: style.seo_title_max_chars + 1].rsplit(" ", 1)[0]
    return title.rstrip(" ,;:-–|/(")


def _fallback(product: Product, style: CopyStyle) -> str:
    """A description phrased only from the record, for when nothing generated survives the check."""
    parts = _title_parts(product.title) or [product.title]
    name = parts[0]
    sentences = [f"{name} by {product.brand}." if product.brand and product.brand.lower() not in name.lower() else f"{name}."]
    sentences += [f"{p.rstrip('.')}." for p in parts[1:4]]
    colours = product.colours
    if colours:
        sentences.append(f"Available in {', '.join(colours)}.")
    keys = {"colour", "color"}
    sentences += [f"{line}." for line in fact_lines(product) if line.split(":")[0].lower() not in keys][:3]
    return " ".join(remove_forbidden(s, style.forbidden_words) for s in sentences)


def _fit(sentences: list[str], words: int) -> list[str]:
    """Whole sentences up to ~`words` words (always at least one)."""
    out, total = [], 0
    for sentence in sentences:
        n = len(sentence.split())
        if out and total + n > words * 1.25:
            break
        out.append(sentence)
        total += n
    return out


def _finish(product: Product, style: CopyStyle, evidence: Evidence, drafts: list[str], faith: Faithfulness) -> str:
    """The final copy from the drafts (newest first), with unsupported sentences dropped unless flagging."""
    chosen: list[str] = []
    if style.faithfulness == "flag":
        chosen = split_sentences(drafts[0])
    else:
        for draft in drafts:
            claims = check_text(draft, evidence, english=style.english)
            bad = {c.sentence for c in claims if not c.supported}
            kept = [s for i, s in enumerate(split_sentences(draft)) if i not in bad]
            # a sentence repeating the title or a bullet is not copy a shop would publish: left out when others remain
            restated = set(restatements(" ".join(kept), evidence))
            kept = [s for i, s in enumerate(kept) if i not in restated] if len(restated) < len(kept) else kept
            if kept:
                faith.dropped_sentences = len(bad)
                chosen = kept
                break
    if not chosen:
        faith.fallback = True
        chosen = split_sentences(_fallback(product, style))
    chosen = _fit(chosen, style.words)
    if style.format == "bullets":
        return "\n".join(f"- {s}" for s in chosen)
    return " ".join(chosen)


def write_copy(
    products: Sequence[Product],
    style: CopyStyle,
    chat_model: Any,
    *,
    batch_size: int = 16,
    workers: int = 4,
) -> Iterator[list[CopyRecord]]:
    """Yield the records of each finished batch (write them before asking for the next).

    Args:
        products: what to write copy for (all of them: filter done ones with `pending` first).
        style: the copy style.
        chat_model: `LocalChatModel` (batched) or any LangChain chat model (e.g. `ChatOpenAI`; `workers`
            concurrent requests).
        batch_size: products per generation batch (local) or per journal flush (endpoint).
        workers: concurrent requests to an endpoint.
    """
    model = model_name_of(chat_model)
    ordered = list(products)
    if hasattr(chat_model, "generate_batch"):  # similar prompt lengths share a batch: less padding
        ordered.sort(key=lambda p: len(p.title) + sum(len(b[:_BULLET_CHARS]) for b in p.bullets[:_PROMPT_BULLETS]))
    for start in range(0, len(ordered), max(1, batch_size)):
        yield _write_batch(ordered[start : start + batch_size], style, chat_model, model, workers)


def _write_batch(batch: list[Product], style: CopyStyle, chat_model: Any, model: str, workers: int) -> list[CopyRecord]:
    t0 = time.perf_counter()
    errors: dict[int, str] = {}
    conversations = []
    for i, product in enumerate(batch):
        try:
            conversations.append(build_messages(product, style))
        except Exception as exc:  # a product the prompt cannot be built from is recorded, not fatal
            errors[i] = f"{type(exc).__name__}: {exc}"
            conversations.append(None)
    live = [i for i, c in enumerate(conversations) if c is not None]
    replies = dict(zip(live, _complete(chat_model, [conversations[i] for i in live], style.max_new_tokens, workers),
                       strict=True))
    t_generate = time.perf_counter() - t0

    evidence = {i: Evidence.of(p) for i, p in enumerate(batch)}
    drafts: dict[int, list[str]] = {}
    faith = {i: Faithfulness() for i in range(len(batch))}
    repair: dict[int, list[str]] = {}
    for i, reply in replies.items():
        if isinstance(reply, Exception):
            errors[i] = f"{type(reply).__name__}: {reply}"
            continue
        draft = clean_draft(reply, style, batch[i].title)
        claims = check_text(draft, evidence[i], english=style.english)
        faith[i].draft_checked = len(claims)
        faith[i].draft_unsupported = sum(not c.supported for c in claims)
        drafts[i] = [draft]
        if faith[i].draft_unsupported and style.faithfulness == "regenerate":
            repair[i] = sorted({c.text for c in claims if not c.supported})

    t1 = time.perf_counter()
    order = list(repair)
    redo = _complete(chat_model, [build_messages(batch[i], style, avoid=repair[i]) for i in order],
                     style.max_new_tokens, workers)
    for i, reply in zip(order, redo, strict=True):
        faith[i].regenerated = True
        if not isinstance(reply, Exception):  # a failed retry keeps the first draft
            drafts[i].insert(0, clean_draft(reply, style, batch[i].title))
    t_repair = time.perf_counter() - t1

    records = []
    share = 1 / len(batch)
    for i, product in enumerate(batch):
        t2 = time.perf_counter()
        record = CopyRecord(id=product.id, title=product.title, model=model, input_hash=input_hash(product, style, model))
        if i in errors:
            record.error = errors[i]
        else:
            text = _finish(product, style, evidence[i], drafts[i], faith[i])
            claims = check_text(text, evidence[i], english=style.english)
            faith[i].claims = claims
            faith[i].checked = len(claims)
            faith[i].supported = sum(c.supported for c in claims)
            record.text = text
            record.bullets = fact_bullets(product, style)
            record.seo_title = seo_title(product, style)
            record.faithfulness = faith[i]
        record.timings = {
            "generate_s": round(t_generate * share, 4),
            "repair_s": round(t_repair * share, 4),
            "check_s": round(time.perf_counter() - t2, 4),
            "batch_s": round(time.perf_counter() - t0, 4),
            "batch_size": float(len(batch)),
        }
        records.append(record)
    return records


def generate_copy(product: Product, style: CopyStyle | None, chat_model: Any) -> CopyRecord:
    """Copy for one product (what the API and UI call). A failure is in the record's `error`."""
    return next(write_copy([product], style or load_style(), chat_model, batch_size=1, workers=1))[0]
