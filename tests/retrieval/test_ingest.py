"""Catalog import: JSONL, CSV and ESCI rows, rejects with line and field, clear file errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.errors import CatalogError
from retrieval.ingest import load_catalog, product_text, write_rejects


def test_jsonl_with_bad_rows_keeps_the_good_ones(tmp_path: Path) -> None:
    rows = [
        json.dumps({"id": "a", "title": "Tent", "price": 100}),
        json.dumps({"title": "No id"}),  # line 2: missing id
        json.dumps({"id": "b", "title": "Boot", "price": "cheap"}),  # line 3: bad price
        "{not json",  # line 4
        json.dumps({"id": "a", "title": "Tent again"}),  # line 5: duplicate
        "",
        json.dumps({"id": "c", "title": "Stove", "price": 20.5, "stock": 3}),  # line 7
    ]
    path = tmp_path / "shop.jsonl"
    path.write_text("\n".join(rows) + "\n")
    load = load_catalog(path)
    assert load.format == "jsonl"
    assert [p.id for p in load.products] == ["a", "c"]
    assert sorted((r.line, r.field) for r in load.rejects) == [(2, "id"), (3, "price"), (4, "-"), (5, "id")]
    assert "duplicate id 'a'" in next(r.message for r in load.rejects if r.line == 5)

    out = write_rejects(load, tmp_path / "rejects")
    assert out == tmp_path / "rejects" / "shop.rejects.jsonl"
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert {w["line"] for w in written} == {2, 3, 4, 5}
    assert all(w["file"] == str(path) for w in written)


def test_csv_maps_lists_attributes_and_prices(tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    path.write_text(
        "id,title,price,bullets,category,brand,attr_material,attributes,stock\n"
        'p1,Rain Jacket,$129.00,waterproof|hooded,Clothing > Jackets,Alpenglow,nylon,"{""colour"": ""Red""}",4\n'
        "p2,Bad Price,twelve,,,,,,\n"
        ",No Id,10,,,,,,\n"
        "p3,Mug,12.5,,Kitchen,,,,\n"
    )
    load = load_catalog(path)
    assert [p.id for p in load.products] == ["p1", "p3"]
    jacket = load.products[0]
    assert jacket.price == 129.0 and jacket.stock == 4
    assert jacket.bullets == ["waterproof", "hooded"]
    assert jacket.category == ["Clothing", "Jackets"]
    assert jacket.attributes == {"material": "nylon", "colour": "Red"}
    assert jacket.colours == ["Red"]
    assert [(r.line, r.field) for r in load.rejects] == [(3, "price"), (4, "id")]


def test_esci_rows_map_to_products(tmp_path: Path) -> None:
    path = tmp_path / "products.jsonl"
    path.write_text(json.dumps({
        "asin": "B01", "title": "Kindle", "description": "", "bullet_points": "Waterproof\nLight", "brand": "Amazon",
        "color": "Black", "category": [], "rating": 4.6, "rating_count": 10, "is_book": False,
    }) + "\n")
    load = load_catalog(path)
    assert load.format == "esci"
    (kindle,) = load.products
    assert kindle.id == "B01" and kindle.bullets == ["Waterproof", "Light"] and kindle.colours == ["Black"]
    assert kindle.price is None
    assert "Kindle" in product_text(kindle) and "Amazon" in product_text(kindle)


def test_missing_file_and_unknown_format_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="does not exist.*--catalog"):
        load_catalog(tmp_path / "nope.jsonl")
    odd = tmp_path / "catalog.xml"
    odd.write_text("<x/>")
    with pytest.raises(CatalogError, match="--format"):
        load_catalog(odd)
    with pytest.raises(CatalogError, match="Unknown catalog format 'xml'"):
        load_catalog(odd, format="xml")


@pytest.mark.slow
def test_real_esci_catalog_loads_cleanly(shared_data: Path) -> None:
    load = load_catalog(shared_data / "esci_mini" / "products.jsonl")
    assert len(load.products) == 6764 and not load.rejects
