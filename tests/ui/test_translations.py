"""The Simplified Chinese UI translation: complete, in step with the code, and loaded by the app.

resources/translations/kestrel_zh_CN.ts is refreshed and compiled by
packaging/update_translations.sh; these tests fail when a tr() string has no translation yet,
when the .qm is stale, or when a translation loses a placeholder or an accelerator.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.base.settings import Settings
from app.chat.history import History
from app.engines.fake import FakeEngine
from app.ui.engine.controller import EngineController
from app.ui.main_window import MainWindow
from app.ui.summarize.panel import eta_text
from tests import gguf_files

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")

ROOT = Path(__file__).resolve().parents[2]
TS = ROOT / "resources" / "translations" / "kestrel_zh_CN.ts"
QM = TS.with_suffix(".qm")
# %1..%99 (QString::arg style, replaced by the code), %n (plurals), %s (Python %), %v/%m (QProgressBar)
PLACEHOLDER = re.compile(r"%(?:\d{1,2}|[nsvm])")
TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*\s*/?>")


class Message:
    def __init__(self, context: str, element: ET.Element) -> None:
        self.context = context
        self.source = element.findtext("source") or ""
        self.numerus = element.get("numerus") == "yes"
        translation = element.find("translation")
        assert translation is not None, (context, self.source)
        self.type = translation.get("type")  # None (finished), "unfinished", "vanished", "obsolete"
        forms = [f.text or "" for f in translation.iter("numerusform")]
        self.translation = forms[0] if self.numerus and forms else (translation.text or "")
        self.forms = forms
        self.locations = [f"{loc.get('filename')}:{loc.get('line')}" for loc in element.iter("location")]

    @property
    def active(self) -> bool:
        return self.type not in ("vanished", "obsolete")

    def __repr__(self) -> str:
        return f"{self.context}: {self.source!r} ({', '.join(self.locations) or 'no location'})"


def read_ts(path: Path) -> list[Message]:
    root = ET.parse(path).getroot()
    return [Message(c.findtext("name") or "", m) for c in root.iter("context") for m in c.iter("message")]


@pytest.fixture(scope="module")
def messages() -> list[Message]:
    return [m for m in read_ts(TS) if m.active]


def test_files_exist_and_are_not_empty() -> None:
    assert TS.is_file(), "run packaging/update_translations.sh"
    assert QM.is_file() and QM.stat().st_size > 1000, "run packaging/update_translations.sh"


def test_known_strings_translate(zh: Settings) -> None:
    translate = QCoreApplication.translate
    assert translate("Composer", "Send") == "发送"
    from app.ui.models.common import fit_text, source_text

    assert (fit_text("ram"), source_text("imported")) == ("可放入内存", "已导入")  # the Models tab's badges
    assert translate("MainWindow", "&File") == "文件(&F)"
    assert translate("MainWindow", "&Quit") == "退出(&Q)"
    assert translate("ConversationSidebar", "New chat") == "新建对话"
    assert translate("ConversationSidebar", "%n message(s)", None, 3) == "3 条消息"
    # Messages lupdate files without a context are compiled under the one used at run time.
    assert translate("ModelsPanel", "%1 RAM") == "%1 内存"  # app/ui/models/common.py tr()
    assert translate("StatusMixin", "Segment %1 of %2") == "第 %1 段，共 %2 段"  # TranslatePanel's mixin


def test_translation_is_removed_again(qapp: QApplication) -> None:
    """The fixture above must not leak Chinese into the other tests."""
    assert QCoreApplication.translate("ChatPanel", "Send") == "Send"


def test_every_message_is_translated(messages: list[Message]) -> None:
    assert len(messages) > 300
    unfinished = [m for m in messages if m.type == "unfinished" or not m.translation.strip()]
    assert not unfinished, "untranslated (translate them, then run packaging/update_translations.sh):\n" + \
        "\n".join(map(repr, unfinished))
    assert all(len(m.forms) == 1 for m in messages if m.numerus), "Chinese has one plural form"


def test_the_ts_is_in_step_with_the_code(tmp_path: Path) -> None:
    """lupdate over today's app/ui finds nothing new and revives nothing vanished."""
    tools = Path(sys.executable).parent
    lupdate = tools / "pyside6-lupdate" if (tools / "pyside6-lupdate").exists() else shutil.which("pyside6-lupdate")
    if lupdate is None:
        pytest.skip("pyside6-lupdate is not installed")
    copy = tmp_path / TS.parent.relative_to(ROOT) / TS.name  # same depth, so locations stay comparable
    copy.parent.mkdir(parents=True)
    shutil.copy(TS, copy)
    sources = [*sorted(str(p) for p in (ROOT / "app" / "ui").rglob("*.py")), str(ROOT / "app" / "base" / "settings.py")]
    subprocess.run([str(lupdate), "-silent", "-locations", "none", *sources, "-ts", str(copy)],
                   check=True, capture_output=True, timeout=120)
    committed = {(m.context, m.source): m for m in read_ts(TS)}
    fresh = [m for m in read_ts(copy) if m.active]
    new = [m for m in fresh if (m.context, m.source) not in committed or m.type == "unfinished"]
    assert not new, ("strings in app/ui not in the translation yet (run packaging/update_translations.sh "
                     "and translate them):\n" + "\n".join(map(repr, new)))
    revived = [m for m in fresh if not committed[(m.context, m.source)].active]
    assert not revived, "vanished in the .ts but used in the code (run packaging/update_translations.sh):\n" + \
        "\n".join(map(repr, revived))


