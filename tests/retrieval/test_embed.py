"""The embedder runs a sentence-transformers folder as the folder says: its pooling, its modules."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from retrieval.embed import Embedder
from retrieval.errors import RetrievalError

TEXTS = ["waterproof hiking boots for wet trails", "a mug", "tent"]  # different lengths: padding in the batch


def _st_folder(out: Path, tokenizer_dir: Path, pooling: dict, modules: list[str] | None = None) -> Path:
    """A tiny random BERT saved as a sentence-transformers folder with the given pooling config."""
    import torch
    from transformers import BertConfig, BertModel

    out.mkdir(parents=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (tokenizer_dir / name).exists():
            shutil.copy(tokenizer_dir / name, out / name)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    BertModel(config).save_pretrained(out, safe_serialization=True)
    types = modules or ["Transformer", "Pooling", "Normalize"]
    paths = {"Transformer": "", "Pooling": "1_Pooling", "Normalize": "2_Normalize", "Dense": "2_Dense"}
    (out / "modules.json").write_text(json.dumps([
        {"idx": i, "name": str(i), "path": paths[t], "type": f"sentence_transformers.models.{t}"}
        for i, t in enumerate(types)
    ]))
    (out / "1_Pooling").mkdir()
    (out / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 16, **pooling}))
    return out


def _hidden(folder: Path, texts: list[str]):
    """(last hidden states (B, T, H), attention mask (B, T)) straight from transformers."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    batch = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.inference_mode():
        hidden = AutoModel.from_pretrained(folder).eval()(**batch).last_hidden_state
    return hidden.numpy(), batch["attention_mask"].numpy()


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


LEGACY_CLS = {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": False,
              "pooling_mode_mean_sqrt_len_tokens": False}


def test_cls_pooling_gives_the_cls_vector_not_the_mean(tmp_path, bundled_embedder_dir):
    folder = _st_folder(tmp_path / "cls-model", bundled_embedder_dir, LEGACY_CLS)
    hidden, mask = _hidden(folder, TEXTS)
    cls, mean = _unit(hidden[:, 0]), _unit((hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True))
    got = Embedder(folder, precision="fp32").encode(TEXTS)
    np.testing.assert_allclose(got, cls, atol=1e-5)
    assert not np.allclose(got, mean, atol=1e-3)


def test_new_style_pooling_mode_and_concatenated_modes(tmp_path, bundled_embedder_dir):
    folder = _st_folder(tmp_path / "max-cls", bundled_embedder_dir, {"pooling_mode": ["max", "cls"]})
    hidden, mask = _hidden(folder, TEXTS)
    maxed = np.where(mask[..., None] == 1, hidden, -np.inf).max(1)
    embedder = Embedder(folder, precision="fp32")
    got = embedder.encode(TEXTS)
    assert embedder.dim == 32 and got.shape == (3, 32)
    np.testing.assert_allclose(got, _unit(np.concatenate([maxed, hidden[:, 0]], axis=1)), atol=1e-5)


def test_pooling_is_part_of_the_vector_space_name(tmp_path, bundled_embedder_dir):
    cls = Embedder(_st_folder(tmp_path / "m", bundled_embedder_dir, LEGACY_CLS), precision="fp32")
    assert cls.pooling == ("cls",) and cls.name == "m-cls"  # vectors indexed with mean pooling get re-embedded
    mean = Embedder(bundled_embedder_dir, precision="fp32")
    assert mean.pooling == ("mean",) and mean.name == bundled_embedder_dir.name


def test_unsupported_modules_and_modes_fail_early(tmp_path, bundled_embedder_dir):
    dense = _st_folder(tmp_path / "dense", bundled_embedder_dir, LEGACY_CLS, ["Transformer", "Pooling", "Dense", "Normalize"])
    with pytest.raises(RetrievalError, match="Dense"):
        Embedder(dense)
    odd = _st_folder(tmp_path / "odd", bundled_embedder_dir, {"pooling_mode": "median"})
    with pytest.raises(RetrievalError, match="median.*cls"):
        Embedder(odd)
