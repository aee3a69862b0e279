"""Durable chat history in one SQLite file.

Why these choices:

* WAL journal with ``synchronous=NORMAL``: each commit is one append to the WAL, cheap
  enough to save a streaming reply every second, and a killed process (``kill -9``) loses
  nothing that was committed. Only a power cut can lose the last few commits; the file
  stays consistent either way.
* Every write is its own short transaction, committed before the method returns.
* Search: an external-content FTS5 table (``messages_fts``, tokenizer ``unicode61``) kept
  in sync by triggers. ``unicode61`` treats a whole run of Chinese or Japanese characters
  as one token, so "翻译" inside "请帮我翻译这段话" would never match. Queries that contain
  CJK characters therefore take a substring path: terms of three or more characters use
  a second FTS5 table with the ``trigram`` tokenizer (SQLite >= 3.34), shorter terms
  (most Chinese words are two characters, below what trigram can index) and databases
  created without trigram support use ``LIKE``. Chat histories are small enough for that.
* Schema changes are ordered functions in :data:`MIGRATIONS`; ``PRAGMA user_version``
  records how many have run. Append new ones; never edit a released one.

A :class:`History` object belongs to the thread that created it (sqlite3's default
check); open one per thread.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.base import paths

ROLES = ("system", "user", "assistant")
TRIGRAM_AVAILABLE = sqlite3.sqlite_version_info >= (3, 34, 0)
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]")
_WORDLIKE = re.compile(r"[^\W_]")
_SNIPPET_CONTEXT = 40


@dataclass(frozen=True)
class Conversation:
    id: int
    title: str
    system_prompt: str
    created_at: float
    updated_at: float
    message_count: int


@dataclass(frozen=True)
class StoredMessage:
    id: int
    conversation_id: int
    role: str
    content: str
    created_at: float
    complete: bool
    stats: dict[str, object] | None
    version: int = 0  # which of the answer's versions this is (regenerate keeps the earlier ones)
    versions: int = 1  # how many versions the answer has


@dataclass(frozen=True)
class MessageVersion:
    """One version of an answer: regenerate keeps the earlier ones, and the user picks which continues."""

    content: str
    stats: dict[str, object] | None
    created_at: float


#: What brackets a match in a snippet: control characters no message text contains, so the
#: sidebar can show the match highlighted rather than as literal brackets.
MATCH_START, MATCH_END = "\x02", "\x03"


@dataclass(frozen=True)
class SearchHit:
    """One matching message; ``snippet`` brackets each match with MATCH_START and MATCH_END."""

    conversation_id: int
    message_id: int
    title: str
    role: str
    snippet: str


# ---- schema ----------------------------------------------------------------------------


def _migrate_v1(conn: sqlite3.Connection) -> None:
    """Conversations, messages, and full-text search kept in sync by triggers."""
    statements = [
        "CREATE TABLE conversations (id INTEGER PRIMARY KEY, title TEXT NOT NULL,"
        " system_prompt TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL,"
        " updated_at REAL NOT NULL)",
        "CREATE INDEX conversations_by_update ON conversations(updated_at)",
        "CREATE TABLE messages (id INTEGER PRIMARY KEY,"
        " conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
        " role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),"
        " content TEXT NOT NULL, created_at REAL NOT NULL,"
        " complete INTEGER NOT NULL DEFAULT 1, stats TEXT)",
        "CREATE INDEX messages_by_conversation ON messages(conversation_id, id)",
        "CREATE INDEX messages_incomplete ON messages(id) WHERE complete = 0",
    ]
    fts_tables = [("messages_fts", "unicode61 remove_diacritics 2")]
    if TRIGRAM_AVAILABLE:
        fts_tables.append(("messages_trigram", "trigram"))
    for t, tokenizer in fts_tables:
        add = f"INSERT INTO {t}(rowid, content) VALUES (new.id, new.content);"
        remove = f"INSERT INTO {t}({t}, rowid, content) VALUES ('delete', old.id, old.content);"
        statements += [
            f"CREATE VIRTUAL TABLE {t} USING fts5(content, content='messages',"
            f" content_rowid='id', tokenize='{tokenizer}')",
            f"CREATE TRIGGER {t}_ai AFTER INSERT ON messages BEGIN {add} END",
            f"CREATE TRIGGER {t}_ad AFTER DELETE ON messages BEGIN {remove} END",
            f"CREATE TRIGGER {t}_au AFTER UPDATE OF content ON messages BEGIN {remove} {add} END",
        ]
    for statement in statements:
        conn.execute(statement)


def _migrate_v2(conn: sqlite3.Connection) -> None:
    """Versions of an answer: the chosen one stays in ``messages`` (what search and the prompt read),
    the others wait in ``message_versions`` under their position."""
    conn.execute("ALTER TABLE messages ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
    conn.execute(
        "CREATE TABLE message_versions (message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
        " position INTEGER NOT NULL, content TEXT NOT NULL, stats TEXT, created_at REAL NOT NULL,"
        " PRIMARY KEY (message_id, position))")


Migration = Callable[[sqlite3.Connection], None]

#: Ordered schema migrations; running ``MIGRATIONS[i]`` brings a database to version i + 1.
MIGRATIONS: list[Migration] = [_migrate_v1, _migrate_v2]


def schema_version(conn: sqlite3.Connection) -> int:
    """The number of migrations this database has been through."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, migrations: list[Migration] | None = None) -> int:
    """Run every pending migration, each in its own transaction; returns the new version.

    ``conn`` must be in autocommit mode (``isolation_level=None``). A migration that fails
    is rolled back and leaves the version where it was. A database from a newer Kestrel
    is refused rather than silently misread.
    """
    steps = MIGRATIONS if migrations is None else migrations
    while True:
        # Read the version inside the write lock, so two processes opening a new file at
        # once cannot both run the same migration.
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = schema_version(conn)
            if version > len(steps):
                raise RuntimeError(
                    f"history database is at schema version {version}, newer than this "
                    f"Kestrel understands ({len(steps)}); please update Kestrel"
                )
            if version == len(steps):
                conn.execute("COMMIT")
                return version
            steps[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


# ---- search helpers --------------------------------------------------------------------


def _fts_phrase(term: str) -> str:
    """Quote a user term as an FTS5 string, so ``"``, ``*``, ``(`` or ``AND`` are just text."""
    return '"' + term.replace('"', '""') + '"'


def _like_pattern(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _make_snippet(content: str, terms: list[str]) -> str:
    """Like FTS5's snippet(): a window around the first match, every match bracketed."""
    pattern = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    first = re.search(pattern, content, re.IGNORECASE)
    if first is None:  # only when case folding differs between SQLite and Python
        return content[: 2 * _SNIPPET_CONTEXT] + ("…" if len(content) > 2 * _SNIPPET_CONTEXT else "")
    lo = max(0, first.start() - _SNIPPET_CONTEXT)
    hi = min(len(content), first.end() + _SNIPPET_CONTEXT)
    marked = re.sub(pattern, lambda m: f"{MATCH_START}{m.group(0)}{MATCH_END}", content[lo:hi], flags=re.IGNORECASE)
    return ("…" if lo > 0 else "") + marked + ("…" if hi < len(content) else "")


# ---- the store -------------------------------------------------------------------------


class History:
    """All conversations and their messages, committed as they happen."""

    def __init__(self, path: Path) -> None:
        """Open (creating folders and file as needed) and bring the schema up to date."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
        self._last_time = 0.0
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            migrate(self._conn)
            self._has_trigram = self._conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'messages_trigram'"
            ).fetchone() is not None
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def default_path(cls) -> Path:
        """The per-user history database (under ``KESTREL_HOME`` when that is set)."""
        return paths.data_dir() / "history.sqlite3"

    def close(self) -> None:
        """Close the connection; the WAL is checkpointed when the last one closes."""
        self._conn.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return schema_version(self._conn)

    def _now(self) -> float:
        """Wall-clock time that never repeats, so 'most recent first' has no ties."""
        self._last_time = max(time.time(), self._last_time + 1e-6)
        return self._last_time

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short transaction, committed on exit (rolled back on error)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    # ---- conversations -----------------------------------------------------------------

    _CONVERSATION_SQL = """
        SELECT c.id, c.title, c.system_prompt, c.created_at, c.updated_at,
               (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id)
        FROM conversations c"""

    def create_conversation(self, title: str = "New chat", system_prompt: str = "") -> Conversation:
        now = self._now()
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO conversations (title, system_prompt, created_at, updated_at) "
                "VALUES (?, ?, ?, ?)", (title, system_prompt, now, now))
        assert cursor.lastrowid is not None
        return Conversation(cursor.lastrowid, title, system_prompt, now, now, 0)

    def list_conversations(self) -> list[Conversation]:
        """Most recently updated first."""
        rows = self._conn.execute(self._CONVERSATION_SQL + " ORDER BY c.updated_at DESC, c.id DESC")
        return [Conversation(*row) for row in rows]

    def get_conversation(self, conversation_id: int) -> Conversation:
        row = self._conn.execute(self._CONVERSATION_SQL + " WHERE c.id = ?",
                                 (conversation_id,)).fetchone()
        if row is None:
            raise KeyError(f"no conversation {conversation_id}")
        return Conversation(*row)

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        """Rename without reordering the list: a rename is not new activity."""
        if not title.strip():
            raise ValueError("a conversation title cannot be empty")
        self._update_conversation(conversation_id, "title", title.strip())

    def set_system_prompt(self, conversation_id: int, text: str) -> None:
        self._update_conversation(conversation_id, "system_prompt", text)

    def _update_conversation(self, conversation_id: int, column: str, value: str) -> None:
        with self._write() as conn:
            cursor = conn.execute(f"UPDATE conversations SET {column} = ? WHERE id = ?",
                                  (value, conversation_id))
            if cursor.rowcount == 0:
                raise KeyError(f"no conversation {conversation_id}")

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete a conversation and (by ``ON DELETE CASCADE``) its messages."""
        with self._write() as conn:
            conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def _touch(self, conn: sqlite3.Connection, conversation_id: int) -> None:
        conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?",
                     (self._now(), conversation_id))

    # ---- messages ----------------------------------------------------------------------

    def add_message(self, conversation_id: int, role: str, content: str, *,
                    complete: bool = True, stats: dict[str, object] | None = None) -> StoredMessage:
        """Append a message; it is committed before this returns."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)} (got {role!r})")
        now = self._now()
        stats_text = _dump_stats(stats)
        with self._write() as conn:
            try:
                cursor = conn.execute(
                    "INSERT INTO messages (conversation_id, role, content, created_at, complete, "
                    "stats) VALUES (?, ?, ?, ?, ?, ?)",
                    (conversation_id, role, content, now, int(complete), stats_text))
            except sqlite3.IntegrityError:
                raise KeyError(f"no conversation {conversation_id}") from None
            self._touch(conn, conversation_id)
        assert cursor.lastrowid is not None
        return StoredMessage(cursor.lastrowid, conversation_id, role, content, now, complete,
                             None if stats is None else dict(stats))

    def update_message(self, message_id: int, content: str, *, complete: bool | None = None,
                       stats: dict[str, object] | None = None) -> None:
        """Replace a message's text (and optionally its flags); committed before returning.

        Called about once a second while a reply streams, so a crash loses at most the
        last second of text. ``complete``/``stats`` left as None keep their stored value.
        """
        stats_text = _dump_stats(stats)
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE messages SET content = ?, complete = coalesce(?, complete),"
                " stats = coalesce(?, stats) WHERE id = ?",
                (content, None if complete is None else int(complete), stats_text, message_id))
            if cursor.rowcount == 0:
                raise KeyError(f"no message {message_id}")
            conn.execute("UPDATE conversations SET updated_at = ? WHERE id ="
                         " (SELECT conversation_id FROM messages WHERE id = ?)",
                         (self._now(), message_id))

    def messages(self, conversation_id: int) -> list[StoredMessage]:
        """The conversation's messages in the order they were added (each answer in its chosen version)."""
        rows = self._conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages m WHERE conversation_id = ? ORDER BY id", (conversation_id,))
        return [_stored(r) for r in rows]

    def message(self, message_id: int) -> StoredMessage:
        row = self._conn.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages m WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise KeyError(f"no message {message_id}")
        return _stored(row)

    # ---- versions of an answer -------------------------------------------------------

    def versions(self, message_id: int) -> list[MessageVersion]:
        """Every version of the message, in the order they were written (the chosen one included)."""
        current = self.message(message_id)
        others = self._conn.execute(
            "SELECT position, content, stats, created_at FROM message_versions WHERE message_id = ?", (message_id,))
        by_position = {r[0]: MessageVersion(r[1], _load_stats(r[2]), r[3]) for r in others}
        by_position[current.version] = MessageVersion(current.content, current.stats, current.created_at)
        return [by_position[p] for p in sorted(by_position)]

    def keep_versions(self, message_id: int, earlier: Sequence[MessageVersion]) -> StoredMessage:
        """Make ``earlier`` (an answer's versions before it was regenerated) the versions before this message."""
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO message_versions (message_id, position, content, stats, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(message_id, position, v.content, _dump_stats(v.stats), v.created_at)
                 for position, v in enumerate(earlier)])
            conn.execute("UPDATE messages SET version = ? WHERE id = ?", (len(earlier), message_id))
        return self.message(message_id)

    def choose_version(self, message_id: int, position: int) -> StoredMessage:
        """Show version ``position`` of an answer: it becomes the message's text, the current one waits."""
        current = self.message(message_id)
        if position == current.version:
            return current
        with self._write() as conn:
            row = conn.execute("SELECT content, stats, created_at FROM message_versions"
                               " WHERE message_id = ? AND position = ?", (message_id, position)).fetchone()
            if row is None:
                raise KeyError(f"message {message_id} has no version {position}")
            conn.execute("DELETE FROM message_versions WHERE message_id = ? AND position = ?", (message_id, position))
            conn.execute("INSERT INTO message_versions (message_id, position, content, stats, created_at)"
                         " VALUES (?, ?, ?, ?, ?)", (message_id, current.version, current.content,
                                                     _dump_stats(current.stats), current.created_at))
            conn.execute("UPDATE messages SET content = ?, stats = ?, created_at = ?, version = ? WHERE id = ?",
                         (row[0], row[1], row[2], position, message_id))
        return self.message(message_id)

    def delete_messages_from(self, conversation_id: int, message_id: int) -> None:
        """Delete that message and every later one (for regenerate and edit-and-resend)."""
        with self._write() as conn:
            conn.execute("DELETE FROM messages WHERE conversation_id = ? AND id >= ?",
                         (conversation_id, message_id))
            self._touch(conn, conversation_id)

    def mark_incomplete_as_interrupted(self) -> int:
        """On startup: keep replies cut off by a crash, marked as interrupted; returns count."""
        with self._write() as conn:
            rows = conn.execute("SELECT id, stats FROM messages WHERE complete = 0").fetchall()
            for message_id, stats_text in rows:
                stats = _load_stats(stats_text) or {}
                stats["stop_reason"] = "interrupted"
                conn.execute("UPDATE messages SET complete = 1, stats = ? WHERE id = ?",
                             (json.dumps(stats, ensure_ascii=False), message_id))
        return len(rows)

    # ---- search ------------------------------------------------------------------------

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Messages containing every word of ``query``; the last word may be a prefix.

        Whatever the user types is treated as plain words: quotes, ``*``, parentheses and
        FTS keywords such as ``AND`` are escaped, never interpreted.
        """
        terms = [t for t in query.split() if _WORDLIKE.search(t)]
        if not terms or limit <= 0:
            return []
        if _CJK.search(query):
            return self._search_substring(terms, limit)
        match = " ".join(_fts_phrase(t) for t in terms) + "*"
        rows = self._conn.execute(
            "SELECT m.conversation_id, m.id, c.title, m.role,"
            " snippet(messages_fts, 0, char(2), char(3), '…', 12) FROM messages_fts"
            " JOIN messages m ON m.id = messages_fts.rowid"
            " JOIN conversations c ON c.id = m.conversation_id"
            " WHERE messages_fts MATCH ? ORDER BY rank, m.id DESC LIMIT ?", (match, limit))
        return [SearchHit(*row) for row in rows]

    def _search_substring(self, terms: list[str], limit: int) -> list[SearchHit]:
        """CJK-friendly search: every term must appear as a substring; newest first."""
        where: list[str] = []
        args: list[object] = []
        long_terms = [t for t in terms if len(t) >= 3] if self._has_trigram else []
        if long_terms:
            where.append("m.id IN (SELECT rowid FROM messages_trigram(?))")
            args.append(" ".join(_fts_phrase(t) for t in long_terms))
        for term in terms:
            if term not in long_terms:
                where.append("m.content LIKE ? ESCAPE '\\'")
                args.append(_like_pattern(term))
        rows = self._conn.execute(
            "SELECT m.conversation_id, m.id, c.title, m.role, m.content FROM messages m"
            " JOIN conversations c ON c.id = m.conversation_id"
            f" WHERE {' AND '.join(where)} ORDER BY m.id DESC LIMIT ?", (*args, limit))
        return [SearchHit(cid, mid, title, role, _make_snippet(content, terms))
                for cid, mid, title, role, content in rows]


_MESSAGE_COLUMNS = ("id, conversation_id, role, content, created_at, complete, stats, version,"
                    " (SELECT count(*) FROM message_versions v WHERE v.message_id = m.id) + 1")


def _stored(row: Sequence[Any]) -> StoredMessage:
    return StoredMessage(row[0], row[1], row[2], row[3], row[4], bool(row[5]), _load_stats(row[6]), row[7], row[8])


def _dump_stats(stats: dict[str, object] | None) -> str | None:
    return None if stats is None else json.dumps(stats, ensure_ascii=False)


def _load_stats(text: str | None) -> dict[str, object] | None:
    """Parse stored stats; a damaged value must not make a whole conversation unreadable."""
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
