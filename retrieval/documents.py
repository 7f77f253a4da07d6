"""Policy and FAQ passages for grounded answers: markdown split into chunks, stored in their own Chroma
collection, searched with bm25 + dense fused by reciprocal rank.

A document is one markdown file whose first `# Title` line is its title; chunks follow its `##`/`###`
sections, and a long section is split between paragraphs, so a chunk is one answerable passage that
a citation can point to. Chunk ids are `<doc_id>#<n>`.
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


@dataclass
class DocHit:
    """A passage found by `DocumentIndex.search`."""

    doc_id: str
    title: str
    text: str
    score: float
    section: str = ""
    chunk_id: str = ""


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
    """Split by headings, then long sections by paragraphs (a paragraph is never split)."""
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
    return chunks


def _chunk(doc: Document, heading: str, text: str, n: int) -> Chunk:
    return Chunk(chunk_id=f"{doc.doc_id}#{n}", doc_id=doc.doc_id, title=doc.title, section=heading, text=text)


def _indexed_text(chunk: Chunk) -> str:
    return ". ".join(p for p in (chunk.title, chunk.section, chunk.text) if p)


class DocumentIndex:
    """Policy/FAQ chunks in a Chroma collection plus an in-memory bm25 over the same chunks."""

    def __init__(self, vectors: VectorCollection, embedder):
        self.vectors = vectors
        self.embedder = embedder
        self.chunks: dict[str, Chunk] = {}
        self._lexical: LexicalIndex | None = None
        self.load()

    def load(self) -> None:
        chunks = {}
        for cid, _, meta in self.vectors.records():
            chunks[cid] = Chunk(chunk_id=cid, doc_id=meta["doc_id"], title=meta["title"], section=meta.get("section", ""),
                                text=meta["text"])
        self.chunks = chunks
        ids = sorted(chunks)
        self._lexical = LexicalIndex.build(ids, [_indexed_text(chunks[i]) for i in ids], fingerprint="")

    def index(self, docs: list[Document]) -> dict[str, int]:
        """Replace the indexed documents by `docs` (unchanged chunks are skipped); returns counts."""
        chunks = [c for doc in docs for c in chunk_document(doc)]
        stored = {cid: meta.get("hash") for cid, _, meta in self.vectors.records()}
        todo = []
        for c in chunks:
            digest = hashlib.sha256(f"{_indexed_text(c)}|{self.embedder.name}".encode()).hexdigest()[:16]
            if stored.get(c.chunk_id) != digest:
                todo.append((c, digest))
        if todo:
            texts = [_indexed_text(c) for c, _ in todo]
            vectors = self.embedder.encode(texts)
            metas = [{"hash": h, "doc_id": c.doc_id, "title": c.title, "section": c.section, "text": c.text} for c, h in todo]
            self.vectors.upsert([c.chunk_id for c, _ in todo], vectors, texts, metas)
        keep = {c.chunk_id for c in chunks}
        gone = [cid for cid in stored if cid not in keep]
        self.vectors.delete(gone)
        self.load()
        report = {"documents": len(docs), "chunks": len(chunks), "embedded": len(todo), "removed": len(gone)}
        logger.info("indexed documents: %s", report)
        return report

    def search(self, query: str, k: int = 4) -> list[DocHit]:
        """Best passages for the query, best first; score = reciprocal-rank fusion of bm25 and dense."""
        if not self.chunks or not query.strip():
            return []
        fused: dict[str, float] = {}
        lexical = self._lexical
        bm25 = lexical.scores(analyze(query))
        for rank, row in enumerate(r for r in np.argsort(-bm25)[:50] if bm25[r] > 0):
            fused[lexical.ids[row]] = fused.get(lexical.ids[row], 0.0) + 1.0 / (60 + rank + 1)
        for rank, (cid, _) in enumerate(self.vectors.query(self.embedder.encode_query(query), 50)):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (60 + rank + 1)
        best = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [
            DocHit(doc_id=self.chunks[cid].doc_id, title=self.chunks[cid].title, text=self.chunks[cid].text,
                   score=round(score, 5), section=self.chunks[cid].section, chunk_id=cid)
            for cid, score in best if cid in self.chunks
        ]


def open_documents(settings: RetrievalSettings, home: Path, embedder, *, name: str = "docs") -> DocumentIndex:
    """The policy/FAQ index of the shop (collection `<prefix>-docs`); `embedder` as for `open_searcher`."""
    chroma_path = Path(settings.chroma.path).expanduser() if settings.chroma.path else Path(home) / "chroma"
    return DocumentIndex(VectorCollection(settings.chroma, chroma_path, name, embedder), embedder)
