"""Chat-model backends: the local transformers model streams and batches; the OpenAI one is configured."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage

from assistant.config import Settings
from assistant.conversation.llm import LocalChatModel, build_chat_model, to_chat_dicts


def test_to_chat_dicts():
    assert to_chat_dicts([SystemMessage(content="s"), HumanMessage(content="h")]) == [
        {"role": "system", "content": "s"}, {"role": "user", "content": "h"}]


def test_local_model_streams_and_invokes(tiny_llm_dir):
    model = LocalChatModel(model_path=str(tiny_llm_dir), max_new_tokens=8)
    messages = [SystemMessage(content="You help."), HumanMessage(content="hello")]
    pieces = [c.content for c in model.stream(messages)]
    assert pieces and all(isinstance(p, str) for p in pieces)
    assert model.invoke(messages).content == "".join(pieces)  # greedy: same text both ways
    assert model.model_name == tiny_llm_dir.name


def test_local_model_respects_max_new_tokens(tiny_llm_dir):
    model = LocalChatModel(model_path=str(tiny_llm_dir), max_new_tokens=64)
    _, tokenizer = model.load()
    text = "".join(c.content for c in model.stream([HumanMessage(content="hi")], max_new_tokens=4))
    assert len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= 6


def test_generate_batch(tiny_llm_dir):
    model = LocalChatModel(model_path=str(tiny_llm_dir), max_new_tokens=6)
    out = model.generate_batch([[HumanMessage(content="hi")], [HumanMessage(content="a longer message here")]])
    assert len(out) == 2 and all(isinstance(t, str) for t in out)


def test_openai_backend_is_built_without_network():
    settings = Settings(llm={"provider": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "served"})
    model = build_chat_model(settings)
    assert type(model).__name__ == "ChatOpenAI" and model.model_name == "served"


def test_local_model_takes_the_standard_max_tokens(tiny_llm_dir):
    """`max_tokens` (LangChain's name, what the engine passes every backend) caps a local reply too."""
    model = LocalChatModel(model_path=str(tiny_llm_dir), max_new_tokens=32)
    _, tokenizer = model.load()

    def tokens(**kwargs) -> int:
        text = "".join(c.content for c in model.stream([HumanMessage(content="hi")], **kwargs))
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    assert tokens() > 8  # the random model does not stop early, so the cap below is what ends it
    assert tokens(max_tokens=4) <= 6


def test_openai_backend_sends_the_per_call_max_tokens(serve):
    """The OpenAI-compatible backend puts a per-call `max_tokens` into the request (a real HTTP server here)."""
    import json

    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    bodies: list[dict] = []

    async def completions(request):
        bodies.append(await request.json())
        chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "served",
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hello."}, "finish_reason": "stop"}]}
        return StreamingResponse(iter([f"data: {json.dumps(chunk)}\n\n", "data: [DONE]\n\n"]),
                                 media_type="text/event-stream")

    app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])

    with serve(app) as base:
        settings = Settings(llm={"provider": "openai", "base_url": f"{base}/v1", "model": "served"})
        text = "".join(str(c.content) for c in build_chat_model(settings).stream([HumanMessage(content="hi")], max_tokens=7))
    assert text == "Hello."
    assert bodies and (bodies[0].get("max_completion_tokens") or bodies[0].get("max_tokens")) == 7


def test_loading_the_local_model_leaves_torch_threads_alone(tiny_llm_dir, caplog):
    """torch's thread count is process-wide (the embedder shares it): `llm.threads` must not change it."""
    import logging

    import torch

    before = torch.get_num_threads()
    settings = Settings(llm={"model": str(tiny_llm_dir), "threads": before + 1, "backend": "transformers"})
    try:
        with caplog.at_level(logging.WARNING, logger="assistant.conversation.llm"):
            build_chat_model(settings).load()
        assert torch.get_num_threads() == before
        assert any("llm.threads" in r.getMessage() for r in caplog.records)
    finally:
        torch.set_num_threads(before)
