"""The CLI starts fast (no heavy imports) and reports user mistakes in one line."""

import subprocess
import sys
import time
from pathlib import Path


def _run(*args: str, cwd: Path, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "HF_HUB_OFFLINE": "1", "SHOPBOT_HOME": str(cwd / "h")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_import_cli_keeps_heavy_modules_out() -> None:
    code = ("import sys, assistant.cli; heavy = [m for m in ('torch', 'transformers', 'chromadb', 'gradio', 'peft', "
            "'fastapi', 'langchain_core') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_help_lists_command_groups(tmp_path: Path) -> None:
    start = time.perf_counter()
    proc = _run("--help", cwd=tmp_path)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0
    for command in ("index", "search", "ask", "chat", "serve", "models", "finetune", "recs", "copy", "eval", "keys"):
        assert command in proc.stdout
    print(f"shopbot --help took {elapsed:.2f}s")


def test_bad_config_value_is_one_clear_line(tmp_path: Path) -> None:
    proc = _run("models", "list", cwd=tmp_path, env_extra={"SHOPBOT_LLM__TEMPERATURE": "hot"})
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "temperature" in proc.stderr


def test_missing_config_file_is_one_clear_line(tmp_path: Path) -> None:
    proc = _run("models", "list", cwd=tmp_path, env_extra={"SHOPBOT_CONFIG": str(tmp_path / "nope.toml")})
    assert proc.returncode == 1 and "nope.toml" in proc.stderr and "Traceback" not in proc.stderr


def test_models_list_json(tmp_path: Path) -> None:
    import json

    proc = _run("models", "list", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {row["role"]: row for row in json.loads(proc.stdout)}
    assert rows["chat"]["status"] == "not prepared"
    assert rows["embedding"]["status"] == "ready"
