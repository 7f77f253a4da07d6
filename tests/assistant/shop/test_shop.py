"""Reading a shop folder: the profile and its placeholders, typed records, and errors that name the fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.config import DEMO_SHOP_DIR
from assistant.errors import ConfigError
from assistant.shop.data import (
    Customer,
    Dialog,
    OrderRecord,
    Policy,
    ShopProfile,
    load_customers,
    load_dialogs,
    load_orders,
    load_policies,
    load_profile,
)
from prompts.loader import fill_placeholders

PROFILE = """name = "Test Shop"
website = "https://shop.example.com"
phone = "+1 555 0100"
email = "help@shop.example.com"
support_hours = "Mon-Fri 9-5"
"""


def _shop(tmp_path: Path, profile: str = PROFILE) -> Path:
    (tmp_path / "profile.toml").write_text(profile, encoding="utf-8")
    return tmp_path


def test_demo_profile_fills_bitext_placeholders() -> None:
    profile = load_profile(DEMO_SHOP_DIR)
    assert profile.name == "Trailhead & Hearth" and profile.currency == "USD"
    text, unknown = fill_placeholders(
        "Visit {{Website Name}} or call {{Customer Support Phone Number}} ({{customer support hours}}); "
        "order {{Order Number}}.",
        profile.placeholder_values(),
    )
    assert "{{Website Name}}" not in text and profile.phone in text and profile.support_hours in text
    assert unknown == ["Order Number"]  # per-order values are the caller's job


def test_placeholder_values_derive_from_fields_and_table_wins(tmp_path: Path) -> None:
    shop = _shop(tmp_path, PROFILE + '\n[placeholders]\n"website name" = "Shop.com"\n"Live Chat" = "the chat button"\n')
    values = load_profile(shop).placeholder_values()
    assert values["Customer Support Email"] == "help@shop.example.com"
    assert values["Company Name"] == "Test Shop"
    assert "Website Name" not in values  # replaced by the table's key, whatever its case
    text, unknown = fill_placeholders("{{Website Name}} {{Live Chat}}", values)
    assert (text, unknown) == ("Shop.com the chat button", [])
    assert ShopProfile.model_validate_json('{"name": "A", "website": "http://a.example", "phone": "1", '
                                           '"email": "a@a.example", "support_hours": "always"}').domain == "a.example"


def test_missing_profile_names_file_and_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"No shop profile at .*profile\.toml; create it .*SHOPBOT_SHOP_DIR"):
        load_profile(tmp_path)


def test_bad_toml_names_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"profile\.toml is not valid TOML .*fix the syntax"):
        load_profile(_shop(tmp_path, 'name = "unterminated\n'))


def test_bad_fields_are_listed(tmp_path: Path) -> None:
    bad = PROFILE.replace("https://shop.example.com", "shop dot com").replace('email = "help@shop.example.com"\n', "")
    with pytest.raises(ConfigError) as info:
        load_profile(_shop(tmp_path, bad + 'colour = "red"\n'))
    message = str(info.value)
    assert "profile.toml" in message and "'website'" in message and "https://www.example.com" in message
    assert "'email' field required" in message and "'colour'" in message


def test_demo_records_load_typed() -> None:
    customers = load_customers(DEMO_SHOP_DIR)
    orders = load_orders(DEMO_SHOP_DIR)
    dialogs = load_dialogs(DEMO_SHOP_DIR)
    policies = load_policies(DEMO_SHOP_DIR)
    assert isinstance(customers[0], Customer) and isinstance(orders[0], OrderRecord)
    assert isinstance(dialogs[0], Dialog) and isinstance(policies[0], Policy)
    returns = next(p for p in policies if p.doc_id == "returns")
    assert returns.title == "Returns" and not returns.text.startswith("#")
    shipped = next(o for o in orders if o.status == "shipped")
    assert shipped.tracking_number and shipped.estimated_delivery and shipped.history[-1].status == "shipped"


def test_bad_jsonl_line_is_named(tmp_path: Path) -> None:
    lines = (DEMO_SHOP_DIR / "orders.jsonl").read_text(encoding="utf-8").splitlines()
    broken = json.loads(lines[1])
    broken["status"] = "lost"
    (tmp_path / "orders.jsonl").write_text("\n".join([lines[0], json.dumps(broken), "{oops"]), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"orders\.jsonl line 2: 'status' input should be 'placed'.*fix that line"):
        load_orders(tmp_path)
    (tmp_path / "orders.jsonl").write_text("\n".join([lines[0], "{oops"]), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"orders\.jsonl line 2 is not JSON"):
        load_orders(tmp_path)
    with pytest.raises(ConfigError, match=r"No customers\.jsonl in .*; add it"):
        load_customers(tmp_path)


def test_dialog_roles_must_alternate(tmp_path: Path) -> None:
    row = {"id": "X1", "intent": "chit_chat", "messages": [{"role": "user", "content": "hi"},
                                                          {"role": "user", "content": "hello?"}]}
    (tmp_path / "dialogs.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"dialogs\.jsonl line 1: .*message 1 has role 'user', expected 'assistant'"):
        load_dialogs(tmp_path)


def test_policies_need_a_title(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"No policy documents in .*policies"):
        load_policies(tmp_path)
    shutil.copytree(DEMO_SHOP_DIR / "policies", tmp_path / "policies")
    (tmp_path / "policies" / "zz-notes.md").write_text("Just notes\nno title\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"zz-notes\.md must start with a '# Title' line"):
        load_policies(tmp_path)
