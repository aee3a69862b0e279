"""The languages Kestrel knows (translation, summaries), and offline language detection.

Codes are BCP 47 tags (``zh-Hans``, ``zh-Hant``) because Chinese needs its script:
a translation into Simplified Chinese is not one into Traditional Chinese. The English
names are what the prompts say (models follow English instructions best) and what
the CLI prints; the UI shows names from QLocale instead.

Detection uses py3langid (a small naive Bayes model, offline), restricted to the
languages listed here, so a short sentence is never labelled with a language the
picker cannot show. py3langid says only "zh", so Simplified and Traditional are
told apart by counting characters that exist in only one of the two scripts.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any

from app.base.translatable import QT_TRANSLATE_NOOP

__all__ = [
    "LANGUAGES", "UNDETERMINED", "Language", "chinese_script", "detect_language", "get_language",
    "language_codes", "resolve_language", "warm_up",
]

UNDETERMINED = "und"  # BCP 47 for "undetermined": what detection says when it cannot tell
MIN_GUESS = 0.25  # below this the model is guessing (with no known features every language scores 1/23)


@dataclass(frozen=True)
class Language:
    """One translation language: its code, English name and py3langid label."""

    code: str
    name: str
    langid: str  # the label py3langid uses

    @property
    def locale_name(self) -> str:
        """The name QLocale understands (``zh_Hans``)."""
        return self.code.replace("-", "_")


LANGUAGES: tuple[Language, ...] = (
    Language("en", QT_TRANSLATE_NOOP("LanguageNames", "English"), "en"),
    Language("zh-Hans", QT_TRANSLATE_NOOP("LanguageNames", "Simplified Chinese"), "zh"),
    Language("zh-Hant", QT_TRANSLATE_NOOP("LanguageNames", "Traditional Chinese"), "zh"),
    Language("ja", QT_TRANSLATE_NOOP("LanguageNames", "Japanese"), "ja"),
    Language("ko", QT_TRANSLATE_NOOP("LanguageNames", "Korean"), "ko"),
    Language("fr", QT_TRANSLATE_NOOP("LanguageNames", "French"), "fr"),
    Language("de", QT_TRANSLATE_NOOP("LanguageNames", "German"), "de"),
    Language("es", QT_TRANSLATE_NOOP("LanguageNames", "Spanish"), "es"),
    Language("ru", QT_TRANSLATE_NOOP("LanguageNames", "Russian"), "ru"),
    Language("pt", QT_TRANSLATE_NOOP("LanguageNames", "Portuguese"), "pt"),
    Language("it", QT_TRANSLATE_NOOP("LanguageNames", "Italian"), "it"),
    Language("ar", QT_TRANSLATE_NOOP("LanguageNames", "Arabic"), "ar"),
    Language("nl", QT_TRANSLATE_NOOP("LanguageNames", "Dutch"), "nl"),
    Language("pl", QT_TRANSLATE_NOOP("LanguageNames", "Polish"), "pl"),
    Language("tr", QT_TRANSLATE_NOOP("LanguageNames", "Turkish"), "tr"),
    Language("uk", QT_TRANSLATE_NOOP("LanguageNames", "Ukrainian"), "uk"),
    Language("vi", QT_TRANSLATE_NOOP("LanguageNames", "Vietnamese"), "vi"),
    Language("id", QT_TRANSLATE_NOOP("LanguageNames", "Indonesian"), "id"),
    Language("hi", QT_TRANSLATE_NOOP("LanguageNames", "Hindi"), "hi"),
    Language("th", QT_TRANSLATE_NOOP("LanguageNames", "Thai"), "th"),
    Language("sv", QT_TRANSLATE_NOOP("LanguageNames", "Swedish"), "sv"),
    Language("el", QT_TRANSLATE_NOOP("LanguageNames", "Greek"), "el"),
    Language("he", QT_TRANSLATE_NOOP("LanguageNames", "Hebrew"), "he"),
)
_BY_CODE = {lang.code.lower(): lang for lang in LANGUAGES}
_ALIASES = {
    "zh": "zh-Hans", "zh-cn": "zh-Hans", "zh-sg": "zh-Hans", "zh-hans-cn": "zh-Hans", "chinese": "zh-Hans",
    "zh-tw": "zh-Hant", "zh-hk": "zh-Hant", "zh-mo": "zh-Hant", "zh-hant-tw": "zh-Hant",
    "pt-br": "pt", "pt-pt": "pt", "en-us": "en", "en-gb": "en", "iw": "he",
}

# Characters that differ between the scripts, as (simplified, traditional) pairs. Pairs where
# the simplified form is also common in Traditional text (后, 里, 于, 制, 着, 干) are left out.
_PAIRS = (
    "这這个個们們来來为為国國说說时時会會对對过過发發种種经經么麼学學现現当當没沒动動还還进進样樣"
    "开開从從实實军軍无無与與长長机機关關点點业業将將两兩间間问問并並应應战戰头頭体體见見产產话話"
    "给給门門儿兒东東声聲员員论論处處义義几幾认認条條气氣题題尔爾别別变變总總电電数數报報结結务務"
    "场場计計资資许許统統区區队隊决決马馬书書则則听聽却卻达達强強难難权權设設记記类類据據边邊张張"
    "该該规規万萬觉覺术術领領确確传傳师師观觀让讓识識带帶导導争爭运運笔筆语語读讀写寫爱愛车車买買"
    "卖賣钱錢网網页頁错錯请請谢謝欢歡汉漢简簡译譯钟鐘办辦专專历歷级級线線续續组組织織络絡证證调調"
    "华華乐樂众眾优優价價伤傷刘劉刚剛创創剧劇劳勞势勢医醫单單卫衛厅廳县縣参參双雙叶葉号號吗嗎启啟"
    "响響园園围圍图圖圣聖坏壞块塊坚堅备備复複夺奪妈媽孙孫宁寧宝寶审審宫宮寻尋层層岁歲岛島币幣帮幫"
    "广廣库庫庙廟异異弃棄弹彈归歸录錄忆憶忧憂怀懷态態恶惡惊驚惯慣戏戲护護报報择擇拥擁换換损損摄攝"
)
_SIMPLIFIED_ONLY = frozenset(_PAIRS[0::2])
_TRADITIONAL_ONLY = frozenset(_PAIRS[1::2])

_identifier_lock = threading.Lock()


def language_codes() -> list[str]:
    """Every code, in picker order."""
    return [lang.code for lang in LANGUAGES]


def get_language(code: str) -> Language:
    """The language for an exact code (any case); KeyError for an unknown one."""
    return _BY_CODE[code.lower()]


def resolve_language(text: str) -> Language | None:
    """A code, a common alias (``zh-CN``, ``pt_BR``) or an English name to a language; None if unknown."""
    key = text.strip().lower().replace("_", "-")
    if not key:
        return None
    key = _ALIASES.get(key, key)
    if key.lower() in _BY_CODE:
        return _BY_CODE[key.lower()]
    for lang in LANGUAGES:
        if lang.name.lower() == key:
            return lang
    base = key.split("-")[0]
    return _BY_CODE.get(base)


def chinese_script(text: str) -> str:
    """``zh-Hant`` when Traditional-only characters outnumber Simplified-only ones, else ``zh-Hans``."""
    simplified = sum(ch in _SIMPLIFIED_ONLY for ch in text)
    traditional = sum(ch in _TRADITIONAL_ONLY for ch in text)
    return "zh-Hant" if traditional > simplified else "zh-Hans"


@functools.cache
def _load_identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # noqa: PLC0415 - 0.5 s: only when needed

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(sorted({lang.langid for lang in LANGUAGES}))
    return identifier


def _get_identifier() -> Any:
    """py3langid's model, loaded once (about half a second) and restricted to our languages."""
    with _identifier_lock:  # two threads asking at once must not both pay for the load
        return _load_identifier()


