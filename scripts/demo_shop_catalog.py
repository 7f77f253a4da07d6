"""The demo catalog for `make_demo_shop.py`: category recipes that turn a seeded RNG into products.

Every sentence of a description and every bullet is rendered from the product's own attributes, so the
copy never states a fact the attributes lack (the product-copy feature checks faithfulness against them).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

# (brand, the categories it makes)
BRANDS = {
    "Ridgeline Works": ["boots", "trail", "packs"],
    "Northfork Outfitters": ["boots", "rain", "insulated", "base"],
    "Cairn & Co.": ["packs", "tents", "pads"],
    "Alder Peak": ["rain", "insulated", "base", "trail"],
    "Tamarack": ["tents", "bags", "pads"],
    "Lumen Trail": ["lights"],
    "Summit Forge": ["camp", "cook"],
    "Ember Hollow": ["cook", "camp"],
    "Driftwood Linen": ["bedding"],
    "Kestrel": ["trail", "boots", "packs"],
    "Bluewater Bottle Co.": ["bottles"],
    "Fernbrook Home": ["bedding", "cook", "lights"],
    "Stillwater Gear": ["bottles", "camp", "bags"],
}

MODEL_NAMES = [
    "Talus", "Scree", "Basalt", "Juniper", "Cascade", "Larch", "Moraine", "Cirque", "Sawtooth", "Bramble",
    "Ptarmigan", "Granite", "Switchback", "Tarn", "Aspen", "Cedar", "Windrift", "Boulder", "Krummholz", "Saddle",
    "Rimrock", "Larkspur", "Flint", "Plover", "Heron", "Willow", "Fjord", "Bluff", "Canyon", "Meadow", "Sierra",
    "Alpenglow", "Tundra", "Cobble", "Drumlin", "Esker", "Col", "Spur", "Gully", "Timberline",
]

COLOURS = {
    "boots": ["Brown", "Dark Olive", "Charcoal", "Tan", "Black", "Slate Blue"],
    "trail": ["Black", "Graphite", "Lime", "Ocean Blue", "Coral", "Sage"],
    "apparel": ["Black", "Forest Green", "Navy", "Rust", "Glacier Blue", "Sand", "Burgundy"],
    "packs": ["Black", "Moss", "Slate", "Ember Orange", "Sand"],
    "tents": ["Olive", "Sand", "Orange"],
    "bags": ["Blue", "Green", "Red"],
    "pads": ["Blue", "Yellow", "Grey"],
    "camp": ["Silver", "Black", "Olive"],
    "cook": ["Black", "Cream", "Sage", "Graphite", "Cherry Red"],
    "bedding": ["White", "Oat", "Slate", "Sage", "Terracotta", "Charcoal"],
    "lights": ["Black", "Orange", "Green"],
    "bottles": ["Black", "White", "Lagoon", "Pine", "Coral", "Stone", "Sunflower"],
}


def _price(rng: random.Random, lo: float, hi: float) -> float:
    """A shop-like price between lo and hi ending in .95 or .00."""
    value = rng.uniform(lo, hi)
    return round(max(lo, round(value / 5) * 5 - 0.05), 2) if rng.random() < 0.8 else float(round(value))


def _pick(rng: random.Random, options: list[str], **values: object) -> str:
    return rng.choice(options).format(**values)


def _a(phrase: object) -> str:
    """`phrase` with its indefinite article: 'an 8.0 L pot', 'a stowable hood'."""
    text = str(phrase)
    return ("an " if text[:1].lower() in "aeio8" or text.startswith(("11", "18")) else "a ") + text


def _warranty_sentence(rng: random.Random, years: int) -> str:
    return _pick(
        rng,
        ["It is covered by a {y}-year warranty.", "A {y}-year warranty covers it.", "It comes with a {y}-year warranty."],
        y=years,
    )


def _certs_sentence(rng: random.Random, certs: list[str]) -> str:
    joined = " and ".join(certs)
    return _pick(rng, ["It is certified {c}.", "Certifications: {c}.", "It carries the {c} label."], c=joined)


# ---------------------------------------------------------------- category recipes
# Each recipe returns (title noun phrase, attributes, price, sentences, bullets, variants spec).
# variants spec: (sizes or [None], colours or [None]).


def _boots(rng: random.Random, i: int, brand: str, model: str) -> dict:
    gender = rng.choice(["men's", "women's", "men's", "unisex"])
    budget = i % 5 == 0
    waterproof = True if budget else rng.random() < 0.75
    material = "synthetic mesh and suede" if budget else rng.choice(
        ["full-grain leather", "nubuck leather", "suede and nylon", "synthetic mesh", "full-grain leather"]
    )
    cut = rng.choice(["mid", "high", "low"]) if not budget else "mid"
    activity = rng.choice(["day hiking", "backpacking", "winter hiking", "day hiking", "trekking"])
    weight = rng.randrange(880, 1700, 10)
    lug = rng.choice([4, 5, 6])
    attrs: dict = {
        "gender": gender,
        "material": material,
        "waterproof": waterproof,
        "cut": cut,
        "activity": activity,
        "weight_g": weight,
        "outsole": rng.choice(["TrailGrip rubber", "Summit Trac rubber", "dual-density rubber"]),
        "lug_depth_mm": lug,
    }
    if waterproof:
        attrs["membrane"] = rng.choice(["HydroShield", "DryLayer", "StormSeal"])
    if activity == "winter hiking":
        attrs["insulation_g"] = rng.choice([200, 400])
        attrs["temperature_rating_c"] = -20 if attrs["insulation_g"] == 400 else -10
    certs = []
    if "leather" in material and rng.random() < 0.6:
        certs.append("Leather Working Group")
    if rng.random() < 0.4:
        certs.append("PFC-free")
    if certs:
        attrs["certifications"] = certs
    attrs["warranty_years"] = rng.choice([1, 2, 2])
    price = _price(rng, 79, 99) if budget else _price(rng, 119, 289 if "leather" in material else 199)
    wp = " Waterproof" if waterproof else ""
    title = f"{brand} {model} {cut.capitalize()}{wp} Hiking Boot - {gender.capitalize()}"
    s = [
        _pick(rng, ["The {model} is a {cut}-cut {g} hiking boot made for {a}.",
                    "Built for {a}, the {model} is a {cut}-cut {g} boot.",
                    "The {model} {cut} boot is a {g} hiking boot designed for {a}."], model=model, cut=cut, g=gender, a=activity),
        (_pick(rng, ["Its {m} upper is waterproof thanks to a {mem} membrane.",
                     "A {mem} membrane makes the {m} upper waterproof.",
                     "The upper is {m} over a waterproof {mem} membrane."], m=material, mem=attrs["membrane"])
         if waterproof else _pick(rng, ["The upper is {m} and is not waterproof.",
                                        "Its {m} upper is not waterproof."], m=material)),
        _pick(rng, ["The {o} outsole has {l} mm lugs.", "Grip comes from a {o} outsole with {l} mm lugs."],
              o=attrs["outsole"], l=lug),
        _pick(rng, ["A pair weighs {w} g.", "The pair weighs about {w} g."], w=weight),
    ]
    if "insulation_g" in attrs:
        s.append(f"{attrs['insulation_g']} g of insulation keep feet warm to {attrs['temperature_rating_c']} °C.")
    if certs:
        s.append(_certs_sentence(rng, certs))
    s.append(_warranty_sentence(rng, attrs["warranty_years"]))
    bullets = [
        f"{material.capitalize()} upper" + (f", waterproof {attrs['membrane']} membrane" if waterproof else ", not waterproof"),
        f"{attrs['outsole']} outsole, {lug} mm lugs",
        f"Weight: {weight} g per pair",
        f"{cut.capitalize()} cut for {activity}",
        f"{attrs['warranty_years']}-year warranty",
    ]
    sizes = [str(n) for n in (range(5, 12) if gender == "women's" else range(7, 14))]
    return dict(title=title, attrs=attrs, price=price, sentences=s, bullets=bullets,
                sizes=sizes, colours=rng.sample(COLOURS["boots"], rng.choice([1, 2, 2])))


def _trail(rng: random.Random, i: int, brand: str, model: str) -> dict:
    gender = rng.choice(["men's", "women's"])
    waterproof = rng.random() < 0.3
    drop = rng.choice([0, 4, 6, 8, 10])
    weight = rng.randrange(230, 340, 5)
    lug = rng.choice([3, 4, 5, 6])
    terrain = rng.choice(["technical trails", "mixed terrain", "muddy trails", "hard-packed trails"])
    attrs: dict = {
        "gender": gender, "activity": "trail running", "terrain": terrain, "waterproof": waterproof,
        "material": rng.choice(["engineered mesh", "recycled mesh", "ripstop mesh"]),
        "drop_mm": drop, "weight_g": weight, "lug_depth_mm": lug,
        "cushioning": rng.choice(["moderate", "max", "firm"]),
        "rock_plate": rng.random() < 0.5,
    }
    if waterproof:
        attrs["membrane"] = rng.choice(["HydroShield", "DryLayer"])
    if rng.random() < 0.35:
        attrs["certifications"] = ["PFC-free"]
    attrs["warranty_years"] = 1
    wp = " Waterproof" if waterproof else ""
    title = f"{brand} {model}{wp} Trail Running Shoe - {gender.capitalize()}"
    s = [
        _pick(rng, ["The {m} is a {g} trail running shoe for {t}.",
                    "Made for {t}, the {m} is a {g} trail runner."], m=model, g=gender, t=terrain),
        _pick(rng, ["It has {c} cushioning and a {d} mm drop.", "Cushioning is {c}, with a {d} mm heel-to-toe drop."],
              c=attrs["cushioning"], d=drop),
        _pick(rng, ["Each shoe weighs {w} g.", "One shoe weighs about {w} g."], w=weight),
        _pick(rng, ["The outsole has {l} mm lugs.", "{l} mm lugs bite into the ground."], l=lug),
    ]
    s.append(f"The {attrs['material']} upper is waterproof with a {attrs['membrane']} membrane."
             if waterproof else f"The {attrs['material']} upper is not waterproof.")
    if attrs["rock_plate"]:
        s.append("A rock plate sits under the forefoot.")
    if "certifications" in attrs:
        s.append(_certs_sentence(rng, attrs["certifications"]))
    bullets = [f"{drop} mm drop, {attrs['cushioning']} cushioning", f"{weight} g per shoe", f"{lug} mm lugs for {terrain}",
               f"{attrs['material'].capitalize()} upper" + (" (waterproof)" if waterproof else "")]
    if attrs["rock_plate"]:
        bullets.append("Forefoot rock plate")
    sizes = [str(n) for n in (range(5, 12) if gender == "women's" else range(7, 14))]
    return dict(title=title, attrs=attrs, price=_price(rng, 89, 179), sentences=s, bullets=bullets,
                sizes=sizes, colours=rng.sample(COLOURS["trail"], 2))


def _apparel_sizes(gender: str) -> list[str]:
    return ["XS", "S", "M", "L", "XL"] if gender == "women's" else ["S", "M", "L", "XL", "XXL"]


def _rain(rng: random.Random, i: int, brand: str, model: str) -> dict:
    gender = rng.choice(["men's", "women's"])
    layers = rng.choice(["2.5-layer", "3-layer", "2-layer"])
    fabric = rng.choice(["recycled nylon", "nylon ripstop", "recycled polyester"])
    rating = rng.choice([10000, 15000, 20000, 28000]) if layers != "2-layer" else rng.choice([10000, 15000])
    breath = rng.choice([10000, 15000, 20000, 25000])
    weight = rng.randrange(180, 480, 5)
    pit = rng.random() < 0.55
    packable = weight < 320
    certs = [c for c in ("bluesign", "PFC-free") if rng.random() < 0.55]
    attrs: dict = {
        "gender": gender, "material": f"{layers} {fabric}", "waterproof": True, "waterproof_rating_mm": rating,
        "breathability_g_m2": breath, "weight_g": weight, "pit_zips": pit, "packable": packable,
        "hood": rng.choice(["adjustable helmet-compatible hood", "adjustable hood", "stowable hood"]),
        "activity": rng.choice(["hiking", "backpacking", "everyday wear", "travel"]),
        "warranty_years": 2,
    }
    if certs:
        attrs["certifications"] = certs
    title = f"{brand} {model} {layers} Rain Jacket - {gender.capitalize()}"
    s = [
        _pick(rng, ["The {m} is a {g} {l} waterproof rain jacket for {a}.",
                    "A waterproof {g} rain jacket for {a}, the {m} uses {l} construction."],
              m=model, g=gender, l=layers, a=attrs["activity"]),
        _pick(rng, ["Its {f} shell is rated to {r} mm of water pressure and {b} g/m² of breathability.",
                    "The {f} fabric has a {r} mm waterproof rating and breathes at {b} g/m²."], f=fabric, r=rating, b=breath),
        _pick(rng, ["It weighs {w} g and has {h}.", "At {w} g, it has {h}."], w=weight, h=_a(attrs["hood"])),
    ]
    if pit:
        s.append("Pit zips let heat out on climbs.")
    if packable:
        s.append("It packs into its own pocket.")
    if certs:
        s.append(_certs_sentence(rng, certs))
    bullets = [f"{rating} mm waterproof, {breath} g/m² breathable", f"{layers} {fabric}", f"{weight} g",
               attrs["hood"].capitalize()]
    if pit:
        bullets.append("Pit zips")
    return dict(title=title, attrs=attrs, price=_price(rng, 89, 349), sentences=s, bullets=bullets,
                sizes=_apparel_sizes(gender), colours=rng.sample(COLOURS["apparel"], rng.choice([2, 3])))


def _insulated(rng: random.Random, i: int, brand: str, model: str) -> dict:
    gender = rng.choice(["men's", "women's"])
    down = rng.random() < 0.6
    style = rng.choice(["Jacket", "Hoodie", "Vest", "Parka"])
    fill = rng.choice([650, 700, 800, 850]) if down else None
    insulation = f"{fill}-fill-power down" if down else rng.choice(["ThermoLoft synthetic", "recycled synthetic"])
    temp = {"Vest": 5, "Jacket": -5, "Hoodie": -5, "Parka": -20}[style] + rng.choice([0, -5, 5])
    weight = rng.randrange(220, 950, 10) if style != "Vest" else rng.randrange(180, 380, 10)
    attrs: dict = {
        "gender": gender, "insulation": insulation, "waterproof": style == "Parka",
        "water_resistant": True, "shell": rng.choice(["recycled nylon ripstop", "20D nylon", "recycled polyester"]),
        "weight_g": weight, "temperature_rating_c": temp, "packable": weight < 450,
        "warranty_years": 2,
    }
    if down:
        attrs["fill_power"] = fill
    certs = (["RDS"] if down else []) + (["bluesign"] if rng.random() < 0.4 else [])
    if certs:
        attrs["certifications"] = certs
    kind = "Down" if down else "Synthetic"
    title = f"{brand} {model} {kind} {style} - {gender.capitalize()}"
    s = [
        _pick(rng, ["The {m} is a {g} insulated {st} filled with {ins}.",
                    "Filled with {ins}, the {m} is a {g} {st} for cold days."], m=model, g=gender, st=style.lower(), ins=insulation),
        _pick(rng, ["It is comfortable down to about {t} °C.", "Its temperature rating is {t} °C."], t=temp),
        _pick(rng, ["The {sh} shell is water-resistant{wp}.", "A water-resistant {sh} shell{wp} covers the fill."],
              sh=attrs["shell"], wp=" and waterproof" if attrs["waterproof"] else ""),
        f"It weighs {weight} g" + (" and packs small." if attrs["packable"] else "."),
    ]
    if certs:
        s.append(_certs_sentence(rng, certs))
    bullets = [insulation.capitalize() + " insulation", f"Rated to {temp} °C", f"{weight} g",
               f"Water-resistant {attrs['shell']} shell"]
    return dict(title=title, attrs=attrs, price=_price(rng, 119, 429), sentences=s, bullets=bullets,
                sizes=_apparel_sizes(gender), colours=rng.sample(COLOURS["apparel"], rng.choice([2, 3])))


def _base(rng: random.Random, i: int, brand: str, model: str) -> dict:
    gender = rng.choice(["men's", "women's"])
    merino = rng.random() < 0.65
    gsm = rng.choice([150, 200, 250]) if merino else rng.choice([130, 180])
    material = rng.choice(["100% merino wool", "merino-nylon blend"]) if merino else "recycled polyester"
    piece = rng.choice(["Crew Top", "Quarter-Zip Top", "Bottoms", "Long-Sleeve Tee", "Hoodie"])
    attrs: dict = {
        "gender": gender, "material": material, "fabric_weight_gsm": gsm, "waterproof": False,
        "odour_resistant": merino, "machine_washable": True, "weight_g": gsm + rng.randrange(0, 120, 5),
        "warranty_years": 1,
    }
    if merino:
        attrs["certifications"] = ["Responsible Wool Standard"]
    elif rng.random() < 0.5:
        attrs["certifications"] = ["bluesign"]
    title = f"{brand} {model} {gsm} Base Layer {piece} - {gender.capitalize()}"
    s = [
        _pick(rng, ["The {m} is a {g} base layer {p} in {mat}.", "Made from {mat}, the {m} {p} is a {g} base layer."],
              m=model, g=gender, p=piece.lower(), mat=material),
        _pick(rng, ["The fabric weighs {gsm} g/m².", "It uses a {gsm} g/m² knit."], gsm=gsm),
        "Merino resists odour between washes." if merino else "It is machine washable.",
        f"The garment weighs {attrs['weight_g']} g.",
    ]
    if "certifications" in attrs:
        s.append(_certs_sentence(rng, attrs["certifications"]))
    bullets = [material.capitalize(), f"{gsm} g/m² fabric", "Machine washable"]
    if merino:
        bullets.append("Odour resistant")
    return dict(title=title, attrs=attrs, price=_price(rng, 49, 129), sentences=s, bullets=bullets,
                sizes=_apparel_sizes(gender), colours=rng.sample(COLOURS["apparel"], 2))


def _packs(rng: random.Random, i: int, brand: str, model: str) -> dict:
    capacity = rng.choice([12, 18, 22, 24, 28, 30, 35, 40, 45, 55, 65, 70])
    kind = "Daypack" if capacity <= 30 else "Backpacking Pack"
    rolltop = capacity <= 30 and rng.random() < 0.25
    weight = int(capacity * rng.uniform(22, 35)) // 10 * 10 + 200
    attrs: dict = {
        "capacity_l": capacity, "weight_g": weight, "waterproof": rolltop,
        "material": rng.choice(["recycled 210D ripstop nylon", "420D nylon", "recycled 100D ripstop nylon"]),
        "frame": "frameless" if capacity <= 24 else rng.choice(["internal aluminium frame", "HDPE frame sheet"]),
        "hydration_compatible": rng.random() < 0.7, "laptop_sleeve": capacity <= 30 and rng.random() < 0.5,
        "rain_cover_included": capacity > 30 and rng.random() < 0.6, "warranty_years": rng.choice([2, 5, 10]),
    }
    if rolltop:
        attrs["closure"] = "roll-top"
    if rng.random() < 0.5:
        attrs["certifications"] = ["bluesign"]
    title = f"{brand} {model} {capacity}L {'Roll-Top ' if rolltop else ''}{kind}"
    s = [
        _pick(rng, ["The {m} {c} is a {c}-litre {k}.", "With {c} litres of space, the {m} is a {k}."],
              m=model, c=capacity, k=kind.lower()),
        _pick(rng, ["It is made of {mat} and weighs {w} g.", "Made of {mat}, it weighs {w} g."], mat=attrs["material"], w=weight),
        f"It has a {attrs['frame']}." if attrs["frame"] != "frameless" else "It is frameless.",
    ]
    if rolltop:
        s.append("A roll-top closure makes it waterproof.")
    if attrs["hydration_compatible"]:
        s.append("A sleeve takes a hydration reservoir.")
    if attrs["laptop_sleeve"]:
        s.append("It has a laptop sleeve.")
    if attrs["rain_cover_included"]:
        s.append("A rain cover is included.")
    s.append(_warranty_sentence(rng, attrs["warranty_years"]))
    bullets = [f"{capacity} L capacity", f"{weight} g", attrs["material"].capitalize(), attrs["frame"].capitalize()]
    if attrs["hydration_compatible"]:
        bullets.append("Hydration compatible")
    sizes = ["S/M", "M/L"] if capacity >= 45 else [None]
    return dict(title=title, attrs=attrs, price=_price(rng, 59, 129) if capacity <= 30 else _price(rng, 169, 349),
                sentences=s, bullets=bullets, sizes=sizes, colours=rng.sample(COLOURS["packs"], rng.choice([1, 2, 3])))


def _tents(rng: random.Random, i: int, brand: str, model: str) -> dict:
    persons = rng.choice([1, 2, 2, 3, 4, 6])
    seasons = 4 if rng.random() < 0.2 else 3
    weight = int(persons * rng.uniform(700, 1100)) // 10 * 10 + (600 if seasons == 4 else 300)
    attrs: dict = {
        "capacity_persons": persons, "seasons": seasons, "weight_g": weight, "waterproof": True,
        "hydrostatic_head_mm": rng.choice([1500, 2000, 3000]), "doors": 1 if persons == 1 else 2,
        "vestibules": 1 if persons == 1 else 2, "freestanding": rng.random() < 0.7,
        "material": rng.choice(["20D silnylon", "68D polyester", "30D ripstop nylon"]),
        "peak_height_cm": 95 + persons * 12 + rng.randrange(0, 20),
        "floor_area_m2": round(persons * rng.uniform(1.3, 1.7), 1), "warranty_years": rng.choice([2, 3, 5]),
    }
    if rng.random() < 0.4:
        attrs["certifications"] = ["PFC-free"]
    use = "ultralight backpacking" if persons <= 2 and weight < persons * 800 + 300 else "camping"
    attrs["activity"] = use if seasons == 3 else "winter camping"
    title = f"{brand} {model} {persons}-Person {seasons}-Season Tent"
    s = [
        _pick(rng, ["The {m} is a {p}-person, {s}-season tent for {a}.", "Built for {a}, the {m} sleeps {p} in a {s}-season design."],
              m=model, p=persons, s=seasons, a=attrs["activity"]),
        _pick(rng, ["It weighs {w} g packed.", "The packed weight is {w} g."], w=weight),
        f"The {attrs['material']} fly has a {attrs['hydrostatic_head_mm']} mm hydrostatic head.",
        f"It has {attrs['doors']} door{'s' if attrs['doors'] > 1 else ''}, a {attrs['floor_area_m2']} m² floor and "
        f"{attrs['peak_height_cm']} cm of peak height.",
        "It is freestanding." if attrs["freestanding"] else "It pitches with stakes and is not freestanding.",
    ]
    if "certifications" in attrs:
        s.append(_certs_sentence(rng, attrs["certifications"]))
    bullets = [f"Sleeps {persons}", f"{seasons}-season", f"{weight} g", f"{attrs['hydrostatic_head_mm']} mm waterproof fly",
               f"{attrs['doors']} door(s), {attrs['vestibules']} vestibule(s)"]
    return dict(title=title, attrs=attrs, price=_price(rng, 149, 699), sentences=s, bullets=bullets,
                sizes=[None], colours=rng.sample(COLOURS["tents"], 1))


def _bags(rng: random.Random, i: int, brand: str, model: str) -> dict:
    down = rng.random() < 0.55
    temp = rng.choice([-12, -7, -4, -1, 2, 5, 10])
    fill = f"{rng.choice([650, 800, 850])}-fill-power down" if down else "synthetic insulation"
    weight = int((1300 if not down else 900) - temp * 35 + rng.randrange(0, 200)) // 10 * 10
    shape = rng.choice(["mummy", "mummy", "rectangular", "semi-rectangular"])
    attrs: dict = {
        "temperature_rating_c": temp, "insulation": fill, "weight_g": weight, "shape": shape,
        "waterproof": False, "water_resistant_shell": rng.random() < 0.6,
        "shell": rng.choice(["20D recycled nylon", "30D polyester ripstop"]), "warranty_years": rng.choice([2, 5]),
    }
    if down:
        attrs["certifications"] = ["RDS"]
    title = f"{brand} {model} {temp} °C {'Down' if down else 'Synthetic'} Sleeping Bag"
    s = [
        _pick(rng, ["The {m} is a {sh} sleeping bag rated to {t} °C.", "Rated to {t} °C, the {m} is a {sh} sleeping bag."],
              m=model, sh=shape, t=temp),
        _pick(rng, ["It is filled with {f} and weighs {w} g.", "At {w} g, it uses {f}."], f=fill, w=weight),
        f"The {attrs['shell']} shell is " + ("water-resistant." if attrs["water_resistant_shell"] else "not water-resistant."),
    ]
    if down:
        s.append(_certs_sentence(rng, ["RDS"]))
    s.append(_warranty_sentence(rng, attrs["warranty_years"]))
    bullets = [f"Rated to {temp} °C", fill.capitalize(), f"{weight} g", f"{shape.capitalize()} shape"]
    warmth = 10 - temp  # colder ratings cost more
    price = _price(rng, 189 + warmth * 10, 239 + warmth * 12) if down else _price(rng, 79 + warmth * 4, 109 + warmth * 5)
    return dict(title=title, attrs=attrs, price=price, sentences=s, bullets=bullets,
                sizes=["Regular", "Long"], colours=rng.sample(COLOURS["bags"], 1))


def _pads(rng: random.Random, i: int, brand: str, model: str) -> dict:
    kind = rng.choice(["air", "self-inflating", "closed-cell foam"])
    r = {"air": rng.choice([2.5, 3.2, 4.2, 5.4]), "self-inflating": rng.choice([3.5, 4.5, 6.0]),
         "closed-cell foam": rng.choice([1.8, 2.0])}[kind]
    thick = {"air": rng.choice([7, 8, 10]), "self-inflating": rng.choice([4, 5, 7]), "closed-cell foam": 2}[kind]
    weight = rng.randrange(340, 1100, 10)
    attrs: dict = {"type": kind, "r_value": r, "thickness_cm": thick, "weight_g": weight, "waterproof": True,
                   "warranty_years": rng.choice([2, 5])}
    title = f"{brand} {model} R{r} {kind.title()} Sleeping Pad"
    s = [
        _pick(rng, ["The {m} is {k} sleeping pad with an R-value of {r}.", "The {m} {k_} pad has an R-value of {r}."],
              m=model, k=_a(kind), k_=kind, r=r),
        f"It is {thick} cm thick and weighs {weight} g.",
        _warranty_sentence(rng, attrs["warranty_years"]),
    ]
    bullets = [f"R-value {r}", f"{thick} cm thick", f"{weight} g", kind.capitalize()]
    return dict(title=title, attrs=attrs, price=_price(rng, 39, 229), sentences=s, bullets=bullets,
                sizes=["Regular", "Long", "Wide"] if kind != "closed-cell foam" else [None],
                colours=rng.sample(COLOURS["pads"], 1))


def _camp(rng: random.Random, i: int, brand: str, model: str) -> dict:
    kind = rng.choice(["Canister Stove", "Cook Set", "Pot", "Mug", "Utensil Set", "Camp Kettle"])
    material = rng.choice(["titanium", "hard-anodized aluminium", "stainless steel"])
    attrs: dict = {"type": kind.lower(), "material": material, "waterproof": False}
    if kind == "Canister Stove":
        attrs.update(material=rng.choice(["stainless steel", "aluminium and brass"]), fuel="isobutane-propane canister",
                     output_w=rng.choice([2600, 2800, 3000, 3500]), boil_time_min=rng.choice([3.0, 3.5, 4.0]),
                     piezo_ignition=rng.random() < 0.6, weight_g=rng.randrange(70, 380, 5))
        s = [f"The {model} is {_a(attrs['material'])} canister stove with {attrs['output_w']} W output.",
             f"It boils a litre of water in about {attrs['boil_time_min']} minutes on an {attrs['fuel']}.",
             f"It weighs {attrs['weight_g']} g" + (" and has push-button piezo ignition." if attrs["piezo_ignition"] else ".")]
        bullets = [f"{attrs['output_w']} W output", f"Boils a litre in {attrs['boil_time_min']} min", f"{attrs['weight_g']} g",
                   "Fuel: " + attrs["fuel"]]
        price = _price(rng, 39, 149)
    else:
        cap = {"Cook Set": rng.choice([1.0, 1.4, 2.0]), "Pot": rng.choice([0.75, 0.9, 1.3]), "Mug": rng.choice([0.35, 0.45]),
               "Utensil Set": None, "Camp Kettle": rng.choice([0.8, 1.0, 1.5])}[kind]
        pieces = {"Cook Set": rng.choice([4, 6, 8]), "Utensil Set": rng.choice([3, 4]), }.get(kind, 1)
        base_weight = {"Cook Set": 420, "Pot": 160, "Mug": 70, "Utensil Set": 45, "Camp Kettle": 180}[kind]
        heavy = {"titanium": 0.6, "hard-anodized aluminium": 1.0, "stainless steel": 1.8}[material]
        weight = int(base_weight * heavy * rng.uniform(0.85, 1.2)) // 5 * 5
        attrs.update(weight_g=weight, pieces=pieces, dishwasher_safe=material == "stainless steel")
        if cap:
            attrs["capacity_l"] = cap
        s = [_pick(rng, ["The {m} is {mat_a} camp {k}{c}.", "Made of {mat}, the {m} is a camp {k}{c}."],
                   m=model, mat=material, mat_a=_a(material), k=kind.lower().replace("camp ", ""), c=f" holding {cap} L" if cap else f" of {pieces} pieces"),
             f"It weighs {attrs['weight_g']} g.",
             "It is dishwasher safe." if attrs["dishwasher_safe"] else "Wash it by hand."]
        bullets = [material.capitalize(), f"{attrs['weight_g']} g"] + ([f"{cap} L"] if cap else []) + [f"{pieces} piece(s)"]
        price = _price(rng, 14, 139)
    attrs["warranty_years"] = rng.choice([1, 2, 5])
    s.append(_warranty_sentence(rng, attrs["warranty_years"]))
    title = f"{brand} {model} {kind}" if kind == "Canister Stove" else f"{brand} {model} {material.title()} {kind}"
    return dict(title=title, attrs=attrs, price=price, sentences=s, bullets=bullets,
                sizes=[None], colours=[None] if kind == "Canister Stove" else rng.sample(COLOURS["camp"], 1))


def _cook(rng: random.Random, i: int, brand: str, model: str) -> dict:
    kind = rng.choice(["Skillet", "Dutch Oven", "Saucepan", "Stock Pot", "Frying Pan", "Stovetop Kettle", "Cookware Set"])
    material = rng.choice(["cast iron", "enamelled cast iron", "tri-ply stainless steel", "ceramic-coated aluminium",
                           "carbon steel"])
    attrs: dict = {"type": kind.lower(), "material": material, "induction_compatible": material != "ceramic-coated aluminium",
                   "oven_safe_c": {"cast iron": 260, "enamelled cast iron": 250, "tri-ply stainless steel": 260,
                                   "ceramic-coated aluminium": 200, "carbon steel": 300}[material],
                   "dishwasher_safe": material in ("tri-ply stainless steel", "enamelled cast iron"), "waterproof": False}
    if kind in ("Skillet", "Frying Pan"):
        attrs["diameter_cm"] = rng.choice([20, 24, 26, 28, 30])
        size = f"{attrs['diameter_cm']} cm"
    elif kind == "Cookware Set":
        attrs["pieces"] = rng.choice([5, 7, 10])
        size = f"{attrs['pieces']}-piece"
    else:
        attrs["capacity_l"] = rng.choice({"Dutch Oven": [3.5, 4.7, 6.0], "Saucepan": [1.5, 2.0, 3.0],
                                          "Stock Pot": [6.0, 8.0, 10.0], "Stovetop Kettle": [1.5, 1.9, 2.5]}[kind])
        size = f"{attrs['capacity_l']} L"
    base = {"Skillet": 1400, "Frying Pan": 1100, "Saucepan": 1200, "Stock Pot": 2200, "Dutch Oven": 3800,
            "Stovetop Kettle": 1000, "Cookware Set": 5500}[kind]
    heavy = {"cast iron": 1.8, "enamelled cast iron": 1.7, "tri-ply stainless steel": 1.0,
             "ceramic-coated aluminium": 0.7, "carbon steel": 1.2}[material]
    attrs["weight_g"] = int(base * heavy * rng.uniform(0.85, 1.15)) // 50 * 50
    certs = []
    if material in ("ceramic-coated aluminium", "carbon steel", "cast iron"):
        certs.append("PFAS-free")
    if certs:
        attrs["certifications"] = certs
    attrs["warranty_years"] = 25 if "cast iron" in material else rng.choice([5, 10])
    title = f"{brand} {model} {size} {material.title()} {kind}"
    s = [
        _pick(rng, ["The {m} is {size} {mat} {k} for the home kitchen.", "This {size_} {k} from the {m} line is made of {mat}."],
              m=model, size=_a(size), size_=size, mat=material, k=kind.lower()),
        _pick(rng, ["It is oven safe to {o} °C{ind}.", "It goes in the oven up to {o} °C{ind}."], o=attrs["oven_safe_c"],
              ind=" and works on induction hobs" if attrs["induction_compatible"] else " but does not work on induction hobs"),
        "It is dishwasher safe." if attrs["dishwasher_safe"] else "Wash it by hand.",
        f"It weighs {attrs['weight_g']} g.",
    ]
    if certs:
        s.append(_certs_sentence(rng, certs))
    s.append(_warranty_sentence(rng, attrs["warranty_years"]))
    bullets = [material.capitalize(), f"Oven safe to {attrs['oven_safe_c']} °C",
               "Induction compatible" if attrs["induction_compatible"] else "Not for induction", f"{attrs['warranty_years']}-year warranty"]
    colours = rng.sample(COLOURS["cook"], rng.choice([2, 3])) if material == "enamelled cast iron" else [None]
    lo, hi = {"Skillet": (29, 89), "Frying Pan": (49, 149), "Saucepan": (59, 159), "Stock Pot": (69, 179),
              "Dutch Oven": (89, 349), "Stovetop Kettle": (39, 119), "Cookware Set": (199, 599)}[kind]
    if material == "enamelled cast iron":
        lo, hi = lo * 1.5, hi * 1.3
    return dict(title=title, attrs=attrs, price=_price(rng, lo, hi), sentences=s, bullets=bullets, sizes=[None],
                colours=colours)


def _bedding(rng: random.Random, i: int, brand: str, model: str) -> dict:
    kind = rng.choice(["Sheet Set", "Duvet Cover", "Down Duvet", "Wool Blanket", "Pillow", "Quilt"])
    material = {"Sheet Set": rng.choice(["organic cotton percale", "organic cotton sateen", "stonewashed linen"]),
                "Duvet Cover": rng.choice(["organic cotton percale", "stonewashed linen"]),
                "Down Duvet": "duck down in a cotton shell", "Wool Blanket": rng.choice(["100% lambswool", "merino wool"]),
                "Pillow": rng.choice(["down and feather", "recycled polyester fill"]), "Quilt": "organic cotton"}[kind]
    attrs: dict = {"type": kind.lower(), "material": material, "waterproof": False,
                   "machine_washable": kind not in ("Down Duvet", "Wool Blanket")}
    if "cotton" in material and kind in ("Sheet Set", "Duvet Cover"):
        attrs["thread_count"] = rng.choice([200, 300, 400])
    if kind == "Down Duvet":
        attrs["warmth"] = rng.choice(["lightweight", "all-season", "extra warm"])
        attrs["fill_power"] = rng.choice([600, 650, 700])
    certs = []
    if "organic cotton" in material:
        certs.append("GOTS")
    if rng.random() < 0.6:
        certs.append("OEKO-TEX Standard 100")
    if kind == "Down Duvet":
        certs.append("RDS")
    if certs:
        attrs["certifications"] = certs
    attrs["warranty_years"] = rng.choice([1, 2])
    title = f"{brand} {model} {material.replace('100% ', '').title()} {kind.replace('Wool ', '')}"
    s = [_pick(rng, ["The {m} {k} is made of {mat}.", "Made of {mat}, the {m} is a {k}."],
               m=model, k=kind.lower(), mat=material)]
    if "thread_count" in attrs:
        s.append(f"It has a thread count of {attrs['thread_count']}.")
    if "warmth" in attrs:
        s.append(f"It is an {attrs['warmth']} duvet with {attrs['fill_power']}-fill-power down." if attrs["warmth"] != "lightweight"
                 else f"It is a lightweight duvet with {attrs['fill_power']}-fill-power down.")
    s.append("It is machine washable." if attrs["machine_washable"] else "It should be professionally cleaned.")
    if certs:
        s.append(_certs_sentence(rng, certs))
    bullets = [material.capitalize(), "Machine washable" if attrs["machine_washable"] else "Professional cleaning only"]
    bullets += [f"Certified {c}" for c in certs][:2] + [f"{attrs['warranty_years']}-year warranty"]
    sizes = ["Standard", "King"] if kind == "Pillow" else (["Throw"] if kind == "Wool Blanket" else ["Twin", "Full", "Queen", "King"])
    return dict(title=title, attrs=attrs, price=_price(rng, 39, 389), sentences=s, bullets=bullets,
                sizes=sizes, colours=rng.sample(COLOURS["bedding"], 1 if kind in ("Pillow", "Down Duvet") else 3))


def _lights(rng: random.Random, i: int, brand: str, model: str) -> dict:
    kind = rng.choice(["Headlamp", "Headlamp", "Lantern", "Lantern", "String Lights"])
    lumens = {"Headlamp": rng.choice([250, 350, 400, 500, 800]), "Lantern": rng.choice([150, 300, 500, 1000]),
              "String Lights": rng.choice([100, 200])}[kind]
    rechargeable = rng.random() < 0.7
    battery = rng.choice(["USB-C rechargeable 1800 mAh Li-ion", "USB-C rechargeable 3350 mAh Li-ion"]) if rechargeable \
        else rng.choice(["3x AAA", "4x AA"])
    ipx = rng.choice(["IPX4", "IPX4", "IPX7"])
    attrs: dict = {"type": kind.lower(), "lumens": lumens, "runtime_h": rng.choice([6, 8, 12, 20, 40, 60]),
                   "battery": battery, "rechargeable": rechargeable, "water_rating": ipx, "waterproof": ipx == "IPX7",
                   "red_light": kind == "Headlamp" and rng.random() < 0.7, "weight_g": rng.randrange(45, 480, 5),
                   "warranty_years": rng.choice([2, 3, 5])}
    title = f"{brand} {model} {lumens}-Lumen {'Rechargeable ' if rechargeable else ''}{kind}"
    s = [
        _pick(rng, ["The {m} is a {l}-lumen {k}.", "Putting out {l} lumens, the {m} is a {k}."],
              m=model, l=lumens, k="set of string lights" if kind == "String Lights" else kind.lower()),
        f"It runs for up to {attrs['runtime_h']} hours on its {battery} batter{'y' if rechargeable else 'ies'}.",
        ("It is rated IPX7, so it is waterproof." if ipx == "IPX7" else "It is rated IPX4: splash-resistant, not waterproof."),
        f"It weighs {attrs['weight_g']} g.",
    ]
    if attrs["red_light"]:
        s.append("A red-light mode keeps your night vision.")
    bullets = [f"{lumens} lumens", f"Up to {attrs['runtime_h']} h runtime", battery, ipx]
    lo, hi = {"Headlamp": (24, 99), "Lantern": (29, 129), "String Lights": (19, 59)}[kind]
    return dict(title=title, attrs=attrs, price=_price(rng, lo, hi), sentences=s, bullets=bullets,
                sizes=[None], colours=rng.sample(COLOURS["lights"], rng.choice([1, 2])))


def _bottles(rng: random.Random, i: int, brand: str, model: str) -> dict:
    insulated = rng.random() < 0.65
    cap = rng.choice([0.5, 0.6, 0.75, 1.0, 1.2, 1.9])
    material = "18/8 stainless steel" if insulated or rng.random() < 0.4 else "Tritan plastic"
    lid = rng.choice(["chug cap", "straw lid", "screw cap", "flip-top lid"])
    attrs: dict = {"capacity_l": cap, "material": material, "insulated": insulated, "lid": lid, "waterproof": False,
                   "leakproof": lid != "straw lid", "dishwasher_safe": rng.random() < 0.5,
                   "weight_g": int(cap * (420 if insulated else 170)) // 5 * 5, "certifications": ["BPA-free"],
                   "warranty_years": rng.choice([1, 5])}
    if insulated:
        attrs["keeps_cold_h"] = 24
        attrs["keeps_hot_h"] = 12
    title = f"{brand} {model} {cap} L {'Insulated ' if insulated else ''}{'Steel' if 'steel' in material else 'Tritan'} Water Bottle"
    s = [
        _pick(rng, ["The {m} is {c} L water bottle in {mat} with a {lid}.", "Made of {mat}, the {m} holds {c_} L and has a {lid}."],
              m=model, c=_a(cap), c_=cap, mat=material, lid=lid),
        ("Double-wall vacuum insulation keeps drinks cold for 24 hours and hot for 12." if insulated else "It is not insulated."),
        f"It weighs {attrs['weight_g']} g" + (" and is leakproof." if attrs["leakproof"] else "; the straw lid is not leakproof."),
        "It is dishwasher safe." if attrs["dishwasher_safe"] else "Wash it by hand.",
        "It is BPA-free.",
    ]
    bullets = [f"{cap} L", material.capitalize(), lid.capitalize(), "BPA-free"]
    if insulated:
        bullets.append("Cold 24 h / hot 12 h")
    return dict(title=title, attrs=attrs, price=_price(rng, 14, 54), sentences=s, bullets=bullets,
                sizes=[None], colours=rng.sample(COLOURS["bottles"], rng.choice([2, 3, 4])))


# key, category path, id code, count, recipe
CATEGORIES: list[tuple[str, list[str], str, int, Callable[..., dict]]] = [
    ("boots", ["Footwear", "Hiking Boots"], "BOOT", 30, _boots),
    ("trail", ["Footwear", "Trail Running Shoes"], "SHOE", 26, _trail),
    ("rain", ["Apparel", "Rain Jackets"], "RAIN", 26, _rain),
    ("insulated", ["Apparel", "Insulated Jackets"], "INSL", 24, _insulated),
    ("base", ["Apparel", "Base Layers"], "BASE", 20, _base),
    ("packs", ["Packs", "Backpacks"], "PACK", 28, _packs),
    ("tents", ["Camping", "Tents"], "TENT", 22, _tents),
    ("bags", ["Camping", "Sleeping Bags"], "SLBG", 22, _bags),
    ("pads", ["Camping", "Sleeping Pads"], "PAD", 16, _pads),
    ("camp", ["Camping", "Camp Kitchen"], "CAMP", 24, _camp),
    ("cook", ["Home", "Kitchen", "Cookware"], "COOK", 26, _cook),
    ("bedding", ["Home", "Bedding"], "BED", 24, _bedding),
    ("lights", ["Lighting", "Headlamps & Lanterns"], "LITE", 24, _lights),
    ("bottles", ["Hydration", "Water Bottles"], "BOTL", 24, _bottles),
]


_SIZE_CODES = {"Regular": "REG", "Long": "LONG", "Wide": "WIDE", "Standard": "STD", "Throw": "THROW"}


def _code(value: str) -> str:
    """Short SKU part: '10' -> '10', 'S/M' -> 'SM', 'Dark Olive' -> 'DARKO'."""
    return _SIZE_CODES.get(value) or re.sub(r"[^A-Z0-9]", "", value.upper())[:5]


def _stock(rng: random.Random, n: int, state: str) -> list[int]:
    if state == "out":
        return [0] * n
    if state == "low":
        stock = [0] * n
        for _ in range(rng.randint(1, 4)):
            stock[rng.randrange(n)] += 1
        return stock
    return [0 if rng.random() < 0.12 else rng.randint(1, 30) for _ in range(n)]


def build_catalog(rng: random.Random, website: str, currency: str) -> list[dict]:
    """All demo products as Product-shaped dicts, in category order."""
    products = []
    for key, path, code, count, recipe in CATEGORIES:
        brands = [b for b, cats in BRANDS.items() if key in cats]
        models = rng.sample(MODEL_NAMES, count)  # one model name per product of a category: distinct titles and copy
        for i, model in enumerate(models):
            brand = rng.choice(brands)
            spec = recipe(rng, i, brand, model)
            pid = f"TH-{code}-{i + 1:03d}"
            roll = rng.random()
            state = "out" if roll < 0.06 else "low" if roll < 0.16 else "normal"
            combos = [(size, colour) for colour in spec["colours"] for size in spec["sizes"]]
            stock = _stock(rng, len(combos), state)
            variants = []
            if combos != [(None, None)]:
                for (size, colour), units in zip(combos, stock, strict=True):
                    sku = "-".join([pid] + [_code(p) for p in (size, colour) if p])
                    variants.append({"sku": sku, "size": size, "colour": colour, "stock": units, "price": None})
            n_sentences = min(len(spec["sentences"]), rng.choice([3, 4, 4]))
            sentences = spec["sentences"][:1] + rng.sample(spec["sentences"][1:], n_sentences - 1)
            rated = rng.random() > 0.05
            products.append({
                "id": pid,
                "title": spec["title"],
                "description": " ".join(sentences),
                "bullets": spec["bullets"][:5],
                "brand": brand,
                "category": path,
                "price": spec["price"],
                "currency": currency,
                "stock": sum(stock),
                "variants": variants,
                "attributes": spec["attrs"],
                "images": [],
                "url": f"{website.rstrip('/')}/p/{pid}",
                "rating": round(rng.uniform(3.4, 4.9), 1) if rated else None,
                "rating_count": rng.choice([rng.randint(3, 60), rng.randint(60, 2400)]) if rated else 0,
            })
    return products
