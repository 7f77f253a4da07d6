"""Policy answers: retrieval over the shop's policy documents (chunked into Chroma) with citations."""

from __future__ import annotations

import re

from pydantic import BaseModel

from assistant.conversation.contract import Citation
from text import split_sentences


class PolicyOutput(BaseModel):
    query: str
    citations: list[Citation]


_QUANTITY_QUESTION = re.compile(r"\b(how (many|long|much|soon|fast|quick)|when|deadline|time limit|days?|weeks?|cost|fees?|price|charge|percent|minimum|maximum|free|pay)\b", re.I)
_FIGURE = re.compile(r"\$\d|\d+\s*(%|days?|business days|hours?|weeks?|months?|years?)", re.I)
DENSE_WEIGHT = 5.0  # a sentence's cosine similarity to the question (about 0.2-0.8) next to shared words (0-5)
CONTEXT_WEIGHT = 0.25  # a word of the earlier question, next to one of this question's (1)
SELF_CONTAINED_WORDS = 3  # content words from which a follow-up is read on its own
HOW_TO_BONUS = 2.0  # "how do I return it?": the steps of the "How to return" section
_HOW_QUESTION = re.compile(r"\bhow (?:do|can|would|should|shall) (?:i|we|you)\b", re.I)
ADJACENT_BONUS = 1.5  # for the sentence that follows the best one, when choosing the second
_MONEY_QUESTION = re.compile(r"\b(how much|cost\w*|price|fees?|charge\w*|free|pay|refund amount)\b", re.I)
_MONEY = re.compile(r"[$€£]\s?\d|\d+\s*%", re.I)
_TIME = re.compile(r"\d+\s*(?:business |working )?(?:days?|hours?|weeks?|months?|years?)|next (?:business )?day", re.I)


_STOP = {"the", "and", "for", "you", "your", "our", "are", "can", "what", "whats", "how", "does", "with", "that", "this",
         "have", "from", "there", "they", "will", "any", "all", "not", "get", "its", "it's", "was", "were", "has",
         "once", "when", "after", "before", "then", "just", "also", "still", "about", "into", "some", "something",
         "anything", "would", "could", "should"}


def _stems(text: str) -> set[str]:
    return {w.rstrip("s") for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2 and w not in _STOP}


def _best_sentences(passages: list[tuple[str, str]], query: str, n: int = 2, similar=None, context: str = "") -> str:
    """The `n` sentences that answer the question, in document order: the best sentence (most words shared
    with the question, figures first for "how many/long/much"), then the best other one of the same passage,
    since a rule and its exception usually sit together ("free for exchanges ... For other refunds, a $5.95 fee").
    `passages` are (kind, text) or (kind, text, section heading); a table row is one sentence ("Option: Overnight. ... Cost: $29.95.").
    `similar(query, sentences)`, when given, adds the embedder's reading ("the return window" is "return
    within 30 days", though they share one word). `context` (the earlier question a follow-up continues) counts
    for little when the follow-up says enough itself: "and can I return a gift card I bought?" after "do gift
    cards expire?" asks about returning, not expiry; "and unopened ones?" means what the earlier question asked."""
    scored: list[tuple[int, str]] = []  # (passage, sentence)
    how_to: set[int] = set()  # sentences of a "How to ..." section, for "how do I ...?"
    asks_how = _HOW_QUESTION.search(query) is not None
    for n_passage, (kind, text, *section) in enumerate(passages):
        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("|"))  # rows are passages too
        text = re.sub(r"\n(?![\n#]|[*-]\s|\d+\.)", " ", text)  # re-join lines wrapped inside a paragraph
        for sentence in [text] if kind == "row" else split_sentences(text):  # bullet markers already dropped
            sentence = re.sub(r"\s+", " ", re.sub(r"[*_`]+", "", sentence))
            if len(sentence) <= 20 or sentence.startswith("#"):
                continue
            seen = next((i for i, (_, x) in enumerate(scored) if x == sentence), None)
            if asks_how and kind == "item" and section and re.match(r"how to\b", section[0], re.I):  # its steps
                how_to.add(len(scored) if seen is None else seen)
            if seen is None:
                scored.append((n_passage, sentence))
    if not scored:
        return (passages[0][1] if passages else "").strip()[:300]
    q = _stems(query)
    earlier = _stems(context) - q
    # an elliptical follow-up ("and unopened ones?", "what if it was never worn") leans on the earlier question
    elliptical = len(q) < SELF_CONTAINED_WORDS
    asked = f"{query} {context}" if elliptical else query
    weight = 1.0 if elliptical else CONTEXT_WEIGHT
    # the figure the question asks for: an amount for "how much / is it free", a time for "how long / when"
    figure = next((f for text in (query, context) for f, question in ((_MONEY, _MONEY_QUESTION), (_TIME, _QUANTITY_QUESTION))
                   if question.search(text)), None)  # "and for standard?" still asks what the last question asked
    counted = re.search(r"\bhow many ([a-z]{3,})", query, re.I)
    if counted and not _TIME.search(f"2 {counted.group(1)}"):  # "how many points": a number of points, not a time
        figure = re.compile(rf"\d[\d,.]*\s*{re.escape(counted.group(1).lower().rstrip('s'))}", re.I)

    dense = similar(asked, [x for _, x in scored]) if similar is not None else [0.0] * len(scored)

    # a sentence that defines what was asked ("the warranty is 2 years", "standard shipping costs $6.95")
    defines = re.compile(rf"\b(?:{'|'.join(map(re.escape, sorted(q)))})\w*\b(?:\W+\w+){{0,3}}?\W+(?:is|are|lasts?|runs?|takes?|costs?)"
                         rf"\b[^.]{{0,40}}\d", re.I) if q else None

    def score(i: int) -> float:
        s = scored[i][1]
        return (len(q & _stems(s)) + weight * len(earlier & _stems(s)) + (2.5 if figure is not None and figure.search(s) else 0) + DENSE_WEIGHT * float(dense[i])
                + (1.5 if defines is not None and defines.search(s) else 0) + (HOW_TO_BONUS if i in how_to else 0) - i * 0.01)

    ranked = sorted(range(len(scored)), key=lambda i: -score(i))
    keep = ranked[:1]
    same = [i for i in ranked[1:] if scored[i][0] == scored[ranked[0]][0] and score(i) > 0]
    # the sentence right after the best one usually completes it ("free for exchanges. For other refunds, $5.95")
    same.sort(key=lambda i: -(score(i) + (ADJACENT_BONUS if i == ranked[0] + 1 else 0.0)))
    keep += same[:1] or ranked[1:2]
    keep = sorted(keep[:n])
    return " ".join(re.sub(r"[*_`]+", "", scored[i][1]) for i in keep)


