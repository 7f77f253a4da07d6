"""Verified streaming: each sentence of a draft reaches the shopper as soon as it has passed the grounding check,
while the model is still writing; a sentence that fails is never sent (scripted streaming model, no weights)."""

from __future__ import annotations

import re
from typing import Any

import pytest


def _first_row(prompt: str) -> tuple[str, str]:
    name, price = re.search(r"\[1\] name: (.+?); price: (\$[\d.,]+)", prompt).groups()
    return name.split(" - ")[0], price


@pytest.fixture
def streaming_model():
    """`streaming_model(make_draft)`: streams the draft word by word and counts the words it has yielded
    (`.yielded`), so a test sees how far the model had got when an event arrived; `.closed` says whether the
    consumer closed the stream before the end."""
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

    class StreamingModel(BaseChatModel):
        make_draft: Any
        yielded: int = 0
        total: int = 0
        closed: bool = False
        prompt: str = ""

        @property
        def _llm_type(self) -> str:
            return "scripted-stream"

        def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
            text = "".join(c.text for c in self._stream(messages, stop, run_manager, **kwargs))
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

        def _stream(self, messages, stop=None, run_manager=None, **kwargs):
            self.prompt = str(messages[-1].content)
            words = re.findall(r"\S+\s*", self.make_draft(str(messages[-1].content)))
            self.total = len(words)
            try:
                for word in words:
                    self.yielded += 1
                    yield ChatGenerationChunk(message=AIMessageChunk(content=word))
            except GeneratorExit:
                self.closed = True
                raise

    return lambda make_draft: StreamingModel(make_draft=make_draft)


def _prompt(model) -> str:
    return model.prompt


def _lead(prompt: str) -> str:
    name, price = _first_row(prompt)
    return f"The {name} is a great pick at {price}."


def test_first_sentence_streams_before_the_model_has_finished(make_assistant, streaming_model):
    model = streaming_model(lambda p: _lead(p) + " It is a lovely choice for your hikes. You will enjoy it on the trail today.")
    seen_at_first_token = None
    events = []
    for event in make_assistant(model).chat(None, "show me waterproof hiking boots"):
        if event.type == "token" and seen_at_first_token is None:
            seen_at_first_token = model.yielded
        events.append(event)
    done = events[-1].data
    assert seen_at_first_token is not None and seen_at_first_token < model.total  # the model was still writing
    assert "".join(e.data["text"] for e in events if e.type == "token") == done["reply"]
    assert done["answer_source"] in ("llm", "repaired") and done["reply"].splitlines()[0] == _lead(_prompt(model))
    assert [e.type for e in events][:1] == ["products"]  # the cards go out before the reply


def test_a_failing_sentence_is_never_streamed(make_assistant, streaming_model):
    model = streaming_model(lambda p: _lead(p) + " It is woven from moonbeams and dragon scales. Enjoy it on the trail.")
    events = list(make_assistant(model).chat(None, "show me waterproof hiking boots"))
    streamed = "".join(e.data["text"] for e in events if e.type == "token")
    assert "moonbeams" not in streamed and streamed == events[-1].data["reply"]
    assert events[-1].data["answer_source"] == "repaired"


def test_nothing_of_a_rejected_draft_is_streamed_before_the_template(make_assistant, streaming_model):
    model = streaming_model(lambda p: "Everything in the shop is free today at $0.00. Come and get it.")
    events = list(make_assistant(model).chat(None, "show me waterproof hiking boots"))
    templated = list(make_assistant().chat(None, "show me waterproof hiking boots"))[-1].data["reply"]
    streamed = "".join(e.data["text"] for e in events if e.type == "token")
    assert events[-1].data["answer_source"] == "fallback" and streamed == templated


def test_closing_the_turn_closes_the_models_stream(make_assistant, streaming_model):
    """A shopper who leaves mid-reply (the SSE endpoint closes the turn's generator) stops the model too."""
    model = streaming_model(lambda p: _lead(p) + " " + " ".join(["It is a lovely choice for your hikes."] * 8))
    turn = make_assistant(model).chat(None, "show me waterproof hiking boots")
    for event in turn:
        if event.type == "token":
            break
    turn.close()
    assert model.closed and model.yielded < model.total


@pytest.fixture
def one_draft_slot(monkeypatch):
    from assistant.config import get_settings

    monkeypatch.setenv("SHOPBOT_LLM__MAX_DRAFTS", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _until_first_token(turn) -> None:
    for event in turn:
        if event.type == "token":
            return
    raise AssertionError("the turn sent no token")


def test_a_turn_that_finds_every_draft_slot_taken_gets_its_template_at_once(make_assistant, streaming_model, one_draft_slot):
    """llm.max_drafts = 1: while one shopper's reply is being drafted, another shopper's turn is answered from
    its template (same facts, answer_source 'busy') instead of queueing for the model; the slot is free again
    once the first draft is done."""
    model = streaming_model(lambda p: _lead(p) + " " + " ".join(["It is a lovely choice for your hikes."] * 4))
    assistant = make_assistant(model)
    first = assistant.chat(None, "show me waterproof hiking boots")
    _until_first_token(first)  # the model is mid-draft: the one slot is taken
    drafted_before = model.yielded
    busy = list(assistant.chat(None, "show me waterproof hiking boots"))[-1].data
    assert busy["answer_source"] == "busy"
    assert busy["products"] and all(p["title"].split(" - ")[0] in busy["reply"] for p in busy["products"][:2])
    assert model.yielded == drafted_before  # the model was not asked for the second reply
    assert list(first)[-1].data["answer_source"] in ("llm", "repaired")
    again = list(assistant.chat(None, "show me waterproof hiking boots"))[-1].data
    assert again["answer_source"] in ("llm", "repaired")


def test_a_turn_closed_mid_draft_frees_its_slot(make_assistant, streaming_model, one_draft_slot):
    model = streaming_model(lambda p: _lead(p) + " " + " ".join(["It is a lovely choice for your hikes."] * 8))
    assistant = make_assistant(model)
    left = assistant.chat(None, "show me waterproof hiking boots")
    _until_first_token(left)
    left.close()  # the shopper closed the page
    assert list(assistant.chat(None, "show me waterproof hiking boots"))[-1].data["answer_source"] in ("llm", "repaired")


def test_default_draft_slots_follow_the_backend(tmp_path):
    import os

    from assistant.config import LLMSettings
    from assistant.conversation.llm import LocalChatModel
    from assistant.conversation.openvino_llm import OpenVINOChatModel
    from assistant.wiring import draft_slots

    local = LLMSettings()
    assert draft_slots(local, OpenVINOChatModel(model_path=str(tmp_path / "m.gguf"))) == 4 * os.cpu_count()
    assert draft_slots(local, LocalChatModel(model_path=str(tmp_path))) == 1  # one reply at a time anyway
    assert draft_slots(LLMSettings(provider="openai", base_url="http://127.0.0.1:9/v1", model="m"), object()) == 0
    assert draft_slots(LLMSettings(max_drafts=0), OpenVINOChatModel(model_path=str(tmp_path / "m.gguf"))) == 0
    assert draft_slots(LLMSettings(max_drafts=3), object()) == 3
