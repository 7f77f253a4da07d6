"""Write the demo shop shipped in `assistant/shop/demo_shop/` (deterministic: seeded `random.Random(7)`).

    python scripts/make_demo_shop.py                 # rewrite assistant/shop/demo_shop/
    python scripts/make_demo_shop.py --out /tmp/shop # write elsewhere (tests compare the two)

Writes profile.toml, catalog.jsonl, policies/*.md, customers.jsonl, orders.jsonl, events.jsonl and
dialogs.jsonl. The fictional shop is "Trailhead & Hearth", an outdoor-and-home store in Burlington, Vermont.
Every figure comes from `demo_shop_policies.SHOP`/`FACTS`, so policies, profile and dialogs agree.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from demo_shop_catalog import build_catalog  # noqa: E402
from demo_shop_dialogs import build_dialogs  # noqa: E402
from demo_shop_policies import FACTS, SHOP, policies  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "assistant" / "shop" / "demo_shop"
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # the demo's "today": every date is relative to it
STATUSES = {"placed": 12, "shipped": 12, "delivered": 22, "cancelled": 10, "returned": 10}

# persona -> (category keys it buys from, searches it types)
PERSONAS = {
    "day hiker": (["boots", "rain", "packs", "base", "bottles"],
                  ["waterproof hiking boots", "daypack 24l", "rain jacket", "merino base layer"]),
    "trail runner": (["trail", "base", "bottles", "lights"], ["trail running shoes", "headlamp", "lightweight bottle"]),
    "backpacker": (["tents", "bags", "pads", "packs", "camp"],
                   ["2 person tent", "sleeping bag -5", "backpacking pack 55l", "sleeping pad r value"]),
    "winter mountaineer": (["insulated", "boots", "bags", "base"], ["down jacket", "winter boots", "4 season tent"]),
    "home cook": (["cook", "bottles"], ["cast iron skillet", "dutch oven", "induction saucepan"]),
    "cosy home": (["bedding", "lights", "cook"], ["linen sheets queen", "wool blanket", "duvet", "lantern"]),
    "family camper": (["tents", "bags", "lights", "camp"], ["6 person tent", "camp stove", "lantern", "kids sleeping bag"]),
    "commuter": (["rain", "bottles", "packs"], ["packable rain jacket", "insulated water bottle", "laptop backpack"]),
}
CATEGORY_KEYS = {
    "Hiking Boots": "boots", "Trail Running Shoes": "trail", "Rain Jackets": "rain", "Insulated Jackets": "insulated",
    "Base Layers": "base", "Backpacks": "packs", "Tents": "tents", "Sleeping Bags": "bags", "Sleeping Pads": "pads",
    "Camp Kitchen": "camp", "Cookware": "cook", "Bedding": "bedding", "Headlamps & Lanterns": "lights",
    "Water Bottles": "bottles",
}
KEY_TO_LEAF = {v: k for k, v in CATEGORY_KEYS.items()}

PEOPLE = [
    ("Maya Okafor", "Portland", "OR", "97214", "US"), ("Daniel Reyes", "Denver", "CO", "80205", "US"),
    ("Priya Raman", "Seattle", "WA", "98103", "US"), ("Tom Brennan", "Burlington", "VT", "05401", "US"),
    ("Aiko Tanaka", "Boulder", "CO", "80302", "US"), ("Luis Herrera", "Austin", "TX", "78704", "US"),
    ("Grace Whitfield", "Asheville", "NC", "28801", "US"), ("Samuel Adeyemi", "Minneapolis", "MN", "55408", "US"),
    ("Hannah Lindqvist", "Duluth", "MN", "55802", "US"), ("Marco Bianchi", "Brooklyn", "NY", "11215", "US"),
    ("Chloe Dupont", "Montpelier", "VT", "05602", "US"), ("Ethan Brooks", "Salt Lake City", "UT", "84105", "US"),
    ("Fatima Zahra", "Chicago", "IL", "60614", "US"), ("Noah Kim", "San Diego", "CA", "92104", "US"),
    ("Olivia Martin", "Bend", "OR", "97701", "US"), ("Ravi Shah", "Boston", "MA", "02134", "US"),
    ("Ingrid Sorensen", "Anchorage", "AK", "99501", "US"), ("Jamal Carter", "Atlanta", "GA", "30306", "US"),
    ("Sofia Alvarez", "Santa Fe", "NM", "87501", "US"), ("Ben Gallagher", "Missoula", "MT", "59801", "US"),
    ("Lena Fischer", "Madison", "WI", "53703", "US"), ("Owen Price", "Portland", "ME", "04101", "US"),
    ("Yuki Mori", "Honolulu", "HI", "96814", "US"), ("Emily Chen", "Toronto", "ON", "M5V 2T6", "CA"),
    ("Harriet Cole", "Manchester", "", "M4 1HN", "GB"), ("Diego Santos", "Phoenix", "AZ", "85004", "US"),
    ("Nora Walsh", "Providence", "RI", "02906", "US"), ("Kwame Mensah", "Richmond", "VA", "23220", "US"),
]
STREETS = ["Alder Lane", "Birch Street", "Cedar Avenue", "Hemlock Road", "Juniper Court", "Maple Drive", "Pine Street",
           "Quarry Road", "Ridge Avenue", "Spruce Way", "Willow Street", "Orchard Lane"]


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _business_days(start: datetime, days: int) -> datetime:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def build_profile() -> str:
    """profile.toml: the shop's identity and the values for Bitext-style {{placeholders}}."""
    s, f = SHOP, FACTS
    weekday, weekend = s["support_hours"].split(", ")
    values = {
        "Company Name": s["name"],
        "Website Name": f"www.{s['domain']}",
        "Website URL": s["website"],
        "Website": f"www.{s['domain']}",
        "Company Website": s["website"],
        "Service Website": s["website"],
        "Website or App": "website",
        "Customer Support Phone Number": s["phone"],
        "Customer Service Phone Number": s["phone"],
        "Customer Assistance Phone Number": s["phone"],
        "Support Phone Number": s["phone"],
        "Complaint Phone Number": s["phone"],
        "Phone Number": s["phone"],
        "Customer Support Email": s["email"],
        "Customer Support Email Address": s["email"],
        "Customer Service Email": s["email"],
        "Customer Service Email Address": s["email"],
        "Support Email": s["email"],
        "Support Email Address": s["email"],
        "Complaint Email Address": s["email"],
        "Feedback Email Address": s["email"],
        "Customer Support Hours": s["support_hours"],
        "Customer Support Availability": s["support_hours"],
        "Customer Service Hours": s["support_hours"],
        "Customer Assistance Hours": s["support_hours"],
        "Support Team Availability": s["support_hours"],
        "Operating Hours": s["support_hours"],
        "Operating Hours Weekdays": weekday,
        "Operating Hours Weekends": weekend,
        "Operating Hours Holidays": "closed on Thanksgiving Day, Christmas Day and New Year's Day",
        "Business Hours Start Time": "8 am ET",
        "Business Hours End Time": "8 pm ET",
        "Customer Service Start Time": "8 am ET",
        "Customer Service End Time": "8 pm ET",
        "Live Chat": "Live Chat",
        "Live Chat Support": "Live Chat",
        "Chat": "Live Chat",
        "Customer Support Channel": "Live Chat",
        "Support Channel": "Live Chat",
        "Store Location": s["store_location"],
        "Contact Us": "Contact Us",
        "Contact Page": "Contact Us page",
        "Contact Form": "Contact Us form",
        "Order History": "Order History",
        "My Orders": "Order History",
        "Purchase History": "Order History",
        "Order Details": "Order Details",
        "Account Settings": "Account Settings",
        "My Account": "Your Account",
        "Account": "Your Account",
        "Profile": "Account Settings",
        "Shipping Address": "Saved Addresses",
        "Delivery Address": "Saved Addresses",
        "Add New Address": "Add a new address",
        "Payment Methods": "Payment Methods",
        "Payment Options": "Payment Methods",
        "Accepted Payment Options": "Visa, Mastercard, American Express, Discover, PayPal, Apple Pay, Google Pay, "
        "Klarna and gift cards",
        "Billing": "Payments & Billing",
        "Invoices": "Invoices",
        "Invoice History": "Invoices",
        "Refunds": "Returns & Refunds",
        "Returns": "Returns & Refunds",
        "Refund Policy": "Refunds policy",
        "Cancellation Policy": "Changing or Cancelling an Order policy",
        "Cancel Order": "Cancel order",
        "Track Order": "Track order",
        "Order Tracking": "Track order",
        "Edit Order": "Change order",
        "Modify Order": "Change order",
        "Delivery Options": "Standard, Expedited and Overnight",
        "Shipping Options": "Standard, Expedited and Overnight",
        "Newsletter Subscription": "Newsletter preferences",
        "Checkout": "Checkout",
        "Help": "Help Center",
        "Support": "Help Center",
        # labels of our website's pages and buttons, as Bitext's step-by-step answers name them
        "Order Status": "Order History",
        "Track My Order": "Track order",
        "Account Details": "Account Settings",
        "Account Information": "Account Settings",
        "Account Portal": "Your Account",
        "Address": "Saved Addresses",
        "Payment Settings": "Payment Methods",
        "Payment Preferences": "Payment Methods",
        "Payment or Billing": "Payments & Billing",
        "Payments": "Payments & Billing",
        "Payment": "Payments & Billing",
        "billing section": "Payments & Billing",
        "Invoice": "Invoices",
        "Refund": "Returns & Refunds",
        "Refund Request": "Return items",
        "Refund Requests": "Return items",
        "Request Refund": "Return items",
        "Refund Status": "Returns & Refunds",
        "Cancel Purchase": "Cancel order",
        "Cancellation Fees": "Changing or Cancelling an Order policy",
        "Cancellation Charges": "Changing or Cancelling an Order policy",
        "Termination Fees": "Changing or Cancelling an Order policy",
        "Termination Charges": "Changing or Cancelling an Order policy",
        "Customer Support": "Help Center",
        "Contact Support": "Contact Us",
        "Payment Support": "Help Center",
        "Report Issue": "Report a problem",
        "Email": s["email"],
        "Email Address": s["email"],
        "Edit": "Edit",
        "Update": "Update",
        "Modify": "Edit",
        "Change": "Edit",
        "Edit or Modify": "Edit",
        "Save": "Save",
        "Submit": "Submit",
        "Add Item": "Add item",
        "Add Items": "Add item",
        "Remove Item": "Remove item",
        "Download": "Download",
        "Feedback": "Feedback",
        "Footer": "page footer",
        "Add to Cart": "Add to Cart",
        "number of days": str(f["return_days"]),
        "refund period": f"{f['return_days']} days",
        "Refund Processing Time": f["refund_bank_days"],
        "Refund Timeframe": f["refund_bank_days"],
        "Response Time": f["email_reply"],
        "Free Shipping Threshold": f"${f['free_shipping_threshold']}",
        "Return Window": f"{f['return_days']} days",
    }

    def q(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string

    lines = [
        "# Shop profile: who the shop is. Read by assistant.shop.data.load_profile; written by scripts/make_demo_shop.py.",
        f"name = {q(s['name'])}",
        f"website = {q(s['website'])}",
        f"phone = {q(s['phone'])}",
        f"email = {q(s['email'])}",
        f"support_hours = {q(s['support_hours'])}",
        f"currency = {q(s['currency'])}",
        f"store_location = {q(s['store_location'])}",
        f"timezone = {q(s['timezone'])}",
        "",
        "# Values for Bitext-style {{Placeholder}} names in replies and training dialogs (matched case-insensitively).",
        "# Per-order values such as {{Order Number}} are not here: they come from the order itself.",
        "[placeholders]",
    ]
    lines += [f"{q(k)} = {q(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def build_customers(rng: random.Random) -> list[dict]:
    personas = list(PERSONAS)
    customers = []
    for i, (name, city, region, postal, country) in enumerate(PEOPLE):
        persona = personas[i % len(personas)]
        first, last = name.lower().split(" ", 1)
        created = NOW - timedelta(days=rng.randint(400, 1500)) if i < 24 else NOW - timedelta(days=rng.randint(5, 40))
        customers.append({
            "id": f"C{i + 1:03d}",
            "name": name,
            "email": f"{first}.{last.replace(' ', '')}@example.{rng.choice(['com', 'net', 'org'])}",
            "phone": ("+1 (" + str(rng.randint(201, 989)) + f") 555-01{i:02d}") if country in ("US", "CA")
            else f"+44 161 496 0{i:03d}",
            "address": {
                "line1": f"{rng.randint(12, 2400)} {rng.choice(STREETS)}",
                "line2": rng.choice([None, None, None, f"Apt {rng.randint(1, 30)}"]),
                "city": city, "region": region or None, "postal_code": postal, "country": country,
            },
            "created_at": _iso(created.replace(hour=rng.randint(8, 22), minute=rng.randint(0, 59))),
            "segment": "new" if i >= 24 else "regular",  # refined from orders below
            "interests": [KEY_TO_LEAF[k] for k in PERSONAS[persona][0]],
            "persona": persona,
        })
    return customers


def _tracking(rng: random.Random, carrier: str) -> str:
    if carrier == "UPS":
        return "1Z" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(6)) + \
            "".join(rng.choice("0123456789") for _ in range(10))
    if carrier == "USPS":
        return "9400" + "".join(rng.choice("0123456789") for _ in range(18))
    return "".join(rng.choice("0123456789") for _ in range(12))


def build_orders(rng: random.Random, customers: list[dict], catalog: list[dict]) -> list[dict]:
    by_key: dict[str, list[dict]] = {}
    for p in catalog:
        by_key.setdefault(CATEGORY_KEYS[p["category"][-1]], []).append(p)
    regulars = [c for c in customers if c["segment"] != "new"]
    statuses = [s for s, n in STATUSES.items() for _ in range(n)]
    statuses.remove("placed")
    statuses.remove("shipped")
    rng.shuffle(statuses)
    owners = regulars + [rng.choice(regulars[:12]) for _ in range(len(statuses) - len(regulars))]
    rng.shuffle(owners)
    # two new customers (joined weeks ago) each have one recent order; the last two have none yet
    pairs = list(zip(statuses, owners, strict=True)) + [("placed", customers[24]), ("shipped", customers[25])]
    orders = []
    for n, (status, customer) in enumerate(pairs):
        keys = PERSONAS[customer["persona"]][0]
        items = []
        for _ in range(rng.choice([1, 1, 2, 2, 3])):
            product = rng.choice(by_key[rng.choice(keys)])
            if any(it["product_id"] == product["id"] for it in items):
                continue
            variants = [v for v in product["variants"] if v["stock"] > 0] or product["variants"]
            sku = rng.choice(variants)["sku"] if variants else product["id"]
            qty = 2 if CATEGORY_KEYS[product["category"][-1]] in ("bottles", "camp") and rng.random() < 0.4 else 1
            items.append({"product_id": product["id"], "sku": sku, "title": product["title"], "quantity": qty,
                          "unit_price": product["price"]})
        ago = {"placed": (0, 1), "shipped": (2, 4), "delivered": rng.choice([(8, 30), (31, 240)]), "cancelled": (5, 200),
               "returned": (35, 220)}[status]
        created = NOW - timedelta(days=rng.randint(*ago), hours=rng.randint(1, 10), minutes=rng.randint(0, 59))
        international = customer["address"]["country"] != "US"
        carrier = "UPS" if international else rng.choice(["UPS", "USPS", "FedEx"])
        history = [{"status": "placed", "at": _iso(created)}]
        tracking = eta = None
        if status == "cancelled":
            history.append({"status": "cancelled", "at": _iso(created + timedelta(hours=rng.randint(1, 18)))})
            carrier = None
        elif status != "placed":
            shipped = _business_days(created, 1).replace(hour=19, minute=rng.randint(0, 59))
            eta = _business_days(shipped, rng.randint(7, 14) if international else rng.randint(3, 5))
            tracking = _tracking(rng, carrier)
            history.append({"status": "shipped", "at": _iso(shipped)})
            if status in ("delivered", "returned"):
                delivered = eta - timedelta(days=rng.choice([0, 0, 1])) + timedelta(hours=rng.randint(-4, 2))
                history.append({"status": "delivered", "at": _iso(delivered)})
                if status == "returned":
                    history.append({"status": "returned",
                                    "at": _iso(delivered + timedelta(days=rng.randint(6, 24), hours=rng.randint(1, 6)))})
        else:
            eta = _business_days(_business_days(created, 1), 7 if international else 4)
        orders.append({
            "id": f"SB-{10001 + n}",
            "customer_id": customer["id"],
            "created_at": _iso(created),
            "status": status,
            "items": items,
            "total": round(sum(it["quantity"] * it["unit_price"] for it in items), 2),
            "currency": SHOP["currency"],
            "shipping_address": {"name": customer["name"], **customer["address"]},
            "carrier": carrier,
            "tracking_number": tracking,
            "estimated_delivery": eta.date().isoformat() if eta else None,
            "history": history,
        })
    orders.sort(key=lambda o: o["created_at"])
    for n, order in enumerate(orders):  # number orders in date order, like a real shop
        order["id"] = f"SB-{10001 + n}"
    counts = {c["id"]: sum(o["customer_id"] == c["id"] for o in orders) for c in customers}
    for c in customers:
        last = max((o["created_at"] for o in orders if o["customer_id"] == c["id"]), default=None)
        if counts[c["id"]] >= 4:
            c["segment"] = "vip"
        elif last and last < _iso(NOW - timedelta(days=180)):
            c["segment"] = "lapsed"
        elif c["segment"] != "new":
            c["segment"] = "regular"
    return orders


def build_events(rng: random.Random, customers: list[dict], orders: list[dict], catalog: list[dict]) -> list[dict]:
    by_key: dict[str, list[dict]] = {}
    for p in catalog:
        by_key.setdefault(CATEGORY_KEYS[p["category"][-1]], []).append(p)
    events: list[dict] = []

    def session() -> str:
        return "s_" + "".join(rng.choice("0123456789abcdef") for _ in range(12))

    for c in customers:
        keys, queries = PERSONAS[c["persona"]]
        start = datetime.fromisoformat(c["created_at"].replace("Z", "+00:00"))
        # browsing sessions: mostly in the persona's categories, a little noise
        for _ in range(rng.randint(3, 5)):
            at = start + (NOW - timedelta(hours=1) - start) * rng.random()  # sessions end before NOW
            sid = session()
            if rng.random() < 0.7:
                events.append({"user_id": c["id"], "product_id": None, "type": "search", "ts": _iso(at),
                               "session_id": sid, "context": rng.choice(queries), "value": None})
            for _ in range(rng.randint(2, 5)):
                at += timedelta(seconds=rng.randint(20, 240))
                key = rng.choice(keys) if rng.random() < 0.9 else rng.choice(list(by_key))
                p = rng.choice(by_key[key])
                events.append({"user_id": c["id"], "product_id": p["id"], "type": "click" if rng.random() < 0.4 else "view",
                               "ts": _iso(at), "session_id": sid, "context": None, "value": None})
                if rng.random() < 0.2:
                    at += timedelta(seconds=rng.randint(10, 90))
                    events.append({"user_id": c["id"], "product_id": p["id"], "type": "add_to_cart", "ts": _iso(at),
                                   "session_id": sid, "context": None, "value": 1})
        # the sessions that ended in each order
        for o in orders:
            if o["customer_id"] != c["id"]:
                continue
            created = datetime.fromisoformat(o["created_at"].replace("Z", "+00:00"))
            sid = session()
            at = created - timedelta(minutes=rng.randint(8, 40))
            for it in o["items"]:
                for kind in ("view", "add_to_cart"):
                    at += timedelta(seconds=rng.randint(15, 120))
                    events.append({"user_id": c["id"], "product_id": it["product_id"], "type": kind, "ts": _iso(at),
                                   "session_id": sid, "context": None, "value": it["quantity"] if kind == "add_to_cart" else None})
            if o["status"] == "cancelled":
                continue  # cancelled before it shipped: not a purchase
            for it in o["items"]:
                events.append({"user_id": c["id"], "product_id": it["product_id"], "type": "purchase", "ts": o["created_at"],
                               "session_id": sid, "context": None, "value": it["quantity"]})
            delivered = next((h["at"] for h in o["history"] if h["status"] == "delivered"), None)
            if delivered and rng.random() < 0.6:
                it = rng.choice(o["items"])
                at = datetime.fromisoformat(delivered.replace("Z", "+00:00")) + timedelta(days=rng.randint(2, 5))
                stars = rng.choice([2, 3]) if o["status"] == "returned" else rng.choice([4, 5, 5])
                events.append({"user_id": c["id"], "product_id": it["product_id"], "type": "rate",
                               "ts": _iso(min(at, NOW)), "session_id": session(), "context": None, "value": stars})
    events.sort(key=lambda e: (e["ts"], e["user_id"]))
    return events


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Folder to (re)write; default assistant/shop/demo_shop/.")
    args = parser.parse_args(argv)
    rng = random.Random(7)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    catalog = build_catalog(rng, SHOP["website"], SHOP["currency"])
    customers = build_customers(rng)
    orders = build_orders(rng, customers, catalog)
    events = build_events(rng, customers, orders, catalog)
    dialogs = build_dialogs(rng, catalog, customers, orders, NOW)
    for c in customers:
        del c["persona"]  # a generator detail; `interests` carries the taste

    (out / "profile.toml").write_text(build_profile(), encoding="utf-8")
    _write_jsonl(out / "catalog.jsonl", catalog)
    _write_jsonl(out / "customers.jsonl", customers)
    _write_jsonl(out / "orders.jsonl", orders)
    _write_jsonl(out / "events.jsonl", events)
    _write_jsonl(out / "dialogs.jsonl", dialogs)
    policy_dir = out / "policies"
    shutil.rmtree(policy_dir, ignore_errors=True)
    policy_dir.mkdir()
    for name, text in policies().items():
        (policy_dir / name).write_text(text, encoding="utf-8")
    print(f"wrote {out}: {len(catalog)} products, {len(customers)} customers, {len(orders)} orders, "
          f"{len(events)} events, {len(dialogs)} dialogs, {len(policies())} policies")


if __name__ == "__main__":
    main()
