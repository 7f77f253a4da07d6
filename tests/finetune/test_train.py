"""LoRA training, resume, merge and evaluation on the tiny random model (fast, CPU, offline)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from finetune import FinetuneError, load_config, merge_adapter, read_run_config, train
from finetune.evaluate import evaluate

REPO = Path(__file__).resolve().parents[2]


def _dialogs(path: Path, n: int = 48) -> Path:
    """A small chat JSONL with two intents and repetitive replies the tiny model can learn quickly."""
    intents = {
        "track_order": "You can track your parcel in your account under Orders, then Track.",
        "cancel_order": "To cancel, open Orders, choose the order and press Cancel before it ships.",
    }
    lines = []
    for i in range(n):
        intent = list(intents)[i % 2]
        question = f"{'where is my parcel' if intent == 'track_order' else 'please cancel my order'} number {i}"
        lines.append(json.dumps({"intent": intent, "messages": [
            {"role": "user", "content": question}, {"role": "assistant", "content": intents[intent]}]}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _config(tmp_path: Path, **sft: object) -> Path:
    cfg = {
        "name": "tiny",
        "threads": 1,
        "early_stopping_patience": None,
        "data": {"val_fraction": 0.1, "test_fraction": 0.2, "seed": 5, "near_duplicate_threshold": 1.0},
        "lora": {"task_type": "CAUSAL_LM", "r": 8, "lora_alpha": 16, "lora_dropout": 0.0, "target_modules": "all-linear"},
        "sft": {
            "max_steps": 8, "per_device_train_batch_size": 4, "learning_rate": 1.0e-2, "lr_scheduler_type": "constant",
            "logging_steps": 1, "eval_strategy": "no", "save_strategy": "steps", "save_steps": 4,
            "report_to": ["tensorboard"], "bf16": False, "activation_checkpointing": False, "max_length": 128,
            "train_sampling_strategy": "group_by_length", "completion_only_loss": True, "seed": 0,
            "disable_tqdm": True, **sft,
        },
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def _lora_b_norm(adapter_dir: Path) -> float:
    from safetensors.torch import load_file

    weights = load_file(str(adapter_dir / "adapter_model.safetensors"))
    return sum(float(v.abs().sum()) for k, v in weights.items() if "lora_B" in k)


def test_training_lowers_loss_and_saves_adapter(tiny_llm_dir: Path, tmp_path: Path) -> None:
    data = _dialogs(tmp_path / "dialogs.jsonl")
    out = tmp_path / "adapter"
    result = train(load_config(_config(tmp_path)), tiny_llm_dir, out, data_path=data)

    assert result.steps == 8
    state = json.loads((out / "checkpoint-8" / "trainer_state.json").read_text())
    losses = [e["loss"] for e in state["log_history"] if "loss" in e]
    assert losses[-1] < losses[0]
    assert _lora_b_norm(out) > 0  # LoRA B starts at zero: non-zero means the adapter learned something
    assert (out / "adapter_config.json").exists() and list((out / "runs").rglob("events.out.tfevents*"))
    card = json.loads((out / "data_card.json").read_text())
    assert card["data"]["train"] == result.data_stats["train"] and card["training"]["steps"] == 8
    assert "## Data" in (out / "README.md").read_text()
    run = read_run_config(out)
    assert run is not None and run.base_model == str(tiny_llm_dir) and run.data.path == str(data.resolve())


def test_resume_continues_from_last_checkpoint(tiny_llm_dir: Path, tmp_path: Path) -> None:
    data = _dialogs(tmp_path / "dialogs.jsonl")
    out = tmp_path / "adapter"
    cfg = load_config(_config(tmp_path))
    with pytest.raises(FinetuneError, match="no checkpoint"):
        train(cfg, tiny_llm_dir, out, data_path=data, resume=True)
    train(cfg, tiny_llm_dir, out, data_path=data, max_steps=4)
    result = train(cfg, tiny_llm_dir, out, data_path=data, max_steps=8, resume=True)
    assert result.steps == 8
    state = json.loads((out / "checkpoint-8" / "trainer_state.json").read_text())
    logged_steps = [e["step"] for e in state["log_history"] if "loss" in e]
    assert logged_steps == list(range(1, 9))  # steps 1-4 from the first run, 5-8 after resuming


def test_merge_round_trip_matches_adapter(tiny_llm_dir: Path, tmp_path: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from assistant.conversation.llm import LocalChatModel

    data = _dialogs(tmp_path / "dialogs.jsonl")
    out = tmp_path / "adapter"
    train(load_config(_config(tmp_path, max_steps=3, save_strategy="no")), tiny_llm_dir, out, data_path=data)
    merged = merge_adapter(out, tiny_llm_dir, tmp_path / "merged")

    ids = torch.tensor([[1, 5, 9, 20, 33, 2]])
    with torch.inference_mode():
        base = AutoModelForCausalLM.from_pretrained(str(tiny_llm_dir))
        plain = base(ids).logits
        peft_logits = PeftModel.from_pretrained(base, str(out))(ids).logits
        merged_logits = AutoModelForCausalLM.from_pretrained(str(merged))(ids).logits
    assert not torch.allclose(plain, peft_logits, atol=1e-5)
    assert torch.allclose(peft_logits, merged_logits, atol=1e-4)
    # the assistant loads the adapter folder as is
    chat = LocalChatModel(model_path=str(tiny_llm_dir), adapter_path=str(out), max_new_tokens=4)
    assert isinstance(chat.invoke("where is my parcel?").content, str)
    with pytest.raises(FinetuneError, match="adapter_config.json"):
        merge_adapter(tmp_path, tiny_llm_dir, tmp_path / "x")


def test_evaluate_output_shape(tiny_llm_dir: Path, tmp_path: Path) -> None:
    data = _dialogs(tmp_path / "dialogs.jsonl")
    out = tmp_path / "adapter"
    train(load_config(_config(tmp_path, max_steps=2, save_strategy="no")), tiny_llm_dir, out, data_path=data)
    report = evaluate(tiny_llm_dir, out, limit=5, generate_limit=2, max_new_tokens=6, threads=1)
    for who in ("base", "adapter"):
        assert set(report[who]) >= {"perplexity", "rougeL", "intent_fit"}
        assert report[who]["perplexity"] > 1 and 0 <= report[who]["rougeL"] <= 1
    assert report["perplexity_dialogs"] == 5 and report["generated_dialogs"] == 2
    assert report["split"] == "test" and len(report["samples"]) == 2
    card = json.loads((out / "data_card.json").read_text())
    assert card["evaluation"]["adapter"]["perplexity"] == report["adapter"]["perplexity"]
    # perplexity only: the reply metrics are unknown (null), not zero
    only_ppl = evaluate(tiny_llm_dir, out, limit=5, generate_limit=0, threads=1, update_card=False)
    assert only_ppl["adapter"]["rougeL"] is None and only_ppl["rougeL_gain"] is None
    assert only_ppl["adapter"]["perplexity"] == report["adapter"]["perplexity"]


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("sft:\n  learning_rat: 0.1\n", encoding="utf-8")
    with pytest.raises(FinetuneError, match="did you mean 'learning_rate'"):
        load_config(bad)
    bad.write_text("lora:\n  rank: 8\n", encoding="utf-8")
    with pytest.raises(FinetuneError, match="peft.LoraConfig"):
        load_config(bad)
    bad.write_text("data:\n  seeds: 1\n", encoding="utf-8")
    with pytest.raises(FinetuneError, match="data.seeds"):
        load_config(bad)
    with pytest.raises(FinetuneError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    assert load_config().sft["train_sampling_strategy"] == "group_by_length"
    assert load_config(REPO / "finetune" / "configs" / "bitext-smollm2.yaml").lora["lora_dropout"] == 0.0


def _cli_env(tiny_llm_dir: Path, home: Path) -> dict[str, str]:
    return {**os.environ, "SHOPBOT_HOME": str(home), "SHOPBOT_LLM__MODEL": str(tiny_llm_dir), "OMP_NUM_THREADS": "1"}


def test_cli_train_eval_merge(tiny_llm_dir: Path, tmp_path: Path, shopbot_home: Path) -> None:
    from typer.testing import CliRunner

    from assistant.cli import app

    data = _dialogs(tmp_path / "dialogs.jsonl")
    cfg = _config(tmp_path, save_strategy="no")
    env = _cli_env(tiny_llm_dir, shopbot_home)
    runner = CliRunner()
    res = runner.invoke(app, ["finetune", "train", "--config", str(cfg), "--data", str(data), "--max-steps", "2"], env=env)
    assert res.exit_code == 0, res.output
    assert (shopbot_home / "adapters" / "tiny" / "adapter_config.json").exists()
    res = runner.invoke(
        app, ["finetune", "eval", "--adapter", "tiny", "--data", str(data), "--limit", "3", "--generate-limit", "1",
              "--max-new-tokens", "4", "--json"], env=env,
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout[res.stdout.index("{"):])
    assert {"perplexity", "rougeL"} <= set(report["base"]) and {"perplexity", "rougeL"} <= set(report["adapter"])
    # the replies came from the serving engine (openvino for this llama model): base, and base with the adapter merged
    converted = sorted(p.name.rsplit("-", 1)[0] for p in (shopbot_home / "models" / "openvino").iterdir() if p.is_dir())
    assert converted == [tiny_llm_dir.name, f"{tiny_llm_dir.name}+tiny"], converted
    assert isinstance(report["samples"][0]["adapter"], str)
    res = runner.invoke(app, ["finetune", "merge", "--adapter", "tiny", "--output", str(tmp_path / "m")], env=env)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "m" / "model.safetensors").exists()


@pytest.mark.slow
def test_accelerate_launch_one_process(tiny_llm_dir: Path, tmp_path: Path, shopbot_home: Path) -> None:
    """The documented multi-GPU path, `accelerate launch -m assistant.cli finetune train`, with one CPU process."""
    data = _dialogs(tmp_path / "dialogs.jsonl")
    cfg = _config(tmp_path, save_strategy="no")
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--cpu",
           "-m", "assistant.cli", "finetune", "train", "--config", str(cfg), "--data", str(data), "--max-steps", "2",
           "--output", str(tmp_path / "acc")]
    proc = subprocess.run(cmd, env=_cli_env(tiny_llm_dir, shopbot_home), cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "acc" / "adapter_config.json").exists()


def _head_trainer(tiny_llm_dir: Path, tmp_path: Path, head_dtype=None):  # noqa: ANN001, ANN202
    """Our trainer on six padded prompt-completion records, with one prepared batch and its LoRA weights non-zero."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig

    from finetune.trainer import SupervisedHeadSFTTrainer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_llm_dir))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_llm_dir), dtype=torch.float32)
    records = [
        {"prompt": [{"role": "user", "content": "where is my parcel " * (i + 1)}],
         "completion": [{"role": "assistant", "content": "Open Orders, then Track." * (3 - i % 3)}]}
        for i in range(6)
    ]
    args = SFTConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=6, report_to=[], max_length=128,
                     bf16=False)
    trainer = SupervisedHeadSFTTrainer(
        model=model, args=args, train_dataset=Dataset.from_list(records), processing_class=tokenizer,
        peft_config=LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False),
        head_dtype=head_dtype,
    )
    inputs = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    trainer.model.train()
    return trainer, inputs


