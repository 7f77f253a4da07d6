"""The OpenVINO GenAI backend: continuous batching of concurrent turns on the CPU.

`OpenVINOChatModel` is a LangChain chat model like `llm.LocalChatModel`, backed by one
`openvino_genai.ContinuousBatchingPipeline` per model. One engine thread steps the pipeline's scheduler:
each step runs one forward pass for every running request together (prompts are prefilled in the same
steps, `dynamic_split_fuse`), so a new turn joins the running batch at the next step instead of waiting
for the others to finish. Each request has its own token budget; a consumer that stops reading (the
shopper closed the page, the SSE stream was closed) cancels its request at the next step, which frees its
KV-cache blocks.

The model is a GGUF file (the bundled one is read directly, weights stay 4-bit) or a GGUF that
`models.prepare_openvino_model` wrote once from any HF folder, with a LoRA adapter merged in.
The engine's thread count (`llm.threads`) is an OpenVINO setting of this pipeline only: torch's
process-wide threads, which the embedder uses, are not touched.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

# OpenVINO's TBB loads its hwloc binding with RTLD_DEEPBIND, which frees memory a preloaded allocator (the
# Makefile's tcmalloc) handed out: "free(): invalid pointer". This turns that off (oneTBB issue #1636).
os.environ.setdefault("TBB_ENABLE_SANITIZERS", "1")

logger = logging.getLogger(__name__)

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "user"}


def _chat_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    # a second copy of llm.to_chat_dicts (llm.py builds this backend, so importing it back would be a cycle)
    return [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]

_DONE = object()  # end of a request's token stream


@dataclass
class _Request:
    prompt: str
    max_new_tokens: int
    stop: list[str]
    out: queue.Queue = field(default_factory=queue.Queue)  # lists of new token ids, then _DONE or an exception
    cancelled: threading.Event = field(default_factory=threading.Event)
    handle: Any = None


class _Engine:
    """One thread that owns the pipeline: it adds waiting requests, steps, and hands out new tokens."""

    def __init__(self, pipe: Any, temperature: float):
        self.pipe = pipe
        self.temperature = temperature
        self._waiting: list[_Request] = []
        self._running: list[_Request] = []
        self._wake = threading.Condition()
        self._next_id = 0
        self.peak = 0  # most requests running together so far (the benchmark and tests read it)
        self._thread = threading.Thread(target=self._loop, name="openvino-engine", daemon=True)
        self._thread.start()

    @property
    def running(self) -> int:
        """Requests the pipeline holds now."""
        return len(self._running)

    def submit(self, request: _Request) -> _Request:
        with self._wake:
            self._waiting.append(request)
            self._wake.notify()
        return request

    def _config(self, request: _Request) -> Any:
        import openvino_genai as ov_genai

        config = ov_genai.GenerationConfig()
        config.max_new_tokens = request.max_new_tokens
        config.do_sample = self.temperature > 0
        if self.temperature > 0:
            config.temperature = self.temperature
        if request.stop:
            config.stop_strings = set(request.stop)
        return config

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._waiting and not self._running:
                    self._wake.wait()
                new, self._waiting = self._waiting, []
            for request in new:
                if request.cancelled.is_set():
                    request.out.put(_DONE)
                    continue
                try:
                    request.handle = self.pipe.add_request(self._next_id, request.prompt, self._config(request))
                except Exception as exc:  # a bad request fails alone, the engine keeps serving the others
                    request.out.put(exc)
                    continue
                self._next_id += 1
                self._running.append(request)
            self.peak = max(self.peak, len(self._running))
            for request in self._running:
                if request.cancelled.is_set():
                    request.handle.cancel()  # the pipeline drops it and frees its blocks on the next step
            try:
                if self.pipe.has_non_finished_requests():
                    self.pipe.step()
            except Exception as exc:  # the pipeline is broken for everybody: fail every running request
                logger.exception("openvino engine step failed")
                for request in self._running:
                    request.out.put(exc)
                self._running = []
                continue
            self._running = [r for r in self._running if self._deliver(r)]

    def _deliver(self, request: _Request) -> bool:
        """Pass on the request's new tokens; False once it has finished (or was cancelled)."""
        import openvino_genai as ov_genai

        handle = request.handle
        if handle.can_read():
            for output in handle.read().values():
                if output.generated_ids:
                    request.out.put(list(output.generated_ids))
        if handle.get_status() == ov_genai.GenerationStatus.RUNNING and not request.cancelled.is_set():
            return True
        request.out.put(_DONE)
        return False


