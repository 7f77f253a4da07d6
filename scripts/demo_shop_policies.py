"""Shop facts and the policy/FAQ documents of the demo shop, for `make_demo_shop.py`.

Every figure lives once in `SHOP` or `FACTS`; the policies, the profile's placeholders and the service
dialogs all render from these, so they cannot disagree.
"""

from __future__ import annotations

SHOP = {
    "name": "Trailhead & Hearth",
    "legal_name": "Trailhead & Hearth Supply Co.",
    "website": "https://www.trailheadhearth.example",
    "domain": "trailheadhearth.example",
    "phone": "+1 (802) 555-0143",
    "email": "help@trailheadhearth.example",
    "privacy_email": "privacy@trailheadhearth.example",
    "support_hours": "Monday to Friday 8 am to 8 pm ET, Saturday and Sunday 9 am to 5 pm ET",
    "store_location": "214 Mill Street, Burlington, VT 05401, USA",
    "store_hours": "Monday to Saturday 10 am to 7 pm, Sunday 11 am to 5 pm ET",
    "currency": "USD",
    "timezone": "America/New_York",
}

FACTS = {
    "free_shipping_threshold": 75,
    "standard_cost": 6.95,
    "standard_days": "3 to 5 business days",
    "expedited_cost": 14.95,
    "expedited_days": "2 business days",
    "overnight_cost": 29.95,
    "overnight_cutoff": "1 pm ET",
    "processing": "1 business day",
    "carriers": ["UPS", "USPS", "FedEx"],
    "intl_countries": "Canada, the United Kingdom, the European Union countries, Australia and New Zealand",
    "intl_cost": 24.95,
    "intl_free_threshold": 250,
    "intl_days": "7 to 14 business days",
    "return_days": 30,
    "return_label_fee": 5.95,
    "refund_processing": "2 business days",
    "refund_bank_days": "5 to 10 business days",
    "price_match_days": 14,
    "default_warranty_years": 2,
    "reset_link_minutes": 60,
    "lockout_attempts": 5,
    "lockout_minutes": 15,
    "damage_report_days": 7,
    "email_reply": "within 24 hours",
    "agent_reply_open": "within 1 business hour",
    "agent_reply_closed": "within 24 hours",
    "klarna_min": 50,
    "klarna_max": 1000,
    "gift_card_min": 25,
    "gift_card_max": 500,
    "points_per_dollar": 1,
    "points_reward": "200 points = $10 off",
    "data_deletion_days": 30,
}


