"""`SFTTrainer` whose loss projects only the supervised positions through the LM head, on every device.

TRL scores only the positions with a label through its fused LM head when Triton runs (CUDA/XPU). Elsewhere, on
CPU, it scores every position, padding and prompt included, in vocabulary chunks, with entropy and top-1 metrics,
and recomputes the logits in the backward pass. For a 135M model with a 49k vocabulary the head is a fifth of the
compute, so on CPU that path costs about a third of each step. Here, without Triton and in one process, the
backbone runs once, only the hidden states whose next token is supervised go through the head, and the loss is the
plain summed cross-entropy over them (the same value TRL computes). Everything else stays TRL's.

The head's weight is frozen (the tied input embeddings), so on CPUs that multiply bf16 in hardware (AMX tiles)
it can run as one bf16 matmul against a bf16 copy kept for the run: about 6x faster than fp32 there, with the
logits cast back to fp32 before the softmax. Autocast would re-cast every weight at every step, which is slower
here. Without AMX, bf16 is emulated and slower, so "auto" keeps fp32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from trl import SFTTrainer
from trl.kernels.chunked_logprob import _use_triton


def head_dtype_for(precision: str) -> torch.dtype | None:
    """The LM-head matmul dtype for a config's `head_precision` ("auto", "bf16", "fp32"); None: the weight's."""
    if precision == "bf16":
        return torch.bfloat16
    if precision == "auto":
        amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
        return torch.bfloat16 if amx is not None and amx() else None
    return None


class SupervisedHeadSFTTrainer(SFTTrainer):
    """An `SFTTrainer` with the supervised-positions-only LM head where TRL's fused kernel is not available.

    Args:
        head_dtype: dtype of the head matmul when its weight is frozen (see `head_dtype_for`); None: the weight's.
    """

    def __init__(self, *args, head_dtype: torch.dtype | None = None, **kwargs):  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.head_dtype = head_dtype
        self._head_copy: tuple[tuple[int, int], torch.Tensor] | None = None  # ((data_ptr, version), cast weight)

    def _head_logits(self, head: torch.nn.Module, hidden: torch.Tensor) -> torch.Tensor:
        weight = head.weight
        if self.head_dtype in (None, weight.dtype) or weight.requires_grad or getattr(head, "bias", None) is not None:
            return head(hidden).float()
        key = (weight.data_ptr(), weight._version)  # a new or modified weight gets a new copy
        if self._head_copy is None or self._head_copy[0] != key:
            self._head_copy = (key, weight.detach().to(self.head_dtype))
        return F.linear(hidden.to(self.head_dtype), self._head_copy[1]).float()

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
        logits = self._head_logits(head, hidden.last_hidden_state[:, :-1][supervised])
        targets = targets[supervised]
        loss_sum = F.cross_entropy(logits, targets, reduction="sum")
        count = supervised.sum()
        loss = loss_sum / (count.clamp(min=1) if num_items_in_batch is None else num_items_in_batch)

        with torch.no_grad():  # top-1 hit: the target's logit is the maximum (6x faster than argmax on CPU)
            correct = (logits.gather(1, targets[:, None]).squeeze(1) >= logits.amax(dim=-1)).sum()
        self._metrics[mode]["mean_token_accuracy"].append((correct / count).item() if count > 0 else 0.0)
        if mode == "train":
            self._total_train_tokens += int(inputs["attention_mask"].sum())
        self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
        return loss
