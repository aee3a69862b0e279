"""Offline language detection on one or two sentences of each language and script."""

from __future__ import annotations

import pytest

from app.base.languages import LANGUAGES, UNDETERMINED, chinese_script, detect_language, resolve_language

SAMPLES = {
    "en": "The weather is lovely today, so we are going for a walk in the park.",
    "zh-Hans": "今天天气很好，我们一起去公园散步吧。这个周末你有什么计划？",
    "zh-Hant": "今天天氣很好，我們一起去公園散步吧。這個週末你有什麼計劃？",
    "ja": "今日はとても良い天気なので、公園に散歩に行きましょう。",
    "ko": "오늘은 날씨가 정말 좋아서 공원에 산책하러 갈 거예요.",
    "fr": "Il fait très beau aujourd'hui, alors nous allons nous promener au parc.",
    "de": "Heute ist das Wetter sehr schön, deshalb gehen wir im Park spazieren.",
    "es": "Hoy hace muy buen tiempo, así que vamos a dar un paseo por el parque.",
    "ru": "Сегодня прекрасная погода, поэтому мы пойдём гулять в парк.",
    "pt": "Hoje o tempo está ótimo, por isso vamos passear no parque.",
    "it": "Oggi il tempo è bellissimo, quindi andiamo a fare una passeggiata al parco.",
    "ar": "الطقس جميل جدا اليوم، لذلك سنذهب في نزهة إلى الحديقة.",
    "uk": "Сьогодні чудова погода, тому ми підемо гуляти в парк.",
    "el": "Σήμερα ο καιρός είναι υπέροχος, οπότε θα πάμε βόλτα στο πάρκο.",
    "he": "מזג האוויר נהדר היום, אז אנחנו הולכים לטייל בפארק.",
}


@pytest.mark.parametrize(("code", "text"), list(SAMPLES.items()))
def test_one_or_two_sentences_are_enough(code: str, text: str) -> None:
    detected, confidence = detect_language(text)
    assert detected == code
    assert 0.5 <= confidence <= 1.0


def test_simplified_and_traditional_chinese_are_told_apart_by_their_characters() -> None:
    assert chinese_script("这个软件在你的电脑上运行语言模型。") == "zh-Hans"
    assert chinese_script("這個軟體在你的電腦上執行語言模型。") == "zh-Hant"
    assert detect_language("我们的说明书")[0] == "zh-Hans"
    assert detect_language("我們的說明書")[0] == "zh-Hant"


def test_no_letters_means_undetermined() -> None:
    assert detect_language("") == (UNDETERMINED, 0.0)
    assert detect_language("12 345 — 678!") == (UNDETERMINED, 0.0)
    assert detect_language("OK")[0] == UNDETERMINED  # too little to say anything


def test_every_language_has_a_unique_code_and_the_required_ones_are_offered() -> None:
    codes = [lang.code for lang in LANGUAGES]
    assert len(codes) == len(set(codes))
    assert {"en", "zh-Hans", "zh-Hant", "ja", "ko", "fr", "de", "es", "ru", "pt", "it", "ar"} <= set(codes)


@pytest.mark.parametrize(("text", "code"), [
    ("fr", "fr"), ("FR", "fr"), ("zh", "zh-Hans"), ("zh-CN", "zh-Hans"), ("zh_TW", "zh-Hant"),
    ("zh-hant", "zh-Hant"), ("pt-BR", "pt"), ("German", "de"), ("en-GB", "en"),
])
def test_codes_aliases_and_english_names_resolve(text: str, code: str) -> None:
    lang = resolve_language(text)
    assert lang is not None and lang.code == code


def test_unknown_codes_do_not_resolve() -> None:
    assert resolve_language("xx") is None
    assert resolve_language("") is None
    assert resolve_language("klingon") is None
