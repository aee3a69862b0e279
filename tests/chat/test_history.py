"""Chat history: CRUD, ordering, search (including Chinese), migrations and crash safety."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.chat import history as history_mod
from app.chat.history import History, migrate, schema_version

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "history.sqlite3"


@pytest.fixture
def history(db_path: Path) -> Iterator[History]:
    h = History(db_path)
    yield h
    h.close()


def _fts_consistent(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = ["messages_fts"]
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name='messages_trigram'").fetchone():
            tables.append("messages_trigram")
        for table in tables:  # raises if the index and the messages table disagree
            conn.execute(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()


def test_creates_folders_and_schema(history: History, db_path: Path) -> None:
    assert db_path.exists()
    assert history.schema_version == len(history_mod.MIGRATIONS) >= 1
    assert history.list_conversations() == []


def test_wal_mode_and_pragmas(history: History, db_path: Path) -> None:
    conn = history._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    other = sqlite3.connect(db_path)  # WAL is persistent: a fresh connection sees it too
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()


def test_default_path_honours_kestrel_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KESTREL_HOME", str(tmp_path))
    assert History.default_path() == tmp_path / "data" / "history.sqlite3"


def test_conversation_crud(history: History) -> None:
    conv = history.create_conversation()
    assert conv.title == "New chat" and conv.system_prompt == "" and conv.message_count == 0
    assert history.get_conversation(conv.id) == conv
    history.rename_conversation(conv.id, "  Trip plans  ")
    history.set_system_prompt(conv.id, "Be terse.")
    got = history.get_conversation(conv.id)
    assert got.title == "Trip plans" and got.system_prompt == "Be terse."
    for blank in ("", "   ", "\n"):
        with pytest.raises(ValueError):
            history.rename_conversation(conv.id, blank)
    with pytest.raises(KeyError):
        history.get_conversation(9999)
    with pytest.raises(KeyError):
        history.rename_conversation(9999, "x")
    history.delete_conversation(conv.id)
    with pytest.raises(KeyError):
        history.get_conversation(conv.id)
    assert history.list_conversations() == []


def test_messages_and_roles(history: History) -> None:
    conv = history.create_conversation("Chat", "sys")
    m1 = history.add_message(conv.id, "system", "You are helpful.")
    m2 = history.add_message(conv.id, "user", "Hello")
    m3 = history.add_message(conv.id, "assistant", "Hi!", stats={"tokens": 2, "tps": 31.5})
    assert [m.id for m in history.messages(conv.id)] == [m1.id, m2.id, m3.id]
    stored = history.messages(conv.id)
    assert stored[2] == m3
    assert stored[2].stats == {"tokens": 2, "tps": 31.5}
    assert stored[0].stats is None and stored[0].complete is True
    assert history.get_conversation(conv.id).message_count == 3
    with pytest.raises(ValueError):
        history.add_message(conv.id, "tool", "nope")
    with pytest.raises(KeyError):
        history.add_message(12345, "user", "orphan")
    assert len(history.messages(conv.id)) == 3


def test_ordering_most_recent_first(history: History) -> None:
    a = history.create_conversation("A")
    b = history.create_conversation("B")
    c = history.create_conversation("C")
    assert [x.title for x in history.list_conversations()] == ["C", "B", "A"]
    history.add_message(a.id, "user", "bump A")
    assert [x.title for x in history.list_conversations()] == ["A", "C", "B"]
    msg = history.add_message(b.id, "assistant", "", complete=False)
    assert [x.title for x in history.list_conversations()] == ["B", "A", "C"]
    history.add_message(c.id, "user", "bump C")
    history.update_message(msg.id, "streaming into B")  # streaming counts as activity
    assert [x.title for x in history.list_conversations()] == ["B", "C", "A"]
    history.rename_conversation(a.id, "A renamed")  # a rename does not reorder
    assert [x.title for x in history.list_conversations()] == ["B", "C", "A renamed"]
    first = history.list_conversations()[0]
    assert first.updated_at >= first.created_at


def test_cascade_delete(history: History, db_path: Path) -> None:
    keep = history.create_conversation("keep")
    gone = history.create_conversation("gone")
    history.add_message(keep.id, "user", "zebra keep")
    for i in range(5):
        history.add_message(gone.id, "user", f"zebra number {i}")
    history.delete_conversation(gone.id)
    count = history._conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    assert count == 1
    assert [h.conversation_id for h in history.search("zebra")] == [keep.id]
    _fts_consistent(db_path)


def test_streaming_updates_persist(history: History, db_path: Path) -> None:
    conv = history.create_conversation()
    history.add_message(conv.id, "user", "Tell me a story")
    reply = history.add_message(conv.id, "assistant", "", complete=False)
    text = ""
    for word in ["once", "upon", "a", "time", "there", "was", "a", "kestrel"]:
        text += word + " "
        history.update_message(reply.id, text)
        # A second connection (think: another process) sees every update immediately.
        other = sqlite3.connect(db_path)
        try:
            row = other.execute("SELECT content, complete FROM messages WHERE id=?",
                                (reply.id,)).fetchone()
        finally:
            other.close()
        assert row == (text, 0)
    history.update_message(reply.id, text.strip(), complete=True,
                           stats={"stop_reason": "stop", "tokens": 8})
    final = history.messages(conv.id)[-1]
    assert final.content == "once upon a time there was a kestrel"
    assert final.complete is True
    assert final.stats == {"stop_reason": "stop", "tokens": 8}
    history.update_message(reply.id, "edited")  # None keeps stored flags
    again = history.messages(conv.id)[-1]
    assert again.complete is True and again.stats == {"stop_reason": "stop", "tokens": 8}
    assert [h.message_id for h in history.search("edited")] == [reply.id]
    assert history.search("kestrel") == []  # the FTS index followed the update
    with pytest.raises(KeyError):
        history.update_message(999999, "x")
    _fts_consistent(db_path)


def test_delete_messages_from(history: History, db_path: Path) -> None:
    conv = history.create_conversation()
    other = history.create_conversation()
    ids = [history.add_message(conv.id, r, f"msg {i}").id
           for i, r in enumerate(["user", "assistant", "user", "assistant"])]
    other_msg = history.add_message(other.id, "user", "untouched")
    history.delete_messages_from(conv.id, ids[2])
    assert [m.id for m in history.messages(conv.id)] == ids[:2]
    assert [m.id for m in history.messages(other.id)] == [other_msg.id]
    assert history.get_conversation(conv.id).message_count == 2
    history.delete_messages_from(conv.id, ids[0])
    assert history.messages(conv.id) == []
    _fts_consistent(db_path)


def test_search_english_in_old_conversation(history: History) -> None:
    old = history.create_conversation("Sourdough")
    history.add_message(old.id, "user", "How long should I proof my sourdough bread?")
    history.add_message(old.id, "assistant", "Usually 4 to 6 hours at room temperature.")
    for i in range(30):
        conv = history.create_conversation(f"Chat {i}")
        history.add_message(conv.id, "user", f"Unrelated question number {i}")
    hits = history.search("sourdough")
    assert len(hits) == 1
    hit = hits[0]
    assert hit.conversation_id == old.id and hit.title == "Sourdough" and hit.role == "user"
    assert "\x02sourdough\x03" in hit.snippet
    assert history.search("SOURDOUGH")[0].message_id == hit.message_id  # case-insensitive
    # All words must match; the last word may be a prefix.
    assert [h.role for h in history.search("room temp")] == ["assistant"]
    assert history.search("room sourdough") == []
    assert len(history.search("question")) == 30
    assert len(history.search("question", limit=5)) == 5
    assert history.search("") == [] and history.search("   ") == []


def test_search_chinese(history: History) -> None:
    conv = history.create_conversation("中文")
    history.add_message(conv.id, "user", "请帮我翻译这段话成英文，谢谢。")
    history.add_message(conv.id, "assistant", "好的，这是翻译结果：Hello world.")
    history.add_message(conv.id, "user", "今天天气怎么样？")
    hits = history.search("翻译")
    assert len(hits) == 2
    assert all("\x02翻译\x03" in h.snippet for h in hits)
    assert {h.role for h in hits} == {"user", "assistant"}
    # Three or more characters go through the trigram index where available.
    assert [h.role for h in history.search("翻译这段")] == ["user"]
    assert "\x02翻译这段\x03" in history.search("翻译这段")[0].snippet
    # Mixed Chinese and English words: all must match.
    assert [h.role for h in history.search("翻译 hello")] == ["assistant"]
    assert [h.role for h in history.search("天气")] == ["user"]
    assert history.search("翻译 天气") == []
    assert history.search("日本") == []


def test_search_like_fallback_without_trigram(db_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history_mod, "TRIGRAM_AVAILABLE", False)
    h = History(db_path)
    try:
        assert h._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name='messages_trigram'").fetchone() is None
        conv = h.create_conversation()
        h.add_message(conv.id, "user", "请帮我翻译这段话 100%_done")
        assert len(h.search("翻译这段")) == 1
        assert len(h.search("翻译 100%")) == 1
        assert h.search("翻译 0%_x") == []  # % and _ are literal, not wildcards
    finally:
        h.close()


@pytest.mark.parametrize("query", [
    '"', '""', 'say "hi', '*', 'foo*', '(', 'a (b', ')', 'AND', 'OR', 'NOT', 'cats AND',
    'NEAR(a b)', 'title:cats', '^cats', 'a + b', '-cats', "'", "%", "_", "\\", '翻译"(',
    'col:"x" OR (', '{a b}', '* AND ( " OR NOT )',
])
def test_search_never_raises_on_syntax(history: History, query: str) -> None:
    conv = history.create_conversation()
    history.add_message(conv.id, "user", "cats AND dogs (and more) \"quoted\" title:cats")
    hits = history.search(query)
    assert isinstance(hits, list)


def test_search_syntax_words_are_plain_words(history: History) -> None:
    conv = history.create_conversation()
    history.add_message(conv.id, "user", "cats and dogs")
    history.add_message(conv.id, "user", "cats only")
    assert len(history.search("cats AND")) == 1  # AND is just the word "and"
    assert len(history.search('"cats')) == 2
    assert len(history.search("cats*")) == 2


def test_mark_incomplete_as_interrupted(history: History) -> None:
    conv = history.create_conversation()
    history.add_message(conv.id, "user", "hi")
    partial = history.add_message(conv.id, "assistant", "Half a rep", complete=False,
                                  stats={"tokens": 3})
    other = history.add_message(conv.id, "assistant", "", complete=False)
    assert history.mark_incomplete_as_interrupted() == 2
    by_id = {m.id: m for m in history.messages(conv.id)}
    assert by_id[partial.id].content == "Half a rep"
    assert by_id[partial.id].complete is True
    assert by_id[partial.id].stats == {"tokens": 3, "stop_reason": "interrupted"}
    assert by_id[other.id].stats == {"stop_reason": "interrupted"}
    assert history.mark_incomplete_as_interrupted() == 0


def test_migration_runner(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.sqlite3", isolation_level=None)
    calls: list[int] = []

    def v2(c: sqlite3.Connection) -> None:
        calls.append(2)
        c.execute("ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")

    def broken_v3(c: sqlite3.Connection) -> None:
        c.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("boom")

    try:
        assert migrate(conn, history_mod.MIGRATIONS[:1]) == 1
        assert migrate(conn, history_mod.MIGRATIONS[:1]) == 1  # idempotent
        assert migrate(conn, [*history_mod.MIGRATIONS[:1], v2]) == 2
        assert migrate(conn, [*history_mod.MIGRATIONS[:1], v2]) == 2
        assert calls == [2]
        with pytest.raises(RuntimeError, match="boom"):
            migrate(conn, [*history_mod.MIGRATIONS[:1], v2, broken_v3])
        assert schema_version(conn) == 2  # rolled back, version unchanged
        assert conn.execute("SELECT 1 FROM sqlite_master WHERE name='half_done'").fetchone() is None
        with pytest.raises(RuntimeError, match="newer"):
            migrate(conn, history_mod.MIGRATIONS[:1])
    finally:
        conn.close()


def test_v1_database_runs_later_migrations(db_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history_mod, "MIGRATIONS", history_mod.MIGRATIONS[:1])
    h = History(db_path)
    conv = h.create_conversation("Before upgrade")
    h.add_message(conv.id, "user", "old message")
    assert h.schema_version == 1
    h.close()
    monkeypatch.undo()

    def v3(c: sqlite3.Connection) -> None:
        c.execute("ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")

    monkeypatch.setattr(history_mod, "MIGRATIONS", [*history_mod.MIGRATIONS, v3])
    h = History(db_path)
    try:
        assert h.schema_version == 3
        columns = [r[1] for r in h._conn.execute("PRAGMA table_info(conversations)")]
        assert "pinned" in columns
        [old] = h.messages(conv.id)
        assert (old.content, old.version, old.versions) == ("old message", 0, 1)  # v2: one version each
        assert h.search("old")[0].title == "Before upgrade"
    finally:
        h.close()


def test_regenerated_answers_keep_their_earlier_versions(history: History) -> None:
    conv = history.create_conversation("Versions")
    history.add_message(conv.id, "user", "Name a falcon.")
    first = history.add_message(conv.id, "assistant", "Peregrine.", stats={"decode_tps": 40.0})
    earlier = history.versions(first.id)
    assert [v.content for v in earlier] == ["Peregrine."]
    history.delete_messages_from(conv.id, first.id)  # regenerate: the old answer leaves the chat...
    second = history.add_message(conv.id, "assistant", "Kestrel.")
    second = history.keep_versions(second.id, earlier)  # ...and comes back as version 1 of 2
    assert (second.version, second.versions) == (1, 2)
    assert [v.content for v in history.versions(second.id)] == ["Peregrine.", "Kestrel."]

    chosen = history.choose_version(second.id, 0)
    assert (chosen.content, chosen.stats, chosen.version, chosen.versions) == ("Peregrine.", {"decode_tps": 40.0}, 0, 2)
    assert [m.content for m in history.messages(conv.id)] == ["Name a falcon.", "Peregrine."]  # what the prompt reads
    assert [v.content for v in history.versions(second.id)] == ["Peregrine.", "Kestrel."]  # order unchanged
    assert history.search("Peregrine")[0].message_id == second.id and not history.search("Kestrel")
    with pytest.raises(KeyError):
        history.choose_version(second.id, 5)

    history.delete_conversation(conv.id)  # the versions go with their message
    assert history._conn.execute("SELECT count(*) FROM message_versions").fetchone()[0] == 0


_CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from app.chat.history import History
    h = History(Path(sys.argv[1]))
    conv = h.create_conversation("crash test")
    h.add_message(conv.id, "user", "please write forever")
    reply = h.add_message(conv.id, "assistant", "", complete=False)
    print("ready", flush=True)
    text = ""
    n = 0
    while True:
        n += 1
        text += f"word{n} "
        h.update_message(reply.id, text)
        time.sleep(0.05)
""")


def test_durability_after_sigkill(db_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(db_path)], cwd=REPO_ROOT,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == "ready", child.stderr.read() if child.stderr else ""
        time.sleep(0.5)
        assert child.poll() is None, "the writer died on its own"
    finally:
        child.kill()  # SIGKILL on POSIX: no cleanup, no final commit
        child.wait(timeout=10)
        if child.stdout:
            child.stdout.close()
        if child.stderr:
            child.stderr.close()

    h = History(db_path)
    try:
        (conv,) = h.list_conversations()
        msgs = h.messages(conv.id)
        assert [m.role for m in msgs] == ["user", "assistant"]
        assert msgs[0].content == "please write forever"
        assert msgs[1].content.startswith("word1 word2 ")
        assert msgs[1].complete is False
        assert h.mark_incomplete_as_interrupted() == 1
        reply = h.messages(conv.id)[1]
        assert reply.content == msgs[1].content and reply.complete is True
        assert reply.stats == {"stop_reason": "interrupted"}
        assert h._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        h.close()
    _fts_consistent(db_path)