def warm_up() -> None:
    """Load the detection model now (call from a background thread to keep the UI smooth)."""
    _get_identifier()


def _script_shortcut(letters: list[str]) -> str | None:
    """Kana means Japanese and Hangul means Korean, whatever else the text contains."""
    kana = sum("\u3040" <= ch <= "\u30ff" for ch in letters)
    hangul = sum("\uac00" <= ch <= "\ud7af" or "\u1100" <= ch <= "\u11ff" for ch in letters)
    if hangul >= max(2, len(letters) * 0.2):
        return "ko"
    if kana >= max(2, len(letters) * 0.1):
        return "ja"
    return None


def detect_language(text: str, max_chars: int = 4000) -> tuple[str, float]:
    """The language code of ``text`` and a confidence in [0, 1]; ``("und", 0.0)`` without letters."""
    sample = text[:max_chars]
    letters = [ch for ch in sample if ch.isalpha()]
    if len(letters) < 2:
        return UNDETERMINED, 0.0
    shortcut = _script_shortcut(letters)
    if shortcut is not None:
        return shortcut, 1.0
    label, confidence = _get_identifier().classify(sample)
    if confidence < MIN_GUESS:
        return UNDETERMINED, float(confidence)
    if label == "zh":
        return chinese_script(sample), float(confidence)
    for lang in LANGUAGES:
        if lang.langid == label:
            return lang.code, float(confidence)
    return UNDETERMINED, 0.0
