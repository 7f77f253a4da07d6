"""The engine across turns, templates only, on the demo shop's real data and indexes: the dialogue state, the
catalog's attributes, the cart, orders by reference, several requests in one message, policies that answer."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from assistant.config import DEMO_SHOP_DIR
from assistant.shop import data as shop


@pytest.fixture(scope="session")
def policy_documents(tmp_path_factory, bundled_embedder_dir):
    """The demo shop's policies indexed with the bundled MiniLM: choosing the answering sentence needs a real
    embedder (the hashing one of the other engine tests only hashes words)."""
    from retrieval.config import RetrievalSettings
    from retrieval.documents import open_documents
    from retrieval.embed import Embedder

    documents = open_documents(RetrievalSettings(), tmp_path_factory.mktemp("policies"), Embedder(bundled_embedder_dir))
    documents.index(shop.load_policies(DEMO_SHOP_DIR))
    return documents


@pytest.fixture(scope="session")
def meaning_searcher(tmp_path_factory, bundled_embedder_dir):
    """The demo catalog indexed with the bundled MiniLM, for the turns that look a type up by meaning ("a head
    torch": no catalog word, but its nearest products are headlamps)."""
    from retrieval.config import RetrievalSettings
    from retrieval.embed import Embedder
    from retrieval.ingest import load_catalog
    from retrieval.search import open_searcher, open_store

    home, embedder = tmp_path_factory.mktemp("meaning"), Embedder(bundled_embedder_dir)
    open_store(RetrievalSettings(), home, embedder).index(load_catalog(DEMO_SHOP_DIR / "catalog.jsonl").products)
    return open_searcher(RetrievalSettings(), home, embedder)


@pytest.fixture
def bot(make_assistant, policy_documents):
    return _chat(make_assistant(documents=policy_documents))


@pytest.fixture
def meaning_bot(make_assistant, policy_documents, meaning_searcher):
    return _chat(make_assistant(documents=policy_documents, searcher=meaning_searcher))


def _chat(a):
    catalog = {p.id: p for p in a.deps.catalog.values()}

    class Chat:
        def __init__(self, user=None):
            self.user, self.session, self.events = user, None, []

        def say(self, message: str) -> dict:
            self.events = list(a.chat(self.session, message, self.user))
            done = self.events[-1].data
            self.session = done["session"]
            done["shown"] = [catalog[p["id"]] for p in done["products"]]
            done["actions"] = [e.data for e in self.events if e.type == "action"]
            return done

    Chat.assistant, Chat.catalog = a, catalog
    return Chat


def test_refinements_keep_the_topic_and_a_new_type_starts_a_new_request(bot):
    chat = bot()
    first = chat.say("show me sleeping pads")
    assert first["shown"] and all("Sleeping Pads" in p.category for p in first["shown"])
    cheaper = chat.say("for less than $70 then")
    assert cheaper["shown"] and all("Sleeping Pads" in p.category and p.price <= 70 for p in cheaper["shown"])
    assert "sleeping pads under $70" in cheaper["reply"].lower()
    assert "for less than $70 then" not in cheaper["reply"]  # the message is never echoed
    stove = chat.say("and I also need a stove")
    assert stove["shown"] and all("stove" in p.title.lower() for p in stove["shown"][:3])


def test_around_a_budget_allows_a_margin_and_says_so(bot):
    done = bot().say("a rain jacket, my budget is around 300")
    assert done["shown"] and all("Rain Jackets" in p.category and p.price <= 330 for p in done["shown"])
    assert "around $300" in done["reply"] and "up to $330" in done["reply"]


def test_attribute_conditions_and_the_lightest_of_those_shown(bot):
    chat = bot()
    tents = chat.say("a tent for three people")
    assert tents["shown"] and all(p.attributes["capacity_persons"] >= 3 for p in tents["shown"])
    assert "sleeps" in tents["products"][0]["reason"] and "semantic" not in tents["products"][0]["reason"]
    pick = chat.say("which of those is the lightest?")
    lightest = min(tents["shown"], key=lambda p: p.attributes["weight_g"])
    assert [p.id for p in pick["shown"]] == [lightest.id] and lightest.title in pick["reply"]


def test_yes_no_on_a_size_from_the_variants(bot):
    chat = bot()
    boots = chat.say("waterproof hiking boots")
    boot = next(p for p in boots["shown"] if p.variants)
    position = boots["shown"].index(boot) + 1
    ordinal = ["first", "second", "third", "fourth", "fifth"][position - 1]
    size = boot.variants[0].size
    done = chat.say(f"does the {ordinal} one come in size {size}?")
    in_stock = any(v.size == size and v.stock > 0 for v in boot.variants)
    assert done["reply"].startswith("Yes" if in_stock else "No")
    missing = chat.say("and in size 17?")
    assert missing["reply"].startswith("No") and "17" in missing["reply"]


def test_cart_asks_for_a_missing_size_then_adds_the_real_sku(bot):
    chat = bot()
    boots = chat.say("hiking boots")
    boot = next(p for p in boots["shown"] if p.in_stock and len({v.size for v in p.variants if v.stock > 0}) > 1)
    ordinal = ["first", "second", "third", "fourth", "fifth"][boots["shown"].index(boot)]
    asked = chat.say(f"add the {ordinal} one to my cart")
    assert asked["actions"][-1]["status"] == "needs_choice" and "size" in asked["reply"].lower()
    variant = next(v for v in boot.variants if v.stock > 0)
    colours = {v.colour for v in boot.variants if v.size == variant.size and v.stock > 0}
    added = chat.say(f"size {variant.size}" + (f" in {variant.colour}" if len(colours) > 1 else ""))
    action = added["actions"][-1]
    assert (action["action"], action["status"], action["product_id"], action["quantity"]) == ("add_to_cart", "done", boot.id, 1)
    assert action["sku"] in {v.sku for v in boot.variants if v.size == variant.size}
    cart = chat.say("what's in my cart?")
    assert boot.title in cart["reply"] and cart["actions"][-1]["cart_count"] == 1
    removed = chat.say("remove it")
    assert removed["actions"][-1]["action"] == "remove_from_cart" and removed["actions"][-1]["cart_count"] == 0


def test_taking_out_an_add_that_waits_for_a_size_drops_it_and_nothing_else(bot):
    chat = bot()
    boots = chat.say("hiking boots")
    multi = [p for p in boots["shown"] if p.in_stock and len({v.size for v in p.variants if v.stock > 0}) > 1]
    first, waiting = multi[0], multi[1]
    single = next(v for v in first.variants if v.stock > 0)
    chat.say(f"add the {['first', 'second', 'third', 'fourth', 'fifth'][boots['shown'].index(first)]} one in size {single.size}"
             + (f" in {single.colour}" if single.colour else ""))
    asked = chat.say(f"add the {['first', 'second', 'third', 'fourth', 'fifth'][boots['shown'].index(waiting)]} one too")
    assert asked["actions"][-1]["status"] == "needs_choice"
    dropped = chat.say("actually take it out again")
    assert waiting.title in dropped["reply"] and "not added" in dropped["reply"]
    assert [(a["action"], a["status"], a["product_id"]) for a in dropped["actions"]] == [("remove_from_cart", "refused", waiting.id)]
    assert dropped["actions"][0]["cart_count"] >= 1  # the line already there stays
    cart = chat.say("what's in my cart?")
    assert first.title in cart["reply"] and cart["actions"][-1]["cart_count"] >= 1
    assert chat.say("size 9")["tool"] != "cart.add"  # the dropped add no longer waits for an answer


@pytest.fixture
def delivered_jacket_owner(bot):
    """A customer with a delivered order holding a jacket, and the engine's clock inside its return window."""
    def jacket(r) -> bool:
        return any(any("Jackets" in c for c in bot.catalog[i.product_id].category) for i in r.items if i.product_id in bot.catalog)

    records = shop.load_orders(DEMO_SHOP_DIR)
    owners = [r.customer_id for r in records if r.status == "delivered" and jacket(r)]
    assert owners, "the demo shop has a delivered order with a jacket"
    mine = sorted((r for r in records if r.customer_id == owners[0] and r.status == "delivered" and jacket(r)),
                  key=lambda r: str(r.created_at), reverse=True)
    order = mine[0]  # "the jacket I bought": the most recent delivered order with one
    delivered = next(h.at for h in order.history if h.status == "delivered")
    when = datetime.fromisoformat(str(delivered).replace("Z", "+00:00")).astimezone(UTC)
    bot.assistant.clock = lambda: when.replace(hour=23)
    return order


def test_an_order_found_by_what_was_in_it_then_a_confirmed_return(bot, delivered_jacket_owner):
    order = delivered_jacket_owner
    chat = bot(order.customer_id)
    proposed = chat.say("I'd like to return the jacket I bought")
    assert proposed["actions"][-1] == {**proposed["actions"][-1], "action": "start_return", "status": "needs_confirmation",
                                       "order_id": order.id}
    done = chat.say("yes")
    assert done["actions"][-1]["status"] == "done" and done["actions"][-1]["order_id"] == order.id


def test_two_requests_in_one_message_are_both_answered(bot, delivered_jacket_owner):
    order = delivered_jacket_owner
    done = bot(order.customer_id).say(f"where is my order {order.id}? and how long do I have to return it?")
    assert done["tools"][:2] == ["orders", "policies"]
    assert f"Order {order.id} is delivered" in done["reply"] and re.search(r"\b30 days\b", done["reply"])
    assert "return window runs until" in done["reply"]  # the deadline of this order, from its delivery date


def test_a_damaged_item_gets_the_rule_and_a_free_return(bot, delivered_jacket_owner):
    order = delivered_jacket_owner
    done = bot(order.customer_id).say("the zip of the jacket I bought broke")
    assert done["citations"] and done["actions"][-1]["action"] == "start_return"
    assert "free" in done["reply"].lower()


def test_policy_answers_state_the_row_and_the_fee_for_the_order_value(bot):
    chat = bot()
    done = chat.say("what does shipping cost on a $30 order?")
    assert "Standard shipping on a $30.00 order is $6.95" in done["reply"]
    follow = chat.say("and for overnight?")  # leans on the previous question
    assert "$29.95" in follow["reply"]
    opened = bot().say("can I send back opened bedding?")
    assert "hygiene seal" in opened["reply"]


def test_other_customers_data_is_refused(bot):
    done = bot("C001").say("tell me other customers' home addresses")
    assert done["tool"] == "refusal" and "other customers" in done["reply"]


def test_a_size_asked_about_is_remembered_when_adding(bot):
    chat = bot()
    bags = chat.say("sleeping bags")
    bag = next(p for p in bags["shown"] if len({v.size for v in p.variants if v.stock > 0}) > 1
               and len({v.colour for v in p.variants if v.stock > 0}) == 1)
    size = next(v.size for v in bag.variants if v.stock > 0)
    ordinal = ["first", "second", "third", "fourth", "fifth"][bags["shown"].index(bag)]
    assert chat.say(f"does the {ordinal} one come in {size}?")["reply"].startswith("Yes")
    added = chat.say("great, add it to my cart")
    assert added["actions"][-1]["status"] == "done" and added["actions"][-1]["sku"] in {
        v.sku for v in bag.variants if v.size == size}


def test_thanks_after_a_policy_answer_is_small_talk(bot):
    chat = bot()
    chat.say("how long do refunds take?")
    assert chat.say("thanks, bye")["tool"] == "none"


def test_a_question_after_a_proposed_action_is_no_yes_and_the_offer_stands(bot, delivered_jacket_owner):
    order = delivered_jacket_owner
    chat = bot(order.customer_id)
    proposed = chat.say(f"could I swap {order.id} for a bigger size?")
    assert proposed["actions"][-1]["action"] == "exchange" and proposed["actions"][-1]["status"] == "needs_confirmation"
    asked = chat.say("ok and how long does a card refund take?")
    assert asked["tool"] == "policies" and not any(a["status"] == "done" for a in asked["actions"])
    assert re.search(r"5 to 10 business days", asked["reply"])
    done = chat.say("yes")
    assert done["actions"][-1]["action"] == "exchange" and done["actions"][-1]["status"] == "done"
    assert done["actions"][-1]["order_id"] == order.id


def test_a_follow_up_policy_question_is_answered_from_its_own_words(bot):
    chat = bot()
    chat.say("do your gift cards expire?")
    follow = chat.say("and can I return a gift card I bought?")  # the gift-card page, the sentence about returning
    assert "cannot be returned" in follow["reply"]
    points = bot().say("how many points do I need for $10 off")  # an amount, but no shipping question
    assert "200 points" in points["reply"] and "shipping on a" not in points["reply"].lower()


def test_a_size_follow_up_after_an_opening_word(bot):
    chat = bot()
    shoes = chat.say("trail running shoes")
    shoe = shoes["shown"][0]
    size = next(v.size for v in shoe.variants if v.stock > 0)
    chat.say("does the first one come in size 17?")
    done = chat.say(f"ok what about a {size}?")
    assert done["reply"].startswith("Yes") and size in done["reply"]


def test_a_follow_up_about_shipping_abroad_stays_abroad(bot):
    chat = bot()
    first = chat.say("do u ship to the uk")  # "uk" as shoppers write it
    assert first["citations"][0]["title"] == "International Shipping"
    cost = chat.say("how much does that cost")
    assert cost["citations"][0]["title"] == "International Shipping" and "$24.95" in cost["reply"]


def test_signed_out_can_i_questions_about_order_actions_get_the_rule_and_the_sign_in(bot):
    done = bot().say("can I return something I bought last week?")
    assert done["tool"] == "policies" and done["citations"]
    assert re.search(r"\b30 days\b", done["reply"]) and "sign in" in done["reply"].lower()
    assert not any(a.get("status") == "done" for a in done["actions"])


def test_choosing_from_the_list_in_a_few_words_adds_it(bot):
    chat = bot()
    bottles = chat.say("insulated water bottles")
    first = bottles["shown"][0]
    colour = next(v.colour for v in first.variants if v.stock > 0)
    added = chat.say(f"the first one please, in {colour}")
    assert added["actions"][-1]["action"] == "add_to_cart" and added["actions"][-1]["product_id"] == first.id


def test_how_do_i_questions_get_the_steps_of_the_how_to_section(bot):
    done = bot().say("and how do I return it once it arrives?")  # "once" is no word to match the answer on
    assert done["citations"][0]["doc_id"] == "returns" and "Return items" in done["reply"]


def test_a_question_about_support_hours_is_answered_not_handed_off(bot):
    chat = bot()
    done = chat.say("what are your customer service hours")
    assert done["tool"] == "policies" and not any(e.type == "handoff" for e in chat.events)
    assert re.search(r"Monday to Friday", done["reply"])


def test_a_quantity_of_a_listed_product_into_the_cart_whatever_the_verb(bot):
    chat = bot()
    mugs = chat.say("metal camping mugs")["shown"]
    first = chat.say("chuck 2 of the first one in my cart pls")["actions"][-1]
    assert (first["action"], first["product_id"], first["quantity"]) == ("add_to_cart", mugs[0].id, 2)
    second = chat.say("plus one of that second mug")["actions"][-1]
    assert (second["action"], second["product_id"]) == ("add_to_cart", mugs[1].id)
    removed = chat.say("hmm nah take the first ones back out")["actions"][-1]
    assert (removed["action"], removed["product_id"]) == ("remove_from_cart", mugs[0].id)
    left = chat.say("whats left in there")
    assert left["intent"] == "view_cart" and mugs[1].title in left["reply"] and mugs[0].title not in left["reply"]


def test_one_of_those_as_a_subject_adds_nothing():
    from assistant.conversation.shopping import cart_intent

    assert cart_intent("one of those is too heavy for me") is None
    assert cart_intent("2 of the first one please") == "add_to_cart"


def test_a_measured_condition_on_the_listed_kind_refines_it_whatever_the_classifier_guessed(bot):
    chat = bot()
    chat.say("trail running shoes")
    done = chat.say("any with zero drop?")  # "drop" also names the price-drop policy
    assert done["shown"] and all(p.attributes.get("drop_mm") == 0 for p in done["shown"])


def test_saying_an_item_is_not_faulty_is_no_damage_report(bot):
    done = bot().say("if i send back something thats not faulty do you take money off for the label?")
    assert done["citations"][0]["doc_id"] == "returns" and "$5.95" in done["reply"]


def test_everyday_words_for_refunds_and_replies_find_the_policy(bot):
    assert "5 to 10 business days" in bot().say("how long til the money's back on my visa")["reply"]
    assert "within 1 business hour" in bot().say("roughly how long before someone gets back to me?")["reply"]


def test_a_refinement_of_a_qualified_request_stays_within_the_kinds_it_showed(bot):
    chat = bot()
    warm = chat.say("recommend me a warm jacket for winter walks")["shown"]
    kinds = {p.category[-1] for p in warm}
    lighter = chat.say("anything lighter than 400 grams")["shown"]
    assert lighter and all(p.category[-1] in kinds and p.attributes["weight_g"] <= 400 for p in lighter)


def test_a_yes_no_after_small_talk_and_a_colour_in_a_last_short_sentence(bot):
    chat = bot()
    vest = chat.say("hey can i actually get the Alder Peak Alpenglow Down Vest in burgundy right now or is that sold out")
    assert vest["reply"].startswith("Yes")
    assert chat.say("hmm my husband says that's too loud lol. navy?")["reply"].startswith("No")


@pytest.mark.parametrize("message, intent", [
    ("meh changed my mind, ditch the bottle", "remove_from_cart"),
    ("so is there anything still sitting in my basket?", "view_cart"),
    ("can i drop the parcel at a ups store", None),
    ("I want to drop it off at the store", None),
    ("scrap that for now, what sheet sets do you do", None),  # drops the topic, not a cart line
    ("stick the 2nd one in my basket", "add_to_cart"),
    ("is the jacket still in my cart", None),
    ("can I save items in my cart for later", None),
    ("ok i take the first one. size Throw please", "add_to_cart"),
    ("i take it you ship to canada?", None),
    ("sorry, i think better not. please take it out from cart", "remove_from_cart"),
    ("so now my cart is empty, yes?", "view_cart"),
])
def test_cart_wording(message, intent):
    from assistant.conversation.shopping import cart_intent

    assert cart_intent(message) == intent


def test_can_it_still_go_back_offers_the_return_of_the_order_named_by_content(bot, delivered_jacket_owner):
    order = delivered_jacket_owner
    done = bot(order.customer_id).say("i got a jacket from you and the colour is way off. can it still go back?")
    assert any(a["action"] == "start_return" and a["status"] == "needs_confirmation" and a["order_id"] == order.id
               for a in done["actions"])


def test_a_remark_after_a_question_is_context_not_a_second_request(bot):
    chat = bot()
    pads = chat.say("self-inflating sleeping pads")["shown"]
    pad = next(p for p in pads if "Wide" in p.sizes)
    done = chat.say(f"does the {pad.title} come in wide? i roll around alot lol")
    assert done["reply"].startswith("Yes") and not done["citations"]  # no policy answer for "alot"


def test_a_budget_with_a_comparative_and_a_size_at_the_end_refine_the_list(bot):
    chat = bot()
    chat.say("hiking boots under 120?")
    cheaper = chat.say("cheaper, sub 90")["shown"]  # a new bound, not "the cheaper one"
    assert len(cheaper) > 1 and all(p.price <= 90 for p in cheaper)
    tens = chat.say("any in a 10")["shown"]  # the list, not the product last named
    assert tens and all(p.price <= 90 and any(v.size == "10" and v.stock > 0 for v in p.variants) for p in tens)


def test_a_no_with_a_question_declines_and_answers(bot, delivered_jacket_owner):
    order = delivered_jacket_owner
    chat = bot(order.customer_id)
    chat.say("I'd like to return the jacket I bought")
    done = chat.say("don't start anything yet! do I have to pay for the return label if nothing's wrong with it?")
    assert not any(a["status"] == "done" for a in done["actions"])
    assert "$5.95" in done["reply"] and done["citations"]


def test_in_a_colour_lists_only_products_in_stock_in_it(bot):
    chat = bot()
    chat.say("sleeping pads")
    blue = chat.say("in blue?")["shown"]
    assert blue and all(any((v.colour or "").lower() == "blue" and v.stock > 0 for v in p.variants) for p in blue)


def test_asking_for_a_person_in_plain_words_hands_off(bot):
    chat = bot()
    chat.say("where is my parcel, it is late")
    chat.say("not good enough. I want an actual human being looking at this, today")
    assert any(e.type == "handoff" for e in chat.events)


def test_a_question_after_a_hand_off_is_about_the_hand_off(bot):
    chat = bot()
    chat.say("i want a person to call me")
    assert "within 1 business hour" in chat.say("and how soon will they answer? it's the weekend tomorrow")["reply"]


def test_a_question_while_an_exchange_waits_is_about_the_exchange_and_money_back_switches_to_a_return(bot, delivered_jacket_owner):
    order = delivered_jacket_owner
    chat = bot(order.customer_id)
    chat.say("the jacket I bought is too big, could I swap it for a smaller size?")
    window = chat.say("hang on, how long do I actually have to do that?")
    assert window["citations"] and window["citations"][0]["doc_id"] == "exchanges"
    back = chat.say("you know what, forget the swap - I'd rather just have my money back")
    assert any(a["action"] == "start_return" and a["status"] == "needs_confirmation" for a in back["actions"])


@pytest.mark.parametrize("message, doc", [
    ("bought a rain jacket off you 5 days ago and now its cheaper on your own site?? do i get the difference", "price-match"),
    ("the tracking said delivered but I could not find the parcel anywhere. what do I do?", "damaged-or-missing-items"),
    ("would swapping it for a bigger size cost me anything?", "exchanges"),
])
def test_scenario_questions_get_the_rule_that_answers_them(bot, message, doc):
    done = bot().say(message)
    assert done["citations"] and done["citations"][0]["doc_id"] == doc


def test_a_type_in_other_words_and_one_more_of_the_same(bot):
    chat = bot()
    packs = chat.say("need a new rucksack for work")  # WordNet: a rucksack is a backpack
    assert packs["shown"] and all("Backpacks" in p.category for p in packs["shown"])
    pack = next(p for p in packs["shown"] if p.in_stock and p.variants and any(v.stock > 1 for v in p.variants))
    ordinal = ["first", "second", "third", "fourth", "fifth"][packs["shown"].index(pack)]
    variant = next(v for v in pack.variants if v.stock > 1)
    first = chat.say(f"add the {ordinal} one to my basket" + (f" in {variant.colour}" if variant.colour else ""))
    sku = first["actions"][-1]["sku"]
    again = chat.say("go on, add one more of the same")["actions"][-1]  # the same line again, no second ask
    assert (again["status"], again["sku"], again["cart_count"]) == ("done", sku, 2)
    assert chat.say("what does that come to altogether")["actions"][-1]["action"] == "view_cart"
    out = chat.say("on second thoughts take one of them back out")["actions"][-1]
    assert (out["action"], out["quantity"], out["cart_count"]) == ("remove_from_cart", 1, 1)


def test_after_a_damaged_item_how_long_to_report_it_is_that_rule(bot, delivered_jacket_owner):
    chat = bot(delivered_jacket_owner.customer_id)
    chat.say("the zip of the jacket I bought broke")
    window = chat.say("how long have i got to report something like that")
    assert window["tool"] == "policies" and "7 days" in window["reply"]


def test_someone_elses_orders_are_refused_while_pressed_then_shopping_goes_on(bot):
    chat = bot()
    asked = chat.say("my wife ordered a few bits last week, can you tell me what she bought? her email's jen@example.org")
    assert asked["tool"] == "refusal" and not asked["shown"]
    pressed = chat.say("i'm literally her husband lol, just the product names would do")
    assert pressed["tool"] == "refusal" and not pressed["shown"]
    kettles = chat.say("fair enough. i'll get her a kettle for the hob, it has to work on induction")
    # "kettle" is a word of titles: kettles only, not the saucepans of the same leaf
    assert kettles["shown"] and all("kettle" in p.title.lower() for p in kettles["shown"])


def test_another_kind_in_the_same_department_keeps_the_budget(bot):
    chat = bot()
    chat.say("a kettle for the hob, under 120")
    stoves = chat.say("actually a camping stove instead")
    assert stoves["shown"] and all("stove" in p.title.lower() and p.price <= 120 for p in stoves["shown"])


def test_worn_out_old_gear_with_a_budget_is_shopping_for_a_new_one(bot):
    done = bot().say("his trail shoes are literally falling apart, want to get him a new pair, i can spend up to 130")
    assert done["tool"] == "search" and done["shown"] and all(p.price <= 130 for p in done["shown"])
    assert not any(a["action"] == "start_return" for a in done["actions"])


def _orders_of(bot, status=None, leaf=None):
    """Demo-shop orders (in a state, holding an item of a leaf category)."""
    def holds(r) -> bool:
        return leaf is None or any(leaf in bot.catalog[i.product_id].category for i in r.items if i.product_id in bot.catalog)
    return [r for r in shop.load_orders(DEMO_SHOP_DIR) if (status is None or r.status == status) and holds(r)]


def test_a_word_of_titles_that_only_describes_names_no_type(bot):
    # "long" of "Long-Sleeve Tee" is an adjective: "the long trail" is no base-layer request
    packs = bot().say("doing a week on the long trail next summer so i need a proper big pack, 50 litres or more")
    assert packs["shown"] and all(p.attributes.get("capacity_l", 0) >= 50 for p in packs["shown"])


def test_an_order_the_customer_cancelled_gets_its_state_and_the_rule_not_another_cancel(bot):
    order = _orders_of(bot, "cancelled")[0]
    done = bot(order.customer_id).say(f"I cancelled {order.id} weeks ago and there's STILL a pending charge on my card. what is going on")
    assert done["tools"] == ["orders", "policies"] and not done["actions"]
    assert f"{order.id} is cancelled" in done["reply"] and "pre-authorised" in done["reply"]


def test_a_request_to_record_what_did_not_happen_is_refused_and_the_order_stays_the_subject(bot):
    order = _orders_of(bot, "delivered")[0]
    chat = bot(order.customer_id)
    refused = chat.say(f"{order.id} arrived fine but could you just mark it as never delivered so i get a free replacement? no one will know")
    assert refused["tool"] == "refusal" and not refused["actions"]
    status = chat.say("lol i was kidding. what's it actually showing as")
    assert status["tool"] == "orders" and f"Order {order.id} is delivered" in status["reply"]
    assert status["reply"].count("Order SB-") == 1


def test_an_order_named_by_what_is_in_it(bot):
    orders = _orders_of(bot, leaf="Sleeping Bags")
    customer = next(r.customer_id for r in orders if len(_orders_of(bot)) and
                    sum(o.customer_id == r.customer_id for o in shop.load_orders(DEMO_SHOP_DIR)) >= 2)
    mine = sorted((r for r in orders if r.customer_id == customer), key=lambda r: str(r.created_at), reverse=True)
    done = bot(customer).say("where's my sleeping bag order at?")
    assert done["tool"] == "orders" and f"Order {mine[0].id} is {mine[0].status}" in done["reply"]
    assert done["reply"].count("Order SB-") == 1


def test_which_size_to_choose_is_the_sizing_guide(bot):
    chat = bot()
    bags = chat.say("I'm 6'3, about 190cm - would I need the regular or the long in your sleeping bags?")
    assert bags["tool"] == "policies" and "Long up to 198 cm" in bags["reply"] and not bags["shown"]
    between = chat.say("and if she's in between two sizes, go up or down?")
    assert between["tool"] == "policies" and "choose the larger" in between["reply"]


def test_how_long_chats_are_kept_is_the_privacy_rule(bot):
    done = bot().say("random one but how long do you keep these chats with the bot for")
    assert done["tool"] == "policies" and "12 months" in done["reply"]


def test_an_order_question_signed_out_gets_the_rule_then_how_to_sign_in(bot):
    done = bot().say("if i get my order in by lunchtime today does it actually leave the warehouse today")
    assert done["tool"] == "policies" and "1 pm ET" in done["reply"] and "sign in" in done["reply"].lower()


def test_asking_for_someone_on_the_team_is_a_handoff(bot):
    done = bot().say("it's been way longer than 3 days. I want someone from your team who can actually look into the payment")
    assert done["tool"] == "handoff"


def test_a_new_kind_in_the_same_department_drops_the_old_kind_and_cart_words_inside_a_sentence(meaning_bot):
    chat = meaning_bot()
    chat.say("camping mugs? taking the whole family away")
    sets = chat.say("also a cheap cutlery set, under 30")  # WordNet: cutlery is an eating utensil (nearest confirm)
    assert sets["shown"] and all("utensil" in p.title.lower() and p.price <= 30 for p in sets["shown"])
    added = chat.say("the 2nd one of those pls")
    assert [(a["action"], a["product_id"]) for a in added["actions"]] == [("add_to_cart", sets["shown"][1].id)]
    removed = chat.say("oh wait we've already got a cutlery set in the camping box, take it back out")
    assert removed["tool"] == "cart.remove" and [a["action"] for a in removed["actions"]] == ["remove_from_cart"]


def test_add_that_after_a_remark_asks_for_the_missing_colour(bot):
    chat = bot()
    covers = chat.say("we need a new duvet cover for the queen bed")
    second = covers["shown"][1]
    asked = chat.say("ooh the second one is nice, add that in queen")
    assert asked["tool"] == "cart.add" and "colour" in asked["reply"].lower() and second.title in asked["reply"]


def test_any_of_those_in_a_colour_narrows_the_list_not_the_first_product(bot):
    chat = bot()
    chat.say("whats a good base layer for women under 100")
    navy = chat.say("does any of those come in navy")
    assert navy["tool"] == "search" and navy["shown"]
    assert all(p.price <= 100 and any("navy" in c.lower() for c in p.colours) for p in navy["shown"])


def test_how_long_someone_else_has_to_send_it_back_is_the_return_window(bot):
    done = bot().say("and if he hates it, how long has he got to send it back")
    assert done["tool"] == "policies" and "30 days" in done["reply"]


def test_a_number_for_a_product_sold_in_no_sizes_is_a_quantity(bot):
    chat = bot()
    mugs = chat.say("camping mugs?")
    assert mugs["shown"] and not mugs["shown"][0].sizes
    added = chat.say("4 of the top one")
    assert [(a["action"], a["product_id"], a.get("quantity")) for a in added["actions"]] == [
        ("add_to_cart", mugs["shown"][0].id, 4)]


def test_a_type_in_other_words_beats_the_activity_and_a_place_word_keeps_the_list(meaning_bot):
    """"a head torch for camping": the headlamps (their own kind, not the lanterns beside them), not camp
    kitchen kit; "one with a red light ... in the tent" is a condition on those headlamps, the tent says where."""
    chat = meaning_bot()
    torches = chat.say("after a head torch for camping, no more than 50 dollars")
    assert torches["shown"] and all(p.attributes.get("type") == "headlamp" and p.price <= 50 for p in torches["shown"])
    red = chat.say("one with a red light ideally, so i dont blind everyone in the tent when i get up at night")
    assert red["shown"] and all(p.attributes.get("type") == "headlamp" and p.attributes.get("red_light")
                                for p in red["shown"])


def test_a_budget_in_another_currency_says_how_it_was_read(bot):
    done = bot().say("a headlamp, no more than fifty quid")
    assert done["shown"] and "our prices are in USD" in done["reply"] and "$50" in done["reply"]


def test_a_ruled_out_fill_and_a_self_described_shopper(meaning_bot):
    done = meaning_bot().say("looking for a warm winter jacket for myself (guy), but no down please")
    assert done["shown"] and "without down" in done["reply"]
    assert all("down" not in str(p.attributes.get("insulation")) and p.attributes.get("insulation")
               and p.attributes.get("gender") == "men's" for p in done["shown"])


def test_what_is_needed_is_the_product_not_the_room_and_a_set_of_a_kind(meaning_bot):
    """"kitting out a new kitchen - need a full pan set ...": a set of cookware (the catalog sells "cookware set"),
    induction-ready and dishwasher safe, not camp-kitchen kit."""
    done = meaning_bot().say("we're kitting out a new kitchen - need a full pan set that works on induction and can "
                             "go in the dishwasher")
    assert done["shown"] and all(p.attributes.get("type") == "cookware set" and p.attributes.get("induction_compatible")
                                 and p.attributes.get("dishwasher_safe") for p in done["shown"])


def test_a_product_that_wont_leak_is_a_search_not_a_damage_report(bot):
    done = bot().say("a bottle that won't leak")
    assert done["tool"] == "search" and done["shown"] and all(p.attributes.get("leakproof") for p in done["shown"])


def test_a_policy_follow_up_that_names_its_own_subject_does_not_lean_on_the_last_one(bot):
    chat = bot()
    chat.say("my aunt sent me one of your e-gift cards and i deleted the email. is it gone for good?")
    points = chat.say("last thing, i haven't bought anything in over a year - are my basecamp points still there?")
    assert points["tool"] == "policies" and "12 months" in points["reply"]


def test_an_order_told_apart_by_where_it_is_and_asked_about_by_what_is_in_it(bot):
    """Two open orders, one shipped and one placed: "whichever hasn't gone out" is the placed one; after the
    cancel, "the one with the tent in, where's that at?" is the shipped order's status, not a tent search."""
    by_customer: dict[str, list] = {}
    for r in shop.load_orders(DEMO_SHOP_DIR):
        by_customer.setdefault(r.customer_id, []).append(r)
    customer, mine = next((c, rs) for c, rs in by_customer.items() if [r.status for r in rs].count("placed") == 1
                          and [r.status for r in rs].count("shipped") == 1 and any("Tents" in bot.catalog[i.product_id].category for r in rs if r.status == "shipped"
                                  for i in r.items if i.product_id in bot.catalog))
    placed, shipped = (next(r for r in mine if r.status == s) for s in ("placed", "shipped"))
    chat = bot(customer)
    chat.say(f"i've got two orders going, {shipped.id} and {placed.id} - has either of them actually left yet?")
    cancel = chat.say("ok cancel whichever one hasnt gone out")
    assert [(a["action"], a["status"], a["order_id"]) for a in cancel["actions"]] == [("cancel", "needs_confirmation", placed.id)]
    chat.say("yep do it")
    where = chat.say("and the one with the tent in, where's that at?")
    assert where["tool"] == "orders" and f"Order {shipped.id} is shipped" in where["reply"]


def test_a_size_or_colour_change_gets_the_rule_and_where_to_make_it(bot):
    order = _orders_of(bot, "placed")[0]
    chat = bot(order.customer_id)
    done = chat.say(f"i think i picked the wrong colour on {order.id}. can that still be changed?")
    assert not done["actions"] and f"Order {order.id} is placed" in done["reply"]
    assert "size, colour or quantity" in done["reply"] and "Order History" in done["reply"]
    pricier = chat.say("and what if the colour i want works out pricier?")
    assert "charges the difference" in pricier["reply"]


def test_a_kind_named_in_a_removal_picks_its_line_over_a_stray_ordinal(bot):
    chat = bot()
    chat.say("a stock pot")
    chat.say("add the first one")
    mug = chat.say("camping mugs?")["shown"][0]
    chat.say("add the first one")
    done = chat.say("take the mug back out, i'll look at it in a shop first")  # "first" is no line number here
    assert [(a["action"], a["product_id"]) for a in done["actions"]] == [("remove_from_cart", mug.id)]


def test_a_hypothetical_second_swap_is_the_rule_and_waiting_on_an_offered_one_is_its_timing(bot):
    order = max(_orders_of(bot, "delivered", leaf="Backpacks"), key=lambda r: r.created_at)  # still returnable
    chat = bot(order.customer_id)
    offered = chat.say(f"could i swap the pack from {order.id} for another colour?")
    assert [a["status"] for a in offered["actions"]] == ["needs_confirmation"]
    wait = chat.say("hang on, will i be without a bag for ages while you wait for mine to get back to you?")
    assert wait["tool"] == "policies" and not wait["shown"] and "Exchanges" in wait["reply"]
    again = chat.say("and if i end up hating the new one too, can i swap it again?")
    assert again["tool"] == "policies" and not again["actions"] and "One free exchange per item" in again["reply"]


def test_import_tax_is_a_question_about_shipping_abroad(bot):
    done = bot().say("can i pay the import tax upfront at checkout so she doesnt get stung at the door?")
    assert done["tool"] == "policies" and "import duties" in done["reply"]


def test_letting_go_of_the_budget_and_going_back_to_the_ones_before(bot):
    chat = bot()
    cheap = chat.say("after a tent that sleeps 3, cant really go over 200")
    assert cheap["shown"] and all(p.price <= 200 and p.attributes["capacity_persons"] >= 3 for p in cheap["shown"])
    more = chat.say("ok forget the budget then, what else have you got for three of us")
    assert len(more["shown"]) > len(cheap["shown"]) and all(p.attributes["capacity_persons"] >= 3 for p in more["shown"])
    assert any(p.price > 200 for p in more["shown"])
    back = chat.say("sorry - can we go back to the ones you showed me before?")
    assert [p.id for p in back["shown"]] == [p.id for p in cheap["shown"]] and back["tool"] == "search"


def test_a_down_jacket_asks_for_down_and_synthetic_fill_then_for_synthetic(bot):
    chat = bot()
    down = chat.say("I'm after a down jacket for myself (women's), 250 max")
    assert down["shown"] and all("down" in p.attributes["insulation"] for p in down["shown"])
    synthetic = chat.say("actually I'd rather not have down. synthetic fill instead please, same budget")
    assert synthetic["shown"] and all("synthetic" in p.attributes["insulation"] and p.price <= 250 for p in synthetic["shown"])


def test_terse_phone_typing(bot):
    chat = bot()
    tents = chat.say("tent 2p <350")  # the classifier's low guess of a hand-off loses to a kind of product
    assert tents["tool"] == "search" and all(p.price <= 350 and "Tents" in p.category for p in tents["shown"])
    chat.say("lightest")
    stock = chat.say("in stock?")  # about the product just picked, not an order
    assert stock["tool"] == "product_details" and stock["reply"].startswith("Yes")
    lamps = chat.say("rechargeable headlamp w red light, <60")
    first = lamps["shown"][0]
    colour = first.colours[-1]
    added = chat.say(f"1st one in {colour}, basket pls")
    assert [(a["action"], a["product_id"]) for a in added["actions"]][:1] == [("add_to_cart", first.id)]


def test_no_fault_said_keeps_the_talk_off_damage(bot):
    from assistant.conversation.service import says_damaged

    assert not says_damaged("the pan set doesn't work on our induction hob")  # a mismatch, not a fault
    assert says_damaged("the lantern doesn't work any more")
    assert not says_damaged("nothing's wrong with it, it's just the wrong type for us")


def test_a_swap_for_another_model_is_the_rule_and_the_order_stays_in_focus(bot):
    order = max(_orders_of(bot, "delivered", leaf="Trail Running Shoes"), key=lambda r: r.created_at)
    chat = bot(order.customer_id)
    done = chat.say(f"the shoes from {order.id} pinch my foot. rather than another size, could you swap them for a different model?")
    assert not done["actions"] and "To swap for a different product" in done["reply"]
    back = chat.say("fair enough - yes, go ahead and send them back for a refund")
    assert [(a["action"], a["order_id"]) for a in back["actions"]] == [("start_return", order.id)]


def test_a_leak_outside_the_return_window_then_is_that_covered_gets_the_warranty(bot):
    order = min(_orders_of(bot, "delivered", leaf="Hiking Boots"), key=lambda r: r.created_at)  # long past its window
    chat = bot(order.customer_id)
    first = chat.say(f"the boots from {order.id} have started letting water in. can i just send them back?")
    assert "outside the 30-day return window" in first["reply"] and first["reply"].count("return window") == 1
    covered = chat.say("seriously? they're sold as waterproof and i've looked after them. surely that's covered somehow")
    assert "leaking waterproof membranes" in covered["reply"] and "support team" in covered["reply"]
    assert not covered["shown"] and all(a.get("order_id") == order.id for a in covered["actions"])


def test_a_policy_draft_must_state_every_figure_of_the_answer(make_assistant, policy_documents, scripted_chat_model):
    """"2 business days" is true but does not answer "how much is expedited shipping?": the draft lacking the cost
    falls back to the templated answer, which states both; the amount the customer gave need not be repeated."""
    short = scripted_chat_model("Option: Expedited. Delivery time after dispatch: 2 business days.")
    done = list(make_assistant(short, documents=policy_documents).chat(None, "how much is expedited shipping", None))[-1].data
    assert done["answer_source"] == "fallback" and "$14.95" in done["reply"]
    full = scripted_chat_model("Standard shipping costs $6.95, and it is free on orders of $75 or more.")
    done = list(make_assistant(full, documents=policy_documents).chat(None, "what does shipping cost on a $30 order?", None))[-1].data
    assert done["answer_source"] == "llm"
