"""The shop folder: profile, customers, orders, service dialogs and policy documents, read into typed records.

A shop folder (the demo one is `assistant/shop/demo_shop/`; formats in `docs/data-formats.md`) holds
`profile.toml`, `catalog.jsonl` (read by `retrieval.ingest`), `policies/*.md`, `customers.jsonl`,
`orders.jsonl`, `events.jsonl` and `dialogs.jsonl`. Every loader raises `ConfigError` naming the file, the
line and the fix when a file is missing or malformed.
"""

from __future__ import annotations

import json
import logging
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assistant.errors import ConfigError

logger = logging.getLogger(__name__)

OrderStatus = Literal["placed", "shipped", "delivered", "cancelled", "returned"]
ORDER_STATUSES: tuple[str, ...] = ("placed", "shipped", "delivered", "cancelled", "returned")


class ShopProfile(BaseModel):
    """`profile.toml`: who the shop is, and the values for Bitext-style `{{Placeholder}}` names."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Shop name shown to customers.")
    website: str = Field(description="Public URL, e.g. https://www.example.com.")
    phone: str = Field(min_length=1)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    support_hours: str = Field(min_length=1, description="Human-readable, e.g. 'Monday to Friday 8 am to 8 pm ET'.")
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code of all prices.")
    store_location: str | None = None
    timezone: str | None = Field(None, description="IANA name, e.g. America/New_York.")
    placeholders: dict[str, str] = Field(
        default_factory=dict, description="Placeholder name -> value; overrides the values derived from the fields."
    )

    @field_validator("website")
    @classmethod
    def _is_url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"'{value}' is not a web address; write it like https://www.example.com")
        return value

    @property
    def domain(self) -> str:
        return urlparse(self.website).netloc

    def placeholder_values(self) -> dict[str, str]:
        """Values for `prompts.loader.fill_placeholders`: derived from the fields, then the `[placeholders]` table."""
        derived = {
            "Company Name": self.name,
            "Website Name": self.domain,
            "Website URL": self.website,
            "Customer Support Phone Number": self.phone,
            "Customer Support Email": self.email,
            "Customer Support Hours": self.support_hours,
            "Customer Support Availability": self.support_hours,
            "Currency": self.currency,
        }
        if self.store_location:
            derived["Store Location"] = self.store_location
        table = {k.strip().lower() for k in self.placeholders}
        return {**{k: v for k, v in derived.items() if k.lower() not in table}, **self.placeholders}


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line1: str
    line2: str | None = None
    city: str
    region: str | None = Field(None, description="State or province; None where the country has none.")
    postal_code: str
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code.")


class ShippingAddress(Address):
    name: str


class Customer(BaseModel):
    """One line of `customers.jsonl`."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    name: str
    email: str
    phone: str | None = None
    address: Address
    created_at: datetime
    segment: str = Field(description="e.g. new, regular, vip, lapsed.")
    interests: list[str] = Field(default_factory=list, description="Category names the customer shops for.")


class OrderItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: str
    sku: str = Field(description="A variant SKU, or the product id for products without variants.")
    title: str
    quantity: int = Field(ge=1)
    unit_price: float = Field(ge=0)


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: OrderStatus
    at: datetime


