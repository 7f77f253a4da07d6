"""Training throughput: the default length-bucketed batches vs dynamic padding in random order.

Same process, same model (bundled SmolLM2-135M-Instruct), same Bitext data (the training split of
`finetune/configs/bitext-smollm2.yaml`), batch 8, LoRA r16 all-linear; only `sft.train_sampling_strategy`
differs. Figure: non-pad tokens per second over the training steps after the
first (warm-up) one. Run with `make bench` (or `pytest --benchmarks tests/benchmarks/test_bench_finetune.py -s`);
`SHOPBOT_BENCH_FINETUNE_STEPS` sets the steps per variant (default 20).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from finetune import load_config, train

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_batching_throughput(bundled_llm_dir: Path, shared_data: Path, tmp_path: Path) -> None:
    steps = int(os.environ.get("SHOPBOT_BENCH_FINETUNE_STEPS", "20"))
    data = shared_data / "bitext" / "customer_support_dialogs.csv"
    figures: dict[str, dict[str, float | None]] = {}
    for label, strategy in [("length_bucketed", "group_by_length"), ("dynamic_padding_random", "random")]:
        cfg = load_config(REPO / "finetune" / "configs" / "bitext-smollm2.yaml")
        cfg.early_stopping_patience = None
        cfg.data.max_val_examples = 0  # no validation: only training steps are timed
        cfg.data.val_fraction = 0.0
        cfg.sft.update(
            train_sampling_strategy=strategy, max_steps=steps, per_device_train_batch_size=8, max_length=512, logging_steps=1, eval_strategy="no",
            save_strategy="no", load_best_model_at_end=False, report_to=[], disable_tqdm=True,
        )
        result = train(cfg, bundled_llm_dir, tmp_path / label, data_path=data)
        figures[label] = {"tokens_per_second": result.tokens_per_second, "steps": result.steps}
        print(f"\n[bench finetune] {label}: {result.tokens_per_second:.1f} non-pad tokens/s over {steps} steps")
    ratio = figures["length_bucketed"]["tokens_per_second"] / figures["dynamic_padding_random"]["tokens_per_second"]
    figures["ratio"] = {"length_bucketed_vs_dynamic_padding": round(ratio, 3)}
    print(f"[bench finetune] length-bucketed / dynamic padding: {ratio:.2f}x (target >= 1.3x)")
    out = REPO / "test-artifacts" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "finetune_throughput.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
