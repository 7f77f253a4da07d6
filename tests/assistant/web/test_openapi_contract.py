"""The OpenAPI document is the contract: Schemathesis (`--checks all`) finds no answer that breaks it.

Runs the `schemathesis run` CLI, the command a person runs by hand (all its phases: examples, coverage,
fuzzing, stateful), against the real engine with the tiny LLM behind a real uvicorn server, with a few
examples per operation. Its settings are in the repository root's `schemathesis.toml`, which the plain
`schemathesis run` command also finds there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from assistant.web.api import create_app
from assistant.web.keys import KeyStore

CONFIG = Path(__file__).resolve().parents[3] / "schemathesis.toml"


@pytest.mark.slow
def test_schemathesis_finds_no_contract_violation(serve, tmp_path, engine_settings, engine_assistant):
    settings = engine_settings.model_copy(update={"api": engine_settings.api.model_copy(
        update={"rate_limit_per_minute": 1_000_000})})  # a few thousand requests, none of them throttled
    _, secret = KeyStore(settings.db_path).create("secret", name="schemathesis")
    har = tmp_path / "schemathesis.har"
    with serve(create_app(settings, engine_assistant, ui=False)) as base:
        run = subprocess.run(
            [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(CONFIG), "--no-color",
             "run", f"{base}/openapi.json", "--checks", "all", "-H", f"X-Shopbot-Key: {secret}",
             "--max-examples", "5", "--seed", "1", "--workers", "1", "--report", "har", "--report-har-path", str(har)],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    assert "9 selected / 9 total" in run.stdout  # every documented operation was tested

    # the model-backed operations really answered, not only refused: chat (streamed and whole) and copy
    answered = Counter()
    for entry in json.loads(har.read_text())["log"]["entries"]:
        path = entry["request"]["url"].removeprefix(base).split("?")[0]
        media = next((h["value"] for h in entry["response"]["headers"] if h["name"].lower() == "content-type"), "")
        answered[(entry["request"]["method"], path, entry["response"]["status"], media.split(";")[0])] += 1
    assert not [key for key in answered if key[2] == 429], answered
    assert answered[("POST", "/v1/chat", 200, "text/event-stream")], answered
    assert answered[("POST", "/v1/chat", 200, "application/json")], answered
    assert answered[("POST", "/v1/copy", 200, "application/json")], answered
    # an undocumented method on a known path is refused with 405, not 404
    assert any(method not in {"GET", "POST"} and status == 405 for method, _, status, _ in answered), answered
