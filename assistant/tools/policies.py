"""Policy answers: retrieval over the shop's policy documents (chunked into Chroma) with citations."""

from __future__ import annotations

import re

from pydantic import BaseModel


class Citation(BaseModel):
    doc_id: str
    title: str
    snippet: str


class PolicyOutput(BaseModel):
    query: str
    citations: list[Citation]


def _best_sentences(text: str, query: str, n: int = 2) -> str:
    """The `n` sentences of a chunk sharing most words with the question, in document order."""
    text = re.sub(r"\n(?![\n#*-]|\d+\.)", " ", text)  # re-join lines wrapped inside a paragraph
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if len(s.strip()) > 20 and not s.strip().startswith("#")]
    if not sentences:
        return text.strip()[:300]
    q = {w for w in re.findall(r"[a-z0-9]+", query.lower()) if len(w) > 2}
    scored = sorted(range(len(sentences)), key=lambda i: -len(q & set(re.findall(r"[a-z0-9]+", sentences[i].lower()))))
    keep = sorted(scored[:n])
    return " ".join(re.sub(r"[*_`]+", "", sentences[i]).lstrip("-0123456789. ") for i in keep)


def search_policies(documents, query: str, k: int = 3) -> PolicyOutput:
    """The policy passages that answer `query`, each as a citation with its most relevant sentences."""
    hits = documents.search(query, k=k)
    citations, seen = [], set()
    for hit in hits:
        if hit.doc_id in seen:
            continue
        seen.add(hit.doc_id)
        citations.append(Citation(doc_id=hit.doc_id, title=hit.title, snippet=_best_sentences(hit.text, query)))
    return PolicyOutput(query=query, citations=citations)