def _loss_and_grads(trainer, inputs: dict, compute=None):  # noqa: ANN001, ANN202
    trainer.model.zero_grad()
    loss = (compute or trainer.compute_loss)(trainer.model, dict(inputs))
    loss.backward()
    return loss.item(), [p.grad.clone() for p in trainer.model.parameters() if p.requires_grad]


def test_supervised_head_loss_matches_trl(tiny_llm_dir: Path, tmp_path: Path) -> None:
    """The CPU loss that scores only supervised positions equals TRL's all-positions loss, value and gradients."""
    import torch
    from trl import SFTTrainer

    trainer, inputs = _head_trainer(tiny_llm_dir, tmp_path)
    assert (inputs["attention_mask"] == 0).any() and (inputs["labels"] == -100).any()  # padding and prompt present
    assert trainer._own_loss_applies(inputs)  # the CPU path under test, not TRL's fallback

    ours, our_grads = _loss_and_grads(trainer, inputs)
    theirs, their_grads = _loss_and_grads(trainer, inputs, lambda m, i: SFTTrainer.compute_loss(trainer, m, i))
    assert ours == pytest.approx(theirs, rel=1e-5)
    assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(our_grads, their_grads, strict=True))
    our_accuracy, their_accuracy = trainer._metrics["train"]["mean_token_accuracy"]  # TRL's metric, both ways
    assert our_accuracy == pytest.approx(their_accuracy, abs=1e-6)


