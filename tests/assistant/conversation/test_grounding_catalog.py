"""The grounding checks that use the whole catalog: another product or brand named in a draft, built once per catalog."""

from __future__ import annotations

from assistant.conversation import grounding

FLASK = grounding.ProductFact("FLASK-1", "Glacier Thermos Flask", 24.0, "USD", 3, True, "Glacier")
CATALOG = frozenset({"glacier thermos flask", "glacier trail mug", "summit camp stove"})


def _evidence() -> grounding.Evidence:
    return grounding.Evidence(
        products=[FLASK], texts=["Keeps drinks hot on alpine trips. Pairs well with the Glacier Trail Mug."],
        catalog_titles=CATALOG, catalog_brands=frozenset({"glacier", "alpine works"}),
    )


def test_other_catalog_product_or_brand_is_dropped():
    draft = ("The Glacier Thermos Flask costs $24.00. It pairs well with the Glacier Trail Mug. "
             "It pairs well with alpine works gear.")
    verdict = grounding.check(draft, _evidence(), [["Glacier Thermos Flask"]])
    assert verdict.text == "The Glacier Thermos Flask costs $24.00." and verdict.ok
    reasons = [r for _, r in verdict.dropped]
    assert reasons == ["product 'glacier trail mug' not in this turn's results", "brand 'alpine works' not in this turn's results"]


def test_catalog_lookups_are_built_once_per_catalog():
    """Every sentence is checked against the whole catalog: its titles are indexed once, not per sentence."""
    grounding._catalog_names.cache_clear()
    draft = "The Glacier Thermos Flask costs $24.00. It keeps drinks hot. It is good on alpine trips."
    grounding.check(draft, _evidence(), [["Glacier Thermos Flask"]])
    grounding.check(draft, _evidence(), [["Glacier Thermos Flask"]])
    assert grounding._catalog_names.cache_info().misses == 1
