"""The one settings object: defaults < shopbot.toml < .env < SHOPBOT_* environment < keyword arguments.

Each package owns its own section (`retrieval.config.RetrievalSettings`); this module composes them.
`SHOPBOT_RETRIEVAL__TOP_K=8` sets `settings.retrieval.top_k`. The TOML file is `./shopbot.toml`, or the
path in `SHOPBOT_CONFIG`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from retrieval.config import RetrievalSettings

BUNDLED_LLM = "bundled:smollm2-135m-instruct"
DEMO_SHOP_DIR = Path(__file__).parent / "shop" / "demo_shop"
_PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "xxx", "your-key-here", ""}


class LLMSettings(BaseModel):
    """Which chat model phrases the replies."""

    provider: Literal["local", "openai"] = Field(
        "local", description="'local' runs a transformers model in-process; 'openai' calls an OpenAI-compatible server."
    )
    model: str = Field(
        BUNDLED_LLM,
        description="Local: 'bundled:smollm2-135m-instruct', an HF id (already in the HF cache) or a folder. "
        "OpenAI: the served model name.",
    )
    adapter: str | None = Field(None, description="LoRA adapter folder, or a name under <home>/adapters.")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8001/v1.")
    api_key: SecretStr | None = Field(None, description="Key for the endpoint; no default.")
    max_new_tokens: int = Field(160, ge=1, le=4096)
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="0 = greedy decoding.")
    backend: Literal["auto", "openvino", "transformers"] = Field(
        "auto",
        description="Local engine. 'openvino': OpenVINO GenAI, continuous batching of concurrent turns; 'transformers': "
        "in-process transformers generate, one reply at a time; 'auto': openvino when installed and the model's "
        "architecture is one it reads, else transformers.",
    )
    threads: int | None = Field(
        None, ge=1, description="Inference threads of the openvino engine (None: one per core); the transformers "
        "backend cannot apply it (torch threads are process-wide, the embedder shares them): set OMP_NUM_THREADS.")
    max_batch: int = Field(32, ge=1, le=256, description="openvino: concurrent replies decoded together; more wait.")
    precision: Literal["f32", "bf16", "auto"] = Field(
        "f32", description="openvino: inference precision. f32 keeps greedy replies equal to fp32 transformers (0.982 "
        "of tokens on 50 shop prompts); bf16 is faster where the CPU has it but agreed on 0.859 on an AVX512-BF16 "
        "machine; auto: OpenVINO's choice for this CPU (bf16 where it can).")
    prompt_lookup: bool = Field(
        True, description="openvino: prompt lookup decoding (candidate tokens copied from the prompt's own n-grams, "
        "verified in one forward pass): replies quote their data, so one stream decodes ~1.6x faster, same tokens.")
    max_drafts: int | None = Field(
        None, ge=0, description="Replies the chat model drafts at once; a turn beyond that is answered from its "
        "template at once (answer_source 'busy') instead of queueing for the model. None: 4 per core on the openvino "
        "backend, 1 on transformers (it drafts one reply at a time), unlimited for 'openai'; 0: unlimited.")
    timeout_s: float = Field(60.0, gt=0, description="Request timeout for the OpenAI-compatible endpoint.")

    @model_validator(mode="after")
    def _endpoint_complete(self) -> LLMSettings:
        if self.provider == "openai":
            if not self.base_url:
                raise ValueError(
                    "llm.provider is 'openai' but llm.base_url is empty; set SHOPBOT_LLM__BASE_URL "
                    "(e.g. http://127.0.0.1:8001/v1)."
                )
            if self.model == BUNDLED_LLM:
                raise ValueError("llm.provider is 'openai': set SHOPBOT_LLM__MODEL to the model name the server serves.")
        if self.api_key is not None and self.api_key.get_secret_value().strip().lower() in _PLACEHOLDER_SECRETS:
            raise ValueError("llm.api_key is a placeholder value; set the real key or leave it unset.")
        return self


class DatabaseSettings(BaseModel):
    """Where sessions, orders, carts, tickets, feedback, keys, rate limits and behaviour events live."""

    url: str | None = Field(
        None, description="SQLAlchemy URL of the database every worker shares, e.g. "
        "postgresql+psycopg://shopbot:PASSWORD@db:5432/shopbot (run `shopbot db upgrade` after each install); "
        "None = SQLite files in the data home (<home>/shopbot.db, events in <home>/events.db), migrated on open.",
    )


class ApiSettings(BaseModel):
    """HTTP API and web UI."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    max_body_bytes: int = Field(64_000, description="Largest request body accepted.")
    max_message_chars: int = Field(2_000, description="Longest chat message accepted.")
    rate_limit_per_minute: int = Field(60, description="Requests per minute per key and per client IP.")
    rate_limit_storage: str | None = Field(
        None, description="Where rate-limit counters live, shared by every worker: None = the database "
        "(database.url or the SQLite file), redis://host:6379/0 (needs the redis package), memory:// = per worker.",
    )
    sse_ping_s: float = Field(
        15.0, gt=0, description="Seconds between keep-alive comments on a chat stream, so proxies keep it open."
    )
    token_secret: SecretStr | None = Field(
        None, description="HMAC secret for signed customer tokens; generated into <home> when unset."
    )


class Settings(BaseSettings):
    """Every knob of Shopbot. Build it with `get_settings()`."""

    model_config = SettingsConfigDict(
        env_prefix="SHOPBOT_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
        validate_default=True,
    )

    home: Path = Field(Path("~/.shopbot"), description="Data home: indexes, SQLite stores, adapters, model caches.")
    shop_dir: Path = Field(
        DEMO_SHOP_DIR,
        description="Folder of the shop's data: profile.toml, catalog.jsonl, policies/, customers, orders, dialogs.",
    )
    llm: LLMSettings = Field(default_factory=LLMSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"

    @model_validator(mode="after")
    def _events_in_the_shared_database(self) -> Settings:
        if self.database.url and not self.retrieval.recs.events_url:
            self.retrieval.recs.events_url = self.database.url
        return self

    @field_validator("home", "shop_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("SHOPBOT_CONFIG", "shopbot.toml"))
        toml = TomlConfigSettingsSource(settings_cls, toml_file=toml_file)
        return init_settings, env_settings, dotenv_settings, toml, file_secret_settings

    # Paths under the data home, named once.
    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def adapters_dir(self) -> Path:
        return self.home / "adapters"

    @property
    def chroma_path(self) -> Path:
        return Path(self.retrieval.chroma.path).expanduser() if self.retrieval.chroma.path else self.home / "chroma"

    @property
    def db_path(self) -> Path:
        """SQLite file for sessions, orders, tickets, feedback and keys (behaviour events: `<home>/events.db`)."""
        return self.home / "shopbot.db"

    @property
    def database_url(self) -> str | Path:
        """What the stores open: `database.url`, else the SQLite file `db_path`."""
        return self.database.url or self.db_path

    @property
    def events_target(self) -> str | Path:
        """What the behaviour-event log opens: the shared database, else `<home>/events.db`."""
        return self.retrieval.recs.events_url or self.home / "events.db"


@lru_cache
def get_settings(**overrides: object) -> Settings:
    """Build the settings once per process (tests call `get_settings.cache_clear()`)."""
    config = os.environ.get("SHOPBOT_CONFIG")
    if config and not Path(config).is_file():
        raise FileNotFoundError(f"SHOPBOT_CONFIG points to '{config}', which does not exist; fix the path or unset it.")
    return Settings(**overrides)