def test_the_qm_matches_the_ts(zh: Settings, messages: list[Message]) -> None:
    """Every translation in the .ts is what the compiled .qm gives (a stale .qm fails here)."""
    stale = []
    for m in messages:
        if m.numerus:
            got, want = QCoreApplication.translate(m.context, m.source, None, 2), m.translation.replace("%n", "2")
        else:
            got, want = QCoreApplication.translate(m.context, m.source), m.translation
        if got != want:
            stale.append(f"{m!r}: {got!r} != {want!r}")
    assert not stale, "run packaging/update_translations.sh:\n" + "\n".join(stale)


def test_placeholders_tags_and_accelerators_survive(messages: list[Message]) -> None:
    problems = []
    for m in messages:
        for form in m.forms or [m.translation]:
            if sorted(PLACEHOLDER.findall(m.source)) != sorted(PLACEHOLDER.findall(form)):
                problems.append(f"placeholders differ: {m!r} -> {form!r}")
            if sorted(TAG.findall(m.source)) != sorted(TAG.findall(form)):
                problems.append(f"markup differs: {m!r} -> {form!r}")
            source_keys = re.findall(r"&([^&\s])", m.source.replace("&&", ""))
            keys = re.findall(r"&([^&\s])", form.replace("&&", ""))
            if len(source_keys) != len(keys) or any(not k.isascii() for k in keys):
                problems.append(f"accelerator: {m!r} -> {form!r}")
            if "%" in form.replace("%%", "") and "%s" in m.source and form.count("%") != m.source.count("%"):
                problems.append(f"stray % in a %-formatted string: {m!r} -> {form!r}")
    assert not problems, "\n".join(problems)


def test_the_main_window_speaks_chinese(zh: Settings, qtbot: QtBot, tmp_path: Path) -> None:
    history = History(History.default_path())
    engine = FakeEngine(tokens_per_s=300)
    controller = EngineController(lambda _spec: engine)
    model = gguf_files.write_tiny_llama(tmp_path / "tiny.gguf")
    window = MainWindow(controller, history, zh, model_override=str(model))
    qtbot.addWidget(window)
    try:
        window.show()
        qtbot.waitExposed(window)
        window.load_model()
        qtbot.waitUntil(lambda: controller.model is not None, timeout=5000)
        menus = [a.text() for a in window.menuBar().actions()]
        assert menus == ["文件(&F)", "帮助(&H)"]
        assert window.new_chat_action.text() == "新建对话(&N)"
        assert window.chat.send_button.text() == "发送"
        assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["聊天", "翻译", "摘要", "模型", "API"]
        # Strings filed without a context by lupdate, looked up under the panel's at run time:
        window.tabs.setCurrentWidget(window.models)  # the Models tab is built when first shown
        qtbot.waitUntil(lambda: window.models.built)
        assert window.models.table.toolTip().startswith("将 .gguf 文件拖放到此处")  # common.py tr()
        assert window.translate_panel.tr("Segment %1 of %2") == "第 %1 段，共 %2 段"  # StatusMixin
        # table headers declared as constants are translated too (they once went untranslated)
        for table in (window.models.table, window.models.picker.table, window.models.compare.table,
                      window.server_panel.table):
            headers = [table.horizontalHeaderItem(i).text() for i in range(table.columnCount())]
            english = [h for h in headers if h.isascii() and h.strip() and h not in ("API",)]
            assert not english, (table.objectName(), headers)
        assert window.readout.text() == "就绪"
        # the summarize panel's own words: a pasted document's name and the time estimate
        assert (eta_text(30), eta_text(600), eta_text(4000)) == ("约 30 秒", "约 10 分钟", "约 1 小时 07 分钟")
        window.summarize_panel.load_text("今天天气很好。" * 30)
        qtbot.waitUntil(lambda: window.summarize_panel.document is not None, timeout=5000)
        assert window.summarize_panel.info_label.text().startswith("粘贴的文本")
    finally:
        window.close()
        history.close()
