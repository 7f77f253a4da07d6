"""LoRA fine-tuning of the chat model with TRL's `SFTTrainer` and PEFT, configured by one YAML file.

The YAML has four parts: `data:` (our `DataConfig`), `sft:` (passed as is to `trl.SFTConfig`), `lora:` (passed
as is to `peft.LoraConfig`) and a few run settings (`name`, `threads`, `early_stopping_patience`,
`head_precision`). Nothing from trl or peft is re-declared here, so every knob they document works in the YAML.

What a run does: prepare the dialogs (`finetune.data`), render them as prompt-completion conversations with
the same system prompt and chat template the assistant serves (loss on assistant tokens only), train with
`SFTTrainer` (AdamW, warm-up and schedule, accumulation, checkpoints, TensorBoard and early stopping on
validation loss all come from `sft:`; `finetune.trainer` only swaps in a cheaper LM head on CPU, in bf16 where
the CPU has AMX), then save the adapter with `shopbot_train.yaml` (the resolved config, which `finetune eval`
reads to rebuild the same split) and a data card (`data_card.json` + `README.md`).

On GPUs run the same command through accelerate, e.g.
`accelerate launch --num_processes 2 -m assistant.cli finetune train --config my.yaml`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from finetune.copy_data import CopyExample, split_copy_examples
from finetune.data import (
    DataConfig,
    detect_format,
    load_records,
    prepare_dialogs,
    system_prompt_text,
    to_sft_records,
)
from finetune.errors import FinetuneError

logger = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).parent / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "default.yaml"
RUN_CONFIG_FILE = "shopbot_train.yaml"  # written next to the adapter; `finetune eval` reads it
DATA_CARD_FILE = "data_card.json"


class TrainConfig(BaseModel):
    """A whole training config file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("shop-service", description="Adapter name: the default output is <home>/adapters/<name>.")
    threads: int | None = Field(2, description="torch CPU threads (2 beat 1 by ~1.8x on a 2-core machine).")
    early_stopping_patience: int | None = Field(
        3, description="Stop after this many evaluations without a lower validation loss (None: never)."
    )
    head_precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto", description="LM-head matmul on CPU: auto = bf16 where the CPU has AMX tiles, else fp32."
    )
    data: DataConfig = Field(default_factory=DataConfig)
    sft: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of trl.SFTConfig.")
    lora: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of peft.LoraConfig.")
    dpo: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments of trl.DPOConfig for the optional preference step (--method dpo)."
    )
    base_model: str | None = Field(None, description="Set by the run (the model path trained on); not an input.")


@dataclass
class TrainResult:
    output_dir: Path
    steps: int
    train_loss: float | None
    eval_loss: float | None
    wall_seconds: float
    tokens_per_second: float | None  # non-pad tokens per second of training steps, after the first logged step
    data_stats: dict[str, object]


