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
for _sub, _name in [
    (models_app, "models"),
    (eval_app, "eval"),
    (finetune_app, "finetune"),
    (recs_app, "recs"),
    (copy_app, "copy"),
    (keys_app, "keys"),
]:
    app.add_typer(_sub, name=_name)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]


def _settings():
    from assistant.config import get_settings

    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return settings


def _print_json(obj: object) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


# ---------------------------------------------------------------- models


@models_app.command("prepare")
def models_prepare() -> None:
    """Convert the bundled chat model to a safetensors folder under the data home (once) and check the embedder."""
    from assistant import models

    settings = _settings()
    path = models.resolve_llm_path(settings.llm, settings.models_dir)
    typer.echo(f"chat model ready: {path}")
    typer.echo(f"embedding model ready: {models.resolve_embedding_path(settings.retrieval.embedding_model)}")


@models_app.command("list")
def models_list(as_json: JsonFlag = False) -> None:
    """Show the configured models and where they live."""
    from assistant import models

    settings = _settings()
    rows = models.describe(settings)
    if as_json:
        _print_json(rows)
        return
    for row in rows:
        typer.echo(f"{row['role']:<10} {row['model']:<40} {row['status']:<14} {row['location'] or '-'}")


# ---------------------------------------------------------------- catalog & search (issue 3)


@app.command("index")
def index(
    catalog: Annotated[str | None, typer.Option(help="Catalog file (JSONL, CSV or ESCI products.jsonl); default: the shop's catalog.")] = None,
    format: Annotated[str, typer.Option("--format", help="auto|jsonl|csv|esci")] = "auto",
    sync: Annotated[bool, typer.Option("--sync", help="Remove indexed products that left the catalog.")] = False,
) -> None:
    """Embed and index a catalog (idempotent, resumable)."""
    raise NotImplementedError("index: provided by the catalog-search work")


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="What the shopper typed.")],
    k: Annotated[int, typer.Option("--k", "-k", help="Results to return.")] = 10,
    as_json: JsonFlag = False,
) -> None:
    """Search the catalog (hybrid lexical + dense, filters understood from the query, reranked)."""
    raise NotImplementedError("search: provided by the catalog-search work")


@eval_app.command("search")
def eval_search(
    catalog: Annotated[Path, typer.Option(help="Catalog file.")],
    queries: Annotated[Path, typer.Option(help="queries.tsv (qid<TAB>query).")],
    qrels: Annotated[Path, typer.Option(help="qrels.tsv (qid, product id, label, grade).")],
    as_json: JsonFlag = False,
) -> None:
    """nDCG@10, Recall@100 and MRR for bm25, dense, hybrid and the default pipeline."""
    raise NotImplementedError("eval search: provided by the catalog-search work")


# ---------------------------------------------------------------- assistant (issue 4)


