"""LoRA fine-tuning of the chat model on a shop's service dialogs, and its evaluation."""

from finetune.errors import FinetuneError

__all__ = ["FinetuneError"]
