"""One rendering of a drafted turn for serving and for training: the record's prompt is what the model gets."""

from __future__ import annotations

from assistant.conversation.prompting import render_turn


def test_training_prompt_is_byte_identical_to_the_served_prompt(make_assistant, scripted_chat_model, tiny_llm_dir):
    from trl.data_utils import apply_chat_template

    from assistant.conversation.llm import LocalChatModel, to_chat_dicts

    model = scripted_chat_model("Hello!")
    a = make_assistant(model)
    message = "show me rain jackets under $200"
    list(a.chat(None, message))
    served = model.calls[0]["messages"]  # what the engine sent the chat model
    # the same turn, planned again and rendered the way a training record is
    session = a.sessions.open(None, None)
    from assistant.conversation.state import DialogueState

    step = a._plan(session, DialogueState(), message, None)[0]
    record = {"prompt": render_turn(a.system_prompt, message=message, data=step.data, task=step.task),
              "completion": [{"role": "assistant", "content": "The Rain Shell costs $120."}]}
    assert record["prompt"] == to_chat_dicts(served)

    local = LocalChatModel(model_path=str(tiny_llm_dir))
    _, tokenizer = local.load()
    train_prompt = apply_chat_template(record, tokenizer)["prompt"]  # how TRL renders the record's prompt
    served_ids = local._prompt_ids(served)["input_ids"][0].tolist()  # what the local backend feeds the model
    assert tokenizer.decode(served_ids) == train_prompt
    assert tokenizer(train_prompt, add_special_tokens=False)["input_ids"] == served_ids
    assert "<data>" in train_prompt and "Customer: show me rain jackets under $200" in train_prompt
