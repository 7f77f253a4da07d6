"""Catalog import: JSONL (our `Product` schema), CSV and the ESCI `products.jsonl` format.

`load_catalog` never stops at a bad row: each one becomes a `Reject` (line, field, message) and every
valid row is still returned. Only an unusable *file* (missing, unknown format) raises `CatalogError`.
`product_text` is the one place that decides what of a product is embedded and indexed lexically.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from retrieval.catalog import Product
from retrieval.errors import CatalogError

logger = logging.getLogger(__name__)

FORMATS = ("auto", "jsonl", "csv", "esci")
_LIST_SEP = "|"
_CSV_FIELDS = {"id", "title", "description", "bullets", "brand", "category", "price", "currency", "stock",
               "variants", "attributes", "images", "url", "rating", "rating_count"}
_CSV_ALIASES = {"product_id": "id", "sku": "id", "name": "title", "categories": "category", "image": "images",
                "bullet_points": "bullets", "color": "colour"}


@dataclass
class Reject:
    """A catalog row that was not imported: 1-based line number, offending field and why."""

    line: int
    field: str
    message: str


@dataclass
class CatalogLoad:
    """What `load_catalog` read: the valid products (first occurrence of each id) and the rejected rows."""

    path: Path
    format: str
    products: list[Product] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


def load_catalog(path: str | Path, format: str = "auto") -> CatalogLoad:
    """Read a catalog file.

    Args:
        path: JSONL of `Product` objects, a CSV (see README "Data formats"), or ESCI `products.jsonl`.
        format: "auto" (by extension; a JSONL whose first row has `asin` is ESCI), "jsonl", "csv" or "esci".

    Raises:
        CatalogError: the file is missing or the format is unknown. Bad rows never raise: see `.rejects`.
    """
    path = Path(path).expanduser()
    if format not in FORMATS:
        raise CatalogError(f"Unknown catalog format '{format}' for {path}; expected one of {list(FORMATS)}.")
    if not path.is_file():
        raise CatalogError(f"Catalog file '{path}' does not exist; pass an existing file with --catalog PATH.")
    fmt = _detect_format(path) if format == "auto" else format
    load = CatalogLoad(path=path, format=fmt)
    rows = _csv_rows(path) if fmt == "csv" else _jsonl_rows(path, load)
    seen: set[str] = set()
    for line, raw in rows:
        try:
            data = _esci_to_product(raw) if fmt == "esci" else _csv_to_product(raw) if fmt == "csv" else raw
        except ValueError as exc:  # a field we convert ourselves (price, JSON columns)
            name, _, message = str(exc).partition(": ")
            load.rejects.append(Reject(line, name, message))
            continue
        if not isinstance(data, dict):
            load.rejects.append(Reject(line, "-", f"expected a JSON object, got {type(data).__name__}"))
            continue
        try:
            product = Product.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            name = ".".join(str(p) for p in err["loc"]) or "-"
            load.rejects.append(Reject(line, name, f"{err['msg']} (got {str(err.get('input'))[:60]!r})"))
            continue
        if product.id in seen:
            load.rejects.append(Reject(line, "id", f"duplicate id '{product.id}' (first occurrence kept)"))
            continue
        seen.add(product.id)
        load.products.append(product)
    logger.info("%s: %d products, %d rejected (%s)", path, len(load.products), len(load.rejects), fmt)
    return load


def write_rejects(load: CatalogLoad, folder: Path) -> Path | None:
    """Write `<folder>/<catalog stem>.rejects.jsonl` (one Reject per line); remove a stale one if none."""
    out = Path(folder) / f"{load.path.stem}.rejects.jsonl"
    if not load.rejects:
        out.unlink(missing_ok=True)
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for reject in load.rejects:
            fh.write(json.dumps({"file": str(load.path), **asdict(reject)}, ensure_ascii=False) + "\n")
    return out


def product_text(product: Product, *, body_chars: int | None = None) -> str:
    """The text indexed for a product: title, brand, colour, category, then bullets and description
    (cut to `body_chars` characters when set: the embedder gets a short text, the lexical index all of it)."""
    parts = [product.title]
    if product.brand:
        parts.append(product.brand)
    parts += product.colours
    if product.category:
        parts.append(" > ".join(product.category))
    body = " ".join(product.bullets)
    if product.description:
        body = f"{body} {product.description}" if body else product.description
    if body:
        parts.append(body[:body_chars] if body_chars else body)
    return ". ".join(p.strip() for p in parts if p and p.strip())


def _detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    try:
                        first = json.loads(line)
                    except json.JSONDecodeError:
                        return "jsonl"  # the row is reported as a reject
                    return "esci" if isinstance(first, dict) and "asin" in first else "jsonl"
        return "jsonl"
    raise CatalogError(
        f"Cannot tell the format of '{path}' from its extension '{suffix}'; pass --format jsonl, csv or esci."
    )


def _jsonl_rows(path: Path, load: CatalogLoad):
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as exc:
                load.rejects.append(Reject(line_no, "-", f"invalid JSON: {exc.msg} at column {exc.colno}"))


def _csv_rows(path: Path):
    with path.open(encoding="utf-8-sig", newline="") as fh:
        dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
        reader = csv.DictReader(fh, dialect=dialect)
        for row in reader:
            yield reader.line_num, row


_PRICE = re.compile(r"^\s*[$€£]?\s*(\d+(?:[.,]\d{1,2})?)\s*(?:[a-zA-Z]{3})?\s*$")


def _parse_price(value: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    match = _PRICE.match(value)
    if not match:
        raise ValueError(f"price: unparseable price {value!r}; expected a number such as 19.99")
    return float(match.group(1).replace(",", "."))


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(_LIST_SEP) if v.strip()]


def _csv_to_product(row: dict[str, Any]) -> dict[str, Any]:
    """Map a CSV row to Product fields: `|` separates list items, `attributes`/`variants` are JSON,
    `attr_<name>` columns and unknown columns become attributes."""
    out: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for key, value in row.items():
        if key is None or value is None:
            continue
        key = key.strip().lower()
        key = _CSV_ALIASES.get(key, key)
        value = value.strip()
        if key.startswith("attr_"):
            if value:
                attributes[key[5:]] = value
        elif key not in _CSV_FIELDS:
            if value:
                attributes[key] = value
        elif not value:
            continue
        elif key in ("bullets", "images"):
            out[key] = _split(value)
        elif key == "category":
            out[key] = _split(value.replace(">", _LIST_SEP))
        elif key == "price":
            out[key] = _parse_price(value)
        elif key in ("attributes", "variants"):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{key}: invalid JSON ({exc.msg})") from exc
            if key == "attributes":
                attributes.update(parsed if isinstance(parsed, dict) else {})
            else:
                out[key] = parsed
        else:
            out[key] = value
    if attributes:
        out["attributes"] = attributes
    return out


def _esci_to_product(row: dict[str, Any]) -> dict[str, Any]:
    """ESCI products.jsonl: asin, title, description, bullet_points (newline-separated), brand, color, ..."""
    bullets = row.get("bullet_points") or ""
    bullets = bullets if isinstance(bullets, list) else [b.strip() for b in str(bullets).split("\n") if b.strip()]
    attributes = {"colour": row["color"]} if row.get("color") else {}
    return {
        "id": row.get("asin") or "",
        "title": row.get("title") or "",
        "description": row.get("description") or "",
        "bullets": bullets,
        "brand": row.get("brand") or None,
        "category": row.get("category") or [],
        "attributes": attributes,
        "rating": row.get("rating"),
        "rating_count": row.get("rating_count"),
    }
