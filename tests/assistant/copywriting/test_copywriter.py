"""Batch product copy with the tiny random model: resumable output, failures, styles, faithfulness repair."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.copywriting.journal import CopyJournal, pending, read_records
from assistant.copywriting.writer import (
    CopyRecord,
    CopyStyle,
    build_messages,
    clean_draft,
    generate_copy,
    input_hash,
    load_style,
    write_copy,
)
from assistant.errors import ConfigError
from retrieval.catalog import Product, Variant

REPO = Path(__file__).resolve().parents[3]


def make_products(n: int) -> list[Product]:
    colours = ["Black", "Navy", "Red", "Green"]
    return [
        Product(
            id=f"p{i:03d}",
            title=f"Trail {10 + i} Daypack - Ripstop Nylon, {colours[i % 4]}",
            brand="Peakline",
            category=["Outdoor", "Bags"],
            attributes={"weight_g": 400 + i, "capacity_l": 10 + i, "material": "ripstop nylon",
                        "colour": colours[i % 4], "waterproof": i % 2 == 0},
            variants=[Variant(sku=f"p{i}-s", size="S", stock=2), Variant(sku=f"p{i}-l", size="L", stock=0)],
            price=40.0 + i,
        )
        for i in range(n)
    ]


def write_catalog(path: Path, products: list[Product]) -> Path:
    path.write_text("".join(p.model_dump_json() + "\n" for p in products), encoding="utf-8")
    return path


@pytest.fixture
def tiny_model(tiny_llm_dir):
    from assistant.conversation.llm import LocalChatModel

    return LocalChatModel(model_path=str(tiny_llm_dir), max_new_tokens=24, temperature=0.0)


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---------------------------------------------------------------- styles


def test_default_style_loads_and_unknown_keys_name_the_file_and_key(tmp_path):
    style = load_style()
    assert style.language == "English" and style.faithfulness == "regenerate"
    bad = tmp_path / "bad.yaml"
    bad.write_text("tone: warm\nbulets: 3\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml', key 'bulets'.*known keys"):
        load_style(bad)
    bad.write_text("length: huge\n")
    with pytest.raises(ConfigError, match=r"key 'length'.*huge"):
        load_style(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_style(tmp_path / "missing.yaml")


def test_bundled_example_style_is_valid():
    style = load_style(REPO / "assistant" / "copywriting" / "styles" / "outdoor_brand.yaml")
    assert style.format == "bullets" and style.brand_voice_examples


def test_style_options_reach_the_prompt_and_the_output(tiny_model):
    style = CopyStyle(language="German", tone="playful", bullets=3, forbidden_words=["ripstop", "best"],
                      brand_voice_examples=["Rain? Bring it on."], format="bullets", length="short")
    product = make_products(1)[0]
    system, user = (m.content for m in build_messages(product, style))
    assert "German" in system and "German" in user and "playful" in system
    assert "Rain? Bring it on." in system and "Never use these words: ripstop, best." in user
    record = generate_copy(product, style, tiny_model)
    assert record.error is None
    assert len(record.bullets) == 3
    output = " ".join([record.text, record.seo_title, *record.bullets]).lower()
    assert "ripstop" not in output and "best" not in output
    assert all(line.startswith("- ") for line in record.text.splitlines())


def test_clean_draft_strips_markdown_preamble_repeats_forbidden_words_and_cut_off_sentences():
    style = CopyStyle(forbidden_words=["amazing", "world-class"])
    raw = ("Sure! Here is a product description: **Amazing** pack for your trips. Amazing pack for your trips. "
           "Its world-class frame is comfy and light. Insert [Brand Name] here now. It keeps going and")
    assert clean_draft(raw, style) == "Pack for your trips. Its frame is comfy and light."


# ---------------------------------------------------------------- generation and faithfulness


def test_generate_copy_reports_claims_and_final_copy_has_no_unsupported_claim(tiny_model):
    records = [r for batch in write_copy(make_products(6), load_style(), tiny_model, batch_size=3) for r in batch]
    assert len(records) == 6 and all(r.error is None for r in records)
    for r in records:
        f = r.faithfulness
        assert r.text and r.seo_title and len(r.bullets) == 5
        assert f.checked == len(f.claims) and f.supported == f.checked  # unsupported ones were dropped
        assert r.model and r.timings["batch_size"] == 3
        assert r.input_hash == input_hash(next(p for p in make_products(6) if p.id == r.id), load_style(), r.model)


def test_flag_mode_keeps_unsupported_claims_and_reports_them():
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    product = make_products(1)[0]
    liar = FakeListChatModel(responses=["A 20 L pack in ripstop nylon. It weighs 900 g and is made of cotton."])
    record = generate_copy(product, CopyStyle(faithfulness="flag"), liar)
    claims = {c.text: c.supported for c in record.faithfulness.claims}
    assert claims == {"20 l": False, "ripstop nylon": True, "900 g": False, "cotton": False}
    assert "900 g" in record.text

    liar = FakeListChatModel(responses=["A 10 L pack in ripstop nylon. It weighs 900 g."] * 2)
    record = generate_copy(product, CopyStyle(faithfulness="regenerate"), liar)
    f = record.faithfulness
    assert f.regenerated and f.draft_unsupported == 1 and f.dropped_sentences == 1
    assert record.text == "A 10 L pack in ripstop nylon." and f.checked == f.supported == 2


def test_endpoint_models_are_called_concurrently_with_workers():
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    model = FakeListChatModel(responses=["A sturdy daypack in ripstop nylon for everyday trips."] * 20, sleep=0.2)
    start = time.perf_counter()
    records = [r for b in write_copy(make_products(8), load_style(), model, batch_size=8, workers=8) for r in b]
    assert time.perf_counter() - start < 8 * 0.2  # one at a time would take 1.6 s
    assert [r.error for r in records] == [None] * 8
    assert all(r.text == "A sturdy daypack in ripstop nylon for everyday trips." for r in records)


def test_a_product_whose_prompt_fails_is_recorded_and_the_batch_goes_on(tiny_model):
    products = make_products(3)
    products[1] = products[1].model_copy(update={"title": "Huge " + "word " * 3000})  # beyond the 1024-token context
    records = {r.id: r for b in write_copy(products, load_style(), tiny_model, batch_size=3) for r in b}
    assert "exceeds the model's context" in records["p001"].error
    assert records["p000"].error is None and records["p002"].error is None and records["p002"].text


# ---------------------------------------------------------------- resumable output


def test_journal_cuts_a_torn_last_line_and_latest_record_wins(tmp_path):
    out = tmp_path / "copy.jsonl"
    first = CopyRecord(id="a", title="A", copy="old", input_hash="h1")
    with CopyJournal(out) as journal:
        journal.append(first)
        journal.append(CopyRecord(id="b", title="B", copy="b", input_hash="h2"))
        journal.append(first.model_copy(update={"text": "new"}))
    with open(out, "a") as fh:
        fh.write('{"id": "c", "title": "C", "co')  # a crash mid-write
    assert set(read_records(out)) == {"a", "b"}  # readers skip the torn line
    with CopyJournal(out) as journal:  # a writer cuts it off
        assert journal.records()["a"].text == "new"
        journal.append(CopyRecord(id="c", title="C", copy="c"))
    assert [r["id"] for r in lines_of(out)] == ["a", "b", "a", "c"]
    assert lines_of(out)[0]["copy"] == "old"  # the alias is what is written


def test_a_second_writer_on_the_same_file_is_refused(tmp_path):
    from assistant.copywriting.writer import CopyError

    with CopyJournal(tmp_path / "x.jsonl"):
        with pytest.raises(CopyError, match="another"), CopyJournal(tmp_path / "x.jsonl"):
            pass


def test_pending_skips_done_products_and_redoes_changed_or_failed_ones():
    style, model = load_style(), "m"
    products = make_products(3)
    done = {
        "p000": CopyRecord(id="p000", title="", input_hash=input_hash(products[0], style, model)),
        "p001": CopyRecord(id="p001", title="", input_hash="stale"),
        "p002": CopyRecord(id="p002", title="", input_hash=input_hash(products[2], style, model), error="boom"),
    }
    assert [p.id for p in pending(products, done, style, model)] == ["p001", "p002"]
    assert [p.id for p in pending(products, done, style.model_copy(update={"tone": "dry"}), model)] == [
        "p000", "p001", "p002"]


def _cli(args: list[str], env: dict[str, str]) -> list[str]:
    return [sys.executable, "-c", "from assistant.cli import main; main()", *args]


@pytest.fixture
def cli_env(tiny_llm_dir, shopbot_home):
    env = dict(os.environ, SHOPBOT_LLM__MODEL=str(tiny_llm_dir), SHOPBOT_LLM__MAX_NEW_TOKENS="24",
               SHOPBOT_LLM__THREADS="1", OMP_NUM_THREADS="1", SHOPBOT_HOME=str(shopbot_home))
    env.pop("SHOPBOT_CONFIG", None)
    return env


@pytest.mark.slow  # four subprocesses each import torch: minutes, not seconds
def test_cli_resumes_after_kill_without_duplicates_and_redoes_changed_products(tmp_path, cli_env):
    products = make_products(12)
    catalog = write_catalog(tmp_path / "catalog.jsonl", products)
    out = tmp_path / "copy.jsonl"
    args = ["copy", "generate", "--catalog", str(catalog), "--out", str(out), "--batch-size", "2"]
    proc = subprocess.Popen(_cli(args, cli_env), env=cli_env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if out.exists() and len(out.read_text().splitlines()) >= 4:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"finished before it could be killed: {proc.communicate()[1].decode()[-2000:]}"
    os.killpg(proc.pid, signal.SIGKILL)  # a crash: no cleanup runs
    proc.wait()
    written_before = len(lines_of(out))
    assert 4 <= written_before < 12

    done = subprocess.run(_cli(args, cli_env), env=cli_env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    ids = [r["id"] for r in lines_of(out)]
    assert sorted(ids) == [p.id for p in products]  # nothing lost, nothing twice
    assert all(set(r) >= {"id", "title", "copy", "bullets", "seo_title", "faithfulness", "model", "timings"}
               for r in lines_of(out))

    products[5] = products[5].model_copy(update={"title": "Trail 99 Daypack - Ripstop Nylon, Orange"})
    write_catalog(catalog, products)
    changed = subprocess.run(_cli(args, cli_env), env=cli_env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert changed.returncode == 0, changed.stderr[-2000:]
    rows = lines_of(out)
    assert len(rows) == 13 and rows[-1]["id"] == "p005"  # only the changed product was written again
    assert read_records(out)["p005"].title.startswith("Trail 99")


def test_cli_rejects_a_bad_style_file_with_one_line(tmp_path, monkeypatch, capsys):
    from assistant.cli import main

    catalog = write_catalog(tmp_path / "catalog.jsonl", make_products(1))
    style = tmp_path / "style.yaml"
    style.write_text("tone: warm\ncolour: blue\n")
    args = ["copy", "generate", "--catalog", str(catalog), "--out", str(tmp_path / "o.jsonl"), "--style", str(style)]
    monkeypatch.setattr(sys, "argv", ["shopbot", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "style.yaml', key 'colour'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.jsonl").exists()  # nothing loaded or written before the style was checked


def test_score_copy_compares_with_the_hidden_description_and_counts_claims():
    from assistant.copywriting.claims import Claim
    from assistant.copywriting.evaluate import hide_reference, score_copy
    from assistant.copywriting.writer import Faithfulness

    real = Product(id="a", title="Trail Pack", brand="Peakline", bullets=["Two side pockets and a padded back."],
                   description="A navy pack for day hikes.", attributes={"colour": "navy", "material": "nylon"})
    hidden = hide_reference(real)  # the generator sees the bullets (as `copy generate` does), not the description
    assert hidden.description == "" and hidden.bullets == real.bullets and hidden.title == "Trail Pack"
    good = CopyRecord(id="a", title="Trail Pack", copy="A navy pack for day hikes.", bullets=["Material: nylon"],
                      faithfulness=Faithfulness(checked=2, supported=2, draft_checked=3, draft_unsupported=1,
                                                claims=[Claim(text="navy", kind="colour", supported=True)]))
    failed = CopyRecord(id="b", title="B", error="boom")
    report = score_copy([real, real.model_copy(update={"id": "b"})], [good, failed])
    assert report["rougeL"] == 1.0
    assert report["attribute_coverage"] == round(2 / 3, 4)  # navy and nylon, not the brand
    assert report["attribute_coverage_copy"] == round(1 / 3, 4)
    assert report["unsupported_claim_rate"] == 0.0 and report["draft_unsupported_claim_rate"] == round(1 / 3, 4)
    assert report["products"] == 2 and report["failed"] == 1
    assert report["restatement_rate"] == 0.0 and report["nonword_rate"] == 0.0 and report["fallback_rate"] == 0.0


def test_score_copy_rates_restatements_nonwords_fallbacks_and_unsupported_facts():
    from assistant.copywriting.claims import Claim
    from assistant.copywriting.evaluate import score_copy
    from assistant.copywriting.writer import Faithfulness

    phone = Product(id="m", title="Moto G Power | 3-Day Battery | Unlocked | Made for US by Motorola", brand="Motorola",
                    bullets=["Unlocked for the freedom to choose your carrier."], description="A phone that lasts.")
    # two of four sentences restate the title; one non-word among 28 words; 1 of 4 factual claims unsupported
    text = ("Moto G Power by Motorola. Unlocked for the freedom to choose your carrier. "
            "The battery lasts three days between charges. It is frobulated for calls and streaming music.")
    claims = [Claim(text="motorola", kind="maker", supported=True), Claim(text="3", kind="number", supported=True),
              Claim(text="unlocked", kind="feature", supported=True), Claim(text="5g", kind="number", supported=False),
              Claim(text="frobulated", kind="nonword", supported=False)]
    record = CopyRecord(id="m", title=phone.title, copy=text,
                        faithfulness=Faithfulness(checked=5, supported=3, claims=claims, fallback=True))
    report = score_copy([phone], [record])
    assert report["restatement_rate"] == 0.5
    assert report["nonword_rate"] == round(1 / 28, 4) and report["nonwords"] == 1
    assert report["unsupported_rate"] == 0.25 and report["unsupported_claim_rate"] == 0.4
    assert report["fallback_rate"] == 1.0


def test_the_held_out_split_is_fixed_by_the_product_id_and_covers_a_tenth():
    from assistant.copywriting.evaluate import select_split
    from finetune.copy_data import split_of

    ids = [f"SKU-{i}" for i in range(4000)]
    share = sum(split_of(i) == "test" for i in ids) / len(ids)
    assert 0.085 < share < 0.115
    assert [split_of(i) for i in ids[:50]] == [split_of(i) for i in ids[:50]]  # no state, no randomness
    products = [Product(id=i, title="T", description="d" if n % 2 else "") for n, i in enumerate(ids[:400])]
    test = select_split(products, "test")
    assert test and all(split_of(p.id) == "test" and p.description for p in test)
    with pytest.raises(ValueError, match="Unknown split 'held'"):
        select_split(products, "held")


def test_clean_draft_drops_an_echoed_title_and_near_repeats():
    title = "Happy Belly Peanut Oil, 128 Fl Oz"
    raw = ("The Happy Belly Peanut Oil, 128 Fl Oz This oil is pressed from roasted peanuts for frying. "
           "It is pressed from roasted peanuts for frying at home. Use it for stir fries.")
    assert clean_draft(raw, CopyStyle(), title) == "This oil is pressed from roasted peanuts for frying. Use it for stir fries."


def test_an_echoed_title_that_is_the_subject_stays():
    # "<title> is a ..." without its title would open "Is a ...": not a sentence
    assert clean_draft("Camino Winds is a novel about a hurricane.", CopyStyle(), "Camino Winds") == \
        "Camino Winds is a novel about a hurricane."
