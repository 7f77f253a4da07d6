"""Before/after evaluation of an adapter on the held-out test split of the dialogs it was trained on.

For the base model and base+adapter, on the same test dialogs (rebuilt with the adapter's own data config:
same seed, fractions, anonymisation and deduplication, so the split matches training exactly):
- `perplexity`: teacher-forced, over the assistant reply tokens only (exp of the mean token NLL);
- `rougeL`: ROUGE-L F1 of greedy replies against the reference replies;
- `intent_fit` (when dialogs carry intents, e.g. Bitext): share of greedy replies that a TF-IDF
  nearest-centroid classifier, fitted on the *training* replies, assigns to the dialog's intent.
  `intent_fit_reference` is that classifier on the reference replies: the ceiling to compare with.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from finetune.data import (
    DataConfig,
    Dialog,
    detect_format,
    load_records,
    prepare_dialogs,
    system_prompt_text,
    to_sft_records,
)
from finetune.errors import FinetuneError
from finetune.train import read_run_config, write_data_card

logger = logging.getLogger(__name__)


def evaluate(
    base_model: str | Path,
    adapter_dir: str | Path,
    data_path: str | Path | None = None,
    limit: int | None = None,
    generate_limit: int = 40,
    max_new_tokens: int = 256,
    batch_size: int = 8,
    threads: int | None = 2,
    update_card: bool = True,
    replies_with: Callable[[str, list[list[dict[str, str]]], int], list[str]] | None = None,
) -> dict[str, Any]:
    """Compare `base_model` with `base_model` + the adapter in `adapter_dir` on held-out dialogs.

    Args:
        data_path: dialog file (default: the one the adapter was trained on).
        limit: at most this many test dialogs for perplexity (all by default).
        generate_limit: at most this many of those get greedy replies for ROUGE-L and intent fit.
        update_card: also record the figures in the adapter's data card.
        replies_with: `(who, prompts, max_new_tokens) -> replies`, who being "base" or "adapter": the serving
            engine writes the greedy replies (the CLI passes the local inference backend, which batches them);
            default: transformers `generate` in padded batches. Perplexity is always scored with transformers.

    Returns:
        `{"base": {"perplexity", "rougeL", "intent_fit"}, "adapter": {...}, "perplexity_dialogs", ...}`.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter_dir = Path(adapter_dir).expanduser()
    if not (adapter_dir / "adapter_config.json").is_file():
        raise FinetuneError(f"{adapter_dir} holds no adapter_config.json; pass a folder written by `finetune train`.")
    if threads:
        torch.set_num_threads(threads)
    run = read_run_config(adapter_dir)
    data_cfg = run.data if run else DataConfig()
    data_path = data_path or data_cfg.path
    if not data_path:
        raise FinetuneError(f"No dialogs to evaluate on: pass --data (the adapter in {adapter_dir} names none).")
    if data_cfg.format == "records" or detect_format(Path(data_path)) == "records":
        # the shop's adapter: held-out dialogs replayed in the serving format (system prompt, <data>, task line)
        test = load_records(data_path, data_cfg).test
        test = test[:limit] if limit else test
        if not test:
            raise FinetuneError(f"No test records in {data_path}; replay more dialogs or raise data.test_fraction.")
        records, gen_records = test, test[:generate_limit]
        intent_clf = None
    else:
        prepared = prepare_dialogs(data_path, data_cfg)
        test = prepared.test[:limit] if limit else prepared.test
        if not test:
            raise FinetuneError(f"The test split of {data_path} is empty; raise data.test_fraction or add dialogs.")
        system = system_prompt_text(data_cfg.system_prompt)
        records = to_sft_records(test, system)
        gen_records = to_sft_records(test[:generate_limit], system) if generate_limit else []
        intent_clf = _IntentClassifier(prepared.train) if any(d.intent for d in prepared.train) else None

    tokenizer = AutoTokenizer.from_pretrained(str(base_model))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(str(base_model), dtype=torch.float32).eval()

    result: dict[str, Any] = {}
    replies: dict[str, list[str]] = {}
    for who in ("base", "adapter"):
        if who == "adapter":
            model = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload().eval()
        started = time.perf_counter()
        ppl = perplexity(model, tokenizer, records, batch_size)
        prompts = [r["prompt"] for r in gen_records]
        if replies_with is not None and prompts:
            replies[who] = [text.strip() for text in replies_with(who, prompts, max_new_tokens)]
        else:
            replies[who] = generate_replies(model, tokenizer, prompts, max_new_tokens, batch_size)
        refs = [r["completion"][0]["content"] for r in gen_records]
        # with no generated replies (--generate-limit 0) the reply metrics are unknown, not zero
        rouge = round(rouge_l(replies[who], refs), 4) if gen_records else None
        metrics: dict[str, Any] = {"perplexity": round(ppl, 4), "rougeL": rouge}
        if intent_clf is not None:
            fit = intent_clf.fit_rate(replies[who], [r["intent"] for r in gen_records]) if gen_records else None
            metrics["intent_fit"] = round(fit, 4) if fit is not None else None
        metrics["seconds"] = round(time.perf_counter() - started, 1)
        logger.info("%s: %s", who, metrics)
        result[who] = metrics
    result["perplexity_ratio"] = round(result["adapter"]["perplexity"] / result["base"]["perplexity"], 4)
    result["rougeL_gain"] = round(result["adapter"]["rougeL"] - result["base"]["rougeL"], 4) if gen_records else None
    if intent_clf is not None and gen_records:
        refs = [r["completion"][0]["content"] for r in gen_records]
        result["intent_fit_reference"] = round(intent_clf.fit_rate(refs, [r["intent"] for r in gen_records]), 4)
    result.update(
        data=str(data_path),
        split="test",
        seed=data_cfg.seed,
        perplexity_dialogs=len(test),
        generated_dialogs=min(len(test), generate_limit),
        max_new_tokens=max_new_tokens,
        samples=[
            {"prompt": r["prompt"][-1]["content"], "reference": r["completion"][0]["content"],
             "base": replies["base"][i], "adapter": replies["adapter"][i]}
            for i, r in enumerate(gen_records[:3])
        ],
    )
    if update_card and (adapter_dir / "data_card.json").exists():
        write_data_card(adapter_dir, None, None, {k: v for k, v in result.items() if k != "samples"})
    return result


