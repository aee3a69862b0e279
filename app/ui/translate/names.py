"""Language names for the pickers, from QLocale.

QLocale knows each language's own name ("français", "简体中文") and its English name,
not its name in a third language. So a picker entry is the name in the UI language
where that is known (the English name, passed through tr() for translators; the native
name when the UI is in that very language), followed by the native name, so everyone
can find their language whatever the interface language is.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QLocale
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QComboBox, QWidget

from app.base.languages import LANGUAGES, Language, get_language
from app.base.settings import Settings

AUTO = "auto"


def ui_locale(settings: Settings) -> QLocale:
    """The locale of the interface, as the application picks it."""
    choice = settings.get_str("ui_language")
    return QLocale.system() if choice == "auto" else QLocale(choice)


def _tr(text: str) -> str:
    return QCoreApplication.translate("LanguageNames", text)


_WS = QFontDatabase.WritingSystem
_SCRIPTS = {
    "zh-Hans": _WS.SimplifiedChinese, "zh-Hant": _WS.TraditionalChinese, "ja": _WS.Japanese, "ko": _WS.Korean,
    "ru": _WS.Cyrillic, "uk": _WS.Cyrillic, "ar": _WS.Arabic, "he": _WS.Hebrew, "el": _WS.Greek,
    "th": _WS.Thai, "hi": _WS.Devanagari,
}


# QLocale names these after a country ("American English", "español de España").
_PLAIN_NATIVE = {"en": "English", "es": "español"}


def renderable(lang: Language) -> bool:
    """False when no installed font has the language's script (its name would show as boxes)."""
    system = _SCRIPTS.get(lang.code)
    return system is None or bool(QFontDatabase.families(system))


def native_name(lang: Language) -> str:
    """The language's name in itself, capitalised as a picker shows it ("" if it cannot be drawn)."""
    if not renderable(lang):
        return ""
    name = QLocale(lang.locale_name).nativeLanguageName()
    name = _PLAIN_NATIVE.get(lang.code, name)
    return name[:1].upper() + name[1:] if name else ""


def _same_language(lang: Language, ui: QLocale) -> bool:
    own = QLocale(lang.locale_name)
    if own.language() != ui.language():
        return False
    return own.language() != QLocale.Language.Chinese or own.script() == ui.script()


def short_name(code: str, ui: QLocale) -> str:
    """The name alone ("French"), for sentences such as "Auto (detected: French)"."""
    try:
        lang = get_language(code)
    except KeyError:
        return code
    if _same_language(lang, ui) and native_name(lang):
        return native_name(lang)
    return _tr(lang.name)


def label(code: str, ui: QLocale) -> str:
    """The picker entry: "French (français)", or just the native name in its own UI language."""
    try:
        lang = get_language(code)
    except KeyError:
        return code
    name = short_name(code, ui)
    native = native_name(lang)
    return name if not native or native.lower() == name.lower() else f"{name} ({native})"


def fill_combo(combo: QComboBox, ui: QLocale, with_auto: bool) -> None:
    """Put every language in ``combo`` (codes as item data), "Auto" first when asked."""
    combo.clear()
    if with_auto:
        combo.addItem(_tr("Auto-detect"), AUTO)
    for lang in LANGUAGES:
        combo.addItem(label(lang.code, ui), lang.code)
        combo.setItemData(combo.count() - 1, lang.name, 3)  # Qt.ToolTipRole: the English name


def select(combo: QComboBox, code: str) -> bool:
    """Select the entry for ``code``; False if the combo has none."""
    index = combo.findData(code)
    if index >= 0:
        combo.setCurrentIndex(index)
    return index >= 0


def make_combo(object_name: str, parent: QWidget | None = None) -> QComboBox:
    combo = QComboBox(parent)
    combo.setObjectName(object_name)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # "Auto (detected: …)" grows
    combo.setMaxVisibleItems(24)
    return combo
