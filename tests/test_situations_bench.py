"""The situation-reading benchmark's set and kind cards (the readers themselves run in the
benchmark: they need the model and the embedder)."""

from __future__ import annotations

from benchmarks.conversation_shop import catalog
from benchmarks.situations import _kinds, load_situations


def test_every_situation_wants_kinds_the_shop_sells_and_names_none() -> None:
    situations = load_situations()
    kinds = _kinds(catalog())
    assert len(situations) >= 30
    for message, wanted in situations:
        assert wanted and wanted <= set(kinds), message
        # a situation names no kind of item: the reader has to infer it
        assert not any(kinds[k]["name"].lower() in message.lower() for k in wanted), message


def test_kind_cards_carry_name_departments_and_use() -> None:
    kinds = _kinds(catalog())
    card = kinds["descale"]
    assert card["name"] == "Descaling Tablets"
    assert card["card"].startswith("Descaling Tablets (Coffee & Tea > Machine Cleaning). ")


def test_every_language_request_is_foreign_and_wants_kinds_the_shop_sells() -> None:
    from benchmarks.situations import LANGUAGES
    from bot.chat.language import detect_language

    requests = load_situations(LANGUAGES)
    kinds = _kinds(catalog())
    assert len(requests) >= 20
    languages = set()
    for message, wanted in requests:
        assert wanted and wanted <= set(kinds), message
        languages.add(detect_language(message))
    # the assistant's own detector sees each as another language (it declines them today)
    assert "en" not in languages and len(languages) >= 5
