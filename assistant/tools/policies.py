"""Policy answers: retrieval over the shop's policy documents (chunked into Chroma) with citations."""

from __future__ import annotations

import re

from pydantic import BaseModel

from assistant.conversation.contract import Citation
from text import split_sentences


class PolicyOutput(BaseModel):
    query: str
    citations: list[Citation]


_QUANTITY_QUESTION = re.compile(r"\b(how (many|long|much|soon|fast|quick)|when|days?|weeks?|cost|fees?|price|charge|percent|minimum|maximum|free|pay)\b", re.I)
_FIGURE = re.compile(r"\$\d|\d+\s*(%|days?|business days|hours?|weeks?|months?|years?)", re.I)
DENSE_WEIGHT = 5.0  # a sentence's cosine similarity to the question (about 0.2-0.8) next to shared words (0-5)
ADJACENT_BONUS = 1.5  # for the sentence that follows the best one, when choosing the second
_MONEY_QUESTION = re.compile(r"\b(how much|cost\w*|price|fees?|charge\w*|free|pay|refund amount)\b", re.I)
_MONEY = re.compile(r"[$€£]\s?\d|\d+\s*%", re.I)
_TIME = re.compile(r"\d+\s*(?:business |working )?(?:days?|hours?|weeks?|months?|years?)|next (?:business )?day", re.I)


_STOP = {"the", "and", "for", "you", "your", "our", "are", "can", "what", "whats", "how", "does", "with", "that", "this",
         "have", "from", "there", "they", "will", "any", "all", "not", "get", "its", "it's", "was", "were", "has"}


def _stems(text: str) -> set[str]:
    return {w.rstrip("s") for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2 and w not in _STOP}


def _best_sentences(passages: list[tuple[str, str]], query: str, n: int = 2, similar=None) -> str:
    """The `n` sentences that answer the question, in document order: the best sentence (most words shared
    with the question, figures first for "how many/long/much"), then the best other one of the same passage,
    since a rule and its exception usually sit together ("free for exchanges ... For other refunds, a $5.95 fee").
    `passages` are (kind, text); a table row is one sentence ("Option: Overnight. ... Cost: $29.95.").
    `similar(query, sentences)`, when given, adds the embedder's reading ("the return window" is "return
    within 30 days", though they share one word)."""
    scored: list[tuple[int, str]] = []  # (passage, sentence)
    for n_passage, (kind, text) in enumerate(passages):
        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("|"))  # rows are passages too
        text = re.sub(r"\n(?![\n#]|[*-]\s|\d+\.)", " ", text)  # re-join lines wrapped inside a paragraph
        for sentence in [text] if kind == "row" else split_sentences(text):  # bullet markers already dropped
            sentence = re.sub(r"\s+", " ", re.sub(r"[*_`]+", "", sentence))
            if len(sentence) > 20 and not sentence.startswith("#") and sentence not in {x for _, x in scored}:
                scored.append((n_passage, sentence))
    if not scored:
        return (passages[0][1] if passages else "").strip()[:300]
    q = _stems(query)
    # the figure the question asks for: an amount for "how much / is it free", a time for "how long / when"
    figure = _MONEY if _MONEY_QUESTION.search(query) else _TIME if _QUANTITY_QUESTION.search(query) else None

    dense = similar(query, [x for _, x in scored]) if similar is not None else [0.0] * len(scored)

    # a sentence that defines what was asked ("the warranty is 2 years", "standard shipping costs $6.95")
    defines = re.compile(rf"\b(?:{'|'.join(map(re.escape, sorted(q)))})\w*\b(?:\W+\w+){{0,3}}?\W+(?:is|are|lasts?|runs?|takes?|costs?)"
                         rf"\b[^.]{{0,40}}\d", re.I) if q else None

    def score(i: int) -> float:
        s = scored[i][1]
        return (len(q & _stems(s)) + (2.5 if figure is not None and figure.search(s) else 0) + DENSE_WEIGHT * float(dense[i])
                + (1.5 if defines is not None and defines.search(s) else 0) - i * 0.01)

    ranked = sorted(range(len(scored)), key=lambda i: -score(i))
    keep = ranked[:1]
    same = [i for i in ranked[1:] if scored[i][0] == scored[ranked[0]][0] and score(i) > 0]
    # the sentence right after the best one usually completes it ("free for exchanges. For other refunds, $5.95")
    same.sort(key=lambda i: -(score(i) + (ADJACENT_BONUS if i == ranked[0] + 1 else 0.0)))
    keep += same[:1] or ranked[1:2]
    keep = sorted(keep[:n])
    return " ".join(re.sub(r"[*_`]+", "", scored[i][1]) for i in keep)


def search_policies(documents, query: str, k: int = 3) -> PolicyOutput:
    """The policy passages that answer `query`, one citation per document (its chunks among the hits
    pooled), each with its most relevant sentences."""
    hits = documents.search(query, k=k + 2)
    pooled: dict[str, list] = {}
    for hit in hits:
        pooled.setdefault(hit.doc_id, []).append(hit)
    citations = [
        Citation(doc_id=doc_id, title=group[0].title, snippet=_best_sentences([(getattr(h, "kind", "section"), h.text) for h in group], query,
                                 similar=getattr(documents, "similarities", None)))
        for doc_id, group in list(pooled.items())[:k]
    ]
    return PolicyOutput(query=query, citations=citations)
