"""The OpenVINO GenAI backend: continuous batching of concurrent turns on the CPU.

`OpenVINOChatModel` is a LangChain chat model like `llm.LocalChatModel`, backed by one
`openvino_genai.ContinuousBatchingPipeline` per model, which runs in an engine process of its own (the
pipeline's `step` holds the GIL for a whole forward pass, which starved the server's other threads). The
engine steps the pipeline's scheduler: each step runs one forward pass for every running request together
(prompts are prefilled in the same steps, `dynamic_split_fuse`; the shared system prompt is prefilled once,
prefix caching), so a new turn joins the running batch at the next step instead of waiting for the others to
finish. Each request has its own token budget; a consumer that stops reading (the shopper closed the page,
the SSE stream was closed) cancels its request at the next step, which frees its KV-cache blocks. If the
engine process dies, its running requests fail with the reason and the next request starts a new one.

The model is a GGUF file (the bundled one is read directly, weights stay 4-bit) or a GGUF that
`models.prepare_openvino_model` wrote once from any HF folder, with a LoRA adapter merged in.
The engine's thread count (`llm.threads`) is an OpenVINO setting of that process only: torch's threads,
which the embedder uses in the server's process, are not touched.
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
_LOOKUP_TOKENS, _LOOKUP_NGRAM = 3, 3  # prompt lookup: candidate tokens per step, longest n-gram matched
_WARM_UP = "Customer: do you have a blue tent for two? Data: Ridgeline blue tent for two, $129.95, in stock. Ridgeline"


@dataclass
class _Request:
    prompt: str
    max_new_tokens: int
    stop: list[str]
    out: queue.Queue = field(default_factory=queue.Queue)  # lists of new token ids, then _DONE or an exception
    id: int = -1


@dataclass(frozen=True)
class _PipelineSpec:
    """What the engine process builds its pipeline from (sent to it, so plain values only)."""

    model_path: str
    tokenizer_dir: str | None  # the folder of a converted model's OpenVINO tokenizer; None: the GGUF's own
    threads: int
    max_batch: int
    cache_gb: float
    temperature: float
    prompt_lookup: bool = False
    precision: str | None = None  # OpenVINO's INFERENCE_PRECISION_HINT ("f32", "bf16"); None: the CPU's default


def _build_pipeline(spec: _PipelineSpec) -> Any:
    import openvino_genai as ov_genai

    scheduler = ov_genai.SchedulerConfig()
    scheduler.cache_size = max(1, round(spec.cache_gb))  # GB
    scheduler.max_num_seqs = spec.max_batch
    scheduler.dynamic_split_fuse = True  # prefill chunks ride along with the decode steps
    scheduler.max_num_batched_tokens = 256  # per step: a long prompt does not stall the others' decoding
    scheduler.enable_prefix_caching = True  # every turn starts with the same system prompt: prefilled once
    properties: dict[str, Any] = {"INFERENCE_NUM_THREADS": spec.threads}
    if spec.prompt_lookup:
        properties["prompt_lookup"] = True
    if spec.precision:
        properties["INFERENCE_PRECISION_HINT"] = spec.precision
    if spec.tokenizer_dir:
        return ov_genai.ContinuousBatchingPipeline(spec.model_path, ov_genai.Tokenizer(spec.tokenizer_dir), scheduler,
                                                   "CPU", **properties)
    return ov_genai.ContinuousBatchingPipeline(spec.model_path, scheduler, "CPU", properties)


def _config(max_new_tokens: int, stop: list[str], spec: _PipelineSpec) -> Any:
    import openvino_genai as ov_genai

    temperature = spec.temperature
    config = ov_genai.GenerationConfig()
    config.max_new_tokens = max_new_tokens
    if spec.prompt_lookup:  # candidates copied from the prompt's n-grams, verified in one forward pass
        config.num_assistant_tokens = _LOOKUP_TOKENS
        config.max_ngram_size = _LOOKUP_NGRAM
    config.do_sample = temperature > 0
    if temperature > 0:
        config.temperature = temperature
    if stop:
        config.stop_strings = set(stop)
    return config


def _serve(conn: Any, spec: _PipelineSpec) -> None:
    """The engine process: owns the pipeline and steps it while requests run.

    Messages in: ("add", id, prompt, max_new_tokens, stop), ("cancel", id). Out: ("ready",), then per step
    ("step", [(id, new token ids)], [finished ids]), ("error", id, text) for a request the pipeline refused,
    ("fatal", text) when it cannot go on. It ends when the server's end of the pipe closes.
    """
    import openvino_genai as ov_genai

    try:
        pipe = _build_pipeline(spec)
    except Exception as exc:
        conn.send(("fatal", f"{type(exc).__name__}: {exc}"))
        return
    try:  # compile the kernels a reply needs (prefill, decode, lookup candidates) before the first shopper waits
        pipe.generate([_WARM_UP], [_config(32, [], spec)])
    except Exception:  # a warm-up that fails costs only speed; a real request reports the error
        logger.warning("openvino engine warm-up failed", exc_info=True)
    conn.send(("ready",))
    handles: dict[int, Any] = {}
    while True:
        try:
            while not handles or conn.poll():  # wait for work when idle; otherwise take what has arrived
                message = conn.recv()
                if message[0] == "add":
                    _, rid, prompt, budget, stop = message
                    try:
                        handles[rid] = pipe.add_request(rid, prompt, _config(budget, stop, spec))
                    except Exception as exc:  # a bad request fails alone, the engine keeps serving the others
                        conn.send(("error", rid, f"{type(exc).__name__}: {exc}"))
                elif message[0] == "cancel" and message[1] in handles:
                    handles[message[1]].cancel()  # the pipeline drops it and frees its blocks on the next step
        except (EOFError, OSError):  # the server is gone
            return
        try:
            if pipe.has_non_finished_requests():
                pipe.step()
        except Exception as exc:  # the pipeline is broken for everybody
            conn.send(("fatal", f"{type(exc).__name__}: {exc}"))
            return
        tokens, finished = [], []
        for rid, handle in list(handles.items()):
            if handle.can_read():
                for output in handle.read().values():
                    if output.generated_ids:
                        tokens.append((rid, list(output.generated_ids)))
            if handle.get_status() != ov_genai.GenerationStatus.RUNNING:
                finished.append(rid)
                del handles[rid]
        if tokens or finished:
            conn.send(("step", tokens, finished))


class _Engine:
    """The server's side of the engine process: submits requests and hands each its tokens as they come.

    The pipeline runs in a process of its own because `ContinuousBatchingPipeline.step` holds Python's GIL
    for the whole forward pass: in the server's process every other thread (retrieval, grounding, the HTTP
    streams of the other shoppers) got ~3 % of a core while the model decoded.
    """

    def __init__(self, spec: _PipelineSpec, load_timeout_s: float = 600.0):
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # a fork of a threaded server is not safe
        self._conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, spec), name="shopbot-openvino-engine", daemon=True)
        self.process.start()
        child.close()
        if not self._conn.poll(load_timeout_s):
            self.process.kill()
            raise RuntimeError(f"openvino engine did not load {spec.model_path} in {load_timeout_s:.0f} s")
        try:
            first = self._conn.recv()
        except EOFError:  # it died before it could say why
            self.process.join(timeout=10)
            first = ("fatal", f"the engine process exited (code {self.process.exitcode})")
        if first[0] != "ready":
            self.process.join(timeout=10)
            raise RuntimeError(f"openvino engine could not load {spec.model_path}: {first[1]}")
        self._requests: dict[int, _Request] = {}
        self._lock = threading.Lock()  # the pipe and the request table
        self._next_id = 0
        self.failure: str | None = None  # why the engine process stopped, once it has
        self.peak = 0  # most requests running together so far (the benchmark and tests read it)
        self._reader = threading.Thread(target=self._read, name="openvino-engine-reader", daemon=True)
        self._reader.start()

    @property
    def running(self) -> int:
        """Requests submitted and not yet finished."""
        return len(self._requests)

    @property
    def alive(self) -> bool:
        return self.failure is None and self.process.is_alive()

    def submit(self, request: _Request) -> _Request:
        with self._lock:
            if self.failure:
                raise RuntimeError(self.failure)
            request.id, self._next_id = self._next_id, self._next_id + 1
            self._requests[request.id] = request
            self.peak = max(self.peak, len(self._requests))
            self._conn.send(("add", request.id, request.prompt, request.max_new_tokens, request.stop))
        return request

    def cancel(self, request: _Request) -> None:
        """Stop a request early (its reader left); its slot and KV blocks are freed at the next step."""
        with self._lock:
            if request.id in self._requests and not self.failure:
                self._conn.send(("cancel", request.id))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()

    def _read(self) -> None:
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                self._fail(f"the openvino engine process exited (code {self.process.exitcode})")
                return
            if message[0] == "step":
                _, tokens, finished = message
                for rid, ids in tokens:
                    if (request := self._requests.get(rid)) is not None:
                        request.out.put(ids)
                with self._lock:
                    done = [self._requests.pop(rid, None) for rid in finished]
                for request in done:
                    if request is not None:
                        request.out.put(_DONE)
            elif message[0] == "error":
                with self._lock:
                    request = self._requests.pop(message[1], None)
                if request is not None:
                    request.out.put(RuntimeError(message[2]))
            elif message[0] == "fatal":
                logger.error("openvino engine failed: %s", message[1])
                self._fail(f"openvino engine failed: {message[1]}")
                return

    def _fail(self, why: str) -> None:
        """Every running request gets the error; the next `load()` starts a new engine process."""
        with self._lock:
            self.failure = why
            requests, self._requests = list(self._requests.values()), {}
        for request in requests:
            request.out.put(RuntimeError(why))


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
    prompt_lookup: bool = False  # speculative decoding from the prompt's own n-grams (replies quote their data)
    precision: str | None = None  # inference precision; None: OpenVINO's default for this CPU (bf16 where it has it)

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
        """Start the engine process and load the model's tokenizer here (once; again after an engine failure)."""
        with self._load_lock:
            if self._engine is not None and self._engine.alive:
                return self._engine
            import openvino_genai as ov_genai

            if self._engine is not None:
                logger.warning("restarting the openvino engine: %s", self._engine.failure or "its process exited")
                self._engine.close()
            folder = os.path.dirname(self.model_path)
            converted = os.path.exists(os.path.join(folder, "openvino_tokenizer.xml"))  # written with a converted model
            spec = _PipelineSpec(self.model_path, folder if converted else None, self.threads or (os.cpu_count() or 1),
                                 self.max_batch, self.cache_gb, self.temperature, self.prompt_lookup, self.precision)
            self._tokenizer = ov_genai.Tokenizer(folder if converted else self.model_path)
            self._engine = _Engine(spec)
            logger.info("openvino engine ready: %s (threads=%s, max_batch=%d, pid %s)", self.model_name, spec.threads,
                        self.max_batch, self._engine.process.pid)
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
            engine.cancel(request)
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
