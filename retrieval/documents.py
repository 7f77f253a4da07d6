"""Policy and FAQ passages for grounded answers: markdown split into chunks, stored in their own Chroma
collection, searched with bm25 + dense fused by reciprocal rank.

A document is one markdown file whose first `# Title` line is its title; chunks follow its `##`/`###`
sections, and a long section is split between paragraphs, so a chunk is one answerable passage that
a citation can point to. Inside a section, each table row (with its column names: "Option: Standard.
Cost: $6.95, free on orders of $75 or more."), list item and paragraph is also a passage of its own
(`kind` "row", "item", "paragraph"), so the answer to "what does standard shipping cost?" is the row,
not the whole page. Chunk ids are `<doc_id>#<n>`.

Search fuses bm25 and dense by reciprocal rank, then reranks by how many of the question's content words
the passage (with its document title and section) covers.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.config import RetrievalSettings
from retrieval.errors import RetrievalError
from retrieval.lexical import LexicalIndex, analyze
from retrieval.store import VectorCollection

logger = logging.getLogger(__name__)

MAX_CHUNK_CHARS = 900
COVERAGE_WEIGHT = 0.5  # rerank: fused rank score (0-1) + this x the share of the question's words a passage covers
TITLE_WEIGHT = 0.3  # + this x the share of the document title's words the question uses ("international" unasked)
FIGURE_WEIGHT = 0.3  # + this when the question asks for an amount or a time and the passage states one
JOINT_WEIGHT = 0.3  # + this when the question asks whether two documents' subjects go together and the passage names both

# Customers describe a case in their words; policies name it in theirs. Each group adds the policy words to
# the lexical query (the dense model reads the question as typed).
SERVICE_WORDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(tore|torn|tear|ripped|rip|broke|broken|break|cracked|snapped|split|fell apart|falling apart|"
                r"stopped working|doesn'?t work|does not work|leak\w*|defect\w*|faulty|damaged?|dented|scratched|"
                r"(?:letting|lets?|taking) (?:the )?(?:water|rain|wet) in|(?:wet|soaked) (?:inside|through))\b", re.I),
     "faulty damaged defect warranty"),
    (re.compile(r"\b((?:send|bring|take|ship|post|mail) (?:[\w']+ ){0,3}?back)\b", re.I), "return"),
    (re.compile(r"\b(opened|unsealed|used|worn|washed|unwrapped)\b", re.I), "opened seal unused"),
    (re.compile(r"\b(money back|reimburs\w*|repaid|charged back)\b", re.I), "refund"),
    (re.compile(r"\b(how much|cost\w*|price|fee|charge\w*|pay for)\b", re.I), "cost fee"),
    (re.compile(r"\b(missing|never (?:arrived|came|got)|didn'?t (?:arrive|get|receive)|lost|wrong item)\b", re.I),
     "missing lost parcel"),
    (re.compile(r"\b(swap|different size|other size|bigger size|smaller size)\b", re.I), "exchange"),
    (re.compile(r"\b(window|period|deadline|time limit|until when)\b", re.I), "within days"),
    (re.compile(r"\b(take (?:the |my |your )?(?:money|payment)|(?:charge|bill|debit)\w* (?:my |the )?(?:card|account)|"
                r"(?:billed|debited)|money (?:leave|come out|go out))\b", re.I), "charged payment card"),
    (re.compile(r"\b((?:two|2|several|multiple|separate|different) (?:boxes|parcels|packages|deliveries|shipments)|"
                r"in (?:two |2 )?(?:parts|pieces|bits)|more than one (?:box|parcel|package)|split (?:up )?(?:the )?(?:order|shipment))\b",
                re.I), "ships in parts shipment separately"),
    (re.compile(r"\b((?:deleted|lost|misplaced|can'?t find|cannot find|threw away|binned) (?:the |my |her |his |that )?"
                r"(?:e-?mail|code|card|voucher|receipt))\b", re.I), "lost replaced"),
    # "swap them for a different model": not an exchange of size or colour
    (re.compile(r"\b((?:a |for )?(?:different|another|other) (?:model|product|style|item|brand|design|make|kind|type))\b", re.I),
     "different product"),
    # "could you get a parcel to me there for the next morning?": the fastest option
    (re.compile(r"\b((?:the )?(?:next|following) (?:morning|day)|by tomorrow|tomorrow morning|over ?night)\b", re.I),
     "overnight next business day delivery"),
]
# "can I put both towards the same order?", "can points be combined with a gift card": two things together
_JOINT = re.compile(r"\b(both|together|combin\w*|at the same time|same order|one order|as well as|along with|stack\w*)\b", re.I)
_WANTS_TIME = re.compile(r"\b(how long|how soon|how many days|when|by when|deadline|time limit|until when)\b", re.I)
_WANTS_MONEY = re.compile(r"\b(how much|cost\w*|price|fee|charge\w*|free|pay)\b", re.I)
_TIME = re.compile(r"\b\d+\s*(?:(?:business|working|calendar)\s+)?(?:days?|weeks?|months?|years?|hours?)\b|\bnext day\b", re.I)
_MONEY = re.compile(r"[$€£]\s?\d|\bfree\b", re.I)
# question and person words of a heading ("When you are charged", "How to return"): what it is about is the rest
_HEADING_FILLER = {"when", "how", "what", "why", "where", "who", "which", "you", "your", "we", "our", "us", "i", "my", "can"}
_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")


@dataclass
class Document:
    """A policy/FAQ document: id (file stem), title and markdown text."""

    doc_id: str
    title: str
    text: str


@dataclass
class Chunk:
    chunk_id: str
    doc_id: str
    title: str
    section: str
    text: str
    kind: str = "section"  # "section", or a passage inside one: "row", "item", "paragraph"


@dataclass
class DocHit:
    """A passage found by `DocumentIndex.search`."""

    doc_id: str
    title: str
    text: str
    score: float
    section: str = ""
    chunk_id: str = ""
    kind: str = "section"


def load_documents(folder: str | Path) -> list[Document]:
    """Every `*.md` file in `folder` (sorted); the title is the first `# ` heading, else the file stem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RetrievalError(f"Policy folder '{folder}' does not exist; put the shop's *.md documents there.")
    docs = []
    for path in sorted(folder.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        title = next((m.group(2) for line in text.splitlines() if (m := _HEADING.match(line)) and m.group(1) == "#"),
                     path.stem.replace("_", " ").replace("-", " ").title())
        docs.append(Document(doc_id=path.stem, title=title, text=text))
    return docs


def chunk_document(doc: Document, max_chars: int = MAX_CHUNK_CHARS) -> list[Chunk]:
    """Split by headings, then long sections by paragraphs (a paragraph is never split); then each table row,
    list item and paragraph of a section with several of them as a passage of its own."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in doc.text.splitlines():
        m = _HEADING.match(line)
        if m and m.group(1) == "#" and m.group(2) == doc.title:
            continue
        if m:
            sections.append((m.group(2), []))
        else:
            sections[-1][1].append(line)
    chunks: list[Chunk] = []
    for heading, lines in sections:
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", "\n".join(lines)) if p.strip()]
        current = ""
        for para in paragraphs:
            if current and len(current) + len(para) + 2 > max_chars:
                chunks.append(_chunk(doc, heading, current, len(chunks)))
                current = para
            else:
                current = f"{current}\n\n{para}" if current else para
        if current:
            chunks.append(_chunk(doc, heading, current, len(chunks)))
        passages = _passages(lines)
        if len(passages) > 1:
            chunks += [_chunk(doc, heading, text, len(chunks) + i, kind) for i, (kind, text) in enumerate(passages)]
    return chunks


def _passages(lines: list[str]) -> list[tuple[str, str]]:
    """(kind, text) of each table row, list item and paragraph in a section's lines."""
    out: list[tuple[str, str]] = []
    header: list[str] | None = None
    item: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if item:
            out.append(("item", re.sub(r"\s+", " ", " ".join(item)).strip()))
            item.clear()
        if paragraph:
            out.append(("paragraph", re.sub(r"\s+", " ", " ".join(paragraph)).strip()))
            paragraph.clear()

    for line in lines + [""]:
        stripped = line.strip()
        if stripped.startswith("|"):
            flush()
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            if header is None:
                header = cells
            elif not all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                out.append(("row", " ".join(f"{h}: {c}." if h else f"{c}." for h, c in zip(header, cells, strict=False) if c)))
            continue
        header = None
        if re.match(r"^(?:[-*•]|\d+[.)])\s+", stripped):
            flush()
            item.append(re.sub(r"^(?:[-*•]|\d+[.)])\s+", "", stripped))
        elif not stripped:
            flush()
        elif item:
            item.append(stripped)  # a wrapped list item goes on
        else:
            paragraph.append(stripped)
    return [(kind, text) for kind, text in out if len(text) > 15]


def _chunk(doc: Document, heading: str, text: str, n: int, kind: str = "section") -> Chunk:
    return Chunk(chunk_id=f"{doc.doc_id}#{n}", doc_id=doc.doc_id, title=doc.title, section=heading, text=text, kind=kind)


def _indexed_text(chunk: Chunk) -> str:
    return ". ".join(p for p in (chunk.title, chunk.section, chunk.text) if p)


class DocumentIndex:
    """Policy/FAQ chunks in a Chroma collection plus an in-memory bm25 over the same chunks."""

    def __init__(self, vectors: VectorCollection, embedder):
        self.vectors = vectors
        self.embedder = embedder
        self.chunks: dict[str, Chunk] = {}
        self._lexical: LexicalIndex | None = None
        self._sentence_vectors: dict[str, np.ndarray] = {}
        self._subjects: set[str] = set()
        self.load()

    def load(self) -> None:
        chunks = {}
        for cid, _, meta in self.vectors.records():
            chunks[cid] = Chunk(chunk_id=cid, doc_id=meta["doc_id"], title=meta["title"], section=meta.get("section", ""),
                                text=meta["text"], kind=meta.get("kind", "section"))
        self.chunks = chunks
        ids = sorted(chunks)
        self._lexical = LexicalIndex.build(ids, [_indexed_text(chunks[i]) for i in ids], fingerprint="")
        heads = {w for c in chunks.values() for w in analyze(f"{c.title} {c.section or ''}")} - _HEADING_FILLER
        texts: dict[str, set[str]] = {}
        for c in chunks.values():
            texts.setdefault(c.doc_id, set()).update(analyze(f"{c.title} {c.section or ''} {c.text}"))
        self._subjects = {w for w in heads if sum(w in t for t in texts.values()) * 2 <= len(texts)}
        self._doc_subjects: dict[str, set[str]] = {}
        for c in chunks.values():
            self._doc_subjects.setdefault(c.doc_id, set()).update(set(analyze(c.title)) & self._subjects)

    def index(self, docs: list[Document]) -> dict[str, int]:
        """Replace the indexed documents by `docs` (unchanged chunks are skipped); returns counts."""
        chunks = [c for doc in docs for c in chunk_document(doc)]
        stored = {cid: meta.get("hash") for cid, _, meta in self.vectors.records()}
        todo = []
        for c in chunks:
            digest = hashlib.sha256(f"{_indexed_text(c)}|{c.kind}|{self.embedder.name}".encode()).hexdigest()[:16]
            if stored.get(c.chunk_id) != digest:
                todo.append((c, digest))
        if todo:
            texts = [_indexed_text(c) for c, _ in todo]
            vectors = self.embedder.encode(texts)
            metas = [{"hash": h, "doc_id": c.doc_id, "title": c.title, "section": c.section, "text": c.text, "kind": c.kind}
                     for c, h in todo]
            self.vectors.upsert([c.chunk_id for c, _ in todo], vectors, texts, metas)
        keep = {c.chunk_id for c in chunks}
        gone = [cid for cid in stored if cid not in keep]
        self.vectors.delete(gone)
        self.load()
        report = {"documents": len(docs), "chunks": len(chunks), "embedded": len(todo), "removed": len(gone)}
        logger.info("indexed documents: %s", report)
        return report

    def heading_words(self, text: str) -> set[str]:
        """The words of `text` (analysed) that title a document or head a section ("basecamp" of Basecamp
        Rewards, "charged" of When you are charged) and that at most half the documents use ("order" is in all):
        a question that uses one names its own subject."""
        return set(analyze(text)) & self._subjects

    def similarities(self, query: str, sentences: list[str]) -> np.ndarray:
        """Cosine similarity of the question to each sentence (policy sentences are embedded once, then cached)."""
        for text in dict.fromkeys(sentences):
            if text not in self._sentence_vectors:  # one at a time: a batch's padding must not change a sentence's vector
                self._sentence_vectors[text] = np.asarray(self.embedder.encode([text])[0], dtype=np.float32)
        if not sentences:
            return np.zeros(0, np.float32)
        return np.stack([self._sentence_vectors[t] for t in sentences]) @ np.asarray(self.embedder.encode_query(query), np.float32)

    def search(self, query: str, k: int = 4) -> list[DocHit]:
        """Best passages for the query, best first; score = reciprocal-rank fusion of bm25 and dense."""
        if not self.chunks or not query.strip():
            return []
        fused: dict[str, float] = {}
        lexical = self._lexical
        lexical_query = expand_service_words(query)
        bm25 = lexical.scores(analyze(lexical_query))
        for rank, row in enumerate(r for r in np.argsort(-bm25)[:50] if bm25[r] > 0):
            fused[lexical.ids[row]] = fused.get(lexical.ids[row], 0.0) + 1.0 / (60 + rank + 1)
        for rank, (cid, _) in enumerate(self.vectors.query(self.embedder.encode_query(query), 50)):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (60 + rank + 1)
        top = max(fused.values(), default=1.0)
        wanted = set(analyze(lexical_query))
        asked = set(analyze(query))
        figure = _MONEY if _WANTS_MONEY.search(query) else _TIME if _WANTS_TIME.search(query) else None
        # the subjects of two documents asked about together ("rewards points" and "gift cards" on one order)
        named = [words & asked for words in self._doc_subjects.values() if words & asked] if _JOINT.search(query) else []
        scored = {}
        for cid, score in sorted(fused.items(), key=lambda kv: -kv[1])[:50]:
            chunk = self.chunks.get(cid)
            if chunk is None:
                continue
            said = set(analyze(_indexed_text(chunk)))
            covered = len(wanted & said) / len(wanted) if wanted else 0.0
            # the share of the document's title said in the question, or all of its section's heading ("When you
            # are charged": "charged")
            title, heading = set(analyze(chunk.title)) - _HEADING_FILLER, set(analyze(chunk.section or "")) - _HEADING_FILLER
            titled = max(len(title & asked) / len(title) if title else 0.0, 1.0 if heading and heading <= asked else 0.0)
            joint = len(named) >= 2 and all(words & said for words in named)
            scored[cid] = (score / top + COVERAGE_WEIGHT * covered + TITLE_WEIGHT * titled
                           + (FIGURE_WEIGHT if figure is not None and figure.search(chunk.text) else 0.0)
                           + (JOINT_WEIGHT if joint else 0.0))
        best = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [
            DocHit(doc_id=self.chunks[cid].doc_id, title=self.chunks[cid].title, text=self.chunks[cid].text,
                   score=round(score, 5), section=self.chunks[cid].section, chunk_id=cid, kind=self.chunks[cid].kind)
            for cid, score in best
        ]


def expand_service_words(query: str) -> str:
    """The question plus the policy words for the case it describes ("the strap tore" + "faulty damaged ...")."""
    extra = [words for pattern, words in SERVICE_WORDS if pattern.search(query)]
    return " ".join([query, *extra])


def open_documents(settings: RetrievalSettings, home: Path, embedder, *, name: str = "docs") -> DocumentIndex:
    """The policy/FAQ index of the shop (collection `<prefix>-docs`); `embedder` as for `open_searcher`."""
    chroma_path = Path(settings.chroma.path).expanduser() if settings.chroma.path else Path(home) / "chroma"
    return DocumentIndex(VectorCollection(settings.chroma, chroma_path, name, embedder), embedder)