def load_config(path: str | Path | None = None) -> TrainConfig:
    """Read a training YAML (default: `finetune/configs/default.yaml`), validating every section early."""
    path = Path(path).expanduser() if path else DEFAULT_CONFIG
    if not path.is_file():
        raise FinetuneError(f"Training config {path} not found; pass an existing YAML file with --config.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise FinetuneError(f"Training config {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise FinetuneError(f"Training config {path} must be a mapping with sections data/sft/lora.")
    try:
        config = TrainConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise FinetuneError(f"Training config {path}: '{where}': {first['msg']}.") from exc
    _check_fields(config.sft, "sft", "trl.SFTConfig", _sft_fields(), path)
    _check_fields(config.lora, "lora", "peft.LoraConfig", _lora_fields(), path)
    if config.dpo:
        from trl import DPOConfig

        _check_fields(config.dpo, "dpo", "trl.DPOConfig", {f.name for f in dataclasses.fields(DPOConfig) if f.init}, path)
    return config


def _sft_fields() -> set[str]:
    from trl import SFTConfig

    return {f.name for f in dataclasses.fields(SFTConfig) if f.init}


def _lora_fields() -> set[str]:
    from peft import LoraConfig

    return {f.name for f in dataclasses.fields(LoraConfig) if f.init}


def _check_fields(section: dict[str, Any], name: str, owner: str, known: set[str], path: Path) -> None:
    unknown = sorted(set(section) - known)
    if unknown:
        import difflib

        hints = {u: difflib.get_close_matches(u, known, n=1) for u in unknown}
        hint = "; ".join(f"'{u}' (did you mean '{h[0]}'?)" if h else f"'{u}'" for u, h in hints.items())
        raise FinetuneError(f"Training config {path}: section '{name}' has keys {owner} does not know: {hint}.")
    if name == "sft" and "output_dir" in section:
        raise FinetuneError(f"Training config {path}: set the output with --output (or `name:`), not sft.output_dir.")


def _latest_checkpoint(output_dir: Path) -> Path | None:
    ckpts = sorted(output_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return ckpts[-1] if ckpts else None


def train(
    config: TrainConfig,
    base_model: str | Path,
    output_dir: str | Path,
    data_path: str | Path | None = None,
    max_steps: int | None = None,
    resume: bool = False,
    copy_examples: list[CopyExample] | None = None,
) -> TrainResult:
    """Fine-tune a LoRA adapter on `base_model` and save it (with config and data card) into `output_dir`.

    Args:
        config: the parsed YAML (`load_config`).
        base_model: local HF folder (or hub id available offline) of the chat model.
        output_dir: adapter folder; checkpoints go to `checkpoint-*` inside it.
        data_path: dialog file, overriding `config.data.path`.
        max_steps: optimizer steps, overriding `sft.max_steps`.
        resume: continue from the last checkpoint in `output_dir`.
        copy_examples: the copywriting task (`finetune.copy_data`): train on these product prompts and real
            descriptions instead of dialogs (held-out products are dropped by `split_of`); `data_path` is
            then only recorded as the source.

    Raises:
        FinetuneError: no data file, nothing to resume from, or a bad config value.
    """
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, EarlyStoppingCallback, TrainerCallback
    from trl import SFTConfig

    from finetune.trainer import SupervisedHeadSFTTrainer, head_dtype_for

    started = time.perf_counter()
    output_dir = Path(output_dir).expanduser()
    data_path = data_path or config.data.path
    if not data_path and copy_examples is None:
        raise FinetuneError("No training data: pass --data FILE or set data.path in the training config.")
    checkpoint = _latest_checkpoint(output_dir) if resume else None
    if resume and checkpoint is None:
        raise FinetuneError(f"--resume: no checkpoint-* folder in {output_dir}; train without --resume first.")
    if config.threads:
        torch.set_num_threads(config.threads)

    config = config.model_copy(deep=True)
    config.data.path = str(Path(data_path).expanduser().resolve()) if data_path else None
    config.base_model = str(base_model)
    if max_steps is not None:
        config.sft["max_steps"] = max_steps

    if copy_examples is not None:  # the copywriting task: the prompts are already rendered by the caller
        try:
            prepared = split_copy_examples(copy_examples, config.data.max_val_examples,
                                           {"source": config.data.path, "records_read": len(copy_examples)})
        except ValueError as exc:
            raise FinetuneError(str(exc)) from exc
        train_ds = _to_dataset([e.to_sft_record() for e in prepared.train])
        val_ds = _to_dataset([e.to_sft_record() for e in prepared.val]) if prepared.val else None
    elif config.data.format == "records" or detect_format(Path(config.data.path)) == "records":
        # the shop's adapter: records already rendered in the serving format (`shopbot finetune build-data`)
        prepared = load_records(config.data.path, config.data)
        train_ds = _to_dataset(prepared.train)
        val_ds = _to_dataset(prepared.val) if prepared.val else None
    else:
        prepared = prepare_dialogs(config.data.path, config.data)
        system = system_prompt_text(config.data.system_prompt)
        train_ds, val_ds = _to_dataset(to_sft_records(prepared.train, system)), None
        if prepared.val:
            val_ds = _to_dataset(to_sft_records(prepared.val, system))

    sft_kwargs = dict(config.sft)
    if val_ds is None:  # nothing to evaluate on: no eval, no best-model selection
        sft_kwargs.update(eval_strategy="no", load_best_model_at_end=False)
    try:
        args = SFTConfig(output_dir=str(output_dir), **sft_kwargs)
        lora = LoraConfig(**config.lora)
    except (TypeError, ValueError) as exc:
        raise FinetuneError(f"Training config: {exc}") from exc

    tokenizer = AutoTokenizer.from_pretrained(str(base_model))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(str(base_model), dtype=torch.float32)

    throughput = _throughput_callback()
    callbacks: list[TrainerCallback] = [throughput]
    if config.early_stopping_patience and val_ds is not None and args.load_best_model_at_end:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience))
    trainer = SupervisedHeadSFTTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=callbacks,
        head_dtype=head_dtype_for(config.head_precision),
    )
    logger.info("training on %d examples (%d validation), %s", len(train_ds), len(val_ds or []), output_dir)
    output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)

    # the validation loss of the saved weights: the best one when the best checkpoint was reloaded, else the last
    evals = [e["eval_loss"] for e in trainer.state.log_history if "eval_loss" in e]
    eval_loss = trainer.state.best_metric if args.load_best_model_at_end and evals else (evals[-1] if evals else None)
    trainer.save_model(str(output_dir))  # adapter_model.safetensors + adapter_config.json (best model if selected)
    tokenizer.save_pretrained(str(output_dir))
    result = TrainResult(
        output_dir=output_dir,
        steps=trainer.state.global_step,
        train_loss=output.training_loss,
        eval_loss=eval_loss,
        wall_seconds=time.perf_counter() - started,
        tokens_per_second=throughput.tokens_per_second,
        data_stats=prepared.stats,
    )
    (output_dir / RUN_CONFIG_FILE).write_text(yaml.safe_dump(config.model_dump(), sort_keys=False), encoding="utf-8")
    write_data_card(output_dir, config, result)
    return result


