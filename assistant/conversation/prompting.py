"""The chat messages of one drafted turn: one function for serving and for training.

`render_turn` is what `Assistant._draft` sends the chat model and what `shopbot finetune build-data` writes as a
training record's prompt, so the fine-tuned model is trained on exactly the prompt it is served: the same system
prompt, the same `<data>` block from the same tools, the same task line (the chat template is applied by the
backend at serve time and by TRL at train time, both from the same `[{"role", "content"}]` list).
"""

from __future__ import annotations

from assistant.conversation.guardrails import fence
from prompts.loader import render

MESSAGE_CHARS = 500  # of the customer's message in the prompt (fenced: untrusted text, never instructions)


def render_turn(system_prompt: str, *, message: str, data: str, task: str, history: str = "") -> list[dict[str, str]]:
    """The system and user messages of a draft, as `[{"role", "content"}]`.

    Args:
        system_prompt: the rendered `assistant_system` prompt of the shop.
        message: the customer's message (fenced and clipped here).
        data: the tool results of the step (`Step.data`), shown inside `<data>`.
        task: the name of the step's task template (`Step.task`, e.g. "task_products").
        history: the earlier turns, already fenced (`engine._history`), or "".
    """
    prompt = render("assistant_answer", history=history, data=data, message=fence(message, MESSAGE_CHARS),
                    task=render(task).strip())
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": prompt}]


__all__ = ["MESSAGE_CHARS", "render_turn"]
