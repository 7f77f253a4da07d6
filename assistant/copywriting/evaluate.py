"""Scoring generated product copy against a catalog's real text (`shopbot copy eval`).

The generator sees title, brand, category and attributes only; its copy is compared with the hidden real
bullets + description (ROUGE-L), checked for how many attribute values it names, and its claims are
counted (the final copy, and the first drafts before repair).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from assistant.copywriting.claims import normalise
from assistant.copywriting.journal import CopyJournal, pending
from assistant.copywriting.writer import CopyRecord, CopyStyle, load_style, model_name_of, write_copy
from retrieval.catalog import Product


def attribute_values(product: Product) -> list[str]:
    """The product's attribute values as text (brand included), for coverage."""
    values = [product.brand] if product.brand else []
    for key, value in product.attributes.items():
        if isinstance(value, bool):
            if value:
                values.append(key.replace("_", " "))
        elif isinstance(value, list):
            values += [str(v) for v in value]
        else:
            values.append(str(value))
    return [v for v in values if v.strip()]


def mentioned(value: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(normalise(value))}(?!\w)", normalise(text)) is not None


def hide_reference(product: Product) -> Product:
    """The product as the generator sees it in an evaluation: no bullets, no description."""
    return product.model_copy(update={"bullets": [], "description": ""})


def score_copy(products: Sequence[Product], records: Iterable[CopyRecord]) -> dict[str, Any]:
    """Score copy records against the real bullets + description of `products` (matched by id).

    Returns `rougeL` (mean F1 of the copy against the real bullets + description), `attribute_coverage`
    (share of attribute values, brand included, named in the copy or its bullets), `attribute_coverage_copy`
    (in the generated copy alone), `unsupported_claim_rate` (final copy), `draft_unsupported_claim_rate`
    (first drafts, before any repair) and counts.
    """
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    by_id = {p.id: p for p in products}
    rouge, coverage, coverage_copy = [], [], []
    n = checked = unsupported = draft_checked = draft_unsupported = failed = regenerated = fallback = 0
    for record in records:
        product = by_id.get(record.id)
        if product is None:
            continue
        n += 1
        if record.error:
            failed += 1
            continue
        reference = "\n".join(product.bullets + [product.description]).strip()
        rouge.append(scorer.score(reference, record.text)["rougeL"].fmeasure)
        values = attribute_values(product)
        if values:
            full = record.text + "\n" + "\n".join(record.bullets)
            coverage.append(sum(mentioned(v, full) for v in values) / len(values))
            coverage_copy.append(sum(mentioned(v, record.text) for v in values) / len(values))
        f = record.faithfulness
        checked += f.checked
        unsupported += f.checked - f.supported
        draft_checked += f.draft_checked
        draft_unsupported += f.draft_unsupported
        regenerated += f.regenerated
        fallback += f.fallback

    def mean(xs: list[float]) -> float:
        return round(sum(xs) / len(xs), 4) if xs else 0.0

    return {
        "rougeL": mean(rouge),
        "attribute_coverage": mean(coverage),
        "attribute_coverage_copy": mean(coverage_copy),
        "unsupported_claim_rate": round(unsupported / checked, 4) if checked else 0.0,
        "draft_unsupported_claim_rate": round(draft_unsupported / draft_checked, 4) if draft_checked else 0.0,
        "products": n,
        "failed": failed,
        "claims_checked": checked,
        "claims_unsupported": unsupported,
        "draft_claims_checked": draft_checked,
        "regenerated": regenerated,
        "fallback": fallback,
    }


def evaluate_copy(
    products: Sequence[Product],
    chat_model: Any,
    style: CopyStyle | None = None,
    *,
    batch_size: int = 16,
    workers: int = 4,
    out: Path | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Generate copy from title + attributes only (bullets and description hidden) and `score_copy` it.

    Products without bullets or description are skipped (nothing to compare with). With `out`, records are
    also appended to that copy JSONL and a re-run reuses the ones already there (a long evaluation can be
    stopped and resumed). Adds `products_per_minute` (generation and checking of the products generated
    in this run, model loading excluded; from the stored timings when all were reused), `model`, `seconds`.
    """
    style = style or load_style()
    usable = [p for p in products if p.bullets or p.description]
    hidden = [hide_reference(p) for p in usable]
    model = model_name_of(chat_model)
    journal = CopyJournal(out) if out else nullcontext()
    with journal as j:
        done = j.records() if out else {}
        todo = pending(hidden, done, style, model)
        todo_ids = {p.id for p in todo}
        records = [done[p.id] for p in hidden if p.id not in todo_ids]
        if progress is not None:
            progress.update(len(records))
        if todo and hasattr(chat_model, "load"):
            chat_model.load()  # loading is not generation: keep it out of products_per_minute
        start = time.perf_counter()
        for batch in write_copy(todo, style, chat_model, batch_size=batch_size, workers=workers):
            for record in batch:
                if out:
                    j.append(record)
                records.append(record)
            if progress is not None:
                progress.update(len(batch))
        elapsed = time.perf_counter() - start
    report = score_copy(usable, records)
    if todo:
        report["products_per_minute"] = round(len(todo) / elapsed * 60, 2)
    else:  # everything reused: what the stored timings say
        spent = sum(r.timings.get("generate_s", 0) + r.timings.get("repair_s", 0) + r.timings.get("check_s", 0)
                    for r in records)
        report["products_per_minute"] = round(len(records) / spent * 60, 2) if spent else 0.0
    report["generated_now"] = len(todo)
    report["skipped_without_reference"] = len(products) - len(usable)
    report["model"] = model
    report["seconds"] = round(elapsed, 1)
    return report
