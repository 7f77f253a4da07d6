"""LocalChatModel streams tokens and treats an immediate end-of-sequence as an empty reply."""

from pathlib import Path

from langchain_core.messages import HumanMessage

from assistant.conversation.llm import LocalChatModel


def test_immediate_eos_is_an_empty_reply_not_an_error(tiny_llm_dir: Path) -> None:
    llm = LocalChatModel(model_path=str(tiny_llm_dir), max_new_tokens=1)
    model, tokenizer = llm.load()
    model.generation_config.forced_eos_token_id = tokenizer.eos_token_id  # the one new token is EOS
    chunks = list(llm.stream([HumanMessage("hello")]))
    assert chunks and "".join(c.content for c in chunks) == ""
    assert llm.invoke([HumanMessage("hello")]).content == ""


def test_stream_and_batch_agree_on_greedy_text(tiny_llm_dir: Path) -> None:
    llm = LocalChatModel(model_path=str(tiny_llm_dir), max_new_tokens=8)
    streamed = "".join(c.content for c in llm.stream([HumanMessage("boots")]))
    batched = llm.generate_batch([[HumanMessage("boots")], [HumanMessage("a much longer question about tents")]])
    assert batched[0] == streamed.strip()
    assert len(batched) == 2
