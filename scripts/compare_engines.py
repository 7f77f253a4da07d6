"""Compare local inference engines on the bundled chat model, on this machine (README's engine table).

For every engine that is installed: single-stream decode tokens/s and, where the engine batches, the
aggregate tokens/s of 16 prompts at once, on the fixed shop prompts of `shopbot models bench`; and how far
its greedy replies agree with fp32 `transformers` over 50 prompts x 32 new tokens. Agreement re-tokenises
both replies with the model's own tokenizer and counts equal tokens position by position (a reply that
diverges early disagrees on the rest), so engines are compared on the same measure whatever ids they emit.

    .venv/bin/python scripts/compare_engines.py [--out engines.jsonl]

CTranslate2 and ONNX Runtime GenAI are not dependencies of Shopbot: they are measured only if importable
(e.g. `pip install --no-deps --target /tmp/ct2lib ctranslate2` and `PYTHONPATH=/tmp/ct2lib`). Each row is
printed as a JSON line as soon as it is measured.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TBB_ENABLE_SANITIZERS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

AGREE_PROMPTS, AGREE_TOKENS = 50, 32
SPEED_PROMPTS, SPEED_TOKENS, BATCH = 6, 64, 16


def _prompts(tokenizer: Any) -> list[str]:
    from assistant.conversation.llm_bench import shop_prompts

    return [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False) for p in shop_prompts(50)]


def agreement(reference: list[list[int]], other: list[list[int]]) -> float:
    """Share of reference tokens that the other engine produced at the same position."""
    same = sum(sum(1 for a, b in zip(r, o, strict=False) if a == b) for r, o in zip(reference, other, strict=True))
    return same / max(1, sum(len(r) for r in reference))


def measure(name: str, weights: str, generate: Callable[[list[str], int], list[str]], tokenizer: Any,
            prompts: list[str], reference: list[list[int]] | None, batches: bool) -> dict[str, Any]:
    """tokens/s single stream (one prompt at a time), at BATCH prompts at once, and agreement with `reference`."""
    ids = lambda texts: [tokenizer(t, add_special_tokens=False)["input_ids"][:AGREE_TOKENS] for t in texts]  # noqa: E731
    generate(prompts[:1], 4)  # warm up
    start, tokens = time.perf_counter(), 0
    for p in prompts[:SPEED_PROMPTS]:
        tokens += len(tokenizer(generate([p], SPEED_TOKENS)[0], add_special_tokens=False)["input_ids"])
    single = tokens / (time.perf_counter() - start)
    row: dict[str, Any] = {"engine": name, "weights": weights, "single_tokens_per_s": round(single, 1)}
    if batches:
        start = time.perf_counter()
        out = generate(prompts[:BATCH], SPEED_TOKENS)
        n = sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in out)
        row[f"batch{BATCH}_tokens_per_s"] = round(n / (time.perf_counter() - start), 1)
    replies = []
    for i in range(0, AGREE_PROMPTS, BATCH if batches else 1):
        replies.extend(generate(prompts[i : i + (BATCH if batches else 1)], AGREE_TOKENS))
    got = ids(replies)
    row["agreement_vs_fp32"] = round(agreement(reference, got), 3) if reference is not None else 1.0
    row["identical_replies"] = sum(a == b for a, b in zip(reference or got, got, strict=True))
    print(json.dumps(row), flush=True)
    return {"row": row, "ids": got}


def transformers_engine(folder: Path, dtype: str) -> Callable[[list[str], int], list[str]]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = "left"
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype)).eval()

    def generate(prompts: list[str], n: int) -> list[str]:
        batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**batch, max_new_tokens=n, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        return tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)

    return generate


def openvino_engine(gguf: Path, prompt_lookup: bool = False, precision: str | None = None) -> Callable[[list[str], int], list[str]]:
    from assistant.conversation.openvino_llm import OpenVINOChatModel

    model = OpenVINOChatModel(model_path=str(gguf), threads=os.cpu_count(), prompt_lookup=prompt_lookup, precision=precision)
    model.load()
    return lambda prompts, n: model.complete_prompts(prompts, n)  # already chat-templated: the others' text


def _q8_gguf(folder: Path) -> Path:
    from assistant.conversation.models import _write_gguf

    out = Path(tempfile.gettempdir()) / "ov-q8_0"
    if not (out / "model.gguf").exists():
        out.mkdir(exist_ok=True)
        _write_gguf(folder, None, out, weights="q8_0")
    return out / "model.gguf"


def ctranslate2_engine(folder: Path, quantization: str, tokenizer: Any) -> Callable[[list[str], int], list[str]]:
    import ctranslate2

    out = Path(tempfile.gettempdir()) / f"ct2-{quantization}"
    if not (out / "model.bin").exists():
        ctranslate2.converters.TransformersConverter(str(folder)).convert(str(out), quantization=quantization, force=True)
    generator = ctranslate2.Generator(str(out), device="cpu", compute_type=quantization, intra_threads=os.cpu_count() or 1)

    def generate(prompts: list[str], n: int) -> list[str]:
        tokens = [tokenizer.convert_ids_to_tokens(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
        results = generator.generate_batch(tokens, max_length=n, sampling_topk=1, include_prompt_in_result=False)
        return [tokenizer.decode(r.sequences_ids[0], skip_special_tokens=True) for r in results]

    return generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="also write the rows here (JSON lines)")
    parser.add_argument("--engines", default="", help="only these, comma-separated (transformers fp32 always runs)")
    args = parser.parse_args()
    from transformers import AutoTokenizer

    from assistant.config import Settings
    from assistant.conversation.models import bundled_gguf, prepare_bundled_llm, prepare_openvino_model

    settings = Settings()
    folder = prepare_bundled_llm(settings.models_dir)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    prompts = _prompts(tokenizer)
    rows = []
    ref = measure("transformers", "fp32 (dequantised GGUF)", transformers_engine(folder, "float32"), tokenizer, prompts, None, True)
    rows.append(ref["row"])
    reference = ref["ids"]
    served = prepare_openvino_model(settings.llm, settings.models_dir, None)
    candidates: list[tuple[str, str, Callable[[], Callable], bool]] = [
        ("transformers", "bf16", lambda: transformers_engine(folder, "bfloat16"), True),
        ("openvino-genai", "f16 GGUF written from the HF folder, f32 precision, prompt lookup (served)",
         lambda: openvino_engine(served, True, "f32"), True),
        ("openvino-genai", "f16 GGUF, f32 precision, no prompt lookup", lambda: openvino_engine(served, False, "f32"), True),
        ("openvino-genai", "f16 GGUF, OpenVINO's default precision for the CPU (bf16 where it has it)",
         lambda: openvino_engine(served), True),
        ("openvino-genai", "q8_0 GGUF written from the HF folder, default precision", lambda: openvino_engine(_q8_gguf(folder)), True),
        ("openvino-genai", "bundled Q4_1 GGUF read directly, default precision", lambda: openvino_engine(bundled_gguf()), True),
    ]
    if importlib.util.find_spec("ctranslate2"):
        candidates += [("ctranslate2", q, lambda q=q: ctranslate2_engine(folder, q, tokenizer), True) for q in ("int8", "float32")]
    if args.engines:
        candidates = [c for c in candidates if c[0] in args.engines.split(",")]
    for name, weights, build, batches in candidates:
        try:
            rows.append(measure(name, weights, build(), tokenizer, prompts, reference, batches)["row"])
        except Exception as exc:  # one engine failing does not lose the others' rows
            print(json.dumps({"engine": name, "weights": weights, "error": repr(exc)[:300]}), flush=True)
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
