"""Load prompt templates from this folder and render them, failing loudly on a missing variable.

Templates are `<name>.md` files using `${variable}` (stdlib `string.Template`), so the `{{Website Name}}`
placeholders of service dialogs pass through untouched; `fill_placeholders` fills those from the shop
profile.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from string import Template

_DIR = Path(__file__).parent
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


class PromptError(KeyError):
    """A template is missing, or rendering it lacks a variable."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@cache
def load(name: str) -> Template:
    """Return the template `prompts/<name>.md`."""
    path = _DIR / f"{name}.md"
    if not path.is_file():
        known = sorted(p.stem for p in _DIR.glob("*.md"))
        raise PromptError(f"No prompt template '{name}' in {_DIR}; expected one of {known}.")
    return Template(path.read_text(encoding="utf-8"))


def variables(name: str) -> set[str]:
    """The variables a template needs."""
    return set(load(name).get_identifiers())


def render(name: str, /, **values: object) -> str:
    """Render template `name`; every `${variable}` must be given, extra values are refused too."""
    template = load(name)
    needed = set(template.get_identifiers())
    missing = needed - values.keys()
    if missing:
        raise PromptError(f"Prompt '{name}' needs {sorted(missing)}; got {sorted(values)}.")
    extra = values.keys() - needed
    if extra:
        raise PromptError(f"Prompt '{name}' has no variables {sorted(extra)}; it uses {sorted(needed)}.")
    return template.substitute({k: str(v) for k, v in values.items()})


def placeholders(text: str) -> list[str]:
    """The `{{Placeholder}}` names in `text`, in order of appearance."""
    return [m.group(1) for m in _PLACEHOLDER.finditer(text)]


def fill_placeholders(text: str, values: dict[str, str]) -> tuple[str, list[str]]:
    """Replace `{{Name}}` placeholders (case-insensitive) from `values`.

    Returns the filled text and the names that had no value (left in place so callers can decide).
    """
    lookup = {k.strip().lower(): v for k, v in values.items()}
    unknown: list[str] = []

    def _sub(match: re.Match[str]) -> str:
        key = match.group(1).strip().lower()
        if key in lookup:
            return lookup[key]
        unknown.append(match.group(1))
        return match.group(0)

    return _PLACEHOLDER.sub(_sub, text), unknown
