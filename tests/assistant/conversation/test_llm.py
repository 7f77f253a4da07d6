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
