"""Service dialogs for `make_demo_shop.py`, answered from the demo shop's own orders, catalog and policies.

Each dialog is 1 to 3 user/assistant exchanges. Replies state only what the data or the policies say, so
they are fit for fine-tuning and for checking the assistant's answers.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from demo_shop_policies import FACTS, SHOP

F = FACTS


def _money(x: float) -> str:
    return f"${x:,.2f}"


def _dt(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _day(value: str | datetime) -> str:
    d = _dt(value) if isinstance(value, str) and "T" in value else value
    if isinstance(d, str):
        d = datetime.fromisoformat(d)
    return f"{d:%A, %B} {d.day}"


def _at(order: dict, status: str) -> str | None:
    return next((h["at"] for h in order["history"] if h["status"] == status), None)


def _items(order: dict) -> str:
    parts = [f"{it['quantity']} x {it['title']}" if it["quantity"] > 1 else f"the {it['title']}" for it in order["items"]]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _business_days(start: datetime, days: int) -> datetime:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def build_dialogs(rng: random.Random, catalog: list[dict], customers: list[dict], orders: list[dict],
                  now: datetime) -> list[dict]:
    """All demo dialogs as {"id", "intent", "customer_id", "messages"} dicts."""
    products = {p["id"]: p for p in catalog}
    people = {c["id"]: c for c in customers}
    pools = {s: [o for o in orders if o["status"] == s] for s in ("placed", "shipped", "delivered", "cancelled", "returned")}
    for pool in pools.values():
        rng.shuffle(pool)
    recent_delivered = [o for o in pools["delivered"] if _dt(_at(o, "delivered")) > now - timedelta(days=F["return_days"])]
    old_delivered = [o for o in pools["delivered"] if o not in recent_delivered]
    dialogs: list[dict] = []

    def add(intent: str, turns: list[str], customer_id: str | None = None) -> None:
        roles = ["user", "assistant"] * (len(turns) // 2)
        dialogs.append({"id": f"D{len(dialogs) + 1:03d}", "intent": intent, "customer_id": customer_id,
                        "messages": [{"role": r, "content": t} for r, t in zip(roles, turns, strict=True)]})

    def take(status: str, pool: list[dict] | None = None) -> dict:
        pool = pools[status] if pool is None else pool
        order = pool.pop(0)
        pool.append(order)  # reuse only after every order of that state was used once
        return order

    def first(order: dict) -> str:
        return people[order["customer_id"]]["name"].split()[0]

    # ---------------------------------------------------------------- track_order
    def shipped_reply(o: dict) -> str:
        return (f"Order {o['id']} shipped on {_day(_at(o, 'shipped'))} with {o['carrier']}. The tracking number is "
                f"{o['tracking_number']} and it is expected to arrive by {_day(o['estimated_delivery'])}. You can follow "
                "it on the carrier's website or under {{Order History}} on {{Website Name}}.")

    for ask in ["Where is my order {id}?", "hi, can you track {id} for me", "My order {id} hasn't arrived yet. Where is it?"]:
        o = take("shipped")
        add("track_order", [ask.format(id=o["id"]), shipped_reply(o)], o["customer_id"])
    o = take("shipped")
    add("track_order", ["I want to know where my package is",
                        "I can check that for you. What is your order number? It starts with SB- and is in your "
                        "confirmation email.", o["id"], shipped_reply(o)], o["customer_id"])
    o = take("placed")
    add("track_order", [f"Has order {o['id']} shipped yet?",
                        f"Not yet, {first(o)}: order {o['id']} was placed on {_day(o['created_at'])} and is being "
                        f"prepared. Orders are processed within {F['processing']}, and we email the tracking number "
                        f"as soon as it ships. The current estimate is delivery by {_day(o['estimated_delivery'])}."],
        o["customer_id"])
    o = take("delivered", recent_delivered)
    a = o["shipping_address"]
    add("track_order", [f"where's {o['id']}?? still waiting",
                        f"{o['carrier']} shows order {o['id']} as delivered on {_day(_at(o, 'delivered'))} to "
                        f"{a['line1']}, {a['city']} (tracking {o['tracking_number']}). Please check with neighbours and "
                        "any mailroom or parcel locker. If it still hasn't turned up, tell me and I'll connect you with "
                        "our team to open a claim with the carrier; we resolve those within 5 business days."],
        o["customer_id"])

    # ---------------------------------------------------------------- cancel_order
    def confirm_cancel(o: dict) -> str:
        return (f"Order {o['id']} ({_items(o)}, {_money(o['total'])}) hasn't shipped yet, so it can still be "
                "cancelled. Do you want me to cancel it?")

    def cancelled(o: dict) -> str:
        return (f"Done: order {o['id']} is cancelled. The full {_money(o['total'])} goes back to your original payment "
                "method; because your card was only pre-authorised, the hold is usually released within 3 business days.")

    o = take("placed")
    add("cancel_order", [f"Please cancel my order {o['id']}.", confirm_cancel(o), "Yes, cancel it.", cancelled(o)],
        o["customer_id"])
    o = take("placed")
    add("cancel_order", ["I want to cancel an order", "Sure. What is the order number? It starts with SB-.",
                         o["id"], confirm_cancel(o)], o["customer_id"])
    o = take("placed")
    add("cancel_order", [f"i'd like to cancel {o['id']}", confirm_cancel(o), "Actually no, keep it.",
                         f"No problem: order {o['id']} stays as it is and will ship as planned."], o["customer_id"])
    for o in (take("shipped"), take("shipped")):
        add("cancel_order", [f"Cancel order {o['id']} please",
                             f"Order {o['id']} shipped on {_day(_at(o, 'shipped'))} with {o['carrier']}, so it can no "
                             f"longer be cancelled. Once it arrives you can return it within {F['return_days']} days of "
                             f"delivery for a refund (a {_money(F['return_label_fee'])} label fee is deducted, or nothing "
                             "if you exchange it or drop it at our Burlington store). You can also refuse the delivery."],
            o["customer_id"])
    o = take("delivered", recent_delivered)
    deadline = _dt(_at(o, "delivered")) + timedelta(days=F["return_days"])
    add("cancel_order", [f"Can I still cancel {o['id']}?",
                         f"Order {o['id']} was delivered on {_day(_at(o, 'delivered'))}, so it can't be cancelled, but "
                         f"you can return it until {_day(deadline)}. Would you like the return steps?",
                         "yes please",
                         "Open {{Order History}} on {{Website Name}}, select order " + o["id"] + ", choose Return items "
                         "and pick Refund or Exchange. Print the prepaid UPS label and drop the parcel at any UPS "
                         "location within 14 days. Exchanges are free; for refunds a "
                         f"{_money(F['return_label_fee'])} label fee is deducted."], o["customer_id"])

    # ---------------------------------------------------------------- change_order / change_shipping_address
    changed = 0
    for o in list(pools["placed"]):
        for it in o["items"]:
            p = products[it["product_id"]]
            current = next((v for v in p["variants"] if v["sku"] == it["sku"]), None)
            if not current or not current["size"]:
                continue
            others = [v for v in p["variants"] if v["colour"] == current["colour"] and v["size"] != current["size"]]
            if not others:
                continue
            other = rng.choice(others)
            ask = f"Can I change the {it['title']} in order {o['id']} to size {other['size']}?"
            if other["stock"] > 0:
                add("change_order", [ask,
                                     f"Yes: order {o['id']} hasn't shipped, and size {other['size']} in "
                                     f"{current['colour']} is in stock. Shall I switch it from size {current['size']} to "
                                     f"size {other['size']}? The price stays {_money(it['unit_price'])}.",
                                     "yes do it",
                                     f"Done: order {o['id']} now has the {it['title']} in size {other['size']}, "
                                     f"{current['colour']}. Your total is unchanged at {_money(o['total'])}."],
                    o["customer_id"])
            else:
                sizes = [v["size"] for v in p["variants"] if v["colour"] == current["colour"] and v["stock"] > 0]
                add("change_order", [ask,
                                     f"Sorry, size {other['size']} in {current['colour']} is out of stock right now. "
                                     + (f"In {current['colour']} we have sizes {', '.join(sizes)}. Would you like one of "
                                        "those instead?" if sizes else
                                        f"No other size is in stock in {current['colour']}, so your order stays as is."
                                        " You could cancel it while it hasn't shipped.")],
                    o["customer_id"])
            changed += 1
            break
        if changed == 3:
            break
    o = take("shipped")
    add("change_order", [f"I need to change the colour of what I ordered in {o['id']}",
                         f"Order {o['id']} has already shipped, so it can't be changed any more. Once it arrives you can "
                         f"exchange it for free within {F['return_days']} days of delivery: choose Return items > "
                         "Exchange in {{Order History}} and pick the colour you want."], o["customer_id"])

    new_addresses = ["88 Lakeview Terrace, Burlington, VT 05408", "1420 Canyon Road, Santa Fe, NM 87501",
                     "7 Harbor Street, Apt 3, Portland, ME 04101"]
    for address in new_addresses[:2]:
        o = take("placed")
        add("change_shipping_address",
            [f"I've moved. Can you send order {o['id']} to {address} instead?",
             f"Order {o['id']} hasn't shipped yet, so I can change the delivery address to {address}. Shall I update it?",
             "Yes, please.",
             f"Updated: order {o['id']} will be delivered to {address}. The estimated delivery date stays "
             f"{_day(o['estimated_delivery'])}."], o["customer_id"])
    o = take("shipped")
    add("change_shipping_address",
        [f"Please change the address on {o['id']} to {new_addresses[2]}",
         f"Order {o['id']} shipped on {_day(_at(o, 'shipped'))}, so I can't change its address any more. {o['carrier']} "
         f"may let you redirect the parcel from its tracking page (tracking number {o['tracking_number']})."],
        o["customer_id"])
    add("change_shipping_address",
        ["How do I change my default shipping address?",
         "Sign in on {{Website Name}}, open {{Account Settings}} and go to {{Shipping Address}}. There you can add a "
         "new address, edit one or set it as the default. Orders that have already shipped keep their address."])

    # ---------------------------------------------------------------- get_refund
    for _ in range(2):
        o = take("returned")
        returned = _dt(_at(o, "returned"))
        issued = _business_days(returned, 2)
        add("get_refund",
            [rng.choice(["Where is my refund for {id}?", "I returned order {id}, when do I get my money back?"])
             .format(id=o["id"]),
             f"We checked in your return for order {o['id']} on {_day(returned)} and refunded {_money(o['total'])} to "
             f"your original payment method by {_day(issued)}. Card refunds take {F['refund_bank_days']} to appear on "
             f"your statement, PayPal usually 1 to 3 business days. If it hasn't arrived by "
             f"{_day(_business_days(issued, 10))}, tell me and I'll send you the payment reference for your bank."],
            o["customer_id"])
    o = take("delivered", recent_delivered)
    deadline = _dt(_at(o, "delivered")) + timedelta(days=F["return_days"])
    add("get_refund",
        [f"I want a refund for order {o['id']}",
         f"Order {o['id']} was delivered on {_day(_at(o, 'delivered'))}, so it is within the {F['return_days']}-day "
         f"return window (until {_day(deadline)}). Start a return under {{{{Order History}}}} > Return items, choose "
         f"Refund and drop the parcel at UPS with the prepaid label. A {_money(F['return_label_fee'])} label fee is "
         f"deducted, nothing if the item is faulty. We refund within {F['refund_processing']} of the parcel arriving."],
        o["customer_id"])
    o = take("delivered", old_delivered)
    warranty = max(products[it["product_id"]]["attributes"].get("warranty_years", F["default_warranty_years"])
                   for it in o["items"])
    add("get_refund",
        [f"Can I get my money back for {o['id']}? Not using it",
         f"Order {o['id']} was delivered on {_day(_at(o, 'delivered'))}, more than {F['return_days']} days ago, so "
         "it is outside the return window and I can't refund it. If something is faulty, it is covered by the "
         f"warranty (up to {warranty} years for this order) and I can connect you with our team for a claim."],
        o["customer_id"])
    o = take("cancelled")
    add("get_refund",
        [f"Did I get refunded for the order I cancelled, {o['id']}?",
         f"Yes. Order {o['id']} was cancelled on {_day(_at(o, 'cancelled'))} before it shipped, so nothing was charged: "
         f"the pre-authorisation of {_money(o['total'])} is released by your bank, usually within 3 business days."],
        o["customer_id"])

    # ---------------------------------------------------------------- return_item
    o = take("delivered", recent_delivered)
    it = o["items"][0]
    add("return_item",
        [f"How do I return the {it['title']} from order {o['id']}?",
         f"1. Open {{{{Order History}}}} on {{{{Website Name}}}} and select order {o['id']}. 2. Choose Return items, "
         f"pick the {it['title']} and Refund or Exchange. 3. Print the prepaid UPS label and drop the parcel at any UPS "
         f"location within 14 days. Exchanges are free; refunds have a {_money(F['return_label_fee'])} label fee. The "
         "item must be unused with its tags."], o["customer_id"])
    sized = [(o, it) for o in recent_delivered for it in o["items"]
             if products[it["product_id"]]["category"][0] in ("Footwear", "Apparel")
             and any(v["sku"] == it["sku"] and v["size"] for v in products[it["product_id"]]["variants"])]
    for o, it in sized[:2]:
        p = products[it["product_id"]]
        current = next(v for v in p["variants"] if v["sku"] == it["sku"])
        same_colour = [v for v in p["variants"] if v["colour"] == current["colour"]]  # sizes ascending
        bigger = next((v for v in same_colour[same_colour.index(current) + 1:]), None)
        if bigger is None:
            stock_line = f"Size {current['size']} is already our largest, so we would refund it instead (no label fee)."
        elif bigger["stock"] > 0:
            stock_line = f"Size {bigger['size']} in {current['colour']} is in stock, so we can reserve it now."
        else:
            stock_line = (f"Size {bigger['size']} in {current['colour']} is out of stock at the moment, so we would "
                          "refund it instead (no label fee).")
        worn = "worn indoors only" if p["category"][0] == "Footwear" else "unworn with the tags on"
        add("return_item",
            [f"The {p['title']} from {o['id']} is too small. Can I swap it for a bigger size?",
             f"Yes, exchanges for another size are free within {F['return_days']} days of delivery. {stock_line} Choose "
             "Return items > Exchange in {{Order History}}; we ship the replacement as soon as the carrier scans your "
             f"return. Please make sure it was {worn}."], o["customer_id"])
    add("return_item", ["Can I return a duvet if I opened it?",
                        "Bedding and pillows whose hygiene seal has been opened can only be returned if they are faulty. "
                        f"Unopened bedding can be returned within {F['return_days']} days of delivery."])
    add("return_item", ["can I return stuff to your store instead of mailing it",
                        f"Yes. You can return items free of charge at our store at {SHOP['store_location']}, open "
                        f"{SHOP['store_hours']}. Bring the order number."])

    # ---------------------------------------------------------------- delivery
    add("delivery_options",
        ["What shipping options do you have?",
         f"For US addresses: Standard, {F['standard_days']} ({_money(F['standard_cost'])}, free on orders of "
         f"${F['free_shipping_threshold']} or more); Expedited, {F['expedited_days']} ({_money(F['expedited_cost'])}); "
         f"and Overnight, next business day if you order by {F['overnight_cutoff']} ({_money(F['overnight_cost'])})."])
    add("delivery_options",
        ["Do you ship to Canada?",
         f"Yes. We ship to {F['intl_countries']} for a flat {_money(F['intl_cost'])} per order, free from "
         f"${F['intl_free_threshold']}. Delivery takes {F['intl_days']}; import duties and taxes are paid on delivery."])
    add("delivery_options",
        ["is shipping free?",
         f"Standard shipping is free in the US on orders of ${F['free_shipping_threshold']} or more (merchandise "
         f"total after discounts); below that it costs {_money(F['standard_cost'])}."])
    add("delivery_options",
        ["Can I get overnight delivery to Honolulu?",
         "Sorry, overnight delivery isn't available to Alaska, Hawaii, Puerto Rico or PO boxes. Expedited delivery "
         f"({F['expedited_days']}, {_money(F['expedited_cost'])}) is the fastest option there."])
    add("delivery_period",
        ["How long does delivery take?",
         f"Orders leave our warehouse within {F['processing']} (the same day if placed by {F['overnight_cutoff']} on a "
         f"business day). Standard delivery then takes {F['standard_days']}, Expedited {F['expedited_days']} and "
         "Overnight the next business day."])
    add("delivery_period",
        ["how long to ship to the UK",
         f"Orders to the United Kingdom arrive {F['intl_days']} after dispatch, with tracking. Shipping is "
         f"{_money(F['intl_cost'])}, free from ${F['intl_free_threshold']}."])
    add("delivery_period",
        ["If I order a tent today with expedited shipping, when will it come?",
         f"If you order by {F['overnight_cutoff']} on a business day it leaves the same day, and Expedited takes "
         f"{F['expedited_days']}, so it arrives two business days later. Checkout shows the exact estimated date."])

    # ---------------------------------------------------------------- payments
    add("check_payment_methods",
        ["What payment methods do you accept?",
         "Visa, Mastercard, American Express and Discover cards, PayPal, Apple Pay, Google Pay, Klarna (pay in 4, "
         f"for orders from ${F['klarna_min']} to ${F['klarna_max']:,}) and our gift cards. Prices are in USD."])
    add("check_payment_methods", ["Can I pay with bitcoin?",
                                  "Sorry, we don't accept cryptocurrency, cheques or cash on delivery. You can pay by "
                                  "card, PayPal, Apple Pay, Google Pay, Klarna or gift card."])
    add("check_payment_methods", ["can i split payment between gift cards",
                                  "Yes: you can use up to 3 gift cards on one order, plus one other payment method "
                                  "for the rest."])
    add("payment_issue",
        ["My card keeps getting declined at checkout",
         "Sorry about that. Please check that the billing address matches the one your bank has, then try again. If "
         "it's still declined, try another method such as PayPal or Apple Pay, or call your bank. I can also connect "
         "you with our team during support hours ({{Customer Support Hours}})."])
    o = take("placed")
    add("payment_issue",
        [f"I was charged twice for {o['id']}!",
         f"I understand the worry. Order {o['id']} ({_money(o['total'])}) hasn't shipped yet, so what you see is a "
         "pre-authorisation, not a charge; a second hold from a retried payment drops off within 3 business days. "
         "You are only charged once, when the order ships. If the second amount is still there after 3 business "
         "days, tell me and I'll pass it to our payments team."], o["customer_id"])
    add("payment_issue", ["When will my card actually be charged?",
                          "Your card is pre-authorised when you place the order and charged when it ships. If an "
                          "order ships in parts, each shipment is charged separately."])

    # ---------------------------------------------------------------- account
    add("create_account",
        ["How do I create an account?",
         "Select Sign in > Create account on {{Website Name}}, enter your name, email and a password of at least 10 "
         "characters, then confirm your email from the link we send."])
    add("create_account",
        ["do i need an account to order",
         "No, you can check out as a guest. If you create an account later with the same email, your past orders "
         "show up in {{Order History}}."])
    add("recover_password",
        ["I forgot my password",
         f"Select Sign in > Forgot password and enter your email. We send a reset link that works once and for "
         f"{F['reset_link_minutes']} minutes. If it doesn't arrive within 10 minutes, check your spam folder or "
         "request a new one."])
    add("recover_password",
        ["It says my account is locked", f"After {F['lockout_attempts']} failed sign-in attempts we lock the account "
         f"for {F['lockout_minutes']} minutes to protect it. Wait {F['lockout_minutes']} minutes and try again, or "
         "reset your password with Sign in > Forgot password.", "the reset link says expired",
         f"Reset links are valid for {F['reset_link_minutes']} minutes and only once. Request a new one from Sign in > "
         "Forgot password and use the newest email."])

    # ---------------------------------------------------------------- contact_human_agent
    ticket = 40211

    def handoff(extra: str = "") -> str:
        nonlocal ticket
        ticket += rng.randint(3, 40)
        return (f"I've created ticket T-{ticket} with a summary of our chat{extra}, so you won't have to repeat "
                f"yourself. During support hours ({SHOP['support_hours']}) our team replies {F['agent_reply_open']}; "
                f"otherwise {F['agent_reply_closed']} by email.")

    add("contact_human_agent", ["I want to talk to a real person", handoff()])
    o = take("delivered", recent_delivered)
    add("contact_human_agent", [f"agent please. about order {o['id']}", handoff(f" and order {o['id']}")],
        o["customer_id"])
    add("contact_human_agent", ["Can I call someone?",
                                f"Yes: call {SHOP['phone']}, {SHOP['support_hours']}. You can also email {SHOP['email']}"
                                f" (we reply {F['email_reply']}) or ask me to open a ticket for you."])

    # ---------------------------------------------------------------- product_question
    def pick(pred) -> dict:
        found = [p for p in catalog if pred(p)]
        return rng.choice(found)

    p = pick(lambda p: p["category"][-1] == "Hiking Boots")
    a = p["attributes"]
    add("product_question",
        [f"Is the {p['title']} waterproof?",
         (f"Yes, it has a waterproof {a['membrane']} membrane under its {a['material']} upper." if a["waterproof"]
          else f"No, the {p['title']} is not waterproof; its upper is {a['material']}.")])
    p = pick(lambda p: p["category"][-1] == "Rain Jackets")
    a = p["attributes"]
    add("product_question",
        [f"how much does the {p['title']} weigh and does it have pit zips",
         f"It weighs {a['weight_g']} g and " + ("it has pit zips." if a["pit_zips"] else "it doesn't have pit zips.")])
    p = pick(lambda p: p["category"][0] == "Footwear" and p["stock"] > 0)
    colour = p["variants"][0]["colour"]
    size = rng.choice([v["size"] for v in p["variants"] if v["colour"] == colour])
    in_stock = sorted({v["size"] for v in p["variants"] if v["colour"] == colour and v["stock"] > 0}, key=int)
    add("product_question",
        [f"Do you have the {p['title']} in size {size}, {colour}?",
         (f"Yes, size {size} in {colour} is in stock ({_money(p['price'])})." if size in in_stock else
          f"Sorry, size {size} in {colour} is out of stock. " +
          (f"In {colour} we have sizes {', '.join(in_stock)}." if in_stock else f"No size is in stock in {colour}."))])
    p = pick(lambda p: p["category"][-1] == "Cookware")
    a = p["attributes"]
    add("product_question",
        [f"Can I use the {p['title']} on an induction hob? And in the oven?",
         ("Yes, it works on induction" if a["induction_compatible"] else "No, it doesn't work on induction hobs")
         + f", and it is oven safe up to {a['oven_safe_c']} °C."])
    p = pick(lambda p: p["category"][-1] == "Sleeping Bags")
    a = p["attributes"]
    add("product_question",
        [f"What's the temperature rating of the {p['title']}?",
         f"It is rated to {a['temperature_rating_c']} °C, with {a['insulation']}, and weighs {a['weight_g']} g. It "
         "comes in Regular (up to 183 cm) and Long (up to 198 cm)."])
    p = pick(lambda p: p["category"][-1] == "Backpacks")
    a = p["attributes"]
    add("product_question",
        [f"What's the warranty on the {p['title']}?",
         f"The {p['title']} has a {a['warranty_years']}-year warranty against defects in materials and workmanship."])

    # ---------------------------------------------------------------- product_search
    def listing(found: list[dict]) -> str:
        return "; ".join(f"{p['title']}, {_money(p['price'])} ({p['bullets'][0]})" for p in found)

    searches = [
        ("I need waterproof hiking boots under $100",
         lambda p: p["category"][-1] == "Hiking Boots" and p["attributes"]["waterproof"] and p["price"] < 100),
        ("show me 2 person tents under 2.5 kg",
         lambda p: p["category"][-1] == "Tents" and p["attributes"]["capacity_persons"] == 2
         and p["attributes"]["weight_g"] < 2500),
        ("insulated water bottle 1 litre",
         lambda p: p["category"][-1] == "Water Bottles" and p["attributes"]["insulated"]
         and p["attributes"]["capacity_l"] == 1.0),
        ("rechargeable headlamp with red light",
         lambda p: p["category"][-1] == "Headlamps & Lanterns" and p["attributes"]["type"] == "headlamp"
         and p["attributes"]["rechargeable"] and p["attributes"]["red_light"]),
        ("do you have a skillet", lambda p: p["category"][-1] == "Cookware" and p["attributes"]["type"] == "skillet"),
        ("bluesign certified rain jacket for women",
         lambda p: p["category"][-1] == "Rain Jackets" and "bluesign" in p["attributes"].get("certifications", [])
         and p["attributes"]["gender"] == "women's"),
    ]
    for query, pred in searches:
        found = sorted((p for p in catalog if pred(p) and p["stock"] > 0), key=lambda p: -(p["rating"] or 0))[:3]
        if found:
            add("product_search", [query, f"Here {'is what I found' if len(found) == 1 else 'are the best matches in stock'}:"
                                          f" {listing(found)}."])
        else:
            add("product_search", [query, "Sorry, nothing in stock matches that right now. Would you like me to widen "
                                          "the search?"])

    # ---------------------------------------------------------------- compare_products
    for leaf, keys in [("Sleeping Bags", ["temperature_rating_c", "insulation", "weight_g"]),
                       ("Backpacks", ["capacity_l", "weight_g", "frame"]),
                       ("Trail Running Shoes", ["drop_mm", "weight_g", "cushioning", "waterproof"])]:
        a, b = rng.sample([p for p in catalog if p["category"][-1] == leaf], 2)
        names = {"temperature_rating_c": "rating (°C)", "weight_g": "weight (g)", "capacity_l": "capacity (L)",
                 "drop_mm": "drop (mm)"}
        def show(v: object) -> str:
            return ("yes" if v else "no") if isinstance(v, bool) else str(v)

        facts = "; ".join(f"{names.get(k, k)}: {show(a['attributes'][k])} vs {show(b['attributes'][k])}" for k in keys)
        cheaper = a if a["price"] < b["price"] else b
        add("compare_products",
            [f"What's the difference between the {a['title']} and the {b['title']}?",
             f"{facts}. Prices: {_money(a['price'])} vs {_money(b['price'])}, so the {cheaper['title']} is cheaper."])

    # ---------------------------------------------------------------- recommendation
    def best(pred, k: int = 2) -> list[dict]:
        return sorted((p for p in catalog if pred(p) and p["stock"] > 0), key=lambda p: -(p["rating"] or 0))[:k]

    recs = [
        ("I'm going on my first overnight backpacking trip in spring. Which sleeping bag should I get?",
         lambda p: p["category"][-1] == "Sleeping Bags" and -4 <= p["attributes"]["temperature_rating_c"] <= 2,
         "rated between -4 and 2 °C, which suits spring nights"),
        ("gift for someone who loves cooking, under $60",
         lambda p: p["category"][-1] == "Cookware" and p["price"] < 60, "under $60 and in stock"),
        ("I run on muddy trails, what shoes do you recommend?",
         lambda p: p["category"][-1] == "Trail Running Shoes" and p["attributes"]["lug_depth_mm"] >= 5,
         "lugs of 5 mm or more grip in mud"),
    ]
    for ask, pred, why in recs:
        found = best(pred)
        add("recommendation", [ask, f"I'd suggest {listing(found)}: {why}. Would you like more options?"])
    c = next(c for c in customers if c["interests"][0] == "Hiking Boots")
    bought = {it["product_id"] for o in orders if o["customer_id"] == c["id"] for it in o["items"]}
    found = best(lambda p: p["category"][-1] == "Rain Jackets" and p["id"] not in bought)
    add("recommendation",
        ["Anything you'd recommend for me?",
         f"Since you shop for hiking gear, you might like {listing(found)}. Both are waterproof rain jackets in stock."],
        c["id"])

    # ---------------------------------------------------------------- policy_question
    add("policy_question",
        ["What's your return policy?",
         f"You can return most items within {F['return_days']} days of delivery, unused with tags. Exchanges are free; "
         f"refunds have a {_money(F['return_label_fee'])} label fee (free for faulty items or at our Burlington store). "
         f"We refund within {F['refund_processing']} of receiving the return."])
    add("policy_question",
        ["Do you price match?",
         f"Yes. If our price drops within {F['price_match_days']} days of your order we refund the difference, and we "
         "match identical in-stock items on US authorised retailers' own sites. Marketplace, clearance and "
         "membership prices are excluded."])
    add("policy_question", ["Do your gift cards expire?",
                            f"No, our gift cards never expire and have no fees. E-gift cards range from "
                            f"${F['gift_card_min']} to ${F['gift_card_max']}."])
    add("policy_question",
        ["how long is the warranty on your stuff",
         f"Each product page shows its warranty; where none is shown it is {F['default_warranty_years']} years from "
         "delivery. Cast-iron cookware has 25 years. It covers defects in materials and workmanship, not wear and tear."])
    add("policy_question",
        ["Can you delete my data?",
         f"Yes. Email {SHOP['privacy_email']} and we will answer within {F['data_deletion_days']} days. Order and "
         "invoice records are kept for 7 years for tax purposes; everything else can be deleted."])
    add("policy_question",
        ["How do rewards points work?",
         f"Basecamp Rewards is free with an account: you earn {F['points_per_dollar']} point per $1 spent on "
         f"merchandise and redeem {F['points_reward']} at checkout. Points appear when your order is delivered."])

    # ---------------------------------------------------------------- complaint
    o = next((x for x in pools["delivered"] if any(products[i["product_id"]]["category"][-1] == "Tents"
                                                    for i in x["items"])), take("delivered"))
    it = o["items"][0]
    add("complaint",
        [f"The {it['title']} from order {o['id']} broke on the first trip. Really disappointed.",
         "I'm sorry, that's not the experience we want you to have. A defect like that is covered by the warranty. "
         + handoff(f" and order {o['id']}") + " Please have photos of the damage ready."], o["customer_id"])
    o = take("delivered", recent_delivered)
    add("complaint",
        [f"You sent me the wrong item in {o['id']}",
         "Sorry about that. We'll send the right item free of charge and email you a prepaid label for the wrong one. "
         + handoff(f" and order {o['id']}")], o["customer_id"])
    o = take("shipped")
    add("complaint",
        [f"This is ridiculous, {o['id']} is taking forever",
         f"I'm sorry for the wait. Order {o['id']} is on its way with {o['carrier']} (tracking {o['tracking_number']}) "
         f"and is due by {_day(o['estimated_delivery'])}. If it is more than 3 business days late, we open a trace "
         "with the carrier and send a replacement or refund if it is lost."], o["customer_id"])
    add("complaint",
        ["your website is so slow and I couldn't check out",
         "Sorry for the trouble. I've passed this on. " + handoff(" about the checkout problem")
         + " You can also order by phone at " + SHOP["phone"] + "."])

    # ---------------------------------------------------------------- chit_chat / out_of_scope
    add("chit_chat", ["hi", f"Hi! I'm the {SHOP['name']} assistant. I can help you find gear, track orders, and "
                            "answer questions about shipping, returns and more. What can I do for you?"])
    add("chit_chat", ["thanks, that's all", "You're welcome! Enjoy your gear, and have a great day."])
    add("chit_chat", ["are you a bot?", f"Yes, I'm {SHOP['name']}'s virtual assistant. If you'd rather talk to a "
                                        "person, just say so and I'll hand you over to our support team."])
    add("chit_chat", ["good morning!", "Good morning! How can I help you today?", "just browsing",
                      "Enjoy! If you tell me what you're planning, a hike, a camping trip or a new kitchen, I can "
                      "suggest a few things."])
    for ask in ["What's the weather going to be in Denver this weekend?", "can you help with my maths homework",
                "Which stocks should I buy?", "Book me a flight to Salt Lake City"]:
        add("out_of_scope", [ask, f"Sorry, I can't help with that. I'm the {SHOP['name']} assistant, so I can help you "
                                  "with our products, your orders, shipping, returns and other shop questions."])
    return dialogs
