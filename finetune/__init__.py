"""LoRA fine-tuning on service dialogs: data preparation, training, evaluation and merging.

Imports nothing from `assistant/` or `retrieval/`: callers pass the base model path and settings in.
"""

from finetune.data import (
    DataConfig,
    Dialog,
    DialogLoad,
    Reject,
    anonymise_text,
    load_dialogs,
    prepare_dialogs,
)
from finetune.errors import FinetuneError
from finetune.evaluate import evaluate
from finetune.merge import merge_adapter
from finetune.train import TrainConfig, TrainResult, load_config, read_run_config, train

__all__ = [
    "DataConfig",
    "Dialog",
    "DialogLoad",
    "FinetuneError",
    "Reject",
    "TrainConfig",
    "TrainResult",
    "anonymise_text",
    "evaluate",
    "load_config",
    "load_dialogs",
    "merge_adapter",
    "prepare_dialogs",
    "read_run_config",
    "train",
]
