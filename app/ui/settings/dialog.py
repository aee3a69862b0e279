"""The settings dialog, generated from :data:`app.base.settings.SETTINGS`.

Why generated: a setting declared once must appear here without anyone remembering to
add a widget, so every declared key gets an editor chosen by its type, on the tab and
under the title it declares (translated here; the declaration marks them for lupdate).
Only two keys get hand-made editors (a file picker for the model, a multi-line box for
the system prompt).

Nothing is saved until OK or Apply, and then only the values the user changed, in one
:meth:`Settings.update` call: either all are saved or none, and a rejected value is
explained inline while every edit stays in place.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.base import paths
from app.base.messages import one_line, with_details
from app.base.settings import SETTINGS, SETTINGS_BY_KEY, TAB_OTHER, Setting, SettingError, Settings
from app.gguf.reader import GGUFError, read_gguf_info

__all__ = ["SettingsDialog", "title_for", "translated"]

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1  # what a QSpinBox can hold
_ERROR_COLOR = QColor("#d93025")  # readable on light and dark backgrounds
MODEL_FILES = ("model_path", "draft_model")  # settings picked with a GGUF file browser and checked before saving


def translated(text: str) -> str:
    """A title, tab or choice name declared in English with the settings, in the UI's language."""
    return QCoreApplication.translate("SettingsDialog", text)


def title_for(setting: Setting) -> str:
    """The row title for ``setting``, translated."""
    return translated(setting.label)


def _by_tab() -> dict[str, list[Setting]]:
    """Settings grouped by tab: tabs in the order of their first setting, "Other" last."""
    tabs: dict[str, list[Setting]] = {}
    for setting in SETTINGS:
        tabs.setdefault(setting.tab, []).append(setting)
    if TAB_OTHER in tabs:
        tabs[TAB_OTHER] = tabs.pop(TAB_OTHER)
    return tabs