def _encode(tokenizer: Any, prompt: list[dict[str, str]], completion: list[dict[str, str]]) -> tuple[list[int], int]:
    """Token ids of prompt+completion as the chat template renders them, and where the completion starts."""
    prompt_text = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    full_text = tokenizer.apply_chat_template(prompt + completion, tokenize=False)
    if not full_text.startswith(prompt_text):
        raise FinetuneError("The chat template renders the prompt differently alone; cannot score the reply.")
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    reply_ids = tokenizer(full_text[len(prompt_text) :], add_special_tokens=False)["input_ids"]
    return prompt_ids + reply_ids, len(prompt_ids)


def perplexity(model: Any, tokenizer: Any, records: list[dict[str, Any]], batch_size: int = 8) -> float:
    """exp(mean NLL) over the reply tokens of prompt-completion records (teacher forcing, right padding)."""
    import torch

    encoded = [_encode(tokenizer, r["prompt"], r["completion"]) for r in records]
    encoded.sort(key=lambda e: len(e[0]))  # similar lengths per batch: less padding
    total_nll, total_tokens = 0.0, 0
    for start in range(0, len(encoded), batch_size):
        batch = encoded[start : start + batch_size]
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (ids, prompt_len) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention[row, : len(ids)] = 1
            labels[row, prompt_len : len(ids)] = torch.tensor(ids[prompt_len:])
        with torch.inference_mode():
            logits = model(input_ids=input_ids, attention_mask=attention).logits[:, :-1]  # (B, T-1, V)
        target = labels[:, 1:]
        nll = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1), ignore_index=-100, reduction="sum"
        )
        total_nll += nll.item()
        total_tokens += int((target != -100).sum())
    return math.exp(total_nll / max(total_tokens, 1))


def generate_replies(
    model: Any, tokenizer: Any, prompts: list[list[dict[str, str]]], max_new_tokens: int, batch_size: int = 8
) -> list[str]:
    """Greedy replies, in padded batches (left padding) of similar prompt lengths; returned in input order."""
    import torch

    texts = [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False) for p in prompts]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: list[str] = [""] * len(texts)
    tokenizer.padding_side = "left"
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            gen = model.generate(
                **batch, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
            )
        decoded = tokenizer.batch_decode(gen[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
        for i, text in zip(idx, decoded, strict=True):
            out[i] = text.strip()
    tokenizer.padding_side = "right"
    return out


def rouge_l(predictions: list[str], references: list[str]) -> float:
    """Mean ROUGE-L F1 (stemmed)."""
    if not predictions:
        return 0.0
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return sum(scorer.score(r, p)["rougeL"].fmeasure for p, r in zip(predictions, references, strict=True)) / len(
        predictions
    )


class _IntentClassifier:
    """TF-IDF nearest-centroid over the training replies of each intent: does a reply read like that intent's?"""

    def __init__(self, train: list[Dialog]) -> None:
        import numpy as np
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts, intents = [], []
        for d in train:
            if d.intent:
                texts.append(" ".join(m["content"] for m in d.messages if m["role"] == "assistant"))
                intents.append(d.intent)
        self.labels = sorted(set(intents))
        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, stop_words="english")
        x = self.vectorizer.fit_transform(texts)
        rows = {label: [i for i, t in enumerate(intents) if t == label] for label in self.labels}
        centroids = np.vstack([np.asarray(x[rows[label]].mean(axis=0)) for label in self.labels])
        self.centroids = centroids / np.linalg.norm(centroids, axis=1, keepdims=True).clip(min=1e-12)

    def predict(self, texts: list[str]) -> list[str]:
        x = self.vectorizer.transform(texts)
        return [self.labels[i] for i in (x @ self.centroids.T).argmax(axis=1).ravel().tolist()]

    def fit_rate(self, texts: list[str], intents: list[str]) -> float:
        if not texts:
            return 0.0
        return sum(p == t for p, t in zip(self.predict(texts), intents, strict=True)) / len(texts)
