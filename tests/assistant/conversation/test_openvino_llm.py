"""The openvino backend on a tiny real model: conversion once per (model, adapter), continuous batching of
concurrent streams, the per-request token budget, cancellation of a closed stream, its own thread count."""

from __future__ import annotations

import threading
import time

import pytest
from langchain_core.messages import HumanMessage

from assistant.config import Settings

pytest.importorskip("openvino_genai")


@pytest.fixture(scope="module")
def ov_model(tiny_llm_dir, tmp_path_factory):
    from assistant.conversation.llm import build_chat_model

    settings = Settings(home=tmp_path_factory.mktemp("ov-home"), llm={"model": str(tiny_llm_dir), "threads": 1})
    return build_chat_model(settings), settings


def test_auto_picks_openvino_for_a_llama_folder_and_converts_once(ov_model, tiny_llm_dir):
    from assistant.conversation.models import prepare_openvino_model

    model, settings = ov_model
    assert type(model).__name__ == "OpenVINOChatModel"
    gguf = prepare_openvino_model(settings.llm, settings.models_dir, None)
    assert str(gguf) == model.model_path and gguf.parent.parent == settings.models_dir / "openvino"
    assert model.model_name == tiny_llm_dir.name  # the source model's name, not "model.gguf"
    written = gguf.stat().st_mtime_ns
    assert prepare_openvino_model(settings.llm, settings.models_dir, None).stat().st_mtime_ns == written  # cached
    text = "".join(str(c.content) for c in model.stream([HumanMessage(content="hi")], max_tokens=8))
    assert isinstance(text, str)


def test_the_per_request_budget_caps_the_reply(ov_model):
    model, _ = ov_model
    long = "".join(str(c.content) for c in model.stream([HumanMessage(content="hi")], max_tokens=40))
    short = "".join(str(c.content) for c in model.stream([HumanMessage(content="hi")], max_tokens=4))
    assert model.count_tokens(long) > 8  # the random model does not stop early, so the budget is what ends it
    assert model.count_tokens(short) <= 6


def test_concurrent_streams_share_the_decode_steps(ov_model):
    model, _ = ov_model
    engine = model.load()
    engine.peak = 0
    replies: dict[int, str] = {}

    def ask(i: int) -> None:
        replies[i] = "".join(str(c.content) for c in model.stream([HumanMessage(content=f"hello {i}")], max_tokens=30))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(replies) == 6
    assert engine.peak >= 2  # several requests were in the pipeline together, not one after the other


def test_closing_a_stream_cancels_its_request(ov_model):
    model, _ = ov_model
    engine = model.load()
    stream = model.stream([HumanMessage(content="hi")], max_tokens=1000)
    next(stream)
    assert engine.running == 1
    stream.close()
    deadline = time.time() + 10
    while engine.running and time.time() < deadline:
        time.sleep(0.05)
    assert engine.running == 0  # the slot was freed long before 1000 tokens


def test_generate_batch_answers_every_conversation(ov_model):
    model, _ = ov_model
    out = model.generate_batch([[HumanMessage(content="hi")], [HumanMessage(content="a longer message here")]],
                               max_new_tokens=5)
    assert len(out) == 2 and all(isinstance(t, str) for t in out)


def test_engine_threads_leave_torch_alone(tiny_llm_dir, tmp_path, caplog):
    import logging

    import torch

    from assistant.conversation.llm import build_chat_model

    before = torch.get_num_threads()
    settings = Settings(home=tmp_path, llm={"model": str(tiny_llm_dir), "threads": before + 1, "backend": "openvino"})
    with caplog.at_level(logging.WARNING, logger="assistant.conversation.llm"):
        model = build_chat_model(settings)
        model.load()
    assert model.threads == before + 1 and torch.get_num_threads() == before
    assert not any("llm.threads" in r.getMessage() for r in caplog.records)  # applied, so no warning


def test_an_adapter_is_merged_into_its_own_cached_model(tiny_llm_dir, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from assistant.conversation.llm import build_chat_model
    from assistant.conversation.models import prepare_openvino_model

    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(tiny_llm_dir)
    peft_model = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 2.0)  # an adapter that clearly changes the model
    adapter = tmp_path / "adapters" / "shop"
    peft_model.save_pretrained(adapter)
    plain = Settings(home=tmp_path, llm={"model": str(tiny_llm_dir), "backend": "openvino"})
    tuned = Settings(home=tmp_path, llm={"model": str(tiny_llm_dir), "backend": "openvino", "adapter": "shop"})
    assert prepare_openvino_model(tuned.llm, tuned.models_dir, str(adapter)) != prepare_openvino_model(
        plain.llm, plain.models_dir, None)
    msgs = [HumanMessage(content="hello how can I help you")]
    a = "".join(str(c.content) for c in build_chat_model(plain).stream(msgs, max_tokens=12))
    b = "".join(str(c.content) for c in build_chat_model(tuned).stream(msgs, max_tokens=12))
    assert a != b
    # the names say which is which (copy eval --compare and the logs tell base from adapter by them)
    assert build_chat_model(tuned).model_name == f"{tiny_llm_dir.name}+shop" != build_chat_model(plain).model_name


