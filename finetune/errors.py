"""Exceptions raised by `finetune/`; messages name the bad input and the fix."""


class FinetuneError(Exception):
    """Base class for fine-tuning errors a user can fix (bad data file, bad config value)."""