class OpenVINOChatModel(BaseChatModel):
    """A GGUF chat model served by OpenVINO GenAI's continuous-batching pipeline, loaded on first use.

    A call may cap its reply with `max_tokens` (LangChain's name) or `max_new_tokens`; the default is the
    `max_new_tokens` field. Concurrent calls from many threads share the decode steps.
    """

    model_path: str  # a .gguf file
    max_new_tokens: int = 160
    temperature: float = 0.0
    threads: int | None = None  # OpenVINO inference threads of this pipeline; None: one per core
    max_batch: int = 32  # running requests at most; more wait for a free slot
    cache_gb: float = 1.0  # KV cache of all running requests together

    _engine: _Engine | None = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)
    _load_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "shopbot-openvino"

    @property
    def model_name(self) -> str:
        """The GGUF's name; for one `models.prepare_openvino_model` wrote, its folder's: `<model>[+<adapter>]`."""
        folder, name = os.path.split(self.model_path)
        if name == "model.gguf" and "-" in os.path.basename(folder):
            return os.path.basename(folder).rsplit("-", 1)[0]  # drop the cache key
        return name

    def load(self) -> _Engine:
        """Compile the pipeline and start the engine thread (once)."""
        with self._load_lock:
            if self._engine is not None:
                return self._engine
            import openvino_genai as ov_genai

            scheduler = ov_genai.SchedulerConfig()
            scheduler.cache_size = max(1, round(self.cache_gb))  # GB
            scheduler.max_num_seqs = self.max_batch
            scheduler.dynamic_split_fuse = True  # prefill chunks ride along with the decode steps
            scheduler.max_num_batched_tokens = 256  # per step: a long prompt does not stall the others' decoding
            properties = {"INFERENCE_NUM_THREADS": self.threads or (os.cpu_count() or 1)}
            folder = os.path.dirname(self.model_path)
            if os.path.exists(os.path.join(folder, "openvino_tokenizer.xml")):  # written with a converted model
                tokenizer = ov_genai.Tokenizer(folder)
                pipe = ov_genai.ContinuousBatchingPipeline(self.model_path, tokenizer, scheduler, "CPU", **properties)
            else:  # the GGUF's own tokenizer
                pipe = ov_genai.ContinuousBatchingPipeline(self.model_path, scheduler, "CPU", properties)
            self._tokenizer = pipe.get_tokenizer()
            self._engine = _Engine(pipe, self.temperature)
            logger.info("openvino engine ready: %s (threads=%s, max_batch=%d)", self.model_name,
                        properties["INFERENCE_NUM_THREADS"], self.max_batch)
            return self._engine

    def _prompt(self, messages: Sequence[BaseMessage]) -> str:
        self.load()
        return self._tokenizer.apply_chat_template(_chat_dicts(messages), add_generation_prompt=True)

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` in this model's vocabulary (for benchmarks)."""
        self.load()
        return int(self._tokenizer.encode(text, add_special_tokens=False).input_ids.get_shape()[-1])

    def prompt_tokens(self, messages: Sequence[BaseMessage]) -> int:
        """Tokens of the chat-templated prompt of `messages`: what counts against the context."""
        prompt = self._prompt(messages)  # loads the tokenizer
        return int(self._tokenizer.encode(prompt, add_special_tokens=False).input_ids.get_shape()[-1])

    def context_length(self) -> int:
        """Prompt plus reply tokens the model can attend to, from the GGUF's own metadata."""
        import gguf

        reader = gguf.GGUFReader(self.model_path)
        arch = reader.get_field("general.architecture")
        field = reader.get_field(f"{arch.contents() if arch else 'llama'}.context_length")
        return int(field.contents()) if field is not None else 2048

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
        engine = self.load()
        budget = kwargs.get("max_tokens") or kwargs.get("max_new_tokens") or self.max_new_tokens
        request = engine.submit(_Request(self._prompt(messages), int(budget), list(stop or [])))
        ids: list[int] = []
        sent = ""
        produced = False
        try:
            while (item := request.out.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                ids.extend(item)
                text = self._tokenizer.decode(ids, skip_special_tokens=True)
                if text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
                    continue
                piece, sent = text[len(sent):], text
                if not piece:
                    continue
                produced = True
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                if run_manager:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk
        finally:  # the consumer stopped early (GeneratorExit) or we are done: free the slot either way
            request.cancelled.set()
        if not produced:  # the model ended at once; an empty reply is a reply, not an error
            yield ChatGenerationChunk(message=AIMessageChunk(content=""))

    def generate_batch(self, conversations: Sequence[Sequence[BaseMessage]], max_new_tokens: int | None = None) -> list[str]:
        """Replies for many conversations, all submitted at once so they share the decode steps."""
        return [reply.strip() for reply in self.complete_prompts([self._prompt(c) for c in conversations], max_new_tokens)]

    def complete_prompts(self, prompts: Sequence[str], max_new_tokens: int | None = None) -> list[str]:
        """Continuations of already chat-templated prompts, all submitted at once (benchmarks compare engines on
        the same text)."""
        engine = self.load()
        budget = max_new_tokens or self.max_new_tokens
        requests = [engine.submit(_Request(p, budget, [])) for p in prompts]
        replies = []
        for request in requests:
            ids: list[int] = []
            while (item := request.out.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                ids.extend(item)
            replies.append(self._tokenizer.decode(ids, skip_special_tokens=True))
        return replies


__all__ = ["OpenVINOChatModel"]