# Everyday customer-service wording -> the word policy pages use for it (added to the query, never replacing it):
# shoppers say "when do I get my money back", pages say "refund"
_PARAPHRASES = [
    (re.compile(r"\bmoney(?:'s| is)?(?: \w+){0,2} (?:back|returned)|\b(?:get|have) (?:my|the|our) money\b|\breimburs\w*", re.I), "refund"),
    (re.compile(r"\b(?:visa|master\s?card|amex|american express|debit|credit)\b", re.I), "card"),
    (re.compile(r"\b(?:gets?|getting|got|come|comes) back to (?:me|us)\b|\bhear back\b|\brespon(?:d|se)\w*|\banswer(?:s|ed)?\b", re.I), "reply"),
    (re.compile(r"\b(?:take|takes|knock|knocks) (?:money|anything|something|it|that) off\b|\bdeduct\w*|\bdock\w*", re.I), "fee deducted"),
    # "how long do you keep these chats": how long data is kept (privacy pages say "kept", "conversations")
    (re.compile(r"\b(?:keep|store|hold|save|retain)\w*\b.{0,25}\b(?:chats?|conversations?|messages?|data|details|info\w*)\b", re.I), "kept"),
    (re.compile(r"\bchats?\b(?!\s+button)", re.I), "conversations"),
    (re.compile(r"\bsend(?:ing)? (?:\w+ ){0,2}back\b|\bship(?:ping)? (?:\w+ ){0,2}back\b|\b(?:go|goes|going) back\b", re.I), "return"),
    (re.compile(r"\b(?:pricier|dearer|costlier|(?:costs?|costing|priced) (?:a bit |a little |a lot )?more)\b", re.I), "more expensive"),
]


def paraphrased(query: str) -> str:
    """`query` with the policy words its everyday phrases stand for appended."""
    extra = [word for pattern, word in _PARAPHRASES if pattern.search(query) and word not in query.lower()]
    return f"{query} {' '.join(extra)}" if extra else query


def search_policies(documents, query: str, k: int = 3, context: str = "") -> PolicyOutput:
    """The policy passages that answer `query`, one citation per document (its chunks among the hits
    pooled), each with its most relevant sentences. `context`, the earlier question a follow-up continues,
    helps find the document and counts for little in choosing its sentences."""
    query = paraphrased(query)
    hits = documents.search(f"{query} {context}".strip(), k=k + 2)
    pooled: dict[str, list] = {}
    for hit in hits:
        pooled.setdefault(hit.doc_id, []).append(hit)
    citations = [
        Citation(doc_id=doc_id, title=group[0].title, snippet=_best_sentences([(getattr(h, "kind", "section"), h.text, getattr(h, "section", "")) for h in group], query,
                                 similar=getattr(documents, "similarities", None), context=context))
        for doc_id, group in list(pooled.items())[:k]
    ]
    return PolicyOutput(query=query, citations=citations)
