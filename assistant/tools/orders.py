"""Order tools: look up, cancel, change the address of, and start a return for the customer's own orders.

State-changing actions are two-step: `propose` checks the order and the rules and returns the question
to ask; only `execute`, called on the customer's explicit confirmation in the next turn, changes the
store. Anonymous shoppers are asked to sign in; other customers' orders are "not found".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from assistant.shop.orders import ActionResult, OrderStore, OrderView

ACTIONS = ("cancel", "change_address", "start_return", "exchange")
DEFAULT_RETURN_DAYS = 30


class Lookup(BaseModel):
    orders: list[OrderView]
    missing: list[str]  # asked-for order numbers not on this customer's account
    needs_sign_in: bool


def lookup(store: OrderStore, user_id: str | None, order_ids: list[str]) -> Lookup:
    """The asked-for orders (or the customer's recent ones when none is named)."""
    if not user_id:
        return Lookup(orders=[], missing=list(order_ids), needs_sign_in=True)
    if not order_ids:
        return Lookup(orders=store.for_customer(user_id, limit=3), missing=[], needs_sign_in=False)
    found, missing = [], []
    for oid in order_ids:
        order = store.get(oid, user_id)
        (found.append(order) if order else missing.append(oid))
    return Lookup(orders=found, missing=missing, needs_sign_in=False)


def return_window_days(policy_texts: list[str]) -> int:
    """The return window stated in the returns policy ("within 30 days of delivery"), else 30."""
    for text in policy_texts:
        m = re.search(r"(\d{1,3})\s*days\s*of\s*(?:delivery|receipt)", re.sub(r"[*_]", "", text), re.I)
        if m:
            return int(m.group(1))
    return DEFAULT_RETURN_DAYS


_ADDRESS = re.compile(
    r"(?:\bto|\bis|:)\s+(?P<line1>\d{1,6}\s+(?=[^,]*[A-Za-z])[A-Za-z0-9 .'-]+?)(?:,\s*(?P<city>[A-Za-z .'-]+?))?(?:,\s*(?P<region>[A-Z]{2}))?"
    r"(?:\s+(?P<postal>\d{5}))?\s*[.!]?\s*$"
)


def parse_address(text: str) -> dict | None:
    """The new address in "change the address of SB-10001 to 12 Oak Street, Springfield, IL 62701" (or after "is"
    or a colon: "sent to a different address, please: 7 Willow Court, Montpelier, VT 05602")."""
    m = _ADDRESS.search(text.strip())
    if not m:
        return None
    return {"line1": m.group("line1").strip(), "city": (m.group("city") or "").strip() or None,
            "region": m.group("region"), "postal_code": m.group("postal")}


class Proposal(BaseModel):
    """An action checked against the rules, waiting for the customer's yes."""

    action: str
    order_id: str
    allowed: bool
    message: str  # the confirmation question, or why it is not possible
    address: dict | None = None


def propose(
    store: OrderStore, user_id: str, action: str, order_id: str, *, window_days: int, address: dict | None = None,
    now: datetime | None = None,
) -> Proposal:
    """Check whether `action` is possible on the order now; phrase the question or the refusal."""
    order = store.get(order_id, user_id)
    if order is None:
        return Proposal(action=action, order_id=order_id, allowed=False, message=f"I can't find order {order_id} on your account.")
    if action == "cancel":
        if order.status != "placed":
            return Proposal(action=action, order_id=order.id, allowed=False,
                            message=f"Order {order.id} is {order.status}, so it can no longer be cancelled.")
        return Proposal(action=action, order_id=order.id, allowed=True,
                        message=f"Order {order.id} is placed and can still be cancelled. Reply \"yes, cancel {order.id}\" to confirm.")
    if action == "change_address":
        if order.status != "placed":
            return Proposal(action=action, order_id=order.id, allowed=False,
                            message=f"Order {order.id} is {order.status}, so its address can no longer be changed.")
        if not address:
            return Proposal(action=action, order_id=order.id, allowed=False,
                            message=f"Order {order.id} can still be changed. Which address should it ship to? "
                            f"Write it like this: \"change the address of {order.id} to <street and number>, <city>, <state> <ZIP code>\".")
        return Proposal(action=action, order_id=order.id, allowed=True, address=address,
                        message=f"I can change the shipping address of order {order.id} to the new address you gave. "
                        f"Reply \"yes, change {order.id}\" to confirm.")
    if action in ("start_return", "exchange"):
        what = "a return" if action == "start_return" else "an exchange"
        if order.status != "delivered":
            return Proposal(action=action, order_id=order.id, allowed=False,
                            message=f"Order {order.id} is {order.status}; {what} can only start once it is delivered"
                            + (f", and then you have {window_days} days from delivery." if order.status in ("placed", "shipped")
                               and window_days else "."))
        result = _window_check(order, window_days, now or datetime.now(UTC))
        if result:
            return Proposal(action=action, order_id=order.id, allowed=False, message=result)
        verb = "return" if action == "start_return" else "exchange"
        return Proposal(action=action, order_id=order.id, allowed=True,
                        message=f"Order {order.id} is delivered and within the {window_days}-day return window. "
                        f"Reply \"yes, {verb} {order.id}\" to start {what}.")
    raise ValueError(f"Unknown order action '{action}'; expected one of {list(ACTIONS)}.")


def _window_check(order: OrderView, window_days: int, now: datetime) -> str | None:
    if not order.delivered_at:
        return None
    delivered = datetime.fromisoformat(order.delivered_at.replace("Z", "+00:00"))
    if now - delivered > timedelta(days=window_days):
        return (f"Order {order.id} was delivered on {delivered.date().isoformat()}, more than {window_days} days ago, "
                f"so it is outside the {window_days}-day return window.")
    return None


def execute(
    store: OrderStore, user_id: str, proposal: Proposal, *, window_days: int, now: datetime | None = None
) -> ActionResult:
    """Carry out a confirmed proposal (the store re-checks the rules: the order may have changed meanwhile)."""
    if proposal.action == "cancel":
        return store.cancel(proposal.order_id, user_id, now=now)
    if proposal.action == "change_address":
        return store.change_address(proposal.order_id, user_id, proposal.address or {}, now=now)
    if proposal.action in ("start_return", "exchange"):
        return store.start_return(proposal.order_id, user_id, window_days, now=now,
                                  exchange=proposal.action == "exchange")
    raise ValueError(f"Unknown order action '{proposal.action}'; expected one of {list(ACTIONS)}.")
