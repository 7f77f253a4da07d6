"""Claim extraction and checking against a product record (no model needed)."""

from __future__ import annotations

import pytest

from assistant.copywriting.claims import (
    Evidence,
    check_text,
    drop_unsupported,
    extract_claims,
    split_sentences,
)
from retrieval.catalog import Product, Variant


@pytest.fixture
def daypack() -> Evidence:
    return Evidence.of(
        Product(
            id="p1",
            title="Trail 20 Daypack - Ripstop Nylon, Navy",
            brand="Peakline",
            category=["Outdoor", "Bags"],
            attributes={
                "weight_g": 450,
                "capacity_l": 20,
                "material": "ripstop nylon",
                "colour": "navy",
                "waterproof": True,
                "hydration_compatible": False,
                "certification": "bluesign",
                "length_cm": 48,
            },
            variants=[Variant(sku="p1-s", size="S", colour="Grey"), Variant(sku="p1-xl", size="XL", colour="Navy")],
            price=59.0,
        )
    )


def verdicts(text: str, evidence: Evidence) -> dict[str, bool]:
    return {c.text: c.supported for c in check_text(text, evidence)}


@pytest.mark.parametrize(
    ("text", "claim", "supported"),
    [
        ("It weighs 450 g.", "450 g", True),
        ("It weighs 520 g.", "520 g", False),
        ("At only 0.45 kg it disappears on your back.", "0.45 kg", True),  # unit conversion
        ("Just under 1 lb.", "1 lb", True),  # 453.6 g is within 2 % of 450 g
        ("A roomy 20 L main compartment.", "20 l", True),
        ("A roomy 20-litre main compartment.", "20 litre", True),
        ("A roomy 25 L main compartment.", "25 l", False),
        ("It is 48 cm tall.", "48 cm", True),
        ("It is 19 in. tall.", "19 in", True),  # 482.6 mm ~ 480 mm
        ("It is 30 in. tall.", "30 in", False),
    ],
)
def test_quantities_are_compared_by_value_after_unit_conversion(daypack, text, claim, supported):
    assert verdicts(text, daypack) == {claim: supported}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Made from tough ripstop nylon.", {"ripstop nylon": True}),
        ("Made from soft merino wool.", {"merino wool": False}),
        ("Crafted in stainless steel and leather.", {"stainless steel": False, "leather": False}),
        ("Comes in navy and grey.", {"navy": True, "gray": True}),  # variant colour, spelling folded
        ("Comes in bright red.", {"red": False}),
        ("Fully waterproof.", {"waterproof": True}),
        ("Hydration-compatible for long days.", {"hydration compatible": False}),  # a false boolean attribute
        ("Bluetooth speaker built in.", {"bluetooth": False}),
        ("bluesign approved fabric.", {"bluesign": True}),
        ("OEKO-TEX certified and rated IPX7.", {"oeko tex": False, "ipx7": False}),
        ("Available in XL.", {"xl": True}),
        ("Available in XXL.", {"xxl": False}),
        ("Backed by a lifetime warranty.", {"lifetime warranty": False}),
        ("The Trail 20 carries your kit.", {"20": True, "trail": True}),
        ("A pack from Peakline, made by Samsung in Germany.", {"peakline": True, "samsung": False, "germany": False}),
        ("Model TR-2000 carries your kit.", {"2000": False}),
        ("Great value at 59.", {"59": True}),
    ],
)
def test_words_and_numbers_must_appear_in_the_record(daypack, text, expected):
    assert verdicts(text, daypack) == expected


def test_subjective_praise_and_prepositions_are_not_claims():
    assert extract_claims("A stylish, comfortable pack for 2 in a row of adventures.") == [("number", "2")]
    assert extract_claims("Perfect for a large family day out.") == []


def test_sentences_split_on_punctuation_but_not_decimals_or_abbreviations():
    text = "It holds 2.5 L. It is 12 in. wide and light! Works e.g. for hiking.\n- one bullet\n2. numbered"
    assert split_sentences(text) == [
        "It holds 2.5 L.",
        "It is 12 in. wide and light!",
        "Works e.g. for hiking.",
        "one bullet",
        "numbered",
    ]


def test_drop_unsupported_keeps_only_sentences_without_false_claims(daypack):
    text = "A 20 L pack in navy. It weighs 900 g. Made of cotton. Fully waterproof."
    kept, dropped = drop_unsupported(text, check_text(text, daypack))
    assert kept == ["A 20 L pack in navy.", "Fully waterproof."]
    assert dropped == 2


def test_esci_style_record_supports_what_its_title_says():
    mattress = Evidence.of(
        Product(
            id="B0777K9RGX",
            title='Signature Design by Ashley Chime 12" Medium Firm Memory Foam Mattress - CertiPUR-US Certified, Queen',
            brand="Signature Design by Ashley",
            attributes={"colour": "White"},
        )
    )
    got = verdicts("This queen memory foam mattress is 12 inches thick, CertiPUR-US certified and white.", mattress)
    assert got == {"queen": True, "memory foam": True, "12 inches": True, "certipur us": True, "white": True}
    got = verdicts("A king size 10 inch latex mattress.", mattress)
    assert got == {"king": False, "10 inch": False, "latex": False}


def test_negated_features_are_checked_as_negations(daypack):
    got = verdicts("Not hydration compatible. It is not waterproof. No Bluetooth.", daypack)
    assert got == {"not hydration compatible": True, "not waterproof": False, "not bluetooth": False}


def test_the_demo_catalog_supports_its_own_text():
    """Every claim in a demo product's own description and bullets is supported by its record."""
    from assistant.config import DEMO_SHOP_DIR

    catalog = DEMO_SHOP_DIR / "catalog.jsonl"  # shipped with the package: missing is a failure, not a skip
    products = [Product.model_validate_json(line) for line in catalog.read_text(encoding="utf-8").splitlines() if line]
    unsupported = [
        (p.id, c.text)
        for p in products
        for c in check_text("\n".join([p.description, *p.bullets]), Evidence.of(p))
        if not c.supported
    ]
    assert unsupported == []
