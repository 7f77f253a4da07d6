"""Text embeddings: a sentence-transformers folder run with plain transformers, tuned for CPU ingest.

Two things make `Embedder.encode` faster than a plain `SentenceTransformer.encode` loop over catalog
batches, with the same vectors to within rounding noise:

* texts are sorted by token length over the *whole* call and batched in that order, so a batch pads to
  the length of its longest text, not of the longest text in a random 64;
* the matmuls run at lower precision, chosen by `precision="auto"` from what the CPU does fast:
  * **bf16** (autocast) on CPUs with AMX tiles (Intel Sapphire Rapids and later): about 2x int8's speed there,
    at cosine 0.99999 of fp32;
  * **int8** elsewhere: the Linear layers dynamically quantised (`torch.ao.quantization.quantize_dynamic`),
    which roughly halves their matmul time on AVX2 CPUs, *except* each block's feed-forward down-projection
    (`encoder.layer.N.output.dense`): its inputs are the post-GELU activations with large outliers, and
    quantising it alone moved MiniLM's vectors to cosine ~0.93 of fp32 (cost -0.007 nDCG@10 on ESCI),
    while everything else quantised stays at cosine ~0.99. On AVX2-only CPUs bf16 is emulated, slower than fp32.

The precision is part of `Embedder.name`, so vectors from another precision are re-embedded by the next
`shopbot index` (queries still work against them meanwhile: every precision approximates the same fp32 model).
The benchmark (`tests/benchmarks/test_bench_search.py`) measures the speed-up and the nDCG cost side by side.

The folder's own sentence-transformers pipeline is followed (`modules.json`, `1_Pooling/config.json`): CLS, max,
mean, mean-sqrt-len, weighted-mean or last-token pooling, or several concatenated, as the model was trained; a
plain transformers folder is mean-pooled, as sentence-transformers does. Vectors are always L2-normalised, with or
without a Normalize module: every consumer scores them by dot product as cosine similarity (Chroma's cosine space,
re-scoring in `retrieval.search`), and for a folder without Normalize that gives the same cosines as
sentence-transformers' unnormalised output. A module this class does not run (Dense, LayerNorm, ...) is an error.

`HashingEmbedder` is a deterministic, model-free stand-in (hashed character n-grams) for tests and
smoke runs; it has the same interface.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import get_args

import numpy as np

from retrieval.config import Precision
from retrieval.errors import RetrievalError

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]  # called with the number of texts just embedded
PRECISIONS = get_args(Precision)
_NAME_SUFFIX = {"fp32": "", "int8": "-int8v2", "bf16": "-bf16"}  # "-int8v2" and "" are the names of earlier indexes
# sentence-transformers' pooling modes, in its order of concatenation for the legacy boolean keys
_LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
POOLING_MODES = tuple(_LEGACY_POOLING_KEYS.values())
_RUNNABLE_MODULES = ("Transformer", "Pooling", "Normalize")


def fast_precision() -> str:
    """"bf16" where the CPU multiplies bf16 in hardware (AMX tiles), else "int8"."""
    import torch

    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return "bf16" if amx is not None and amx() else "int8"


def read_pooling(path: Path) -> tuple[str, ...]:
    """The pooling modes of the model folder `path` (concatenated in this order); ("mean",) without a Pooling module.

    Raises RetrievalError for a module in `modules.json` that `Embedder` does not run, or an unknown pooling mode.
    """
    modules_file = path / "modules.json"
    if not modules_file.is_file():
        return ("mean",)  # a plain transformers folder: sentence-transformers mean-pools it too
    modules = json.loads(modules_file.read_text())
    kinds = {m["type"].rsplit(".", 1)[-1]: m for m in modules}
    unknown = [k for k in kinds if k not in _RUNNABLE_MODULES]
    if unknown:
        raise RetrievalError(
            f"Embedding model folder '{path}' has module(s) {unknown} in modules.json that the embedder does not run "
            f"(it runs {list(_RUNNABLE_MODULES)}); choose a model without them for retrieval.embedding_model."
        )
    if "Pooling" not in kinds:
        return ("mean",)
    config_file = path / kinds["Pooling"].get("path", "1_Pooling") / "config.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    if "pooling_mode" in config:  # sentence-transformers >= 5: a mode name or a list of them
        mode = config["pooling_mode"]
        modes = (mode,) if isinstance(mode, str) else tuple(mode)
    else:
        modes = tuple(m for key, m in _LEGACY_POOLING_KEYS.items() if config.get(key))
    bad = [m for m in modes if m not in POOLING_MODES]
    if bad:
        raise RetrievalError(f"Pooling mode {bad[0]!r} in {config_file} is not one of {list(POOLING_MODES)}.")
    return modes or ("mean",)


def _pool(hidden, mask, modes: tuple[str, ...]):
    """Sentence vectors (B, H * len(modes)) from token vectors `hidden` (B, T, H) and the attention `mask` (B, T)."""
    import torch

    m = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    count = m.sum(1).clamp(min=1e-9)  # (B, 1)
    positions = torch.arange(hidden.shape[1], device=hidden.device)  # (T,)
    out = []
    for mode in modes:
        if mode == "cls":  # the first real token (left padding skipped)
            out.append(hidden[torch.arange(hidden.shape[0]), mask.int().argmax(1)])
        elif mode == "lasttoken":  # the last real token
            last = hidden.shape[1] - 1 - mask.flip(1).int().argmax(1)
            out.append(hidden[torch.arange(hidden.shape[0]), last])
        elif mode == "max":
            out.append(hidden.masked_fill(m == 0, float("-inf")).max(1).values)
        elif mode == "mean":
            out.append((hidden * m).sum(1) / count)
        elif mode == "mean_sqrt_len_tokens":
            out.append((hidden * m).sum(1) / count.sqrt())
        elif mode == "weightedmean":  # weight 1, 2, ... from the first real token
            w = (positions.unsqueeze(0) - mask.int().argmax(1, keepdim=True) + 1).unsqueeze(-1).to(hidden.dtype) * m
            out.append((hidden * w).sum(1) / w.sum(1).clamp(min=1e-9))
    return torch.cat(out, dim=-1)


class Embedder:
    """L2-normalised sentence embeddings from a local transformers/sentence-transformers folder, pooled as the
    folder's `1_Pooling/config.json` says (see the module docstring).

    Args:
        path: local model folder (the CLI resolves it with `assistant.conversation.models.resolve_embedding_path`).
        precision: "auto" (bf16 where the CPU has AMX, else int8), "bf16", "int8" or "fp32"; see the module
            docstring.
        max_length: token limit per text; default = the folder's `sentence_bert_config.json` or 256.
        batch_size: texts per forward pass.
    """

    def __init__(self, path: str | Path, *, precision: Precision = "auto", max_length: int | None = None,
                 batch_size: int = 64):
        self.path = Path(path)
        if not (self.path / "config.json").is_file():
            raise RetrievalError(
                f"Embedding model folder '{self.path}' has no config.json; point retrieval.embedding_model "
                "(SHOPBOT_RETRIEVAL__EMBEDDING_MODEL) at a sentence-transformers or transformers folder."
            )
        if precision not in PRECISIONS:
            raise RetrievalError(f"Embedding precision '{precision}' is not one of {list(PRECISIONS)}.")
        self._precision = None if precision == "auto" else precision
        self.pooling = read_pooling(self.path)
        self.batch_size = batch_size
        self.max_length = max_length or self._configured_max_length()
        self._model = None
        self._tokenizer = None
        self._dim: int | None = None

    @classmethod
    def from_settings(cls, path: str | Path, settings) -> Embedder:
        """The embedder a `RetrievalSettings` asks for, on the already resolved model folder `path`."""
        return cls(path, precision=settings.embedding_precision, batch_size=settings.embedding_batch_size)

    @property
    def precision(self) -> str:
        """The precision in use ("auto" resolved on first use, so building an Embedder imports no torch)."""
        if self._precision is None:
            self._precision = fast_precision()
        return self._precision

    @property
    def name(self) -> str:
        """Identifies the vector space: same name = comparable vectors (mean pooling keeps the earlier names)."""
        pooling = "" if self.pooling == ("mean",) else "-" + "+".join(self.pooling)
        return f"{self.path.name}{pooling}{_NAME_SUFFIX[self.precision]}"

    def _configured_max_length(self) -> int:
        cfg = self.path / "sentence_bert_config.json"
        if cfg.is_file():
            return int(json.loads(cfg.read_text()).get("max_seq_length", 256))
        return 256

    def _load(self):
        if self._model is not None:
            return self._model, self._tokenizer
        import torch
        from transformers import AutoModel, AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(self.path)
        model = AutoModel.from_pretrained(self.path, dtype=torch.float32).eval()
        if self.precision == "int8":
            with warnings.catch_warnings():  # torch marks its quantised tensors deprecated; they still work
                warnings.simplefilter("ignore")
                keep_fp32 = re.compile(r"layer\.\d+\.output\.dense$")  # FFN down-projection: see module docstring
                names = {name for name, module in model.named_modules()
                         if isinstance(module, torch.nn.Linear) and not keep_fp32.search(name)}
                qconfig = torch.ao.quantization.default_dynamic_qconfig
                model = torch.ao.quantization.quantize_dynamic(model, {n: qconfig for n in names}, dtype=torch.qint8)
        self._model = model
        self._dim = int(model.config.hidden_size) * len(self.pooling)
        logger.info("loaded embedder %s (%s, %s pooling, max_length=%d)", self.path, self.precision,
                    "+".join(self.pooling), self.max_length)
        return self._model, self._tokenizer

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._load()
        return int(self._dim)

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        """Embed texts; returns float32 (len(texts), dim), rows L2-normalised, in input order."""
        import torch

        model, tokenizer = self._load()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        # Sort by tokenised length so each batch pads little; restore order at the end.
        lengths = [len(ids) for ids in tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]]
        order = np.argsort(lengths, kind="stable")[::-1]
        # autocast re-casts the weights on every call: worth it for batches, not for one query (fp32 is faster there,
        # and its vector matches the bf16 ones to cosine 0.99999)
        bf16 = torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16" and len(texts) > 1)
        with torch.inference_mode(), bf16:
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = tokenizer(
                    [texts[i] for i in idx], padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
                )
                hidden = model(**batch).last_hidden_state.float()  # (B, T, H)
                pooled = _pool(hidden, batch["attention_mask"], self.pooling)  # (B, H * len(pooling))
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[idx] = pooled.numpy()
                if progress:
                    progress(len(idx))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


_TOKEN = re.compile(r"\w+")


class HashingEmbedder:
    """Deterministic model-free embeddings: hashed word and character-trigram counts, L2-normalised.

    Good enough to make lexically similar texts close; used by tests and as an offline smoke stand-in.
    """

    def __init__(self, dim: int = 256):
        self.dim = dim
        self.name = f"hashing-{dim}"
        self.path = None
        self.precision = "fp32"

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for word in _TOKEN.findall(text.lower()):
            feats = [word] + [word[i : i + 3] for i in range(max(1, len(word) - 2))]
            for feat in feats:
                h = int.from_bytes(hashlib.blake2b(feat.encode(), digest_size=8).digest(), "little")
                vec[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        norm = np.linalg.norm(vec)
        return vec / norm if norm else vec

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        out = np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)
        if progress:
            progress(len(texts))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self._vector(text)