@app.command("ask")
def ask(
    message: Annotated[str, typer.Argument(help="The customer's message.")],
    session: Annotated[str | None, typer.Option("--session", help="Continue this session id.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Customer id (enables order tools).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """One chat turn."""
    raise NotImplementedError("ask: provided by the assistant work")


@app.command("chat")
def chat(
    user: Annotated[str | None, typer.Option("--user", help="Customer id (enables order tools).")] = None,
) -> None:
    """Chat in the terminal."""
    raise NotImplementedError("chat: provided by the assistant work")


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

    from assistant.api import create_app
    from assistant.keys import KeyStore, ensure_demo_site_key

    settings = _settings()
    if workers > 1 and ui:
        raise typer.BadParameter("--workers > 1 serves the API only; add --no-ui (run the UI as its own process).")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    origins = [f"http://{shown}:{port}"] + ([f"http://localhost:{port}"] if shown == "127.0.0.1" else [])
    demo_key, created = ensure_demo_site_key(KeyStore(settings.db_path), settings.home, origins)
    if created:
        typer.echo(f"Created a demo site key for {', '.join(origins)}: {demo_key}")
    if warm:  # load the model and indexes now, so a missing index fails here and the first reply is fast
        from assistant.engine import build_assistant

        assistant = build_assistant(settings)
    else:
        assistant = None
    typer.echo(f"Shopbot: UI http://{shown}:{port}/  API http://{shown}:{port}/v1 (docs /docs)  widget demo /demo")
    if workers > 1:
        # Each worker builds its own app from the same settings (environment / shopbot.toml).
        uvicorn.run("assistant.api:create_app_from_env", factory=True, host=host, port=port, workers=workers,
                    proxy_headers=True, log_level="warning")
        return
    app = create_app(settings, assistant, ui=ui, demo_site_key=demo_key)
    uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="warning", timeout_graceful_shutdown=5)


# ---------------------------------------------------------------- fine-tuning (issue 5)


@finetune_app.command("train")
def finetune_train(
    config: Annotated[Path | None, typer.Option(help="YAML training config; default: the bundled one.")] = None,
    data: Annotated[Path | None, typer.Option(help="Dialogs: Bitext CSV, chat JSONL, ShareGPT JSON or Q/A CSV.")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", help="Stop after N optimizer steps.")] = None,
    output: Annotated[Path | None, typer.Option(help="Adapter output folder.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in --output.")] = False,
) -> None:
    """Train a LoRA adapter on service dialogs.

    On GPUs: `accelerate launch -m assistant.cli finetune train --config my.yaml` (same flags).
    """
    from assistant.models import resolve_llm_path
    from finetune import load_config, train

    settings = _settings()
    cfg = load_config(config)
    base = resolve_llm_path(settings.llm, settings.models_dir)
    out = output or settings.adapters_dir / cfg.name
    result = train(cfg, base, out, data_path=data, max_steps=max_steps, resume=resume)
    typer.echo(
        f"adapter saved: {result.output_dir} ({result.steps} steps, {result.wall_seconds / 60:.1f} min, "
        f"train loss {result.train_loss:.3f}, validation loss "
        f"{'-' if result.eval_loss is None else f'{result.eval_loss:.3f}'}, "
        f"{result.tokens_per_second or 0:.0f} tokens/s)"
    )


@finetune_app.command("eval")
def finetune_eval(
    adapter: Annotated[Path, typer.Option(help="Adapter folder (or name under <home>/adapters).")],
    data: Annotated[Path, typer.Option(help="Dialog file; its held-out split is used.")],
    limit: Annotated[int | None, typer.Option(help="Evaluate at most N held-out dialogs.")] = None,
    as_json: JsonFlag = False,
    generate_limit: Annotated[
        int, typer.Option("--generate-limit", help="Of those, greedy replies (ROUGE-L, intent fit) for at most N.")
    ] = 40,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", help="Reply length cap for ROUGE-L.")] = 256,
) -> None:
    """Compare base and base+adapter on held-out dialogs."""
    from assistant.llm import resolve_adapter
    from assistant.models import resolve_llm_path
    from finetune import evaluate

    settings = _settings()
    adapter_dir = resolve_adapter(settings, str(adapter))
    base = resolve_llm_path(settings.llm, settings.models_dir)
    report = evaluate(base, adapter_dir, data, limit=limit, generate_limit=generate_limit, max_new_tokens=max_new_tokens)
    if as_json:
        _print_json(report)
        return
    typer.echo(f"{'model':<8} {'perplexity':>10} {'ROUGE-L':>8} {'intent fit':>10}")
    for who in ("base", "adapter"):
        m = report[who]
        typer.echo(f"{who:<8} {m['perplexity']:>10.3f} {m['rougeL']:>8.3f} {m.get('intent_fit', float('nan')):>10.3f}")
    typer.echo(
        f"perplexity x{report['perplexity_ratio']:.2f}, ROUGE-L {report['rougeL_gain']:+.3f} "
        f"({report['perplexity_dialogs']} dialogs, {report['generated_dialogs']} generated)"
    )


@finetune_app.command("merge")
def finetune_merge(
    adapter: Annotated[Path, typer.Option(help="Adapter folder (or name under <home>/adapters).")],
    output: Annotated[Path, typer.Option(help="Folder for the merged full model.")],
) -> None:
    """Merge an adapter into the base model and save a full model."""
    from assistant.llm import resolve_adapter
    from assistant.models import resolve_llm_path
    from finetune import merge_adapter

    settings = _settings()
    adapter_dir = resolve_adapter(settings, str(adapter))
    out = merge_adapter(adapter_dir, resolve_llm_path(settings.llm, settings.models_dir), output)
    typer.echo(f"merged model saved: {out} (serve it with SHOPBOT_LLM__MODEL={out})")


# ---------------------------------------------------------------- recommendations (issue 6)


@recs_app.command("train")
def recs_train() -> None:
    """Train the collaborative-filtering model on the stored behaviour events."""
    raise NotImplementedError("recs train: provided by the recommendations work")


@recs_app.command("for")
def recs_for(
    user: Annotated[str, typer.Argument(help="Customer id.")],
    k: Annotated[int, typer.Option("--k", "-k")] = 10,
    as_json: JsonFlag = False,
) -> None:
    """Recommendations for one customer, each with its reason."""
    raise NotImplementedError("recs for: provided by the recommendations work")


@eval_app.command("recs")
def eval_recs(
    transactions: Annotated[Path, typer.Option(help="UCI Online Retail CSV (.csv or .csv.gz).")],
    split_date: Annotated[str, typer.Option("--split-date", help="YYYY-MM-DD: train before, test from.")],
    as_json: JsonFlag = False,
) -> None:
    """Recall@20, nDCG@10 and coverage against popularity and ALS baselines."""
    raise NotImplementedError("eval recs: provided by the recommendations work")


# ---------------------------------------------------------------- product copy (issue 7)


@copy_app.command("generate")
def copy_generate(
    catalog: Annotated[Path, typer.Option(help="Catalog file (any importer format).")],
    out: Annotated[Path, typer.Option(help="Output JSONL (appended; re-runs skip finished products).")],
    style: Annotated[Path | None, typer.Option(help="Style YAML.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most N products.")] = None,
    workers: Annotated[int, typer.Option(help="Concurrent requests (OpenAI-compatible endpoint).")] = 4,
) -> None:
    """Write product descriptions from product data."""
    raise NotImplementedError("copy generate: provided by the product-copy work")


@copy_app.command("eval")
def copy_eval(
    catalog: Annotated[Path, typer.Option(help="Catalog with real descriptions (e.g. ESCI products.jsonl).")],
    limit: Annotated[int, typer.Option(help="Products to evaluate.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """ROUGE-L, attribute coverage, unsupported-claim rate and speed of generated copy."""
    raise NotImplementedError("copy eval: provided by the product-copy work")


# ---------------------------------------------------------------- keys (issue 8)


@keys_app.command("create")
def keys_create(
    kind: Annotated[str, typer.Option(help="'site' (publishable, browser) or 'secret' (server-to-server).")] = "site",
    origin: Annotated[list[str] | None, typer.Option(help="Allowed origin for a site key (repeatable).")] = None,
    name: Annotated[str, typer.Option(help="Label.")] = "",
) -> None:
    """Create an API key."""
    from assistant.keys import KeyStore

    record, plain = KeyStore(_settings().db_path).create(kind, origin or [], name)
    typer.echo(f"{record.id}  {record.kind}  {', '.join(record.origins) or '-'}")
    typer.echo(f"key (shown once, store it now): {plain}")


@keys_app.command("list")
def keys_list(as_json: JsonFlag = False) -> None:
    """List API keys (secrets are never shown again)."""
    from assistant.keys import KeyStore

    keys = KeyStore(_settings().db_path).list()
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
    from assistant.keys import KeyStore

    record = KeyStore(_settings().db_path).revoke(key_id)
    typer.echo(f"revoked {record.id} ({record.kind})")


@keys_app.command("token")
def keys_token(
    user: Annotated[str, typer.Argument(help="Customer id the token names.")],
    ttl: Annotated[int, typer.Option(help="Seconds until it expires.")] = 3600,
) -> None:
    """Mint a signed customer token (for data-customer-token; shops normally use POST /v1/customer-tokens)."""
    from assistant.security import CustomerTokens, load_token_secret

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
