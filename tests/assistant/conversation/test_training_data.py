"""Training records replayed through the real engine on the demo shop: the serving prompt, filled placeholders,
the grounding check deciding what a record may say."""

from __future__ import annotations

from collections import Counter

from assistant.conversation.training_data import ReplayDialog, ReplayOptions, build_records, replay_dialog


def _dialog(user: str, agent: str, customer: str | None = None) -> ReplayDialog:
    return ReplayDialog([{"role": "user", "content": user}, {"role": "assistant", "content": agent}], customer, "track_order",
                        "test:1")


def test_record_prompt_is_what_the_engine_sends_the_model(make_assistant, scripted_chat_model):
    from assistant.conversation.llm import to_chat_dicts

    message = "Where is my order SB-10050?"
    model = scripted_chat_model("Order SB-10050 is shipped.")
    served = make_assistant(model)
    list(served.chat(None, message, "C011"))
    records = build_records(make_assistant(), [_dialog(message, "Order SB-10050 is shipped with USPS.", "C011")]).records
    assert len(records) == 1
    assert records[0]["prompt"] == to_chat_dicts(model.calls[0]["messages"])
    assert records[0]["completion"] == [{"role": "assistant", "content": "Order SB-10050 is shipped with USPS."}]
    assert records[0]["origin"] == "dialog"


def test_reply_stating_an_unsupported_fact_is_dropped(make_assistant):
    a = make_assistant()
    wrong = _dialog("Where is my order SB-10050?", "Order SB-10050 was delivered yesterday and cost $12.", "C011")
    counts: Counter = Counter()
    assert replay_dialog(a, wrong, ReplayOptions(template_targets=False, repair=False), counts, None) == []
    assert counts["agent reply unsupported"] == 1
    # with template targets, the step's own grounded answer stands in for it
    [record] = replay_dialog(a, wrong, ReplayOptions(), Counter(), None)
    assert record["origin"] == "template"
    assert "SB-10050" in record["completion"][0]["content"] and "shipped" in record["completion"][0]["content"]
    assert "delivered yesterday" not in record["completion"][0]["content"]


def test_order_placeholder_becomes_the_order_the_tool_found(make_assistant):
    a = make_assistant()

    def bitext(reply: str) -> ReplayDialog:
        return ReplayDialog([{"role": "user", "content": "where is order {{Order Number}}?"},
                             {"role": "assistant", "content": reply}], None, "track_order", "bitext.csv:7")

    # which of the stand-in customer's orders the message gets is fixed; its status decides what a reply may say
    first = build_records(a, [bitext("Order {{Order Number}} is on its way.")], customers=["C011"]).records[0]
    prompt = first["prompt"][1]["content"]
    assert "Customer: where is order SB-" in prompt and "{{" not in prompt
    order = prompt.split("Customer: where is order ")[1][:8]
    status = a.orders.get(order, "C011").status
    result = build_records(a, [bitext(f"Order {{{{Order Number}}}} is {status}.")], ReplayOptions(template_targets=False),
                           customers=["C011"])
    [record] = result.records
    assert record["completion"][0]["content"] == f"Order {order} is {status}."
    assert record["origin"] == "dialog"


def test_rated_down_reply_becomes_a_rejected_answer(make_assistant):
    a = make_assistant()
    down = ReplayDialog([{"role": "user", "content": "Where is my order SB-10050?"},
                         {"role": "assistant", "content": "It was lost, sorry."}], "C011", None, "feedback:3", "feedback_down")
    [record] = build_records(a, [down]).records
    assert record["rejected"] == [{"role": "assistant", "content": "It was lost, sorry."}]
    assert "SB-10050" in record["chosen"][0]["content"] and "completion" not in record