def policies() -> dict[str, str]:
    """File name -> Markdown text of every policy document."""
    s, f = SHOP, FACTS
    carriers = ", ".join(f["carriers"])
    docs = {
        "shipping.md": f"""# Shipping and Delivery

We ship to every address in the 50 US states, Washington DC, Puerto Rico and APO/FPO/DPO military addresses.
Orders placed before {f['overnight_cutoff']} on a business day leave our Burlington, Vermont warehouse the same
day; all other orders are processed within {f['processing']}.

## Delivery options (United States)

| Option | Delivery time after dispatch | Cost |
|---|---|---|
| Standard | {f['standard_days']} | ${f['standard_cost']:.2f}, free on orders of ${f['free_shipping_threshold']} or more |
| Expedited | {f['expedited_days']} | ${f['expedited_cost']:.2f} |
| Overnight | next business day (order by {f['overnight_cutoff']}) | ${f['overnight_cost']:.2f} |

The free-shipping threshold applies to the merchandise total after discounts and before tax; gift cards do not
count towards it. Overnight delivery is not available to PO boxes, Alaska, Hawaii or Puerto Rico.

## Carriers and tracking

We ship with {carriers}. As soon as your order ships we email you the carrier and tracking number, and you
can also see them under **Your Account > Order History**. Tracking can take up to 24 hours to show the first
scan. Business days are Monday to Friday, excluding US federal holidays.

## Estimated delivery dates

Every order shows an estimated delivery date at checkout and in your order history. It is the dispatch day
plus the delivery time of the option you chose. If a parcel is more than 3 business days past its estimated
delivery date, contact us and we will open a trace with the carrier and, if it is lost, send a replacement
or refund it.
""",
        "international-shipping.md": f"""# International Shipping

We ship to {f['intl_countries']}.

- **Cost:** a flat ${f['intl_cost']:.2f} per order, free on orders of ${f['intl_free_threshold']} or more.
- **Delivery time:** {f['intl_days']} after dispatch, with tracking.
- **Duties and taxes:** prices are in USD and do not include import duties, VAT or GST. They are charged by
  the carrier or customs on delivery and are the customer's responsibility. Refused parcels are refunded
  minus the original international shipping cost and the return freight we are charged.
- **Returns from abroad:** the {f['return_days']}-day return window applies; international customers pay the
  return shipping and we do not provide prepaid labels outside the US.

Expedited and overnight options are only available for US addresses.
""",
        "returns.md": f"""# Returns

You can return most items within **{f['return_days']} days of delivery** for a refund or an exchange.

## Conditions

- Items must be unused, clean and in their original packaging with tags attached. Footwear must only have been
  tried on indoors (clean soles).
- Not returnable: gift cards, and bedding or pillows whose hygiene seal has been opened, unless they are
  faulty.
- Items that are faulty or damaged in transit can always be returned, and the return is free.

## How to return

1. Sign in and open **Your Account > Order History**, choose the order and select **Return items**. Guests can
   use the order number and email address on the returns page.
2. Choose a reason and whether you want a refund or an exchange.
3. Print the prepaid UPS label (US only) and drop the parcel at any UPS location within 14 days of
   requesting the return.

Return shipping is free for exchanges and for faulty items. For other refunds, a ${f['return_label_fee']:.2f}
label fee is deducted from the refund. You can also return items free of charge at our Burlington store
({s['store_location']}).

A returned order shows the status **returned** once the warehouse has checked it in. Refund timing is described
in the Refunds policy.
""",
        "refunds.md": f"""# Refunds

- We inspect returns and issue the refund within **{f['refund_processing']}** of the parcel arriving at our
  warehouse. You receive an email when it is issued.
- Refunds go back to the original payment method. Card refunds take **{f['refund_bank_days']}** to appear on
  your statement, depending on your bank; PayPal refunds usually appear within 1 to 3 business days; gift-card
  payments are refunded to a new e-gift card straight away.
- The refund covers the price you paid for the returned items. Original shipping costs are refunded only if the
  item was faulty, damaged in transit or we sent the wrong item.
- For returns that are not faulty, the ${f['return_label_fee']:.2f} return label fee is deducted (free if you
  drop the item at our Burlington store).
- Cancelled orders are refunded in full; because cards are only pre-authorised when you order, the hold is
  usually released within 3 business days.
- Orders paid with Klarna are refunded to Klarna, which adjusts your remaining instalments.

If your refund has not arrived after {f['refund_bank_days']} from our refund email, contact us with your order
number and we will send you the payment reference to show your bank.
""",
        "exchanges.md": f"""# Exchanges

Need a different size or colour? Exchanges are free within **{f['return_days']} days of delivery**.

- Start the exchange under **Your Account > Order History > Return items** and choose **Exchange**. Pick the
  new size or colour of the same product; we reserve it for you as soon as you submit the request.
- Use the prepaid label (US only). We ship the replacement with standard shipping, free, as soon as the carrier
  scans your return, so you do not have to wait for it to reach us.
- One free exchange per item. To swap for a different product, return the item for a refund and place a new
  order.
- If the size or colour you want is out of stock, we refund the item instead (no label fee).

The same condition rules as for returns apply: unused, clean, tags attached.
""",
        "warranty.md": f"""# Warranty

Every product is covered against defects in materials and workmanship for the warranty period shown on its
product page (the "Warranty" line). Where no period is shown, the warranty is **{f['default_warranty_years']}
years** from the delivery date. Cast-iron cookware carries a 25-year warranty.

- **Covered:** failed seams, zips, buckles and stitching, delaminating soles, leaking waterproof membranes,
  faulty electronics and batteries in lights, broken tent poles from a manufacturing fault.
- **Not covered:** normal wear and tear, damage from accidents, misuse, improper care or alterations, and
  cosmetic changes that do not affect function.
- **How to claim:** email {s['email']} or use the Contact Us form with your order number, a description and
  photos of the defect. We answer warranty claims within 2 business days. Approved claims are repaired,
  replaced with the same or an equivalent product, or refunded; we pay shipping both ways within the US.

A warranty claim does not need the original packaging. You need proof of purchase: your order number, or the
receipt for purchases in our store.
""",
        "payment-methods.md": f"""# Payment Methods

We accept:

- Visa, Mastercard, American Express and Discover credit and debit cards
- PayPal
- Apple Pay and Google Pay
- Klarna (pay in 4 interest-free instalments) for orders from ${f['klarna_min']} to ${f['klarna_max']:,}, US only
- Trailhead & Hearth gift cards, which can be combined with one other payment method

All prices are in US dollars (USD). We do not accept cash on delivery, cheques or cryptocurrency.

## When you are charged

Your card is pre-authorised when you place the order and charged when the order ships. If an order ships in
parts, each shipment is charged separately. Sales tax is calculated at checkout from the delivery address.

## Payment problems

If a payment is declined, check the billing address matches the one your bank holds, then try again or use
another method. We never see or store your full card number; payments are processed by our PCI DSS compliant
payment provider. If you were charged twice, the second charge is almost always a pre-authorisation that drops
off within 3 business days; if it is still there after that, contact us with your order number.
""",
        "account-and-password.md": f"""# Your Account and Password

## Creating an account

Select **Sign in > Create account** on {s['domain']}, enter your name, email address and a password of at least
10 characters, and confirm your email from the link we send. You can also check out as a guest; guests can
create an account later with the same email to see past orders.

## Forgotten password

Select **Sign in > Forgot password** and enter your email address. We email a reset link that is valid for
**{f['reset_link_minutes']} minutes** and can be used once. If it does not arrive within 10 minutes, check your
spam folder or request a new one.

After **{f['lockout_attempts']} failed sign-in attempts** the account is locked for **{f['lockout_minutes']}
minutes** to protect it. Our support team will never ask for your password.

## Updating your details

Change your name, email, password, saved addresses and newsletter preferences under **Your Account > Account
Settings**. Saved cards can be removed but not edited; add the card again instead.

## Closing your account

Ask us to close your account by email or from **Account Settings > Close account**. Order records are kept as
described in the Privacy Policy.
""",
        "privacy.md": f"""# Privacy Policy

{s['legal_name']} ("we") collects only what we need to run the shop:

- **Account and order data:** name, email, phone, delivery and billing addresses, order history.
- **Payment data:** handled by our payment provider; we store only the card type and last four digits.
- **Browsing data on our site:** the products you view, search for and add to your cart, used to show
  recommendations. You can turn personalised recommendations off in **Account Settings > Privacy**.
- **Conversations with our assistant and support team:** kept for 12 months to answer follow-ups and improve
  the service, then deleted.

We never sell personal data. We share it only with the service providers needed to deliver your order
(carriers, payment provider, email provider) and where the law requires it.

Order and invoice records are kept for 7 years for tax purposes. You can ask for a copy of your data, a
correction or its deletion by emailing {s['privacy_email']}; we answer within {f['data_deletion_days']} days.
Marketing emails contain an unsubscribe link in every message.
""",
        "price-match.md": f"""# Price Match

- **Our own price drops:** if the price of an item you bought from us drops within **{f['price_match_days']} days**
  of your order, we refund the difference once per item. Contact us with your order number.
- **Competitor prices:** we match the price of an identical item (same brand, model, size and colour) that is in
  stock at a US authorised retailer's own website or store, at the time you ask. Send us a link before you
  order, or within {f['price_match_days']} days after.
- Not matched: marketplace sellers, auction sites, clearance, open-box or refurbished items, membership-only
  prices, bundles, coupons and prices that include a gift card or rebate.
- Price match cannot be combined with other promotions on the same item.
""",
        "order-changes-and-cancellation.md": f"""# Changing or Cancelling an Order

You can change or cancel an order **while its status is "placed"**, that is before it ships. Orders are
usually packed within {f['processing']}, so act quickly.

- **Cancel:** open **Your Account > Order History**, select the order and choose **Cancel order**, or ask our
  assistant or support team. A cancelled order is refunded in full (see Refunds).
- **Change the delivery address, size, colour or quantity:** possible while the order is "placed". Ask our
  assistant or support team, or edit it in your order history. Changing to a more expensive option charges
  the difference.
- **Once the order has shipped** it can no longer be cancelled or changed. You can refuse the delivery or
  return the items within {f['return_days']} days of delivery (see Returns). The carrier may allow you to
  redirect the parcel from their tracking page.
- Delivered, cancelled and returned orders cannot be changed.
""",
        "gift-cards.md": f"""# Gift Cards

- E-gift cards from ${f['gift_card_min']} to ${f['gift_card_max']} are emailed to the recipient on the date you
  choose. Plastic gift cards are available in our Burlington store.
- Gift cards never expire and have no fees.
- Redeem a gift card at checkout by entering its 16-digit number and PIN; you can use up to 3 gift cards on one
  order, plus one other payment method.
- Check the balance on the gift-card page of {s['domain']} or at the store.
- Gift cards cannot be exchanged for cash, except where the law requires it, and cannot be used to buy other
  gift cards. Gift cards themselves cannot be returned.
- A lost or stolen e-gift card can be replaced if you give us the order number it was bought with, as long as
  the balance has not been spent.
""",
        "contact-and-support-hours.md": f"""# Contact Us and Support Hours

Our customer support team is available **{s['support_hours']}**.

- **Phone:** {s['phone']} (during support hours)
- **Email:** {s['email']}: we reply {f['email_reply']}, 7 days a week
- **Live Chat:** the chat button at the bottom right of every page of {s['domain']}. Our assistant answers at any
  time; a person from the support team takes over during support hours.
- **Store:** {s['store_location']}, open {s['store_hours']}

Support is closed on Thanksgiving Day, Christmas Day and New Year's Day; email and the assistant still work.

Have your order number ready (it starts with SB-, for example SB-10001); it is in your confirmation email and
under **Your Account > Order History**.
""",
        "human-agent-handoff.md": f"""# Talking to a Person

Our online assistant answers questions about products, orders and policies at any time. You can ask for a
person whenever you like; just say "talk to a human" or "agent".

- The assistant creates a support ticket with a summary of the conversation, so you do not have to repeat
  yourself, and gives you the ticket number.
- During support hours ({s['support_hours']}) a member of our team replies **{f['agent_reply_open']}**. Outside
  those hours we reply **{f['agent_reply_closed']}**, by email.
- The assistant hands over on its own when it cannot help: payment disputes, damaged or missing items, warranty
  claims, complaints, and anything it is not sure about.
- You can also call {s['phone']} or email {s['email']}.
""",
        "damaged-or-missing-items.md": f"""# Damaged, Faulty or Missing Items

If a parcel arrives damaged, an item is faulty, or something is missing or wrong, tell us within
**{f['damage_report_days']} days of delivery**.

- Send your order number and photos of the item and the packaging to {s['email']}, or ask our assistant to
  connect you with the support team.
- We send a replacement free of charge as soon as we have confirmed the problem, or refund the item including
  its shipping cost if you prefer or if it is out of stock.
- You do not pay to return a damaged, faulty or wrong item; we email a prepaid label.
- If tracking shows a parcel as delivered but you cannot find it, check with neighbours and your building's
  mailroom, then contact us: we open a claim with the carrier and resolve it within 5 business days.

Faults that appear later are covered by the warranty.
""",
        "rewards.md": f"""# Basecamp Rewards

Basecamp Rewards is our free loyalty programme. Join by creating an account.

- Earn **{f['points_per_dollar']} point for every $1** spent on merchandise (not on shipping, tax or gift cards).
- Redeem at checkout: **{f['points_reward']}**. Points can be combined with a gift card but not with price
  matching.
- Points appear when your order is delivered and are removed if the item is returned.
- Points expire after 12 months without a purchase.
- In their birthday month, members get free standard shipping on US orders of any amount.
""",
        "sizing-guide.md": """# Sizing Guide

## Footwear

Footwear is sold in US sizes: men's 7 to 13 and women's 5 to 11 (whole sizes). Unisex styles follow men's
sizes; women should choose 1.5 sizes smaller than their usual women's size. Hiking boots are sized to leave
about a thumb's width in front of the toes with hiking socks on. If you are between sizes, choose the larger.

## Apparel

| Size | Chest (cm) men | Bust (cm) women |
|---|---|---|
| XS | - | 80-84 |
| S | 88-94 | 85-89 |
| M | 95-101 | 90-95 |
| L | 102-108 | 96-102 |
| XL | 109-116 | 103-109 |
| XXL | 117-124 | - |

Rain jackets and insulated jackets have room for a base layer and a fleece underneath.

## Packs, sleeping bags and bedding

- Backpacks of 45 litres and more come in torso sizes S/M (38-46 cm) and M/L (46-53 cm).
- Sleeping bags: Regular fits people up to 183 cm, Long up to 198 cm.
- Bedding sizes are US: Twin, Full, Queen and King.
""",
    }
    return docs