class OrderRecord(BaseModel):
    """One line of `orders.jsonl`: an order as the shop's order system stores it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    customer_id: str
    created_at: datetime
    status: OrderStatus
    items: list[OrderItem] = Field(min_length=1)
    total: float = Field(ge=0, description="Sum of quantity x unit_price over the items (merchandise total).")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    shipping_address: ShippingAddress
    carrier: str | None = None
    tracking_number: str | None = None
    estimated_delivery: date | None = None
    history: list[StatusChange] = Field(default_factory=list, description="Status changes, oldest first.")


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(min_length=1)


class Dialog(BaseModel):
    """One line of `dialogs.jsonl`: a service conversation, user first, alternating, assistant last."""

    model_config = ConfigDict(extra="forbid")

    id: str
    intent: str
    customer_id: str | None = Field(None, description="The signed-in customer the dialog is about, if any.")
    messages: list[Message] = Field(min_length=2)

    @field_validator("messages")
    @classmethod
    def _alternates(cls, messages: list[Message]) -> list[Message]:
        for i, message in enumerate(messages):
            expected = "user" if i % 2 == 0 else "assistant"
            if message.role != expected:
                raise ValueError(f"message {i} has role '{message.role}', expected '{expected}' (user first, alternating)")
        if messages[-1].role != "assistant":
            raise ValueError("the last message must be the assistant's reply")
        return messages


class Policy(BaseModel):
    """A policy/FAQ document: `policies/<doc_id>.md`, whose first line is `# Title`."""

    doc_id: str
    title: str
    text: str = Field(description="The Markdown body after the title line.")


def load_profile(shop_dir: Path) -> ShopProfile:
    """Read `<shop_dir>/profile.toml`.

    Raises:
        ConfigError: the file is missing, is not TOML, or a field is missing or invalid.
    """
    path = Path(shop_dir) / "profile.toml"
    if not path.is_file():
        raise ConfigError(
            f"No shop profile at {path}; create it (fields in docs/data-formats.md) or point "
            "SHOPBOT_SHOP_DIR at a shop folder that has one."
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML ({err}); fix the syntax.") from err
    try:
        return ShopProfile.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{path}: {_problems(err)}; fix these fields (see docs/data-formats.md).") from err


def load_customers(shop_dir: Path) -> list[Customer]:
    """Read `<shop_dir>/customers.jsonl`."""
    return _read_jsonl(Path(shop_dir) / "customers.jsonl", Customer)


def load_orders(shop_dir: Path) -> list[OrderRecord]:
    """Read `<shop_dir>/orders.jsonl`."""
    return _read_jsonl(Path(shop_dir) / "orders.jsonl", OrderRecord)


def load_dialogs(shop_dir: Path) -> list[Dialog]:
    """Read `<shop_dir>/dialogs.jsonl`."""
    return _read_jsonl(Path(shop_dir) / "dialogs.jsonl", Dialog)


def load_policies(shop_dir: Path) -> list[Policy]:
    """Read every `<shop_dir>/policies/*.md`, sorted by file name.

    Raises:
        ConfigError: the folder is missing or empty, or a document does not start with `# Title`.
    """
    folder = Path(shop_dir) / "policies"
    paths = sorted(folder.glob("*.md")) if folder.is_dir() else []
    if not paths:
        raise ConfigError(f"No policy documents in {folder}; add Markdown files that start with '# Title'.")
    policies = []
    for path in paths:
        first, _, body = path.read_text(encoding="utf-8").lstrip().partition("\n")
        if not first.startswith("# ") or not first[2:].strip():
            raise ConfigError(f"{path} must start with a '# Title' line; it starts with {first[:60]!r}.")
        policies.append(Policy(doc_id=path.stem, title=first[2:].strip(), text=body.strip()))
    return policies


_Record = TypeVar("_Record", bound=BaseModel)


def _read_jsonl(path: Path, model: type[_Record]) -> list[_Record]:
    if not path.is_file():
        raise ConfigError(f"No {path.name} in {path.parent}; add it (format in docs/data-formats.md).")
    records = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append(model.model_validate(json.loads(line)))
            except json.JSONDecodeError as err:
                raise ConfigError(f"{path} line {number} is not JSON ({err.msg}); fix that line.") from err
            except ValidationError as err:
                raise ConfigError(f"{path} line {number}: {_problems(err)}; fix that line.") from err
    logger.info("read %d %s records from %s", len(records), model.__name__, path)
    return records


def _problems(err: ValidationError) -> str:
    return "; ".join(
        f"'{'.'.join(str(p) for p in e['loc']) or '(root)'}' {e['msg'].lower()}" for e in err.errors(include_url=False)
    )
