"""The shop's chat adapter: served when trained, overridable by llm.adapter ("none" = the base model)."""

from __future__ import annotations


def test_shop_adapter_is_served_when_present_and_llm_adapter_overrides(tmp_path, monkeypatch):
    from assistant.config import get_settings
    from assistant.wiring import shop_adapter_path, with_shop_adapter

    get_settings.cache_clear()
    settings = get_settings()
    assert with_shop_adapter(settings).llm.adapter is None  # nothing trained yet: the base model
    path = shop_adapter_path(settings)
    assert path == settings.home / "adapters" / settings.shop_dir.name
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text("{}", encoding="utf-8")
    assert with_shop_adapter(settings).llm.adapter == str(path)
    other = settings.model_copy(update={"llm": settings.llm.model_copy(update={"adapter": str(tmp_path / "mine")})})
    assert with_shop_adapter(other).llm.adapter == str(tmp_path / "mine")
    off = settings.model_copy(update={"llm": settings.llm.model_copy(update={"adapter": "none"})})
    assert with_shop_adapter(off).llm.adapter is None
    get_settings.cache_clear()
