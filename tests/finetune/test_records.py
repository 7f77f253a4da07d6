"""Records in the serving format (`shopbot finetune build-data`): read, trained on, evaluated, preferred (DPO)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from finetune import FinetuneError, load_config, train
from finetune.data import DataConfig, detect_format, load_records
from finetune.train import train_preference


def _records(path: Path, n: int = 24) -> Path:
    lines = []
    for i in range(n):
        prompt = [{"role": "system", "content": "You are the shop's assistant."},
                  {"role": "user", "content": f"<data>\nOrder SB-1{i:04d}: shipped\n</data>\n\nCustomer: where is SB-1{i:04d}?"}]
        split = "test" if i % 6 == 0 else "train"
        lines.append({"prompt": prompt, "completion": [{"role": "assistant", "content": f"Order SB-1{i:04d} is shipped."}],
                      "split": split, "origin": "dialog", "intent": "track_order"})
        if i % 4 == 0:
            lines.append({"prompt": prompt, "chosen": [{"role": "assistant", "content": f"Order SB-1{i:04d} is shipped."}],
                          "rejected": [{"role": "assistant", "content": "It was lost."}], "split": "train", "origin": "feedback_down"})
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    return path


def _config(tmp_path: Path) -> Path:
    cfg = {"name": "shop", "threads": 1, "early_stopping_patience": None, "data": {"format": "records"},
           "lora": {"task_type": "CAUSAL_LM", "r": 8, "lora_alpha": 16, "lora_dropout": 0.0, "target_modules": "all-linear"},
           "sft": {"max_steps": 4, "per_device_train_batch_size": 4, "learning_rate": 1.0e-2, "logging_steps": 1,
                   "eval_strategy": "no", "save_strategy": "no", "report_to": [], "max_length": 256,
                   "completion_only_loss": True, "disable_tqdm": True, "bf16": False,
                   "activation_checkpointing": False},
           "dpo": {"max_length": 256, "per_device_train_batch_size": 2, "learning_rate": 1.0e-3, "disable_tqdm": True}}
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def test_records_are_read_by_split_and_bad_lines_are_named(tmp_path: Path) -> None:
    path = _records(tmp_path / "r.jsonl")
    assert detect_format(path) == "records"
    data = load_records(path, DataConfig())
    assert (len(data.train), len(data.test), len(data.preference)) == (20, 4, 6)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(path.read_text().splitlines()[0] + '\n{"prompt": [{"role": "assistant", "content": "x"}]}\n')
    with pytest.raises(FinetuneError, match="line 2"):
        load_records(bad, DataConfig())


def test_sft_then_dpo_on_records_change_the_adapter(tiny_llm_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    path = _records(tmp_path / "r.jsonl")
    cfg = load_config(_config(tmp_path))
    out = tmp_path / "adapter"
    result = train(cfg, tiny_llm_dir, out, data_path=path)
    assert result.steps == 4 and result.data_stats["format"] == "records"
    before = {k: v.clone() for k, v in load_file(str(out / "adapter_model.safetensors")).items()}
    steps = train_preference(cfg, tiny_llm_dir, out, load_records(path, cfg.data).preference, max_steps=2)
    after = load_file(str(out / "adapter_model.safetensors"))
    assert steps == 2
    assert any(not before[k].equal(after[k]) for k in before if k in after)
    with pytest.raises(FinetuneError, match="rated -1"):
        train_preference(cfg, tiny_llm_dir, out, [])


def test_evaluate_uses_the_held_out_records(tiny_llm_dir: Path, tmp_path: Path) -> None:
    from finetune import evaluate

    path = _records(tmp_path / "r.jsonl")
    out = tmp_path / "adapter"
    train(load_config(_config(tmp_path)), tiny_llm_dir, out, data_path=path, max_steps=1)
    report = evaluate(tiny_llm_dir, out, generate_limit=2, max_new_tokens=4, threads=1)
    assert report["perplexity_dialogs"] == 4 and report["generated_dialogs"] == 2
    assert report["base"]["perplexity"] > 0 and report["adapter"]["rougeL"] is not None
