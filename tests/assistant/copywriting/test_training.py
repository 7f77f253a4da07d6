"""The copywriting adapter: training examples in the exact `copy generate` prompt, the claim-checked target,
training on the tiny model, and `copy generate` picking the shop's copy adapter."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.copywriting.training import copy_chat_model, copy_examples, copy_target, shop_copy_adapter
from assistant.copywriting.writer import CopyStyle, build_messages, prompt_messages, write_copy
from retrieval.catalog import Product

DESCRIPTION = ("This 20 litre daypack is made for long days on the trail. Its ripstop nylon shell shrugs off "
               "branches and light rain, and the padded back panel keeps heavy loads comfortable on steep climbs. "
               "Two side pockets hold water bottles within easy reach while you walk.")


def _pack(i: int = 0, description: str = DESCRIPTION) -> Product:
    return Product(id=f"pack-{i}", title=f"Trail {i} Daypack - Ripstop Nylon, Navy", brand="Peakline",
                   category=["Outdoor", "Bags"], description=description,
                   bullets=["20 litre main compartment with padded back panel", "Ripstop nylon shell",
                            "Two side pockets for water bottles"],
                   attributes={"capacity_l": 20, "material": "ripstop nylon", "colour": "navy"})


class _Recorder:
    """An endpoint-style chat model that records the messages it is sent and replies with a fixed text."""

    model_name = "recorder"

    def __init__(self) -> None:
        self.sent: list[list] = []

    def invoke(self, messages):  # noqa: ANN001, ANN201
        from langchain_core.messages import AIMessage

        self.sent.append(messages)
        return AIMessage(content="A navy daypack for long days on the trail.")


def test_the_training_prompt_is_exactly_the_prompt_copy_generate_sends():
    from assistant.conversation.llm import to_chat_dicts

    style = CopyStyle()
    product = _pack()
    [example], _ = copy_examples([product], style)
    recorder = _Recorder()
    list(write_copy([product], style, recorder, batch_size=1, workers=1))
    sent = to_chat_dicts(recorder.sent[0])
    assert example.prompt == sent == prompt_messages(product, style) == to_chat_dicts(build_messages(product, style))
    assert "ripstop nylon shell shrugs" not in sent[1]["content"]  # the description is the target, never the prompt
    assert example.to_sft_record()["completion"] == [{"role": "assistant", "content": example.target}]


def test_the_target_keeps_the_sentences_the_record_supports_and_drops_records_that_invent():
    style = CopyStyle()
    invented = DESCRIPTION + " It weighs 2 kg and comes with a lifetime warranty."
    target, why = copy_target(_pack(description=invented), style)
    assert why == "ok" and "lifetime warranty" not in target and "ripstop nylon shell" in target
    mostly_invented = ("Made in Italy by Samsung. It weighs 2 kg. It has a lifetime warranty. "
                       "Bluetooth speakers are built in. The pack is navy.")
    assert copy_target(_pack(description=mostly_invented), style) == (None, "unsupported")
    assert copy_target(_pack(description=""), style) == (None, "no_description")
    examples, stats = copy_examples([_pack(0), _pack(1, mostly_invented), _pack(2, "")], style)
    assert [e.id for e in examples] == ["pack-0"]
    assert stats["left_out"] == {"unsupported": 1, "no_description": 1}


def _tiny_copy_config(tmp_path: Path) -> Path:
    import yaml

    # a copy of tests/finetune/test_train.py::_config's settings, for the copy task
    cfg = {
        "name": "copy", "threads": 1, "early_stopping_patience": None, "data": {"max_val_examples": 4},
        "lora": {"task_type": "CAUSAL_LM", "r": 8, "lora_alpha": 16, "lora_dropout": 0.0, "target_modules": "all-linear"},
        "sft": {"max_steps": 4, "per_device_train_batch_size": 4, "learning_rate": 1.0e-2, "logging_steps": 1,
                "eval_strategy": "no", "save_strategy": "no", "report_to": [], "bf16": False, "max_length": 512,
                "completion_only_loss": True, "seed": 0, "disable_tqdm": True},
    }
    path = tmp_path / "copy.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def test_copy_adapter_trains_without_held_out_products_and_copy_generate_uses_it(tiny_llm_dir, tmp_path,
                                                                                   monkeypatch):
    from safetensors.torch import load_file

    from assistant.config import get_settings
    from finetune import load_config, train
    from finetune.copy_data import split_of

    monkeypatch.setenv("SHOPBOT_LLM__MODEL", str(tiny_llm_dir))
    monkeypatch.setenv("SHOPBOT_LLM__MAX_NEW_TOKENS", "16")
    monkeypatch.setenv("SHOPBOT_LLM__BACKEND", "transformers")  # where a backend setting exists: the PEFT path
    get_settings.cache_clear()
    settings = get_settings()
    style = CopyStyle(length="short")
    examples, _ = copy_examples([_pack(i) for i in range(40)], style)
    held_out = [e.id for e in examples if split_of(e.id) == "test"]
    assert held_out  # some of 40 products fall in the held-out tenth
    out = shop_copy_adapter(settings)
    assert out == settings.adapters_dir / "trailhead-hearth-copy"  # the demo shop's profile name, as a slug
    result = train(load_config(_tiny_copy_config(tmp_path)), tiny_llm_dir, out, copy_examples=examples)
    assert result.steps == 4
    assert result.data_stats["test"] == len(held_out)
    assert result.data_stats["train"] == sum(split_of(e.id) == "train" for e in examples)
    weights = load_file(str(out / "adapter_model.safetensors"))
    assert sum(float(v.abs().sum()) for k, v in weights.items() if "lora_B" in k) > 0  # B starts at zero

    model, which = copy_chat_model(settings, "auto")
    assert model.adapter_path == str(out) and "copy adapter" in which
    [record] = next(write_copy([_pack(99)], style, model, batch_size=1))
    assert record.error is None and "trailhead-hearth-copy" in record.model
    base, which = copy_chat_model(settings, "none")
    assert base.adapter_path is None and "no adapter" in which

    # `copy eval --compare`: base and adapter on the same products, in one run, every metric of the issue
    import json

    from typer.testing import CliRunner

    from assistant.cli import app

    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("".join(_pack(i).model_dump_json() + "\n" for i in range(100, 104)), encoding="utf-8")
    result = CliRunner().invoke(app, ["copy", "eval", "--catalog", str(catalog), "--split", "all", "--limit", "3",
                                      "--compare", "--json", "--out", str(tmp_path / "eval")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert report["split"] == "all" and report["products"] == 3
    for who in ("base", "adapter"):
        assert {"rougeL", "attribute_coverage", "unsupported_rate", "restatement_rate", "nonword_rate",
                "fallback_rate"} <= set(report[who]) and report[who]["products"] == 3
    assert "trailhead-hearth-copy" in report["adapter"]["model"] and "copy" not in report["base"]["model"]
    assert (tmp_path / "eval" / "base.jsonl").is_file() and (tmp_path / "eval" / "adapter.jsonl").is_file()


def test_without_a_copy_adapter_auto_is_the_base_model_and_a_missing_name_is_an_error(tiny_llm_dir, monkeypatch,
                                                                                      tmp_path):
    from assistant.config import get_settings
    from assistant.errors import ModelNotAvailableError

    monkeypatch.setenv("SHOPBOT_LLM__MODEL", str(tiny_llm_dir))
    monkeypatch.setenv("SHOPBOT_LLM__BACKEND", "transformers")
    get_settings.cache_clear()
    model, which = copy_chat_model(get_settings(), "auto")
    assert "copy" not in model.model_name and "no copy adapter" in which
    with pytest.raises(ModelNotAvailableError, match="'nope' not found"):
        copy_chat_model(get_settings(), "nope")

    from typer.testing import CliRunner

    from assistant.cli import app

    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text(_pack().model_dump_json() + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["copy", "eval", "--catalog", str(catalog), "--split", "all", "--compare"])
    assert result.exit_code == 1 and "--compare needs a copy adapter" in result.output


def test_an_endpoint_serves_the_copy_adapter_by_name(monkeypatch):
    from assistant.config import get_settings

    monkeypatch.setenv("SHOPBOT_LLM__PROVIDER", "openai")
    monkeypatch.setenv("SHOPBOT_LLM__BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("SHOPBOT_LLM__MODEL", "served-base")
    get_settings.cache_clear()
    model, _ = copy_chat_model(get_settings(), "trailhead-hearth-copy")  # vLLM --lora-modules name=folder
    assert model.model_name == "trailhead-hearth-copy"
    assert copy_chat_model(get_settings(), "auto")[0].model_name == "served-base"


def test_a_locale_sets_the_language_and_an_english_only_model_is_warned_about(caplog):
    from assistant.copywriting.writer import warn_if_unwritable

    assert CopyStyle(locale="de-DE").language == "German"
    assert CopyStyle(locale="en-GB").language == "British English"
    assert CopyStyle(locale="de", language="Deutsch").language == "Deutsch"
    assert "German" in prompt_messages(_pack(), CopyStyle(locale="de-DE"))[1]["content"]
    assert warn_if_unwritable(CopyStyle(), "bundled:smollm2-135m-instruct") is None
    assert "writes English only" in warn_if_unwritable(CopyStyle(locale="fr"), "bundled:smollm2-135m-instruct")
    with pytest.raises(ValueError, match="set `language` too"):
        CopyStyle(locale="xx")