def test_openvino_asked_for_but_not_readable_names_the_fix(tmp_path):
    from assistant.conversation.llm import build_chat_model
    from assistant.errors import ModelNotAvailableError

    folder = tmp_path / "gpt2ish"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(ModelNotAvailableError, match="SHOPBOT_LLM__BACKEND=transformers"):
        build_chat_model(Settings(home=tmp_path, llm={"model": str(folder), "backend": "openvino"}))


def test_models_bench_prints_the_figures(tiny_llm_dir, tmp_path):
    """`shopbot models bench --json` runs the fixed shop prompts and prints the keys the issue names, with the
    allocator the Makefile preloads."""
    import json
    import os
    import subprocess
    import sys
    from glob import glob

    env = {**os.environ, "SHOPBOT_HOME": str(tmp_path), "SHOPBOT_LLM__MODEL": str(tiny_llm_dir), "OMP_NUM_THREADS": "1",
           "HF_HUB_OFFLINE": "1"}
    env.pop("TBB_ENABLE_SANITIZERS", None)  # the backend must set it itself
    # as `make demo` serves it: tcmalloc preloaded (OpenVINO's TBB used to free its memory: "free(): invalid pointer")
    env["LD_PRELOAD"] = next(iter(glob("/usr/lib/*/libtcmalloc_minimal.so.4")), "")
    cmd = [sys.executable, "-m", "assistant.cli", "models", "bench", "--json", "--concurrency", "3", "--max-new-tokens", "8"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-1000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"backend", "concurrency", "tokens_per_s", "ttft_ms_p50", "rss_mb"} <= out.keys()
    assert out["backend"] == "openvino" and out["concurrency"] == 3 and out["tokens"] > 0 and out["rss_mb"] > 0
    bad = subprocess.run([*cmd[:5], "--backend", "vllm"], env=env, capture_output=True, text=True, timeout=600)
    assert bad.returncode == 1 and "Unknown backend 'vllm'" in bad.stderr


def test_prompt_tokens_and_context_match_the_transformers_backend(ov_model, tiny_llm_dir):
    """Callers that budget prompts (copy generation) see the same figures whichever backend serves."""
    from assistant.conversation.llm import LocalChatModel

    model, _ = ov_model
    local = LocalChatModel(model_path=str(tiny_llm_dir))
    messages = [HumanMessage(content="Write two sentences about a waterproof boot.")]
    assert model.prompt_tokens(messages) == local.prompt_tokens(messages) > 5
    assert model.context_length() == local.context_length() == local.load()[0].config.max_position_embeddings


def test_decoding_leaves_the_servers_threads_their_cpu(ov_model):
    """The pipeline runs in its own process: while it decodes, a Python thread of the server keeps running at
    a good share of its speed (in-process, `step` held the GIL and such a thread got ~3 %)."""
    model, _ = ov_model
    model.load()

    def spin(seconds: float, out: list) -> None:
        n, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            n += 1
        out.append(n)

    alone: list[int] = []
    spin(1.0, alone)
    during: list[int] = []
    stop, batches = threading.Event(), []

    def decode() -> None:
        while not stop.is_set():
            batches.append(model.generate_batch([[HumanMessage(content=f"hi {i}")] for i in range(8)], max_new_tokens=100))

    decoding = threading.Thread(target=decode)
    decoding.start()
    time.sleep(0.3)
    before = len(batches)
    spin(1.0, during)
    decoded = len(batches) - before
    stop.set()
    decoding.join(timeout=120)
    assert decoded >= 1  # the model kept decoding while the thread spun
    assert during[0] > 0.25 * alone[0]


def test_a_dead_engine_fails_its_requests_and_the_next_one_starts_a_new_engine(ov_model):
    model, _ = ov_model
    engine = model.load()
    stream = model.stream([HumanMessage(content="hi")], max_tokens=1000)
    next(stream)
    engine.process.kill()
    with pytest.raises(RuntimeError, match="engine process exited"):
        for _ in stream:
            pass
    text = "".join(str(c.content) for c in model.stream([HumanMessage(content="hi")], max_tokens=4))
    assert isinstance(text, str) and model.load() is not engine and model.load().alive


def test_prompt_lookup_keeps_the_greedy_reply(tiny_llm_dir, tmp_path):
    """Prompt lookup decoding (the default) only proposes tokens the model then verifies: in f32 its greedy
    replies are the plain engine's, token for token."""
    from assistant.conversation.llm import build_chat_model

    def replies(prompt_lookup: bool) -> list[str]:
        settings = Settings(home=tmp_path, llm={"model": str(tiny_llm_dir), "backend": "openvino", "threads": 1,
                                                "precision": "f32", "prompt_lookup": prompt_lookup})
        model = build_chat_model(settings)
        assert model.prompt_lookup is prompt_lookup and model.precision == "f32"
        # prompts that repeat themselves, so the lookup finds n-grams to propose
        return model.generate_batch([[HumanMessage(content=f"{w} {w} {w} blue tent {w} blue tent")] for w in ("red", "green", "sky")],
                                    max_new_tokens=24)

    assert replies(True) == replies(False)
