"""Text primitives used by more than one package: personal-data detection and sentence splitting.

A leaf package: it imports nothing of the project, so `assistant`, `retrieval` and `finetune` may all use it.
"""

from text.pii import PII_KINDS, Span, find_pii, replace_pii
from text.sentences import split_clauses, split_sentences

__all__ = ["PII_KINDS", "Span", "find_pii", "replace_pii", "split_clauses", "split_sentences"]
