"""`SFTTrainer` whose loss projects only the supervised positions through the LM head, on every device.

TRL scores only the positions with a label through its fused LM head when Triton runs (CUDA/XPU). Elsewhere, on
CPU, it scores every position, padding and prompt included, in vocabulary chunks, with entropy and top-1 metrics,
and recomputes the logits in the backward pass. For a 135M model with a 49k vocabulary the head is a fifth of the
compute, so on CPU that path costs about a third of each step. Here, without Triton and in one process, the
backbone runs once, only the hidden states whose next token is supervised go through the head, and the loss is the
plain summed cross-entropy over them (the same value TRL computes). Everything else stays TRL's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from trl import SFTTrainer
from trl.kernels.chunked_logprob import _use_triton


class SupervisedHeadSFTTrainer(SFTTrainer):
    """An `SFTTrainer` with the supervised-positions-only LM head where TRL's fused kernel is not available."""

    def _own_loss_applies(self, inputs: dict) -> bool:
        return (
            "labels" in inputs
            and "attention_mask" in inputs  # padding-free batches carry position_ids only: TRL's path
            and self.compute_loss_func is None
            and self.label_smoother is None
            and self.args.loss_type == "nll"
            and not self.aux_loss_enabled
            and self.accelerator.num_processes == 1  # the unwrapped backbone bypasses DDP's gradient hooks
            and not _use_triton(inputs["labels"].device)
        )

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
        if return_outputs or not self._own_loss_applies(inputs):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        mode = "train" if model.training else "eval"
        causal_lm = self.accelerator.unwrap_model(model)
        if hasattr(causal_lm, "get_base_model"):  # PEFT: LoRA layers live inside the base model's modules
            causal_lm = causal_lm.get_base_model()
        backbone = getattr(causal_lm, causal_lm.base_model_prefix)
        head = causal_lm.get_output_embeddings()

        hidden = backbone(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], use_cache=False)
        targets = inputs["labels"][:, 1:]
        supervised = targets != -100
        logits = head(hidden.last_hidden_state[:, :-1][supervised]).float()
        targets = targets[supervised]
        loss_sum = F.cross_entropy(logits, targets, reduction="sum")
        count = supervised.sum()
        loss = loss_sum / (count.clamp(min=1) if num_items_in_batch is None else num_items_in_batch)

        with torch.no_grad():
            correct = (logits.argmax(dim=-1) == targets).sum()
        self._metrics[mode]["mean_token_accuracy"].append((correct / count).item() if count > 0 else 0.0)
        if mode == "train":
            self._total_train_tokens += int(inputs["attention_mask"].sum())
        self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
        return loss