def _number(value: object) -> float:
    """A stored number for a spin box; settings are validated, so anything else is a bug."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


class SettingsDialog(QDialog):
    """Edit every declared setting; Apply/OK save only what changed."""

    restart_requested = Signal()  # "Restart now" after the interface language changed

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self.language_changed = False  # saved a new interface language (used from the next start)
        self._editors: dict[str, QWidget] = {}
        self._readers: dict[str, Callable[[], object]] = {}
        self._writers: dict[str, Callable[[object], None]] = {}
        self._tab_index: dict[str, int] = {}
        self._error_key: str | None = None
        self._baseline: dict[str, object] = {}  # what the fields showed when opened or last saved
        self._filled = False  # editors report edits only after they first show the stored values
        self.setWindowTitle(self.tr("Settings"))

        self.tabs = QTabWidget(self)
        self._build_tabs()

        self.error_label = QLabel(self)
        self.error_label.setObjectName("errorLabel")
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setWordWrap(True)
        palette = self.error_label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, _ERROR_COLOR)
        self.error_label.setPalette(palette)
        self.error_label.hide()

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Apply
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults,
            self,
        )
        self.buttons = buttons
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.apply_button = buttons.button(QDialogButtonBox.StandardButton.Apply)
        self.cancel_button = buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.restore_button = buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        self.restore_button.setText(self.tr("Restore defaults"))
        self.restore_button.setToolTip(
            self.tr("Fill every field with its default. Nothing is saved until OK or Apply.")
        )
        buttons.accepted.connect(self._on_ok)
        buttons.rejected.connect(self.reject)
        buttons.clicked.connect(self._on_button)

        # the interface language is read at start: say so, with a way to restart at once
        self.language_note = QLabel(self.tr("The interface language changes when Kestrel starts again."), self)
        self.language_note.setObjectName("languageNote")
        self.restart_button = QPushButton(self.tr("Restart now"), self)
        self.restart_button.setObjectName("restartButton")
        self.restart_button.clicked.connect(self._on_restart)
        note_row = QHBoxLayout()
        note_row.addWidget(self.language_note, 1)
        note_row.addWidget(self.restart_button)
        self.language_note.hide()
        self.restart_button.hide()

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.error_label)
        layout.addLayout(note_row)
        layout.addWidget(buttons)

        self._load_from_settings()
        self.setMinimumWidth(620)

    # ---- public API ----------------------------------------------------------------

    def values(self) -> dict[str, object]:
        """What every field holds now, by key, in declaration order."""
        return {s.key: self._readers[s.key]() for s in SETTINGS}

    def changed_values(self) -> dict[str, object]:
        """Only the fields the user changed since the dialog opened (or last saved).

        Compared with what the fields first showed, not with the stored values, so a value
        the widget cannot show exactly (a temperature of 0.725 in a two-decimal box) is
        not silently rewritten by an unrelated Apply.
        """
        return {k: v for k, v in self.values().items() if v != self._baseline[k]}

    def field(self, key: str) -> QWidget:
        """The editor widget for ``key`` (KeyError for an undeclared key)."""
        return self._editors[key]

    def set_value(self, key: str, value: object) -> None:
        """Put ``value`` into the field for ``key`` (used by Restore defaults and tests)."""
        self._writers[key](value)

    def error_text(self) -> str:
        return self.error_label.text()

    @Slot()
    def restore_defaults(self) -> None:
        """Fill every field with its default; saving waits for OK or Apply."""
        for setting in SETTINGS:
            self._writers[setting.key](setting.default)
        self._clear_error()
        self._refresh_buttons()

    @Slot()
    def apply(self) -> bool:
        """Save the changed values; on a rejected value explain it inline and return False."""
        changed = self.changed_values()
        if not changed:
            self._clear_error()
            return True
        for key, value in changed.items():  # find the field to point at, in display order
            try:
                SETTINGS_BY_KEY[key].validate(value)
            except SettingError as exc:
                self._show_error(str(exc), key)
                return False
        for key in MODEL_FILES:
            model_path = changed.get(key)
            if isinstance(model_path, str) and model_path.strip():
                # checked before it is saved, as File › Open does: a file that cannot load must not
                # replace the working model in the settings (the next start would have none)
                try:
                    read_gguf_info(Path(model_path.strip()).expanduser())
                except GGUFError as exc:
                    reason = one_line(with_details(exc.reason, exc.details))
                    self._show_error(f"{key}: " + self.tr("this file cannot be used: ") + reason, key)
                    return False
        try:
            self._settings.update(changed)
        except SettingError as exc:
            self._show_error(str(exc), None)
            return False
        except OSError as exc:
            self._show_error(f"Could not save the settings: {exc}", None)
            return False
        self._baseline = self.values()
        self._clear_error()
        self._refresh_buttons()
        if "ui_language" in changed:
            self.language_changed = True
            self.language_note.show()
            self.restart_button.show()
        return True

    def _on_restart(self) -> None:
        self.restart_requested.emit()
        self.accept()

    # ---- building ------------------------------------------------------------------

    def _build_tabs(self) -> None:
        label_width = max(self.fontMetrics().horizontalAdvance(title_for(s)) for s in SETTINGS)
        for name, settings in _by_tab().items():
            page = QWidget(self.tabs)
            grid = QGridLayout(page)
            grid.setColumnStretch(1, 1)
            # The same label column on every tab, so fields do not jump when switching.
            grid.setColumnMinimumWidth(0, label_width + 8)
            grid.setHorizontalSpacing(16)
            grid.setVerticalSpacing(2)
            row = 0
            for setting in settings:
                row = self._add_row(grid, row, setting)
            grid.setRowStretch(row, 1)
            # a tab taller than the dialog scrolls, rather than squeezing its captions into each other
            scroll = QScrollArea(self.tabs)
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QFrame.Shape.NoFrame)
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            scroll.setWidget(page)
            index = self.tabs.addTab(scroll, translated(name))
            for setting in settings:
                self._tab_index[setting.key] = index

    def _add_row(self, grid: QGridLayout, row: int, setting: Setting) -> int:
        """Label, editor and grey caption for one setting; returns the next free row."""
        editor, field = self._make_editor(setting)
        description = translated(setting.description)
        self._editors[setting.key] = editor
        editor.setToolTip(description)
        editor.setObjectName(f"field_{setting.key}")

        label = QLabel(title_for(setting), grid.parentWidget())
        label.setBuddy(editor)
        label.setToolTip(description)
        tall = isinstance(editor, QPlainTextEdit)
        v_align = Qt.AlignmentFlag.AlignTop if tall else Qt.AlignmentFlag.AlignVCenter
        grid.addWidget(label, row, 0, Qt.AlignmentFlag.AlignLeft | v_align)
        grid.addWidget(field, row, 1)

        caption = QLabel(description, grid.parentWidget())
        caption.setObjectName(f"caption_{setting.key}")
        caption.setWordWrap(True)
        caption.setTextFormat(Qt.TextFormat.PlainText)
        caption.setToolTip(description)
        font = caption.font()
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 0.9)
        caption.setFont(font)
        palette = caption.palette()
        palette.setColor(QPalette.ColorRole.WindowText,
                         palette.color(QPalette.ColorRole.PlaceholderText))
        caption.setPalette(palette)
        grid.addWidget(caption, row + 1, 1)
        # A gap under the caption separates rows without a line.
        grid.setRowMinimumHeight(row + 2, 10)
        return row + 3

    def _make_editor(self, setting: Setting) -> tuple[QWidget, QWidget]:
        """(editor, widget placed in the grid); they differ only for the model picker."""
        key = setting.key
        if key in MODEL_FILES:
            return self._make_model_picker(setting)
        if key == "system_prompt":
            text = QPlainTextEdit(self)
            text.setTabChangesFocus(True)
            text.setFixedHeight(text.fontMetrics().lineSpacing() * 5 + 12)
            self._readers[key] = text.toPlainText
            self._writers[key] = lambda v: text.setPlainText(str(v))
            text.textChanged.connect(self._on_edited)
            return text, text
        if setting.choices is not None:
            combo = QComboBox(self)
            combo.setMinimumWidth(combo.fontMetrics().horizontalAdvance("0" * 12) + 24)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            for choice in setting.choices:
                title = setting.choice_titles.get(choice)
                combo.addItem(translated(title) if title else str(choice), choice)

            def write_choice(value: object, combo: QComboBox = combo) -> None:
                index = combo.findData(value)
                if index < 0:  # not a declared choice: show it so nothing is hidden
                    combo.addItem(str(value), value)
                    index = combo.count() - 1
                combo.setCurrentIndex(index)

            self._readers[key] = combo.currentData
            self._writers[key] = write_choice
            combo.currentIndexChanged.connect(self._on_edited)
            return combo, self._left(combo)
        if setting.type is bool:
            check = QCheckBox(self)
            check.setAccessibleName(title_for(setting))
            self._readers[key] = check.isChecked
            self._writers[key] = lambda v: check.setChecked(bool(v))
            check.toggled.connect(self._on_edited)
            return check, check
        if setting.type is int:
            spin = QSpinBox(self)
            low = _INT_MIN if setting.minimum is None else max(_INT_MIN, math.ceil(setting.minimum))
            high = _INT_MAX if setting.maximum is None else min(_INT_MAX, math.floor(setting.maximum))
            spin.setRange(low, high)
            if setting.multiple_of:
                spin.setSingleStep(setting.multiple_of)
            spin.setMinimumWidth(spin.fontMetrics().horizontalAdvance("0" * 12) + 24)
            self._readers[key] = spin.value
            self._writers[key] = lambda v: spin.setValue(int(_number(v)))
            spin.valueChanged.connect(self._on_edited)
            return spin, self._left(spin)
        if setting.type is float:
            dspin = QDoubleSpinBox(self)
            dspin.setDecimals(2)
            dspin.setSingleStep(0.05)
            dspin.setRange(-1e9 if setting.minimum is None else setting.minimum,
                           1e9 if setting.maximum is None else setting.maximum)
            dspin.setMinimumWidth(dspin.fontMetrics().horizontalAdvance("0" * 12) + 24)
            self._readers[key] = dspin.value
            self._writers[key] = lambda v: dspin.setValue(_number(v))
            dspin.valueChanged.connect(self._on_edited)
            return dspin, self._left(dspin)
        line = QLineEdit(self)
        self._readers[key] = line.text
        self._writers[key] = lambda v: line.setText(str(v))
        line.textChanged.connect(self._on_edited)
        return line, line

    def _left(self, widget: QWidget) -> QWidget:
        """Keep a narrow editor at its natural width instead of stretching across the row."""
        box = QWidget(self)
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(widget)
        row.addStretch(1)
        return box

    def _make_model_picker(self, setting: Setting) -> tuple[QWidget, QWidget]:
        line = QLineEdit(self)
        line.setPlaceholderText(self.tr("Starter model") if setting.key == "model_path" else self.tr("None"))
        line.setClearButtonEnabled(True)
        browse = QPushButton(self.tr("Browse…"), self)
        browse.setObjectName("browseButton" if setting.key == "model_path" else f"browseButton_{setting.key}")
        browse.setToolTip(self.tr("Choose a GGUF model file"))
        browse.clicked.connect(lambda: self._browse_model(setting.key))
        box = QWidget(self)
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(line, 1)
        row.addWidget(browse)
        self._readers[setting.key] = line.text
        self._writers[setting.key] = lambda v: line.setText(str(v))
        line.textChanged.connect(self._on_edited)
        return line, box

    def _browse_model(self, key: str) -> None:
        """Pick a .gguf file for ``key``, starting next to the current one (or in Kestrel's models folder)."""
        current = str(self._readers[key]()).strip()
        start = Path(current).parent if current else None
        if start is None or not start.is_dir():
            start = paths.models_dir()
        chosen, _ = QFileDialog.getOpenFileName(
            self, self.tr("Choose a model file"), str(start), self.tr("GGUF models (*.gguf)")
        )
        if chosen:
            self._writers[key](chosen)

    # ---- state ---------------------------------------------------------------------

    def _load_from_settings(self) -> None:
        for key, value in self._settings.as_dict().items():
            self._writers[key](value)
        self._baseline = self.values()
        self._filled = True
        self._refresh_buttons()

    @Slot()
    def _on_edited(self) -> None:
        """Keep Apply's state current; drop an error once its field holds a valid value."""
        if not self._filled:
            return
        self._refresh_buttons()
        key = self._error_key
        if key is not None:
            try:
                SETTINGS_BY_KEY[key].validate(self._readers[key]())
            except SettingError:
                return
            self._clear_error()

    def _refresh_buttons(self) -> None:
        self.apply_button.setEnabled(bool(self.changed_values()))

    @Slot(QAbstractButton)
    def _on_button(self, button: QAbstractButton) -> None:
        role = self.buttons.buttonRole(button)
        if role == QDialogButtonBox.ButtonRole.ApplyRole:
            self.apply()
        elif role == QDialogButtonBox.ButtonRole.ResetRole:
            self.restore_defaults()

    @Slot()
    def _on_ok(self) -> None:
        if self.apply():
            self.accept()

    def show_setting(self, key: str) -> None:
        """Open at ``key``'s tab with its field focused (the Server tab's "Port and access…")."""
        self._focus(key)

    def _focus(self, key: str) -> None:
        """Bring ``key``'s tab forward, scroll its field into view and focus it."""
        self.tabs.setCurrentIndex(self._tab_index[key])
        scroll = self.tabs.currentWidget()
        if isinstance(scroll, QScrollArea):
            scroll.ensureWidgetVisible(self._editors[key])
        self._editors[key].setFocus(Qt.FocusReason.OtherFocusReason)

    def _show_error(self, message: str, key: str | None) -> None:
        """Show ``message`` with the setting's title instead of its key; focus that field."""
        if key is not None and message.startswith(key):
            message = title_for(SETTINGS_BY_KEY[key]) + message[len(key):]
        self._error_key = key
        self.error_label.setText(message)
        self.error_label.show()
        if key is not None:
            self._focus(key)

    def _clear_error(self) -> None:
        self._error_key = None
        self.error_label.clear()
        self.error_label.hide()