def test_bf16_head_tracks_the_fp32_loss_and_leaves_the_weights_alone(tiny_llm_dir: Path, tmp_path: Path) -> None:
    """`head_precision: bf16` multiplies by a bf16 copy of the frozen head; loss and gradients stay close to fp32."""
    import torch

    from finetune.trainer import head_dtype_for

    assert head_dtype_for("bf16") is torch.bfloat16 and head_dtype_for("fp32") is None
    assert head_dtype_for("auto") in (torch.bfloat16, None)
    exact, exact_grads = _loss_and_grads(*_head_trainer(tiny_llm_dir, tmp_path / "fp32"))
    trainer, inputs = _head_trainer(tiny_llm_dir, tmp_path / "bf16", head_dtype=torch.bfloat16)
    head = trainer.model.get_output_embeddings()
    assert not head.weight.requires_grad and head.weight.dtype == torch.float32
    weight_before = head.weight.detach().clone()

    loss, grads = _loss_and_grads(trainer, inputs)
    copy = trainer._head_copy[1]
    assert copy.dtype == torch.bfloat16 and head.weight.dtype == torch.float32
    assert torch.equal(head.weight.detach(), weight_before)  # the model keeps its fp32 weights
    assert loss != exact and loss == pytest.approx(exact, rel=1e-2)  # the bf16 matmul ran, and is close
    for a, b in zip(grads, exact_grads, strict=True):
        assert torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0) > 0.99
    _loss_and_grads(trainer, inputs)
    assert trainer._head_copy[1] is copy  # one copy for the run
    with torch.no_grad():
        head.weight.mul_(2.0)  # a changed weight (e.g. reloaded) gets a fresh copy
    _loss_and_grads(trainer, inputs)
    assert trainer._head_copy[1] is not copy
    assert torch.equal(trainer._head_copy[1], (weight_before * 2.0).to(torch.bfloat16))
