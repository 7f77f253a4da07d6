"""Policy answers: retrieval over the shop's policy documents (chunked into Chroma) with citations."""

from __future__ import annotations

import re

from pydantic import BaseModel

from assistant.conversation.contract import Citation
from text import split_sentences


class PolicyOutput(BaseModel):
    query: str
    citations: list[Citation]


_QUANTITY_QUESTION = re.compile(r"\b(how (many|long|much|soon|fast)|when|days?|weeks?|cost|fees?|price|charge|percent|minimum|maximum)\b", re.I)
_FIGURE = re.compile(r"\$\d|\d+\s*(%|days?|business days|hours?|weeks?|months?|years?)", re.I)


def _stems(text: str) -> set[str]:
    return {w.rstrip("s") for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2}


def _best_sentences(text: str, query: str, n: int = 2) -> str:
    """The `n` sentences sharing most words with the question (figures first for "how many/long/much"),
    in document order."""
    text = re.sub(r"\n(?![\n#*-]|\d+\.)", " ", text)  # re-join lines wrapped inside a paragraph
    sentences = [re.sub(r"\s+", " ", s) for s in split_sentences(text)]  # bullet markers already dropped
    sentences = [s for s in sentences if len(s) > 20 and not s.startswith("#")]
    if not sentences:
        return text.strip()[:300]
    q = _stems(query)
    wants_figure = bool(_QUANTITY_QUESTION.search(query))

    def score(i: int) -> float:
        s = sentences[i]
        return len(q & _stems(s)) + (2.5 if wants_figure and _FIGURE.search(s) else 0) - i * 0.01

    keep = sorted(sorted(range(len(sentences)), key=lambda i: -score(i))[:n])
    return " ".join(re.sub(r"[*_`]+", "", sentences[i]) for i in keep)


def search_policies(documents, query: str, k: int = 3) -> PolicyOutput:
    """The policy passages that answer `query`, one citation per document (its chunks among the hits
    pooled), each with its most relevant sentences."""
    hits = documents.search(query, k=k + 2)
    pooled: dict[str, list] = {}
    for hit in hits:
        pooled.setdefault(hit.doc_id, []).append(hit)
    citations = [
        Citation(doc_id=doc_id, title=group[0].title, snippet=_best_sentences("\n\n".join(h.text for h in group), query))
        for doc_id, group in list(pooled.items())[:k]
    ]
    return PolicyOutput(query=query, citations=citations)
