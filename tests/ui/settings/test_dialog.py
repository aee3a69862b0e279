"""The settings dialog: built from SETTINGS, saves only on OK/Apply, explains bad values, speaks Chinese."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.base import settings as core_settings
from app.base.settings import SETTINGS, TAB_OTHER, Setting, Settings
from app.ui.settings import SettingsDialog
from app.ui.settings import dialog as dialog_module
from tests import gguf_files

TS = Path(__file__).resolve().parents[3] / "resources" / "translations" / "kestrel_zh_CN.ts"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(tmp_path / "settings.json")


def open_dialog(qtbot: QtBot, settings: Settings) -> SettingsDialog:
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    return dialog


def saved(settings: Settings) -> dict[str, object] | None:
    """What is on disk (None: nothing was ever written)."""
    if not settings.path.exists():
        return None
    data = json.loads(settings.path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def record(settings: Settings) -> list[tuple[str, object]]:
    calls: list[tuple[str, object]] = []
    settings.subscribe(lambda key, value: calls.append((key, value)))
    return calls


def tab_titles(dialog: SettingsDialog) -> list[str]:
    tabs = dialog.findChild(QTabWidget)
    assert tabs is not None
    return [tabs.tabText(i) for i in range(tabs.count())]


def tab_of(dialog: SettingsDialog, key: str) -> str:
    tabs = dialog.findChild(QTabWidget)
    assert tabs is not None
    field = dialog.field(key)
    for i in range(tabs.count()):
        page = tabs.widget(i)
        assert page is not None
        if page is field or page.isAncestorOf(field):
            return tabs.tabText(i)
    raise AssertionError(f"{key} is on no tab")


def error_label(dialog: SettingsDialog) -> QLabel:
    found = dialog.findChild(QLabel, "errorLabel")
    assert found is not None
    return found


# ---- built from the declaration ----------------------------------------------------


def test_every_declared_setting_has_the_right_widget(qtbot: QtBot, settings: Settings) -> None:
    dialog = open_dialog(qtbot, settings)
    for setting in SETTINGS:
        field = dialog.field(setting.key)
        if setting.key == "system_prompt":
            expected: type[QWidget] = QPlainTextEdit
        elif setting.choices is not None:
            expected = QComboBox
        elif setting.type is bool:
            expected = QCheckBox
        elif setting.type is int:
            expected = QSpinBox
        elif setting.type is float:
            expected = QDoubleSpinBox
        else:
            expected = QLineEdit
        assert type(field) is expected, setting.key
        assert field.toolTip() == setting.description
    assert set(dialog.values()) == {s.key for s in SETTINGS}
    assert dialog.values() == settings.as_dict()
    with pytest.raises(KeyError):
        dialog.field("no_such_setting")


def test_tabs_and_titles(qtbot: QtBot, settings: Settings) -> None:
    dialog = open_dialog(qtbot, settings)
    assert tab_titles(dialog) == ["Model", "Generation", "Chat", "Interface", "API server"]
    assert tab_of(dialog, "n_gpu_layers") == "Model"
    assert tab_of(dialog, "seed") == "Generation"
    assert tab_of(dialog, "context_overflow") == "Chat"
    assert tab_of(dialog, "show_speed_details") == "Interface"
    labels = {lab.buddy(): lab for lab in dialog.findChildren(QLabel) if lab.buddy() is not None}
    assert labels[dialog.field("n_ctx")].text() == "Context size (tokens)"
    assert labels[dialog.field("n_gpu_layers")].text() == "GPU layers (-1 = automatic)"
    assert labels[dialog.field("n_threads")].text() == "CPU threads (0 = automatic)"
    caption = dialog.findChild(QLabel, "caption_n_ctx")
    assert caption is not None
    assert caption.text() == core_settings.SETTINGS_BY_KEY["n_ctx"].description


def extend(monkeypatch: pytest.MonkeyPatch, *extra: Setting) -> None:
    """Declare more settings, as a later release would."""
    extended = (*SETTINGS, *extra)
    monkeypatch.setattr(core_settings, "SETTINGS", extended)
    monkeypatch.setattr(dialog_module, "SETTINGS", extended)
    for setting in extra:
        monkeypatch.setitem(core_settings.SETTINGS_BY_KEY, setting.key, setting)


def test_a_new_setting_appears_on_the_other_tab(
    qtbot: QtBot, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    extend(monkeypatch, Setting("beta_feature", bool, False, "Try the new thing."))
    dialog = open_dialog(qtbot, Settings(settings.path))
    assert tab_titles(dialog)[-1] == "Other"
    assert tab_of(dialog, "beta_feature") == "Other"
    assert isinstance(dialog.field("beta_feature"), QCheckBox)
    labels = {lab.buddy(): lab.text() for lab in dialog.findChildren(QLabel) if lab.buddy()}
    assert labels[dialog.field("beta_feature")] == "Beta feature"


def test_title_tab_and_choices_come_from_the_declaration(
    qtbot: QtBot, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    extend(monkeypatch,
           Setting("odd_one", int, 1, "Declared without a tab."),
           Setting("voice", str, "calm", "How replies sound.", choices=("calm", "brisk"),
                   title="Voice", tab="Speech", choice_titles={"calm": "Calm and slow"}),
           Setting("speak_aloud", bool, False, "Read replies aloud.", title="Read aloud", tab="Speech"))
    dialog = open_dialog(qtbot, Settings(settings.path))
    assert tab_titles(dialog) == ["Model", "Generation", "Chat", "Interface", "API server", "Speech", "Other"]
    assert (tab_of(dialog, "voice"), tab_of(dialog, "speak_aloud"), tab_of(dialog, "odd_one")) == \
        ("Speech", "Speech", "Other")
    labels = {lab.buddy(): lab.text() for lab in dialog.findChildren(QLabel) if lab.buddy()}
    assert labels[dialog.field("voice")] == "Voice" and labels[dialog.field("speak_aloud")] == "Read aloud"
    combo = dialog.field("voice")
    assert isinstance(combo, QComboBox)
    assert [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())] == \
        [("Calm and slow", "calm"), ("brisk", "brisk")]


def test_spin_boxes_follow_the_limits(qtbot: QtBot, settings: Settings) -> None:
    dialog = open_dialog(qtbot, settings)
    n_ctx = dialog.field("n_ctx")
    assert isinstance(n_ctx, QSpinBox)
    assert (n_ctx.minimum(), n_ctx.maximum(), n_ctx.singleStep()) == (256, 131072, 256)
    seed = dialog.field("seed")
    assert isinstance(seed, QSpinBox)
    assert (seed.minimum(), seed.maximum(), seed.singleStep()) == (-1, 2**31 - 1, 1)
    temperature = dialog.field("temperature")
    assert isinstance(temperature, QDoubleSpinBox)
    assert (temperature.minimum(), temperature.maximum()) == (0.0, 2.0)
    assert (temperature.decimals(), temperature.singleStep()) == (2, 0.05)
    n_ctx.setValue(10**7)  # the box cannot hold more than the setting allows
    assert dialog.values()["n_ctx"] == 131072


def test_choices_have_readable_labels(qtbot: QtBot, settings: Settings) -> None:
    dialog = open_dialog(qtbot, settings)

    def items(key: str) -> list[tuple[str, object]]:
        combo = dialog.field(key)
        assert isinstance(combo, QComboBox)
        return [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())]

    assert items("flash_attn") == [("Automatic", "auto"), ("On", "on"), ("Off", "off")]
    assert items("context_overflow") == [
        ("Drop the oldest turns (and say so)", "drop_oldest"), ("Refuse to send", "refuse"),
    ]
    assert items("ui_language") == [
        ("System language", "auto"), ("English", "en"), ("简体中文", "zh_CN"),
    ]


def test_fields_show_the_stored_values(qtbot: QtBot, settings: Settings) -> None:
    settings.update({"n_ctx": 8192, "flash_attn": "off", "show_speed_details": False,
                     "system_prompt": "Be brief.\nBe kind.", "temperature": 1.25})
    dialog = open_dialog(qtbot, settings)
    assert dialog.values() == settings.as_dict()
    combo = dialog.field("flash_attn")
    assert isinstance(combo, QComboBox) and combo.currentText() == "Off"


# ---- saving ------------------------------------------------------------------------


def test_apply_saves_changes_and_notifies_once_per_key(qtbot: QtBot, settings: Settings) -> None:
    calls = record(settings)
    dialog = open_dialog(qtbot, settings)
    assert not dialog.apply_button.isEnabled()  # nothing to apply yet
    dialog.set_value("n_ctx", 8192)
    dialog.set_value("temperature", 0.9)
    dialog.set_value("system_prompt", "Line one.\nLine two.")
    assert dialog.apply_button.isEnabled()
    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)

    assert saved(settings) == {"n_ctx": 8192, "temperature": 0.9,
                               "system_prompt": "Line one.\nLine two."}
    assert calls == [("n_ctx", 8192), ("temperature", 0.9),
                     ("system_prompt", "Line one.\nLine two.")]
    assert not dialog.apply_button.isEnabled()
    assert error_label(dialog).text() == ""

    assert dialog.apply()  # nothing changed since: no second notification
    assert len(calls) == 3


def test_ok_saves_and_closes(qtbot: QtBot, settings: Settings) -> None:
    dialog = open_dialog(qtbot, settings)
    dialog.set_value("show_speed_details", False)
    dialog.set_value("ui_language", "zh_CN")
    with qtbot.waitSignal(dialog.accepted, timeout=1000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert saved(settings) == {"show_speed_details": False, "ui_language": "zh_CN"}


def test_cancel_saves_nothing(qtbot: QtBot, settings: Settings) -> None:
    calls = record(settings)
    dialog = open_dialog(qtbot, settings)
    dialog.set_value("n_ctx", 8192)
    dialog.set_value("model_path", "/models/other.gguf")
    with qtbot.waitSignal(dialog.rejected, timeout=1000):
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert saved(settings) is None
    assert calls == []
    assert settings.get("n_ctx") == 4096


def test_restore_defaults_saves_nothing_until_apply(qtbot: QtBot, settings: Settings) -> None:
    settings.update({"n_ctx": 8192, "flash_attn": "on", "show_speed_details": False})
    calls = record(settings)
    dialog = open_dialog(qtbot, settings)
    qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)

    assert dialog.values() == {s.key: s.default for s in SETTINGS}
    assert saved(settings) == {"flash_attn": "on", "n_ctx": 8192, "show_speed_details": False}
    assert calls == []

    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    assert saved(settings) == {}
    assert sorted(calls) == [("flash_attn", "auto"), ("n_ctx", 4096),
                             ("show_speed_details", True)]


def test_spin_box_at_its_maximum_is_saved(qtbot: QtBot, settings: Settings) -> None:
    dialog = open_dialog(qtbot, settings)
    for key in ("n_ctx", "seed", "max_tokens"):
        spin = dialog.field(key)
        assert isinstance(spin, QSpinBox)
        spin.setValue(spin.maximum())
    assert dialog.apply()
    assert saved(settings) == {"n_ctx": 131072, "seed": 2**31 - 1, "max_tokens": 32768}


def test_a_value_the_box_cannot_show_exactly_is_not_rewritten(
    qtbot: QtBot, settings: Settings
) -> None:
    settings.set("temperature", 0.725)  # e.g. set from the CLI; the box shows 0.73
    dialog = open_dialog(qtbot, settings)
    dialog.set_value("n_ctx", 2048)
    assert dialog.apply()
    assert settings.get("temperature") == 0.725
    assert saved(settings) == {"n_ctx": 2048, "temperature": 0.725}


# ---- errors ------------------------------------------------------------------------


@pytest.mark.qt_log_ignore("propagateSizeHints")  # the offscreen platform, on show()
def test_a_rejected_value_is_explained_and_nothing_is_lost(
    qtbot: QtBot, settings: Settings
) -> None:
    calls = record(settings)
    dialog = open_dialog(qtbot, settings)
    dialog.show()
    dialog.tabs.setCurrentIndex(3)
    dialog.set_value("temperature", 1.5)
    dialog.set_value("n_ctx", 1000)  # in range, but not a multiple of 256

    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    label = error_label(dialog)
    assert label.text() == "Context size (tokens) must be a multiple of 256 (got 1000)"
    assert not label.isHidden()
    assert dialog.isVisible()  # OK did not close it
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert dialog.tabs.tabText(dialog.tabs.currentIndex()) == "Model"  # shows the culprit
    assert saved(settings) is None and calls == []  # all or nothing
    assert dialog.values()["n_ctx"] == 1000 and dialog.values()["temperature"] == 1.5

    dialog.set_value("n_ctx", 1024)  # fixing the field clears the message
    assert label.text() == "" and label.isHidden()
    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    assert saved(settings) == {"n_ctx": 1024, "temperature": 1.5}
    assert calls == [("n_ctx", 1024), ("temperature", 1.5)]


def test_a_failed_save_is_shown(
    qtbot: QtBot, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(values: dict[str, object]) -> None:
        raise PermissionError("read-only folder")

    monkeypatch.setattr(settings, "_save", refuse)
    dialog = open_dialog(qtbot, settings)
    dialog.set_value("top_k", 20)
    assert not dialog.apply()
    assert error_label(dialog).text() == "Could not save the settings: read-only folder"
    assert settings.get("top_k") == 40
    assert dialog.values()["top_k"] == 20


# ---- the model picker --------------------------------------------------------------


def test_browse_fills_the_model_path(
    qtbot: QtBot, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = str(gguf_files.write_tiny_llama(tmp_path / "llama.gguf"))
    asked: list[tuple[str, str]] = []
    answers = iter([(model, "GGUF models (*.gguf)"), ("", "")])

    def fake_open(parent: QWidget, caption: str, folder: str, filters: str) -> tuple[str, str]:
        asked.append((folder, filters))
        return next(answers)

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(fake_open))
    dialog = open_dialog(qtbot, settings)
    browse = dialog.findChild(QPushButton, "browseButton")
    assert browse is not None and browse.text() == "Browse…"

    qtbot.mouseClick(browse, Qt.MouseButton.LeftButton)
    assert dialog.values()["model_path"] == model
    qtbot.mouseClick(browse, Qt.MouseButton.LeftButton)  # cancelled: keep the choice
    assert dialog.values()["model_path"] == model
    assert [f for _, f in asked] == ["GGUF models (*.gguf)"] * 2
    assert saved(settings) is None
    assert dialog.apply()
    assert saved(settings) == {"model_path": model}


def test_a_model_file_that_cannot_load_is_refused_before_it_is_saved(qtbot: QtBot, settings: Settings,
                                                                     tmp_path: Path) -> None:
    """A broken file typed in must not replace the working model in the settings (the next start had none)."""
    good = str(gguf_files.write_tiny_llama(tmp_path / "good.gguf"))
    settings.set("model_path", good)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + (3984908932).to_bytes(4, "little") + bytes(64))
    calls = record(settings)
    dialog = open_dialog(qtbot, settings)
    dialog.set_value("model_path", str(broken))
    assert not dialog.apply()
    assert dialog.error_label.text() == ("Model file: this file cannot be used: is not a GGUF model file, or it is "
                                         "damaged (its header says version 3984908932, a number no GGUF file has)")
    assert calls == [] and settings.get_str("model_path") == good
    dialog.set_value("model_path", str(tmp_path / "missing.gguf"))
    assert not dialog.apply() and dialog.error_label.text().startswith("Model file: this file cannot be used: ")
    dialog.set_value("model_path", "")  # empty: the starter model, nothing to check
    assert dialog.apply() and settings.get_str("model_path") == ""


def test_the_draft_model_is_picked_and_checked_like_the_model(qtbot: QtBot, settings: Settings,
                                                               monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    draft = str(gguf_files.write_tiny_llama(tmp_path / "draft.gguf"))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *_args: (draft, "")))
    dialog = open_dialog(qtbot, settings)
    browse = dialog.findChild(QPushButton, "browseButton_draft_model")
    assert browse is not None
    qtbot.mouseClick(browse, Qt.MouseButton.LeftButton)
    assert dialog.values()["draft_model"] == draft and dialog.values()["model_path"] == ""
    dialog.set_value("draft_model", str(tmp_path / "missing.gguf"))
    assert not dialog.apply()
    assert dialog.error_label.text().startswith("Draft model file: this file cannot be used: ")
    assert settings.get_str("draft_model") == ""
    dialog.set_value("draft_model", draft)
    assert dialog.apply() and settings.get_str("draft_model") == draft


# ---- in Chinese --------------------------------------------------------------------


def test_declared_titles_tabs_and_choices_are_translated_in_the_ts() -> None:
    """Every English text the dialog shows from the declaration has a finished translation."""
    root = ET.parse(TS).getroot()
    finished = set()
    for context in root.iter("context"):
        for message in context.iter("message") if context.findtext("name") == "SettingsDialog" else ():
            translation = message.find("translation")
            if translation is not None and translation.get("type") is None and (translation.text or "").strip():
                finished.add(message.findtext("source"))
    shown = {TAB_OTHER} | {text for s in SETTINGS for text in (s.label, s.tab, *s.choice_titles.values())}
    missing = sorted(text for text in shown if text.isascii() and text not in finished)  # not: "简体中文"
    assert not missing, "translate these (packaging/update_translations.sh):\n" + "\n".join(missing)


def test_the_dialog_speaks_chinese(zh: Settings, qtbot: QtBot, settings: Settings) -> None:
    dialog = open_dialog(qtbot, settings)
    assert dialog.windowTitle() == "设置"
    assert tab_titles(dialog) == ["模型", "生成", "聊天", "界面", "API 服务器"]
    labels = {lab.buddy(): lab.text() for lab in dialog.findChildren(QLabel) if lab.buddy()}
    assert labels[dialog.field("n_ctx")] == "上下文大小（token）"
    assert labels[dialog.field("show_speed_details")] == "显示速度详情"
    combo = dialog.field("flash_attn")
    assert isinstance(combo, QComboBox)
    assert [combo.itemText(i) for i in range(combo.count())] == ["自动", "开启", "关闭"]
    language = dialog.field("ui_language")
    assert isinstance(language, QComboBox) and language.itemText(2) == "简体中文"
    # every setting's description too (they were English in the Chinese dialog)
    captions = {lab.objectName(): lab.text() for lab in dialog.findChildren(QLabel)
                if lab.objectName().startswith("caption_")}
    assert len(captions) == len(SETTINGS)
    english = [key for key, text in captions.items() if not any("\u4e00" <= ch <= "\u9fff" for ch in text)]
    assert english == []


def test_a_new_interface_language_says_when_it_applies_and_offers_a_restart(qtbot: QtBot, settings: Settings) -> None:
    dialog = open_dialog(qtbot, settings)
    assert dialog.language_note.isHidden() and dialog.restart_button.isHidden()
    dialog.set_value("n_ctx", 8192)
    assert dialog.apply() and dialog.language_note.isHidden()  # other settings apply at once: no note
    dialog.set_value("ui_language", "zh_CN")
    assert dialog.apply() and dialog.language_changed
    assert not dialog.language_note.isHidden() and not dialog.restart_button.isHidden()
    assert dialog.language_note.text() == "The interface language changes when Kestrel starts again."
    with qtbot.waitSignal(dialog.restart_requested, timeout=1000):
        dialog.restart_button.click()
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_the_app_starts_again_the_way_it_was_started(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from app.ui.application import relaunch_command

    monkeypatch.setattr(sys, "argv", ["/venv/bin/kestrel", "gui", "--model", "x.gguf"])
    assert relaunch_command() == (sys.executable, ["-m", "app", "gui", "--model", "x.gguf"])
    monkeypatch.setattr(sys, "argv", ["/venv/bin/kestrel-gui", "--model", "x.gguf"])
    assert relaunch_command()[1] == ["-m", "app", "gui", "--model", "x.gguf"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "argv", ["/opt/Kestrel/kestrel"])
    assert relaunch_command() == (sys.executable, [])


def test_a_tab_taller_than_the_dialog_scrolls_instead_of_squeezing_its_captions(qtbot: QtBot,
                                                                               settings: Settings) -> None:
    dialog = open_dialog(qtbot, settings)
    dialog.resize(700, 420)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.show_setting("parallel_sequences")  # the last field of the longest tab
    captions = [label for label in dialog.findChildren(QLabel) if label.objectName().startswith("caption_")
                and label.isVisibleTo(dialog)]
    model_tab = [c for c in captions if dialog._tab_index[c.objectName().removeprefix("caption_")] == 0]
    assert len(model_tab) >= 10
    for caption in model_tab:
        assert caption.height() >= caption.heightForWidth(caption.width()), caption.objectName()
    editor = dialog._editors["parallel_sequences"]
    viewport = editor.window().childAt(editor.mapTo(editor.window(), editor.rect().center()))
    assert viewport is not None and (viewport is editor or editor.isAncestorOf(viewport))  # scrolled into view
