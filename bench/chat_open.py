"""Opening a long chat: how long the window is held, newest-first in batches against all at once.

Builds a history of ``--messages`` messages (replies with Markdown and code, as chats have),
then opens it in a real ChatPanel (offscreen) twice in one run: as the panel does now (the
newest 30, then batches of 25 per event-loop turn) and with everything built in the opening
call (what it did before). For each it prints the time the opening call took, the longest
the event loop was held (a 5 ms heartbeat timer measures the gaps) until every message is
shown, and the time until then; and the ratio of the longest holds.

Usage: QT_QPA_PLATFORM=offscreen python bench/chat_open.py [--messages N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

REPLY = ("Here is how it works:\n\n1. **First** the kestrel hovers.\n2. Then it *dives*.\n\n"
         "```python\ndef hover(height: int) -> bool:\n    return height > 10\n```\n\nThat is all.")


def measure(panel: object, app: QApplication, conversation_id: int, count: int) -> dict[str, float]:
    from app.ui.chat.panel import ChatPanel

    assert isinstance(panel, ChatPanel)
    gaps: list[float] = []
    last = [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    heartbeat = QTimer()
    heartbeat.setInterval(5)
    heartbeat.timeout.connect(beat)
    heartbeat.start()
    app.processEvents()
    started = time.perf_counter()
    last[0] = started
    panel.open_conversation(conversation_id)
    call = time.perf_counter() - started
    gaps.append(call)  # the opening call itself holds the loop
    while len(panel.view.widgets()) < count:
        app.processEvents()
    app.processEvents()
    done = time.perf_counter() - started
    heartbeat.stop()
    panel.new_conversation()
    app.processEvents()
    return {"call_ms": call * 1000, "longest_hold_ms": max(gaps) * 1000, "all_shown_ms": done * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="kestrel-bench-open-")
    os.environ["KESTREL_HOME"] = home
    from app.base.settings import Settings
    from app.chat.history import History
    from app.engines.fake import FakeEngine
    from app.ui.chat import panel as panel_module
    from app.ui.engine.controller import EngineController

    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    history = History(Path(home) / "history.sqlite3")
    chat = history.create_conversation("Long chat", "")
    for i in range(args.messages):
        history.add_message(chat.id, "user" if i % 2 == 0 else "assistant",
                            f"Question {i}: how does a kestrel hunt?" if i % 2 == 0 else REPLY)
    controller = EngineController(lambda _spec: FakeEngine())
    panel = panel_module.ChatPanel(controller, history, Settings.load_default())
    panel.resize(900, 700)
    panel.show()
    app.processEvents()
    batched = measure(panel, app, chat.id, args.messages)
    first = panel_module.OPEN_FIRST
    panel_module.OPEN_FIRST = args.messages  # everything in the opening call, as before
    at_once = measure(panel, app, chat.id, args.messages)
    panel_module.OPEN_FIRST = first
    result = {"messages": args.messages, "batched": batched, "at_once": at_once,
              "hold_ratio": batched["longest_hold_ms"] / at_once["longest_hold_ms"]}
    panel.shutdown()
    controller.shutdown()
    history.close()
    if args.json:
        print(json.dumps(result))
    else:
        for name in ("batched", "at_once"):
            r = result[name]
            assert isinstance(r, dict)
            print(f"{name:8}: opening call {r['call_ms']:.0f} ms, longest hold {r['longest_hold_ms']:.0f} ms, "
                  f"all {args.messages} shown after {r['all_shown_ms']:.0f} ms")
        print(f"longest hold, batched / at once: {result['hold_ratio']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
