"""Scoring generated product copy against a catalog's real descriptions (`shopbot copy eval`).

The generator sees what `copy generate` sends (title, brand, category, attributes, bullets; never the
description), and its copy is compared with the hidden real description (ROUGE-L). Products are the
held-out split (`finetune.copy_data.split_of(id) == "test"`, fixed by a hash of the id before any training)
unless asked otherwise, so a copy adapter is scored on products it never saw. Reported per model:
`rougeL`, `attribute_coverage`, `unsupported_rate` (factual claims the record does not support, final copy),
`restatement_rate` (sentences repeating the title or a bullet nearly verbatim), `nonword_rate` (words in no
dictionary and not in the record, per word of copy) and `fallback_rate` (copy phrased from the record because
nothing generated survived the check). `compare_copy` scores several models on the same products in one run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from assistant.copywriting.claims import Evidence, normalise, restatements, split_sentences
from assistant.copywriting.journal import CopyJournal, pending
from assistant.copywriting.writer import CopyRecord, CopyStyle, load_style, model_name_of, write_copy
from finetune.copy_data import split_of
from retrieval.catalog import Product

SPLITS = ("test", "train", "val", "all")


def select_split(products: Iterable[Product], split: str = "test") -> list[Product]:
    """The products of `split` ("test": held out from copy training; "all": every product) with a description.

    Raises:
        ValueError: an unknown split name.
    """
    if split not in SPLITS:
        raise ValueError(f"Unknown split '{split}'; expected one of {list(SPLITS)}.")
    return [p for p in products if p.description.strip() and (split == "all" or split_of(p.id) == split)]


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
    """The product as the generator sees it in an evaluation: no description (the reference)."""
    return product.model_copy(update={"description": ""})


def score_copy(products: Sequence[Product], records: Iterable[CopyRecord]) -> dict[str, Any]:
    """Score copy records against the real descriptions of `products` (matched by id).

    Returns `rougeL` (mean F1 of the copy against the real description), `attribute_coverage` (share of
    attribute values, brand included, named in the copy or its bullets), `attribute_coverage_copy` (in the
    generated copy alone), `unsupported_rate` (factual claims of the final copy the record does not
    support), `restatement_rate` (sentences of the final copy that restate the title or a bullet),
    `nonword_rate` (non-words per word of final copy), `fallback_rate` (share of products whose copy was
    phrased from the record), `unsupported_claim_rate` (all checked items, non-words included),
    `draft_unsupported_claim_rate` (first drafts, before any repair) and counts.
    """
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    by_id = {p.id: p for p in products}
    rouge, coverage, coverage_copy = [], [], []
    n = checked = unsupported = draft_checked = draft_unsupported = failed = regenerated = fallback = 0
    facts = facts_unsupported = nonwords = words = sentences = restated = 0
    for record in records:
        product = by_id.get(record.id)
        if product is None:
            continue
        n += 1
        if record.error:
            failed += 1
            continue
        reference = (product.description or "\n".join(product.bullets)).strip()
        rouge.append(scorer.score(reference, record.text)["rougeL"].fmeasure)
        values = attribute_values(product)
        if values:
            full = record.text + "\n" + "\n".join(record.bullets)
            coverage.append(sum(mentioned(v, full) for v in values) / len(values))
            coverage_copy.append(sum(mentioned(v, record.text) for v in values) / len(values))
        f = record.faithfulness
        checked += f.checked
        unsupported += f.checked - f.supported
        factual = [c for c in f.claims if c.kind != "nonword"]
        facts += len(factual)
        facts_unsupported += sum(not c.supported for c in factual)
        nonwords += sum(c.kind == "nonword" for c in f.claims)
        words += len(re.findall(r"\w+", record.text))
        sentences += len(split_sentences(record.text))
        restated += len(restatements(record.text, Evidence.of(hide_reference(product))))
        draft_checked += f.draft_checked
        draft_unsupported += f.draft_unsupported
        regenerated += f.regenerated
        fallback += f.fallback

    def mean(xs: list[float]) -> float:
        return round(sum(xs) / len(xs), 4) if xs else 0.0

    def rate(part: int, whole: int) -> float:
        return round(part / whole, 4) if whole else 0.0

    return {
        "rougeL": mean(rouge),
        "attribute_coverage": mean(coverage),
        "attribute_coverage_copy": mean(coverage_copy),
        "unsupported_rate": rate(facts_unsupported, facts),
        "restatement_rate": rate(restated, sentences),
        "nonword_rate": rate(nonwords, words),
        "fallback_rate": rate(fallback, n - failed),
        "unsupported_claim_rate": rate(unsupported, checked),
        "draft_unsupported_claim_rate": rate(draft_unsupported, draft_checked),
        "products": n,
        "failed": failed,
        "claims_checked": facts,
        "claims_unsupported": facts_unsupported,
        "nonwords": nonwords,
        "sentences": sentences,
        "sentences_restating": restated,
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
    """Generate copy with the description hidden and `score_copy` it (one model; see `compare_copy`).

    Products without a description are skipped (nothing to compare with). With `out`, records are also
    appended to that copy JSONL and a re-run reuses the ones already there (a long evaluation can be stopped
    and resumed). Adds `products_per_minute` (generation and checking of the products generated in this
    run, model loading excluded; from the stored timings when all were reused), `model`, `seconds`.
    """
    return compare_copy(products, {"model": chat_model}, style, batch_size=batch_size, workers=workers,
                        out={"model": out} if out else None, progress=progress)["model"]


def compare_copy(
    products: Sequence[Product],
    models: dict[str, Any],
    style: CopyStyle | None = None,
    *,
    batch_size: int = 16,
    workers: int = 4,
    out: dict[str, Path] | None = None,
    progress: Any = None,
) -> dict[str, dict[str, Any]]:
    """`evaluate_copy` for several models (e.g. {"base": ..., "adapter": ...}) on the same products in one
    run: each batch of products is written by every model before the next batch, so a run stopped early has
    scored every model on the same products. `out` maps a model's key to its resumable JSONL."""
    style = style or load_style()
    usable = [p for p in products if p.description.strip()]
    hidden = [hide_reference(p) for p in usable]
    out = out or {}
    names = {key: model_name_of(m) for key, m in models.items()}
    records: dict[str, list[CopyRecord]] = {key: [] for key in models}
    todo: dict[str, list[Product]] = {}
    elapsed = dict.fromkeys(models, 0.0)
    with ExitStack() as stack:
        journals = {key: stack.enter_context(CopyJournal(out[key])) for key in models if out.get(key)}
        for key, model in models.items():
            done = journals[key].records() if key in journals else {}
            todo[key] = pending(hidden, done, style, names[key])
            todo_ids = {p.id for p in todo[key]}
            records[key] = [done[p.id] for p in hidden if p.id not in todo_ids]
            if todo[key] and hasattr(model, "load"):
                model.load()  # loading is not generation: keep it out of products_per_minute
        if progress is not None:
            progress.update(min(len(r) for r in records.values()))
        step = max(1, batch_size)
        longest = max(len(t) for t in todo.values())
        for start in range(0, longest, step):
            for key, model in models.items():
                chunk = todo[key][start : start + step]
                t0 = time.perf_counter()
                for batch in write_copy(chunk, style, model, batch_size=batch_size, workers=workers):
                    for record in batch:
                        if key in journals:
                            journals[key].append(record)
                        records[key].append(record)
                elapsed[key] += time.perf_counter() - t0
            if progress is not None:
                progress.update(min(step, longest - start))
    reports = {}
    for key in models:
        report = score_copy(usable, records[key])
        if todo[key]:
            report["products_per_minute"] = round(len(todo[key]) / elapsed[key] * 60, 2) if elapsed[key] else 0.0
        else:  # everything reused: what the stored timings say
            spent = sum(r.timings.get("generate_s", 0) + r.timings.get("repair_s", 0) + r.timings.get("check_s", 0)
                        for r in records[key])
            report["products_per_minute"] = round(len(records[key]) / spent * 60, 2) if spent else 0.0
        report["generated_now"] = len(todo[key])
        report["skipped_without_reference"] = len(products) - len(usable)
        report["model"] = names[key]
        report["seconds"] = round(elapsed[key], 1)
        reports[key] = report
    return reports
