"""Merge a LoRA adapter into its base model and save a full model folder (servable without peft)."""

from __future__ import annotations

import logging
from pathlib import Path

from finetune.errors import FinetuneError

logger = logging.getLogger(__name__)


def merge_adapter(adapter_dir: str | Path, base_model: str | Path, output_dir: str | Path) -> Path:
    """Load `base_model`, apply the adapter in `adapter_dir`, fold it into the weights and save to `output_dir`.

    Raises:
        FinetuneError: `adapter_dir` holds no adapter.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter_dir, output_dir = Path(adapter_dir).expanduser(), Path(output_dir).expanduser()
    if not (adapter_dir / "adapter_config.json").is_file():
        raise FinetuneError(f"{adapter_dir} holds no adapter_config.json; pass a folder written by `finetune train`.")
    model = AutoModelForCausalLM.from_pretrained(str(base_model), dtype=torch.float32)
    model = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(output_dir), safe_serialization=True)
    tokenizer_src = adapter_dir if (adapter_dir / "tokenizer_config.json").exists() else Path(str(base_model))
    AutoTokenizer.from_pretrained(str(tokenizer_src)).save_pretrained(str(output_dir))
    logger.info("merged %s into %s -> %s", adapter_dir, base_model, output_dir)
    return output_dir
