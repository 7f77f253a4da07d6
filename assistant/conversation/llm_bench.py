"""Fixed shop prompts and the measurements `shopbot models bench` and the inference benchmark print.

The prompts are the ones the engine drafts from: the shop's system prompt, then product rows from the demo
catalog fenced in `<data>`, the customer's question and the task line (`prompting.render_turn`), so a shop
compares backends on the prompts it serves.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import statistics
import threading
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_CATALOG = Path(__file__).resolve().parents[1] / "shop" / "demo_shop" / "catalog.jsonl"
_QUESTIONS = [
    ("Do you have something like this for a weekend trip?", "task_products"),
    ("Which one would you recommend under $200?", "task_products"),
    ("Is the first one waterproof and how much does it weigh?", "task_product_question"),
    ("I need a gift for my brother who hikes a lot.", "task_products"),
    ("Is it in stock and what does it cost?", "task_product_question"),
]


def shop_prompts(n: int = 50) -> list[list[dict[str, str]]]:
    """`n` fixed draft prompts (`[{"role", "content"}]`), built from the demo catalog, the same on every run."""
    from assistant.conversation.prompting import render_turn
    from prompts.loader import render

    products = [json.loads(line) for line in _CATALOG.read_text().splitlines() if line.strip()]
    system = render("assistant_system", shop_name="Trailhead Outfitters")
    out = []
    for i in range(n):
        rows = []
        for j in range(3):
            p = products[(i * 3 + j) % len(products)]
            stock = "in stock" if (p.get("stock") or 0) > 0 else "out of stock"
            rows.append(f"[{j + 1}] name: {p['title']}; price: ${p['price']:.2f}; {stock}; {p['description'][:160]}")
        message, task = _QUESTIONS[i % len(_QUESTIONS)]
        out.append(render_turn(system, message=message, data="\n".join(rows), task=task))
    return out


def rss_mb() -> float:
    """Memory of this process and its children (the openvino engine runs in one) now, in MB: the sum of their
    proportional set sizes (/proc/PID/smaps_rollup), so the libraries both map are counted once, as in one
    process's RSS; this process's peak RSS where /proc is missing."""
    try:
        pids = [os.getpid()]
        for task in Path("/proc/self/task").iterdir():
            pids += [int(p) for p in (task / "children").read_text().split()]
        total_kb = 0
        for pid in pids:
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:  # a child that ended meanwhile
                continue
            total_kb += next(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
        return total_kb / 1e3
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def run_bench(chat_model: Any, *, backend: str, concurrency: int = 1, max_new_tokens: int = 64,
              requests: int | None = None) -> dict[str, Any]:
    """Stream `requests` (default: 2 x concurrency, at least 4) fixed shop prompts, `concurrency` at a time.

    Returns `{"backend", "concurrency", "tokens_per_s", "ttft_ms_p50", "rss_mb"}` plus `"requests"`,
    `"tokens"` and `"wall_s"`. tokens_per_s is the aggregate: generated tokens of all requests over the wall
    time. The model is loaded and warmed with one request of the same length before the clock starts.
    """
    from langchain_core.messages import HumanMessage, SystemMessage

    prompts = shop_prompts(50)
    requests = requests or max(4, 2 * concurrency)
    conversations = [[SystemMessage(content=p[0]["content"]), HumanMessage(content=p[1]["content"])]
                     for p in (prompts[i % len(prompts)] for i in range(requests))]
    # load, and warm up with one whole reply: kernels compiled on first use are a start-up cost, not decoding speed
    list(chat_model.stream(conversations[0], max_tokens=max_new_tokens))
    count = getattr(chat_model, "count_tokens", None)
    ttfts: list[float] = []
    tokens = [0]
    lock = threading.Lock()
    pending = list(range(requests))

    def worker() -> None:
        while True:
            with lock:
                if not pending:
                    return
                i = pending.pop(0)
            start = time.perf_counter()
            first = None
            text = []
            for chunk in chat_model.stream(conversations[i], max_tokens=max_new_tokens):
                if first is None:
                    first = time.perf_counter() - start
                text.append(str(chunk.content))
            n = count("".join(text)) if count else len("".join(text).split())
            with lock:
                ttfts.append((first or 0.0) * 1000)
                tokens[0] += n

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {"backend": backend, "concurrency": concurrency, "tokens_per_s": round(tokens[0] / wall, 1),
            "ttft_ms_p50": round(statistics.median(ttfts), 1), "rss_mb": round(rss_mb(), 1),
            "requests": requests, "tokens": tokens[0], "wall_s": round(wall, 2)}


__all__ = ["rss_mb", "run_bench", "shop_prompts"]
