"""Prompt rendering fails loudly on missing or extra variables and fills shop placeholders."""

from pathlib import Path

import pytest

from prompts import loader
from prompts.loader import PromptError, fill_placeholders, placeholders, render


@pytest.fixture
def template_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "greet.md").write_text("Hello ${name}, welcome to {{Website Name}}.")
    monkeypatch.setattr(loader, "_DIR", tmp_path)
    loader.load.cache_clear()
    yield tmp_path
    loader.load.cache_clear()


def test_render_and_errors(template_dir: Path) -> None:
    assert render("greet", name="Ana") == "Hello Ana, welcome to {{Website Name}}."
    with pytest.raises(PromptError, match=r"needs \['name'\]"):
        render("greet")
    with pytest.raises(PromptError, match="has no variables"):
        render("greet", name="Ana", extra=1)
    with pytest.raises(PromptError, match="No prompt template 'nope'.*greet"):
        render("nope")


def test_fill_placeholders() -> None:
    text = "Call {{Customer Support Phone Number}} or visit {{ website name }}; order {{Order Number}}."
    assert placeholders(text) == ["Customer Support Phone Number", "website name", "Order Number"]
    filled, unknown = fill_placeholders(text, {"Customer Support Phone Number": "555-0100", "Website Name": "Shop"})
    assert filled == "Call 555-0100 or visit Shop; order {{Order Number}}."
    assert unknown == ["Order Number"]


def test_shipped_templates_render_with_their_variables() -> None:
    for path in Path(loader.__file__).parent.glob("*.md"):
        values = {name: f"<{name}>" for name in loader.variables(path.stem)}
        assert render(path.stem, **values)
