"""Settings precedence: defaults < shopbot.toml < .env < SHOPBOT_* env < keyword arguments."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from assistant.config import BUNDLED_LLM, Settings, get_settings


def test_defaults(shopbot_home: Path) -> None:
    s = get_settings()
    assert s.home == shopbot_home
    assert s.llm.model == BUNDLED_LLM and s.llm.provider == "local"
    assert s.retrieval.top_k == 10
    assert s.chroma_path == shopbot_home / "chroma"
    assert (s.shop_dir / "catalog.jsonl").name == "catalog.jsonl"


def test_toml_then_env_then_kwargs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shopbot.toml").write_text(
        '[retrieval]\ntop_k = 5\ncandidates = 50\n[llm]\nmax_new_tokens = 99\ntemperature = 0.5\n'
    )
    s = Settings()
    assert (s.retrieval.top_k, s.retrieval.candidates, s.llm.max_new_tokens) == (5, 50, 99)

    (tmp_path / ".env").write_text("SHOPBOT_LLM__TEMPERATURE=0.7\nSHOPBOT_LLM__MAX_NEW_TOKENS=77\n")
    s = Settings()
    assert s.llm.temperature == 0.7 and s.llm.max_new_tokens == 77  # .env beats toml

    monkeypatch.setenv("SHOPBOT_RETRIEVAL__TOP_K", "8")
    monkeypatch.setenv("SHOPBOT_LLM__MAX_NEW_TOKENS", "55")
    s = Settings()
    assert s.retrieval.top_k == 8  # env beats toml
    assert s.retrieval.candidates == 50  # untouched toml value survives a nested env override
    assert s.llm.max_new_tokens == 55  # env beats .env

    s = Settings(retrieval={"top_k": 3})
    assert s.retrieval.top_k == 3  # keyword (CLI flag) beats everything


def test_config_file_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "elsewhere.toml"
    cfg.write_text('home = "/srv/shopbot"\n')
    monkeypatch.delenv("SHOPBOT_HOME")
    monkeypatch.setenv("SHOPBOT_CONFIG", str(cfg))
    assert get_settings().home == Path("/srv/shopbot")


def test_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPBOT_CONFIG", "/nope/shopbot.toml")
    with pytest.raises(FileNotFoundError, match="/nope/shopbot.toml"):
        get_settings()


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPBOT_LLM__TEMPERATURE", "hot")
    with pytest.raises(ValidationError, match="temperature"):
        Settings()


def test_openai_provider_needs_endpoint_and_real_key() -> None:
    with pytest.raises(ValidationError, match="base_url"):
        Settings(llm={"provider": "openai", "model": "qwen"})
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(llm={"provider": "openai", "model": "qwen", "base_url": "http://127.0.0.1:9/v1", "api_key": "changeme"})
    s = Settings(llm={"provider": "openai", "model": "qwen", "base_url": "http://127.0.0.1:9/v1", "api_key": "sk-real"})
    assert "sk-real" not in repr(s)  # secrets never print