def train_preference(config: TrainConfig, base_model: str | Path, adapter_dir: str | Path,
                     preference: list[dict[str, object]], max_steps: int | None = None) -> int:
    """The optional preference step (`--method dpo`): TRL's DPO on `prompt`/`chosen`/`rejected` records
    (rated-down replies against the grounded answer), continuing the SFT adapter in `adapter_dir` and saving it
    there. The reference model is TRL's default for a PEFT model: the same model with the adapter switched off.

    Returns the optimizer steps run. Raises FinetuneError when there is no preference record.
    """
    import torch
    from datasets import Dataset
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    if not preference:
        raise FinetuneError("No rated-down replies to learn from: the DPO step needs feedback rated -1; "
                            "collect some or train with --method sft.")
    adapter_dir = Path(adapter_dir)
    kwargs = {"num_train_epochs": 1, "per_device_train_batch_size": 4, "learning_rate": 5e-6, "beta": 0.1,
              "report_to": [], "save_strategy": "no", "logging_steps": 10,
              # the SFT run's precision and memory settings, unless `dpo:` says otherwise
              **{k: config.sft[k] for k in ("bf16", "activation_checkpointing", "max_length") if k in config.sft}, **config.dpo}
    if max_steps is not None:
        kwargs["max_steps"] = max_steps
    try:
        args = DPOConfig(output_dir=str(adapter_dir / "dpo"), **kwargs)
    except (TypeError, ValueError) as exc:
        raise FinetuneError(f"Training config: dpo: {exc}") from exc
    tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(str(base_model), dtype=torch.float32)
    model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=True)
    data = Dataset.from_list([{"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]} for r in preference])
    trainer = DPOTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
    trainer.train()
    trainer.save_model(str(adapter_dir))
    logger.info("DPO: %d steps on %d preference records, saved to %s", trainer.state.global_step, len(preference), adapter_dir)
    return trainer.state.global_step


def _to_dataset(records: list[dict[str, object]]):
    from datasets import Dataset

    # only the conversation: extra string columns would reach the collator
    return Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in records])


def _throughput_callback():
    """A callback measuring non-pad tokens/s from the trainer's cumulative `num_tokens` log.

    The first logged step is the warm-up and is left out. Defined in a function so that importing this module
    does not import transformers.
    """
    from transformers import TrainerCallback

    class Throughput(TrainerCallback):
        def __init__(self) -> None:
            self.first: tuple[float, float] | None = None
            self.last: tuple[float, float] | None = None

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            if logs and "num_tokens" in logs and "loss" in logs:
                point = (time.perf_counter(), float(logs["num_tokens"]))
                if self.first is None:
                    self.first = point
                self.last = point

        @property
        def tokens_per_second(self) -> float | None:
            if not self.first or not self.last or self.last[0] <= self.first[0]:
                return None
            return (self.last[1] - self.first[1]) / (self.last[0] - self.first[0])

    return Throughput()


def write_data_card(
    output_dir: Path, config: TrainConfig | None, result: TrainResult | None, metrics: dict | None = None
) -> None:
    """Write `data_card.json` and `README.md`: data source and size, training setup and measured figures.

    `metrics` (from `finetune eval`) is merged into an existing card.
    """
    card_path = output_dir / DATA_CARD_FILE
    card: dict[str, Any] = json.loads(card_path.read_text(encoding="utf-8")) if card_path.exists() else {}
    if config is not None and result is not None:
        card.update(
            {
                "adapter": config.name,
                "base_model": config.base_model,
                "data": result.data_stats,
                "system_prompt": config.data.system_prompt,
                "lora": config.lora,
                "training": {
                    "steps": result.steps,
                    "train_loss": result.train_loss,
                    "eval_loss": result.eval_loss,
                    "wall_seconds": round(result.wall_seconds, 1),
                    "tokens_per_second": round(result.tokens_per_second, 1) if result.tokens_per_second else None,
                    "sft": config.sft,
                },
            }
        )
    if metrics is not None:
        card["evaluation"] = metrics
    card_path.write_text(json.dumps(card, indent=2, default=str), encoding="utf-8")
    (output_dir / "README.md").write_text(_card_markdown(card), encoding="utf-8")


def _card_markdown(card: dict[str, Any]) -> str:
    data, training = card.get("data", {}), card.get("training", {})
    lines = [
        f"# LoRA adapter `{card.get('adapter', '?')}`",
        "",
        f"Base model: `{card.get('base_model')}`. Load it with `SHOPBOT_LLM__ADAPTER=<this folder or its name>`.",
        "",
        "## Data",
        f"- source: `{data.get('source')}` ({data.get('format')})",
        f"- records read: {data.get('records_read')}, rejected: {data.get('rejected')}, "
        f"duplicates removed: {data.get('exact_duplicates_removed')} exact + {data.get('near_duplicates_removed')} near",
        f"- dialogs: {data.get('dialogs')} -> train {data.get('train')} / validation {data.get('validation')} / "
        f"test {data.get('test')} (stratified by {data.get('intents')} intents, seed {data.get('seed')})",
        f"- personal data replaced by placeholders: {data.get('anonymised')}",
        "",
        "## Training",
        f"- steps: {training.get('steps')}, wall time: {training.get('wall_seconds')} s, "
        f"throughput: {training.get('tokens_per_second')} non-pad tokens/s",
        f"- train loss: {training.get('train_loss')}, validation loss: {training.get('eval_loss')}",
        f"- LoRA: `{json.dumps(card.get('lora', {}))}`",
    ]
    ev = card.get("evaluation")
    if ev:
        lines += ["", "## Held-out evaluation", "", "| model | perplexity | ROUGE-L | intent fit |", "|---|---|---|---|"]
        for who in ("base", "adapter"):
            m = ev.get(who, {})
            lines.append(f"| {who} | {m.get('perplexity')} | {m.get('rougeL')} | {m.get('intent_fit')} |")
        lines.append("")
        lines.append(f"{ev.get('perplexity_dialogs')} dialogs for perplexity, {ev.get('generated_dialogs')} for ROUGE-L.")
    return "\n".join(lines) + "\n"


def read_run_config(adapter_dir: str | Path) -> TrainConfig | None:
    """The config an adapter was trained with (None for adapters trained elsewhere)."""
    path = Path(adapter_dir) / RUN_CONFIG_FILE
    if not path.is_file():
        return None
    return TrainConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
