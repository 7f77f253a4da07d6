"""The `shopbot` command: the composition root.

Only typer, the stdlib and config are imported at the top, so `shopbot --help` stays fast; each command
imports the heavy packages it needs inside its body. User mistakes become one line on stderr and exit 1.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="shopbot",
    help="Shopbot: a grounded shopping assistant and customer-service bot.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
models_app = typer.Typer(help="Prepare and inspect the chat and embedding models.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure search and recommendation quality.", no_args_is_help=True)
finetune_app = typer.Typer(help="Train, evaluate and merge LoRA adapters.", no_args_is_help=True)
recs_app = typer.Typer(help="Personalised recommendations.", no_args_is_help=True)
copy_app = typer.Typer(help="Batch product copy.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys for the website widget and server-to-server calls.", no_args_is_help=True)
db_app = typer.Typer(help="The database of sessions, orders, keys and events (schema migrations).", no_args_is_help=True)
for _sub, _name in [
    (models_app, "models"),
    (eval_app, "eval"),
    (finetune_app, "finetune"),
    (recs_app, "recs"),
    (copy_app, "copy"),
    (keys_app, "keys"),
    (db_app, "db"),
]:
    app.add_typer(_sub, name=_name)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]


def _settings():
    from assistant.config import get_settings

    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return settings


def _chat_settings():
    """The settings with the chat adapter the assistant serves (the shop's own when trained), said on stderr."""
    from assistant.wiring import shop_adapter_path, with_shop_adapter

    settings = with_shop_adapter(_settings())
    if settings.llm.provider == "local":
        typer.echo(f"chat model adapter: {settings.llm.adapter or f'none (no adapter at {shop_adapter_path(settings)})'}",
                   err=True)
    return settings


def _print_json(obj: object) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


# ---------------------------------------------------------------- models


@models_app.command("prepare")
def models_prepare() -> None:
    """Convert the bundled chat model to a safetensors folder under the data home (once) and check the embedder."""
    from assistant.conversation import models

    settings = _settings()
    path = models.resolve_llm_path(settings.llm, settings.models_dir)
    typer.echo(f"chat model ready: {path}")
    typer.echo(f"embedding model ready: {models.resolve_embedding_path(settings.retrieval.embedding_model)}")


@models_app.command("list")
def models_list(as_json: JsonFlag = False) -> None:
    """Show the configured models and where they live."""
    from assistant.conversation import models

    settings = _settings()
    rows = models.describe(settings)
    if as_json:
        _print_json(rows)
        return
    for row in rows:
        typer.echo(f"{row['role']:<10} {row['model']:<40} {row['status']:<14} {row['location'] or '-'}")


@models_app.command("bench")
def models_bench(
    backend: Annotated[str | None, typer.Option("--backend", help="auto, openvino or transformers (default: llm.backend).")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=256, help="Replies generated at once.")] = 1,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1, max=4096, help="Token budget per reply.")] = 64,
    requests: Annotated[int | None, typer.Option("--requests", min=1, help="Replies in all (default: 2 x concurrency, at least 4).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Generate from fixed shop prompts with the local chat model; print tokens/s, time to first token and memory."""
    from assistant.config import Settings
    from assistant.conversation.llm import build_chat_model, choose_backend
    from assistant.conversation.llm_bench import run_bench

    settings = _settings()
    if settings.llm.provider != "local":
        typer.echo(f"llm.provider is '{settings.llm.provider}': `shopbot models bench` measures the local chat model; "
                   "unset SHOPBOT_LLM__PROVIDER.", err=True)
        raise typer.Exit(1)
    if backend is not None:
        if backend not in ("auto", "openvino", "transformers"):
            typer.echo(f"Unknown backend '{backend}'; expected one of ['auto', 'openvino', 'transformers'].", err=True)
            raise typer.Exit(1)
        settings = Settings.model_validate({**settings.model_dump(), "llm": {**settings.llm.model_dump(), "backend": backend}})
    from assistant.errors import ModelNotAvailableError

    try:
        name = choose_backend(settings)
        model = build_chat_model(settings)
    except ModelNotAvailableError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    result = run_bench(model, backend=name, concurrency=concurrency, max_new_tokens=max_new_tokens, requests=requests)
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(f"{result['backend']}: {result['tokens_per_s']} tokens/s at concurrency {result['concurrency']} "
               f"({result['tokens']} tokens, {result['requests']} replies, {result['wall_s']} s), "
               f"time to first token p50 {result['ttft_ms_p50']} ms, RSS {result['rss_mb']} MB")


# ---------------------------------------------------------------- catalog & search (issue 3)


def _search_embedder(settings):
    """The catalog embedder: the configured model folder and precision (retrieval never imports assistant)."""
    from assistant.conversation.models import resolve_embedding_path
    from retrieval.embed import Embedder

    path = resolve_embedding_path(settings.retrieval.embedding_model)
    return Embedder.from_settings(path, settings.retrieval)


def _index_catalog(settings, store, path: Path, format: str, sync: bool):
    """Load, report rejects (written under <home>/rejects) and index with a progress bar."""
    from tqdm import tqdm

    from retrieval.ingest import load_catalog, write_rejects

    load = load_catalog(path, format)
    rejects_file = write_rejects(load, settings.home / "rejects")
    with tqdm(total=len(load.products), unit="product", desc=f"indexing {path.name}", file=sys.stderr) as bar:
        report = store.index(load.products, sync=sync, progress=bar.update)
    return load, report, rejects_file


@app.command("index")
def index(
    catalog: Annotated[str | None, typer.Option(help="Catalog file (JSONL, CSV or ESCI products.jsonl); default: the shop's catalog.")] = None,
    format: Annotated[str, typer.Option("--format", help="auto|jsonl|csv|esci")] = "auto",
    sync: Annotated[bool, typer.Option("--sync", help="Remove indexed products that left the catalog.")] = False,
) -> None:
    """Embed and index a catalog (idempotent, resumable)."""
    from retrieval.documents import load_documents, open_documents
    from retrieval.search import open_store

    settings = _settings()
    path = Path(catalog).expanduser() if catalog else settings.shop_dir / "catalog.jsonl"
    embedder = _search_embedder(settings)
    store = open_store(settings.retrieval, settings.home, embedder)
    load, report, rejects_file = _index_catalog(settings, store, path, format, sync)
    typer.echo(
        f"{path}: added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"removed {report.removed}, rejected {len(load.rejects)}; {report.total} products indexed"
    )
    for reject in load.rejects[:5]:
        typer.echo(f"  rejected line {reject.line} ({reject.field}): {reject.message}", err=True)
    if rejects_file:
        typer.echo(f"rejected rows written to {rejects_file}", err=True)
    policies = settings.shop_dir / "policies"
    if policies.is_dir():
        docs = open_documents(settings.retrieval, settings.home, embedder).index(load_documents(policies))
        typer.echo(f"{policies}: {docs['documents']} documents, {docs['chunks']} passages indexed")


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="What the shopper typed.")],
    k: Annotated[int, typer.Option("--k", "-k", help="Results to return.")] = 10,
    user: Annotated[
        str | None, typer.Option("--user", help="Customer (or session) id: rerank with their behaviour events.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Search the catalog (hybrid lexical + dense, filters understood from the query, reranked)."""
    from retrieval.personalise import personalised_search
    from retrieval.search import open_searcher

    settings = _settings()
    searcher = open_searcher(settings.retrieval, settings.home, _search_embedder(settings))
    rec = _shop_recommender(settings, train=False) if user else None  # anonymous: today's ranking, no recs load
    result = personalised_search(searcher, rec, query, k=k, user_id=user)
    if as_json:
        _print_json({
            "query": result.query, "text": result.text, "corrections": result.corrections, "excluded": result.excluded,
            "filters": result.filters.model_dump(exclude_defaults=True), "latency_ms": round(result.latency_ms, 1),
            "hits": [{"id": h.product.id, "title": h.product.title, "price": h.product.price,
                      "currency": h.product.currency, "score": h.score, "scores": h.scores, "why": h.why}
                     for h in result.hits],
        })
        return
    understood = result.filters.model_dump(exclude_defaults=True)
    if understood or result.corrections or result.excluded:
        parts = [str(understood)] if understood else []
        parts += [f"corrected {result.corrections}"] if result.corrections else []
        parts += [f"excluding {', '.join(result.excluded)}"] if result.excluded else []
        typer.echo("understood: " + " ".join(parts))
    if not result.hits:
        typer.echo("no matching products")
    for rank, h in enumerate(result.hits, start=1):
        price = f"{h.product.price:.2f} {h.product.currency}" if h.product.price is not None else "-"
        typer.echo(f"{rank:>2}. {h.product.id}  {h.product.title[:70]}  [{price}]  score {h.score:.3f}")
        typer.echo(f"    why: {'; '.join(h.why)}")


@eval_app.command("search")
def eval_search(
    catalog: Annotated[Path, typer.Option(help="Catalog file.")],
    queries: Annotated[Path, typer.Option(help="queries.tsv (qid<TAB>query).")],
    qrels: Annotated[Path, typer.Option(help="qrels.tsv (qid, product id, label, grade).")],
    as_json: JsonFlag = False,
) -> None:
    """nDCG@10, Recall@100 and MRR for bm25, dense, hybrid and the default pipeline."""
    import hashlib

    from retrieval.evaluate import evaluate_searcher, load_qrels, load_queries
    from retrieval.search import Searcher, open_store

    settings = _settings()
    judged_queries, judgements = load_queries(queries), load_qrels(qrels)
    # One collection per catalog file, so evaluating never touches the shop's own index.
    name = f"eval-{catalog.stem}-{hashlib.sha1(str(catalog.resolve()).encode()).hexdigest()[:8]}"
    store = open_store(settings.retrieval, settings.home, _search_embedder(settings), name=name)
    load, report, _ = _index_catalog(settings, store, catalog, "auto", sync=True)
    result = evaluate_searcher(Searcher(store, settings.retrieval), judged_queries, judgements)
    result["catalog"] = {"path": str(catalog), "products": report.total, "rejected": len(load.rejects)}
    if as_json:
        _print_json(result)
        return
    typer.echo(f"{result['queries']} judged queries over {report.total} products")
    typer.echo(f"{'config':<10}{'nDCG@10':>9}{'R@100':>8}{'MRR':>8}{'p50 ms':>9}{'p95 ms':>9}")
    for config, m in result["configs"].items():
        typer.echo(f"{config:<10}{m['ndcg@10']:>9.4f}{m['recall@100']:>8.4f}{m['mrr']:>8.4f}{m['p50_ms']:>9.1f}{m['p95_ms']:>9.1f}")


@eval_app.command("conversations")
def eval_conversations(
    split: Annotated[str, typer.Option(help="visible, heldout or all.")] = "all",
    adapter: Annotated[str | None, typer.Option(help="LoRA adapter (folder or name) for llm.adapter; 'none' = no adapter; "
                                                     "default: as served (llm.adapter, else <home>/adapters/<shop>).")] = None,
    llm: Annotated[str, typer.Option(help="bundled = the bundled chat model drafts replies; none = templates only (fast).")] = "bundled",
    limit: Annotated[int | None, typer.Option(help="Run only the first N conversations.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Scripted multi-turn conversations (issue 15), each turn checked against the shop's data; a temporary data home."""
    from assistant.conversation import evaluate

    settings = _settings()
    if adapter is None and llm == "bundled":  # as served: llm.adapter, else the shop's adapter when trained
        from assistant.wiring import with_shop_adapter

        adapter = with_shop_adapter(settings).llm.adapter or "none"
    report = evaluate.run(settings, split=split, llm=llm, adapter=adapter, limit=limit,
                          progress=lambda msg: typer.echo(msg, err=True))
    report["adapter"] = None if llm != "bundled" or adapter == "none" else adapter
    report["drafts_passed_share"] = round(report["drafts_passed"] / report["drafts"], 4) if report["drafts"] else None
    if as_json:
        _print_json(report)
        return
    typer.echo(evaluate.format_report(report))


# ---------------------------------------------------------------- assistant (issue 4)


@app.command("ask")
def ask(
    message: Annotated[str, typer.Argument(help="The customer's message.")],
    session: Annotated[str | None, typer.Option("--session", help="Continue this session id.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Customer id (enables order tools).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """One chat turn."""
    from assistant.wiring import build_assistant

    assistant = build_assistant(_chat_settings())
    done: dict = {}
    actions: list[dict] = []
    for event in assistant.chat(session, message, user):
        if event.type == "token" and not as_json:
            typer.echo(event.data["text"], nl=False)
        elif event.type == "action":
            actions.append({k: v for k, v in event.data.items() if k != "session"})
        elif event.type == "done":
            done = event.data
    if as_json:
        _print_json({
            "reply": done["reply"], "intent": done["intent"],
            "products": [{"id": p["id"], "title": p["title"], "price": p["price"]} for p in done["products"]],
            "citations": done["citations"], "actions": actions, "session": done["session"],
        })
    else:
        typer.echo(f"\n[session {done['session']}]", err=True)


@app.command("chat")
def chat(
    user: Annotated[str | None, typer.Option("--user", help="Customer id (enables order tools).")] = None,
) -> None:
    """Chat in the terminal."""
    from assistant.wiring import build_assistant

    assistant = build_assistant(_chat_settings())
    session: str | None = None
    typer.echo("Shopbot: ask about products or your orders. Empty line or Ctrl-D to quit.")
    while True:
        try:
            message = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not message:
            break
        typer.echo("bot> ", nl=False)
        for event in assistant.chat(session, message, user):
            if event.type == "token":
                typer.echo(event.data["text"], nl=False)
            elif event.type == "action":
                typer.echo(f"\n  [{event.data['action']} {event.data['order_id']}: {event.data['status']}]", nl=False)
            elif event.type == "handoff":
                typer.echo(f"\n  [handoff ticket {event.data['ticket_id']}]", nl=False)
            elif event.type == "done":
                session = event.data["session"]
        typer.echo("")


# ---------------------------------------------------------------- interfaces (issue 8)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    ui: Annotated[bool, typer.Option("--ui/--no-ui", help="Mount the Gradio UI at / (off: API and widget only).")] = True,
    workers: Annotated[int, typer.Option(help="API worker processes (needs --no-ui; see docs/scale-out.md).")] = 1,
    warm: Annotated[bool, typer.Option("--warm/--lazy", help="Load the model and indexes before serving.")] = True,
) -> None:
    """Serve the Gradio UI and the HTTP API in one process."""
    import uvicorn

    from assistant.web.api import create_app
    from assistant.web.keys import KeyStore, ensure_demo_site_key

    settings = _chat_settings()
    if settings.llm.adapter:  # the workers read their settings from the environment
        import os

        os.environ.setdefault("SHOPBOT_LLM__ADAPTER", settings.llm.adapter)
    if workers > 1 and ui:
        raise typer.BadParameter("--workers > 1 serves the API only; add --no-ui (run the UI as its own process).")
    _require_current_schema(settings)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    origins = [f"http://{shown}:{port}"] + ([f"http://localhost:{port}"] if shown == "127.0.0.1" else [])
    demo_key, created = ensure_demo_site_key(KeyStore(settings.database_url), settings.home, origins)
    if created:
        typer.echo(f"Created a demo site key for {', '.join(origins)}: {demo_key}")
    where = f"http://{shown}:{port}"
    ready = (f"UI {where}/  " if ui else "") + f"API {where}/v1 (docs {where}/docs)  widget demo {where}/demo"
    if workers > 1:
        if warm:  # import the shop's events and train recommendations once, before the workers start
            _shop_recommender(settings, train=False)
        # Each worker builds its own app from the same settings (environment / shopbot.toml).
        typer.echo(f"Shopbot ({workers} workers): {ready}")
        uvicorn.run("assistant.web.api:create_app_from_env", factory=True, host=host, port=port, workers=workers,
                    proxy_headers=True, log_level="warning")
        return
    assistant = None
    if warm:  # load the model and indexes now, so a missing index fails here and the first reply is fast
        from assistant.wiring import build_assistant

        # the shop's behaviour history imported and a model trained once, so "recommended for you" is personal
        assistant = build_assistant(settings, recommender=_shop_recommender(settings, train=False))
    app = create_app(settings, assistant, ui=ui, demo_site_key=demo_key)
    typer.echo(f"Shopbot: {ready}")
    uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="warning", timeout_graceful_shutdown=5)


def _require_current_schema(settings) -> None:
    """Stop with one line naming `shopbot db upgrade` when the shared database's schema is outdated (SQLite files
    are migrated when opened)."""
    from storage import Database, SchemaOutdatedError

    try:
        for target in dict.fromkeys([settings.database_url, settings.events_target]):
            Database(target).close()
    except SchemaOutdatedError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Migration to upgrade to.")] = "head") -> None:
    """Run the schema migrations on the database (database.url, else the SQLite files in the data home)."""
    from storage import upgrade
    from storage.database import safe_url, to_url

    settings = _settings()
    for target in dict.fromkeys([settings.database_url, settings.events_target]):
        before, after = upgrade(target, revision)
        state = f"upgraded from {before or 'empty'} to {after}" if before != after else f"already at {after}"
        typer.echo(f"{safe_url(to_url(target))}: {state}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's schema revision and the one this version needs."""
    from storage import current_revision, head_revision
    from storage.database import safe_url, to_url

    settings = _settings()
    for target in dict.fromkeys([settings.database_url, settings.events_target]):
        typer.echo(f"{safe_url(to_url(target))}: {current_revision(target) or 'empty'} (this version needs {head_revision()})")


# ---------------------------------------------------------------- fine-tuning (issue 5)


@finetune_app.command("train")
def finetune_train(
    config: Annotated[Path | None, typer.Option(help="YAML training config; default: the bundled one.")] = None,
    data: Annotated[Path | None, typer.Option(help="Dialogs (Bitext CSV, chat JSONL, ShareGPT JSON, Q/A CSV) or records "
                                                   "from build-data; default: the shop's dialogs and feedback, replayed "
                                                   "(`finetune build-data`) into <home>/adapters/<shop>.")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", help="Stop after N optimizer steps.")] = None,
    output: Annotated[Path | None, typer.Option(help="Adapter output folder.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in --output.")] = False,
    task: Annotated[str, typer.Option(help="'chat' (service dialogs) or 'copy' (product descriptions).")] = "chat",
    method: Annotated[str, typer.Option(help="sft, or dpo: SFT then DPO on rated-down replies (the shop's adapter, "
                                             "no --data).")] = "sft",
    catalog: Annotated[Path | None, typer.Option(help="--task copy: catalog whose real descriptions are the "
                                                      "targets; default: the shop's catalog.")] = None,
    style: Annotated[Path | None, typer.Option(help="--task copy: the copy style the prompts are rendered in.")] = None,
) -> None:
    """Train a LoRA adapter on service dialogs, or (--task copy) the shop's copywriting adapter.

    On GPUs: `accelerate launch -m assistant.cli finetune train --config my.yaml` (same flags).
    """
    from assistant.conversation.models import resolve_llm_path
    from finetune import load_config, train

    settings = _settings()
    if method not in ("sft", "dpo") or (method == "dpo" and (task != "chat" or data is not None)):
        typer.echo(f"--method {method}: expected 'sft' or 'dpo' (dpo trains the shop's chat adapter: no --data, "
                   "--task chat).", err=True)
        raise typer.Exit(1)
    if task not in ("chat", "copy"):
        typer.echo(f"Unknown --task '{task}'; expected 'chat' or 'copy'.", err=True)
        raise typer.Exit(1)
    base = resolve_llm_path(settings.llm, settings.models_dir)
    if task == "copy":
        from assistant.copywriting.training import copy_examples, shop_copy_adapter
        from assistant.copywriting.writer import load_style
        from finetune.train import CONFIG_DIR
        from retrieval.ingest import load_catalog

        cfg = load_config(config or CONFIG_DIR / "copy.yaml")
        source = catalog or settings.shop_dir / "catalog.jsonl"
        examples, stats = copy_examples(load_catalog(source, format="auto").products, load_style(style))
        typer.echo(f"copy examples: {stats['examples']} of {stats['products']} products "
                   f"(left out: {stats['left_out']})", err=True)
        out = output or shop_copy_adapter(settings)
        result = train(cfg, base, out, data_path=source, max_steps=max_steps, resume=resume, copy_examples=examples)
    elif data is None:  # the shop's adapter: its dialogs and feedback, replayed into the serving format
        from assistant.wiring import shop_adapter_path
        from finetune.train import CONFIG_DIR

        cfg = load_config(config or CONFIG_DIR / "shop.yaml")
        records = _build_shop_records(settings, cfg.data)
        out = output or shop_adapter_path(settings)
        preference = []
        if method == "dpo":  # fail before training when there is nothing to prefer
            from finetune.data import load_records

            preference = load_records(records, cfg.data).preference
            if not preference:
                typer.echo("--method dpo: no rated-down replies in the stored feedback, so no preference pairs; "
                           "collect thumbs-down ratings or use --method sft.", err=True)
                raise typer.Exit(1)
        result = train(cfg, base, out, data_path=records, max_steps=max_steps, resume=resume)
        if preference:
            from finetune.train import train_preference

            steps = train_preference(cfg, base, out, preference, max_steps=max_steps)
            typer.echo(f"DPO: {steps} steps on {len(preference)} preference pairs", err=True)
    else:
        cfg = load_config(config)
        out = output or settings.adapters_dir / cfg.name
        result = train(cfg, base, out, data_path=data, max_steps=max_steps, resume=resume)
    typer.echo(
        f"adapter saved: {result.output_dir} ({result.steps} steps, {result.wall_seconds / 60:.1f} min, "
        f"train loss {result.train_loss:.3f}, validation loss "
        f"{'-' if result.eval_loss is None else f'{result.eval_loss:.3f}'}, "
        f"{'-' if result.tokens_per_second is None else f'{result.tokens_per_second:.0f}'} tokens/s)"  # None: one logged step
    )


def _build_shop_records(settings, data_cfg, extra: list[Path] | None = None, output: Path | None = None) -> Path:
    """Replay the shop's dialogs, `data_cfg.dialogs` + `extra` and the stored feedback through the engine
    (`assistant.conversation.training_data`); write the records; return their path."""
    from assistant.conversation import training_data as td
    from assistant.shop import data as shop
    from assistant.shop.feedback import FeedbackStore
    from finetune.data import load_dialogs

    dialogs: list = []
    if (Path(settings.shop_dir) / "dialogs.jsonl").is_file():
        dialogs += [td.ReplayDialog([m.model_dump() for m in d.messages], d.customer_id, d.intent, f"dialogs.jsonl:{d.id}")
                    for d in shop.load_dialogs(settings.shop_dir)]
    for path in [*(Path(p) for p in data_cfg.dialogs), *(extra or [])]:
        loaded = load_dialogs(path)
        found = [td.ReplayDialog(d.messages, None, d.intent, f"{path.name}:{d.source}") for d in loaded.dialogs]
        sampled = td.sample_per_intent(found, data_cfg.max_dialogs_per_intent, data_cfg.seed)
        dialogs += sampled
        typer.echo(f"{path}: {len(loaded.dialogs)} dialogs ({len(loaded.rejects)} rejected), {len(sampled)} replayed", err=True)
    feedback = FeedbackStore(settings.db_path).list() if settings.db_path.is_file() else []
    dialogs += td.feedback_dialogs(feedback)
    options = td.ReplayOptions(template_targets=data_cfg.template_targets, repair=data_cfg.repair,
                               val_fraction=data_cfg.val_fraction, test_fraction=data_cfg.test_fraction, seed=data_cfg.seed)
    result = td.replay_shop(settings, dialogs, options)
    out = output or settings.home / "training" / f"{Path(settings.shop_dir).name}.jsonl"
    td.write_records(out, result.records, result.stats)
    typer.echo(f"training records: {out} ({result.stats['records']} from {result.stats['dialogs']} dialogs and "
               f"{len(feedback)} ratings; {result.stats['by_origin']}; {result.stats['by_split']})", err=True)
    return out


@finetune_app.command("build-data")
def finetune_build_data(
    data: Annotated[list[Path] | None, typer.Option(help="More dialog files to replay (Bitext CSV, chat JSONL, ShareGPT); "
                                                         "repeatable.")] = None,
    config: Annotated[Path | None, typer.Option(help="Training config whose data: section applies; default: shop.yaml.")] = None,
    output: Annotated[Path | None, typer.Option(help="Records file; default: <home>/training/<shop>.jsonl.")] = None,
    max_per_intent: Annotated[int | None, typer.Option("--max-per-intent", help="Of each extra file, at most N dialogs "
                                                                                "per intent.")] = None,
) -> None:
    """Replay the shop's dialogs and feedback through the engine into training records in the serving format."""
    from finetune import load_config
    from finetune.train import CONFIG_DIR

    settings = _settings()
    cfg = load_config(config or CONFIG_DIR / "shop.yaml")
    if max_per_intent is not None:
        cfg.data.max_dialogs_per_intent = max_per_intent
    typer.echo(str(_build_shop_records(settings, cfg.data, data, output)))


@finetune_app.command("eval")
def finetune_eval(
    adapter: Annotated[Path, typer.Option(help="Adapter folder (or name under <home>/adapters).")],
    data: Annotated[Path | None, typer.Option(help="Dialog or records file; its held-out split is used (default: the "
                                                   "one the adapter was trained on).")] = None,
    limit: Annotated[int | None, typer.Option(help="Evaluate at most N held-out dialogs.")] = None,
    as_json: JsonFlag = False,
    generate_limit: Annotated[
        int, typer.Option("--generate-limit", help="Of those, greedy replies (ROUGE-L, intent fit) for at most N.")
    ] = 40,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", help="Reply length cap for ROUGE-L.")] = 256,
) -> None:
    """Compare base and base+adapter on held-out dialogs."""
    from assistant.conversation.llm import resolve_adapter
    from assistant.conversation.models import resolve_llm_path
    from finetune import evaluate

    settings = _settings()
    adapter_dir = resolve_adapter(settings, str(adapter))
    base = resolve_llm_path(settings.llm, settings.models_dir)
    report = evaluate(base, adapter_dir, data, limit=limit, generate_limit=generate_limit, max_new_tokens=max_new_tokens,
                      replies_with=_engine_replies(settings, adapter_dir))
    if as_json:
        _print_json(report)
        return
    def num(value: float | None, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    typer.echo(f"{'model':<8} {'perplexity':>10} {'ROUGE-L':>8} {'intent fit':>10}")
    for who in ("base", "adapter"):
        m = report[who]
        typer.echo(f"{who:<8} {m['perplexity']:>10.3f} {num(m['rougeL'], '.3f'):>8} {num(m.get('intent_fit'), '.3f'):>10}")
    typer.echo(
        f"perplexity x{report['perplexity_ratio']:.3f}, ROUGE-L {num(report['rougeL_gain'], '+.3f')} "
        f"({report['perplexity_dialogs']} dialogs, {report['generated_dialogs']} generated)"
    )


def _engine_replies(settings, adapter_dir: str):
    """`finetune eval`'s reply writer on the local inference backend when that batches (openvino), else None."""
    from assistant.conversation.llm import build_chat_model, choose_backend

    if settings.llm.provider != "local" or choose_backend(settings) != "openvino":
        return None

    def replies(who: str, prompts: list[list[dict[str, str]]], max_new_tokens: int) -> list[str]:
        from langchain_core.messages import convert_to_messages

        llm = settings.llm.model_copy(update={"adapter": adapter_dir if who == "adapter" else None})
        model = build_chat_model(settings.model_copy(update={"llm": llm}))
        logging.getLogger(__name__).info("finetune eval: %s replies from %s", who, model.model_name)
        return model.generate_batch([convert_to_messages(p) for p in prompts], max_new_tokens=max_new_tokens)

    return replies


@finetune_app.command("merge")
def finetune_merge(
    adapter: Annotated[Path, typer.Option(help="Adapter folder (or name under <home>/adapters).")],
    output: Annotated[Path, typer.Option(help="Folder for the merged full model.")],
) -> None:
    """Merge an adapter into the base model and save a full model."""
    from assistant.conversation.llm import resolve_adapter
    from assistant.conversation.models import resolve_llm_path
    from finetune import merge_adapter

    settings = _settings()
    adapter_dir = resolve_adapter(settings, str(adapter))
    out = merge_adapter(adapter_dir, resolve_llm_path(settings.llm, settings.models_dir), output)
    typer.echo(f"merged model saved: {out} (serve it with SHOPBOT_LLM__MODEL={out})")


# ---------------------------------------------------------------- recommendations (issue 6)


def _shop_recommender(settings, *, train: bool):
    """The shop's recommender: shop events imported once into <home>/events.db, model trained when asked/missing."""
    from retrieval.ingest import load_catalog
    from retrieval.recs.events import EventStore
    from retrieval.recs.recommend import open_recommender, train_recommender

    products = load_catalog(settings.shop_dir / "catalog.jsonl").products
    shop_events = settings.shop_dir / "events.jsonl"
    if shop_events.is_file():
        with EventStore(settings.events_target) as store:
            store.import_jsonl(shop_events)  # skipped when this exact file was imported before
    embedder = _search_embedder(settings)
    if train or not (settings.home / "recs" / "model.npz").is_file():
        model = train_recommender(settings.retrieval.recs, settings.home, products, embedder)
        typer.echo(f"trained on the event log: {len(model.item_ids)} items", err=True)
    return open_recommender(settings.retrieval.recs, settings.home, products, embedder)


@recs_app.command("train")
def recs_train() -> None:
    """Train the collaborative-filtering model on the stored behaviour events."""
    settings = _settings()
    rec = _shop_recommender(settings, train=True)
    typer.echo(f"model saved in {settings.home / 'recs'} ({rec.events.count()} events, {len(rec.products)} products)")


@recs_app.command("for")
def recs_for(
    user: Annotated[str, typer.Argument(help="Customer id.")],
    k: Annotated[int, typer.Option("--k", "-k")] = 10,
    as_json: JsonFlag = False,
) -> None:
    """Recommendations for one customer, each with its reason."""
    settings = _settings()
    rec = _shop_recommender(settings, train=False)
    recs = rec.recommend(user, k=k)
    if as_json:
        _print_json({"user": user, "recommendations": [r.model_dump() for r in recs]})
        return
    titles = {p.id: p.title for p in rec.products}
    for n, r in enumerate(recs, start=1):
        typer.echo(f"{n:>2}. {titles[r.product_id]} [{r.product_id}] - {r.reason}")


@eval_app.command("recs")
def eval_recs(
    transactions: Annotated[Path, typer.Option(help="UCI Online Retail CSV (.csv or .csv.gz).")],
    split_date: Annotated[str, typer.Option("--split-date", help="YYYY-MM-DD: train before, test from.")],
    as_json: JsonFlag = False,
    max_customers: Annotated[
        int | None, typer.Option("--max-customers", help="Evaluate a fixed sample of N test customers.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="YYYY-MM-DD: end the test window (a tuning split before a check split).")
    ] = None,
) -> None:
    """Recall@20, nDCG@10 and coverage against popularity, ALS, EASE and item-kNN baselines."""
    from retrieval.recs.evaluate import evaluate_recs

    settings = _settings()
    result = evaluate_recs(
        transactions, split_date, _search_embedder(settings), settings.retrieval.recs,
        cache_dir=settings.home / "recs", max_customers=max_customers, until=until,
        progress=None if as_json else (lambda msg: typer.echo(msg, err=True)),
    )
    if as_json:
        _print_json(result)
        return
    rows = [("default", result)] + [(name, result["baselines"][name]) for name in result["baselines"]]
    typer.echo(f"{'recommender':<12} {'mode':<4} {'recall@20':>9} {'ndcg@10':>8} {'coverage':>8}")
    for name, res in rows:
        for mode in ("new", "all"):
            m = res[mode]
            typer.echo(f"{name:<12} {mode:<4} {m['recall@20']:>9.4f} {m['ndcg@10']:>8.4f} {m['coverage']:>8.4f}")


@eval_app.command("personalised-search")
def eval_personalised_search(
    transactions: Annotated[Path, typer.Option(help="UCI Online Retail CSV (.csv or .csv.gz).")],
    split_date: Annotated[str, typer.Option("--split-date", help="YYYY-MM-DD: profiles from before, queries from after.")],
    as_json: JsonFlag = False,
    max_customers: Annotated[
        int | None, typer.Option("--max-customers", help="Evaluate a fixed sample of N test customers.")
    ] = None,
    per_customer: Annotated[int, typer.Option("--per-customer", min=1, help="Queries per customer.")] = 1,
    until: Annotated[str | None, typer.Option("--until", help="YYYY-MM-DD: end the test window.")] = None,
) -> None:
    """MRR@10 and nDCG@10 of the item a customer bought, searched by its head words, personalised vs plain."""
    from retrieval.personalise_eval import evaluate_personalised_search

    settings = _settings()
    result = evaluate_personalised_search(
        transactions, split_date, _search_embedder(settings), settings.retrieval, max_customers=max_customers,
        per_customer=per_customer, until=until, progress=None if as_json else (lambda msg: typer.echo(msg, err=True)),
    )
    if as_json:
        _print_json(result)
        return
    typer.echo(f"{result['queries']} queries from {result['customers']} customers")
    for metric in ("mrr@10", "ndcg@10"):
        m = result[metric]
        typer.echo(f"{metric:<8} personalised {m['personalised']:.4f}  plain {m['plain']:.4f}")


# ---------------------------------------------------------------- product copy (issue 7)


@copy_app.command("generate")
def copy_generate(
    catalog: Annotated[Path, typer.Option(help="Catalog file (any importer format).")],
    out: Annotated[Path, typer.Option(help="Output JSONL (appended; re-runs skip finished products).")],
    style: Annotated[Path | None, typer.Option(help="Style YAML.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most N products.")] = None,
    workers: Annotated[int, typer.Option(help="Concurrent requests (OpenAI-compatible endpoint).")] = 4,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Products per generation batch (local model).")] = 16,
    adapter: Annotated[str, typer.Option(help="'auto' (the shop's copy adapter <home>/adapters/<shop>-copy when "
                                              "present), 'none' (base model), or an adapter folder/name.")] = "auto",
) -> None:
    """Write product descriptions from product data."""
    from tqdm import tqdm

    from assistant.copywriting import writer as copywriter
    from assistant.copywriting.journal import CopyJournal, pending
    from assistant.copywriting.training import copy_chat_model
    from retrieval.ingest import load_catalog

    settings = _settings()
    copy_style = copywriter.load_style(style)
    loaded = load_catalog(catalog, format="auto")
    if loaded.rejects:
        typer.echo(f"{len(loaded.rejects)} catalog rows rejected (first: line {loaded.rejects[0].line}, "
                   f"{loaded.rejects[0].field}: {loaded.rejects[0].message})", err=True)
    products = loaded.products[:limit] if limit else loaded.products
    copywriter.warn_if_unwritable(copy_style, settings.llm.model)
    chat_model, which = copy_chat_model(settings, adapter)
    typer.echo(f"writing with {which}", err=True)
    model_name = copywriter.model_name_of(chat_model)
    written = failed = checked = unsupported = 0
    with CopyJournal(out) as journal:
        todo = pending(products, journal.records(), copy_style, model_name)
        typer.echo(f"{len(products) - len(todo)} of {len(products)} products already done; writing {len(todo)}", err=True)
        bar = tqdm(total=len(todo), unit="product", desc="copy", dynamic_ncols=True)
        try:
            for records in copywriter.write_copy(todo, copy_style, chat_model, batch_size=batch_size, workers=workers):
                for record in records:
                    journal.append(record)
                    written += 1
                    failed += record.error is not None
                    checked += record.faithfulness.checked
                    unsupported += record.faithfulness.checked - record.faithfulness.supported
                bar.update(len(records))
        except KeyboardInterrupt:
            bar.close()
            typer.echo(f"interrupted: {written} records written to {out}; run the same command to continue.", err=True)
            raise typer.Exit(130) from None
        bar.close()
    typer.echo(f"wrote {written} records to {out} ({failed} failed); unsupported claims in the copy: "
               f"{unsupported} of {checked} checked")


@copy_app.command("eval")
def copy_eval(
    catalog: Annotated[Path, typer.Option(help="Catalog with real descriptions (e.g. ESCI products.jsonl).")],
    limit: Annotated[int, typer.Option(help="Products to evaluate.")] = 50,
    as_json: JsonFlag = False,
    style: Annotated[Path | None, typer.Option(help="Style YAML (default: the bundled one).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Products per generation batch (local model).")] = 16,
    workers: Annotated[int, typer.Option(help="Concurrent requests (OpenAI-compatible endpoint).")] = 4,
    out: Annotated[Path | None, typer.Option(help="Also keep the generated copy in this JSONL (with --compare: "
                                                  "a folder of base.jsonl and adapter.jsonl); a re-run resumes.")] = None,
    split: Annotated[str, typer.Option(help="'test': products held out from copy training (by a hash of the id); "
                                            "'train', 'val' or 'all'.")] = "test",
    adapter: Annotated[str, typer.Option(help="As for `copy generate`: 'auto', 'none' or an adapter folder/name.")] = "auto",
    compare: Annotated[bool, typer.Option("--compare", help="Score the base model and --adapter on the same "
                                                            "products in one run (JSON: {base, adapter}).")] = False,
) -> None:
    """ROUGE-L against the real descriptions, attribute coverage, unsupported, restatement, non-word and fallback
    rates, and speed, on held-out products."""
    from tqdm import tqdm

    from assistant.copywriting import writer as copywriter
    from assistant.copywriting.evaluate import compare_copy, select_split
    from assistant.copywriting.training import copy_chat_model
    from retrieval.ingest import load_catalog

    settings = _settings()
    copy_style = copywriter.load_style(style)
    try:
        products = select_split(load_catalog(catalog, format="auto").products, split)[:limit]
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    copywriter.warn_if_unwritable(copy_style, settings.llm.model)
    models, outs = {}, {}
    if compare:
        models["base"], _ = copy_chat_model(settings, "none")
    models["adapter" if compare else "model"], which = copy_chat_model(settings, adapter)
    if compare and models["adapter"].model_name == models["base"].model_name:
        typer.echo(f"--compare needs a copy adapter, but --adapter {adapter} gives the {which}; "
                   "train one with `shopbot finetune train --task copy` or pass --adapter NAME.", err=True)
        raise typer.Exit(1)
    if out:
        outs = {key: out / f"{key}.jsonl" for key in models} if compare else {"model": out}
    typer.echo(f"{len(products)} products of split '{split}'; {which}", err=True)
    with tqdm(total=len(products), unit="product", desc="copy eval", dynamic_ncols=True) as bar:
        reports = compare_copy(products, models, copy_style, batch_size=batch_size, workers=workers, out=outs,
                               progress=bar)
    report = reports if compare else reports["model"]
    report = {"split": split, **report} if not compare else {"split": split, "products": len(products), **reports}
    if as_json:
        _print_json(report)
        return
    for key, value in report.items():
        typer.echo(f"{key:<30} {value}")


# ---------------------------------------------------------------- keys (issue 8)


@keys_app.command("create")
def keys_create(
    kind: Annotated[str, typer.Option(help="'site' (publishable, browser) or 'secret' (server-to-server).")] = "site",
    origin: Annotated[list[str] | None, typer.Option(help="Allowed origin for a site key (repeatable).")] = None,
    name: Annotated[str, typer.Option(help="Label.")] = "",
) -> None:
    """Create an API key."""
    from assistant.web.keys import KeyStore

    record, plain = KeyStore(_settings().database_url).create(kind, origin or [], name)
    typer.echo(f"{record.id}  {record.kind}  {', '.join(record.origins) or '-'}")
    typer.echo(f"key (shown once, store it now): {plain}")


@keys_app.command("list")
def keys_list(as_json: JsonFlag = False) -> None:
    """List API keys (secrets are never shown again)."""
    from assistant.web.keys import KeyStore

    keys = KeyStore(_settings().database_url).list()
    if as_json:
        _print_json([k.model_dump() | {"active": k.active} for k in keys])
        return
    if not keys:
        typer.echo("No keys yet; create one with `shopbot keys create --origin https://your-shop.example`.")
    for k in keys:
        state = "active" if k.active else "revoked"
        typer.echo(f"{k.id:<18} {k.kind:<7} {state:<8} {k.prefix}...  {', '.join(k.origins) or '-'}  {k.name}")


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="Key id from `shopbot keys list`.")]) -> None:
    """Revoke an API key."""
    from assistant.web.keys import KeyStore

    record = KeyStore(_settings().database_url).revoke(key_id)
    typer.echo(f"revoked {record.id} ({record.kind})")


@keys_app.command("token")
def keys_token(
    user: Annotated[str, typer.Argument(help="Customer id the token names.")],
    ttl: Annotated[int, typer.Option(help="Seconds until it expires.")] = 3600,
) -> None:
    """Mint a signed customer token (for data-customer-token; shops normally use POST /v1/customer-tokens)."""
    from assistant.web.auth import CustomerTokens, load_token_secret

    settings = _settings()
    secret = settings.api.token_secret.get_secret_value() if settings.api.token_secret else None
    typer.echo(CustomerTokens(load_token_secret(secret, settings.home)).issue(user, ttl))


def _user_errors() -> tuple[type[BaseException], ...]:
    from pydantic import ValidationError

    from assistant.errors import AssistantError
    from finetune.errors import FinetuneError
    from retrieval.errors import RetrievalError

    return (AssistantError, RetrievalError, FinetuneError, ValidationError, FileNotFoundError)


def main() -> None:
    """Console-script entry point: run the app, turning user errors into one clear line."""
    try:
        app()
    except _user_errors() as exc:
        message = str(exc).strip().splitlines()
        typer.echo(f"Error: {' '.join(m.strip() for m in message)}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
