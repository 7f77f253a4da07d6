"""Chat-model backends behind LangChain's chat-model interface.

`build_chat_model(settings)` returns one of: `openvino_llm.OpenVINOChatModel` (OpenVINO GenAI's
continuous-batching engine: concurrent turns share decode steps; the default where it is installed),
`LocalChatModel` (transformers in-process, one generation at a time: the fallback; the bundled model, any HF
id or folder, optionally with a LoRA adapter) or `langchain_openai.ChatOpenAI` pointed at an
OpenAI-compatible server (vLLM, TGI, llama.cpp). All stream tokens with `.stream()`. The local backends also
offer `generate_batch` for batch jobs such as product copy.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from assistant.config import Settings
from assistant.errors import ModelNotAvailableError

logger = logging.getLogger(__name__)

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "user"}


def to_chat_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages -> the `[{"role", "content"}]` list chat templates expect."""
    return [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]


class LocalChatModel(BaseChatModel):
    """A transformers causal LM run in-process, loaded lazily on first use and shared by threads.

    A call may cap its reply with `max_tokens` (LangChain's name, the one `ChatOpenAI` takes too) or
    `max_new_tokens` (transformers' name); the default is the `max_new_tokens` field.

    It runs on torch's threads as the process has them: torch's thread count is process-wide (the embedder
    shares it) and torch offers no per-model or scoped setting, so the model leaves it alone.
    """

    model_path: str
    adapter_path: str | None = None
    max_new_tokens: int = 160
    temperature: float = 0.0

    _model: Any = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)  # one generation at a time per model

    @property
    def _llm_type(self) -> str:
        return "shopbot-local"

    @property
    def model_name(self) -> str:
        name = Path(self.model_path).name or self.model_path
        return f"{name}+{Path(self.adapter_path).name}" if self.adapter_path else name

    def load(self) -> tuple[Any, Any]:
        """Load (once) and return `(model, tokenizer)`."""
        if self._model is not None:
            return self._model, self._tokenizer
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=torch.float32)
        if self.adapter_path:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, self.adapter_path)
            model = model.merge_and_unload()  # same outputs, no adapter overhead per token
        model.eval()
        self._model, self._tokenizer = model, tokenizer
        return model, tokenizer

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` in this model's vocabulary (for benchmarks)."""
        _, tokenizer = self.load()
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def prompt_tokens(self, messages: Sequence[BaseMessage]) -> int:
        """Tokens of the chat-templated prompt of `messages`: what counts against the context."""
        return int(self._prompt_ids(messages)["input_ids"].shape[-1])

    def context_length(self) -> int:
        """Prompt plus reply tokens the model can attend to."""
        model, _ = self.load()
        return int(getattr(model.config, "max_position_embeddings", None) or 2048)

    def _prompt_ids(self, messages: Sequence[BaseMessage]) -> Any:
        _, tokenizer = self.load()
        return tokenizer.apply_chat_template(
            to_chat_dicts(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
        )

    def _generation_kwargs(self, max_new_tokens: int | None, stop: list[str] | None) -> dict[str, Any]:
        _, tokenizer = self.load()
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new_tokens or self.max_new_tokens,
            "pad_token_id": tokenizer.pad_token_id,
            "do_sample": self.temperature > 0,
        }
        if self.temperature > 0:
            kwargs["temperature"] = self.temperature
        if stop:
            kwargs["stop_strings"] = stop
            kwargs["tokenizer"] = tokenizer
        return kwargs

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(chunk.text for chunk in self._stream(messages, stop=stop, run_manager=run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        import torch
        from transformers import TextIteratorStreamer

        model, tokenizer = self.load()
        inputs = self._prompt_ids(messages)
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        gen_kwargs = self._generation_kwargs(kwargs.get("max_tokens") or kwargs.get("max_new_tokens"), stop)
        errors: list[BaseException] = []

        def _run() -> None:
            try:
                with self._lock, torch.inference_mode():
                    model.generate(**inputs, streamer=streamer, **gen_kwargs)
            except BaseException as exc:  # re-raised in the caller's thread below
                errors.append(exc)
                streamer.end()

        worker = threading.Thread(target=_run, daemon=True)
        worker.start()
        produced = False
        for piece in streamer:
            if not piece:
                continue
            produced = True
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        worker.join()
        if errors:
            raise errors[0]
        if not produced:  # the model ended at once; an empty reply is a reply, not an error
            yield ChatGenerationChunk(message=AIMessageChunk(content=""))

    def generate_batch(self, conversations: Sequence[Sequence[BaseMessage]], max_new_tokens: int | None = None) -> list[str]:
        """Greedy/sampled replies for many conversations in one padded batch (left padding, KV cache)."""
        import torch

        model, tokenizer = self.load()
        prompts = [
            tokenizer.apply_chat_template(to_chat_dicts(c), add_generation_prompt=True, tokenize=False) for c in conversations
        ]
        tokenizer.padding_side = "left"
        batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        with self._lock, torch.inference_mode():
            out = model.generate(**batch, **self._generation_kwargs(max_new_tokens, None))
        new_tokens = out[:, batch["input_ids"].shape[1] :]
        return [t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]


def resolve_adapter(settings: Settings, adapter: str | None) -> str | None:
    """An adapter given as a folder, or as a name under `<home>/adapters`."""
    if not adapter:
        return None
    for candidate in (Path(adapter).expanduser(), settings.adapters_dir / adapter):
        if (candidate / "adapter_config.json").exists():
            return str(candidate)
    raise ModelNotAvailableError(
        f"LoRA adapter '{adapter}' not found as a folder or under {settings.adapters_dir}; "
        "train one with `shopbot finetune train` or fix SHOPBOT_LLM__ADAPTER."
    )


def build_chat_model(settings: Settings) -> BaseChatModel:
    """The configured chat model (not yet loaded: weights load on first use)."""
    llm = settings.llm
    if llm.provider == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            base_url=llm.base_url,
            model=llm.model,
            api_key=llm.api_key.get_secret_value() if llm.api_key else "not-needed",
            temperature=llm.temperature,
            max_tokens=llm.max_new_tokens,
            timeout=llm.timeout_s,
            streaming=True,
        )
    backend = choose_backend(settings)
    adapter = resolve_adapter(settings, llm.adapter)
    if backend == "openvino":
        from assistant.conversation.models import prepare_openvino_model
        from assistant.conversation.openvino_llm import OpenVINOChatModel

        return OpenVINOChatModel(
            model_path=str(prepare_openvino_model(llm, settings.models_dir, adapter)),
            max_new_tokens=llm.max_new_tokens,
            temperature=llm.temperature,
            threads=llm.threads,
            max_batch=llm.max_batch,
            precision=None if llm.precision == "auto" else llm.precision,
            prompt_lookup=llm.prompt_lookup,
        )
    from assistant.conversation.models import resolve_llm_path

    if llm.threads:
        logger.warning(
            "llm.threads=%d is not applied: torch's thread count is process-wide (the embedder shares it) and torch "
            "has no per-model setting. Set OMP_NUM_THREADS=%d for the whole process instead, and leave llm.threads "
            "(SHOPBOT_LLM__THREADS) unset, or use the openvino backend (SHOPBOT_LLM__BACKEND=openvino).",
            llm.threads, llm.threads,
        )
    return LocalChatModel(
        model_path=resolve_llm_path(llm, settings.models_dir),
        adapter_path=adapter,
        max_new_tokens=llm.max_new_tokens,
        temperature=llm.temperature,
    )


def choose_backend(settings: Settings) -> str:
    """The local engine `llm.backend` names; for "auto", openvino when installed and the model is one it reads
    (the bundled model, or an HF folder of a llama-architecture model), else transformers.

    Raises:
        ModelNotAvailableError: "openvino" was asked for but openvino-genai is not installed.
    """
    import importlib.util

    from assistant.config import BUNDLED_LLM
    from assistant.conversation.models import openvino_readable, resolve_llm_path

    llm = settings.llm
    if llm.backend == "transformers":
        return "transformers"
    if importlib.util.find_spec("openvino_genai") is None:
        if llm.backend == "openvino":
            raise ModelNotAvailableError(
                "llm.backend is 'openvino' but openvino-genai is not installed; run `make install` (or "
                "`pip install -c constraints.txt openvino-genai`), or set SHOPBOT_LLM__BACKEND=transformers."
            )
        logger.info("openvino-genai is not installed: the transformers backend serves the chat model")
        return "transformers"
    if llm.backend == "openvino" or llm.model == BUNDLED_LLM:
        return "openvino"
    if openvino_readable(resolve_llm_path(llm, settings.models_dir)):
        return "openvino"
    logger.info("model %s is not an architecture the openvino backend reads: transformers serves it", llm.model)
    return "transformers"
