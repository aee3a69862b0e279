"""Servers the user added (connections), checking one, and which remote model is chosen.

A connection is a name, a base URL (``http(s)://host:port/v1``), a *reference* to its API key
(:mod:`app.base.credentials`; the key itself is never in this file), an optional CA file for
https, an optional context size for servers that do not report theirs, and how many requests
Kestrel may send it at once (summaries send that many parts together; unset: the slots
llama-server reports, else one). They live in
``connections.json`` in the config folder, written atomically.

The chosen remote model is the ``remote_model`` setting, ``"<connection>/<model id>"``;
choosing a local model clears it and choosing a remote one clears ``model_path``, so exactly
one of them says what to load (:func:`app.models.params.load_spec`).

Kestrel connects to a server only when the user checks it or uses one of its models.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import ssl
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.base import credentials, paths
from app.base.atomic import write_atomic
from app.base.settings import Settings
from app.engines.contract import Endpoint, EngineError
from app.engines.remote.client import ServerConnection, Timeouts, http_failure
from app.engines.remote.discovery import discover
from app.models.selection import ModelNotFound

log = logging.getLogger(__name__)

REMOTE_SETTING = "remote_model"
FILE_NAME = "connections.json"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
#: A check is interactive: fail fast rather than wait the engine's minutes.
CHECK_TIMEOUTS = Timeouts(connect_s=5.0, request_s=15.0)
MAX_NAME = 60
MAX_PARALLEL = 64


class ConnectionProblem(ValueError):
    """A connection that cannot be saved as entered, or a broken connections file; one line."""


@dataclass(frozen=True)
class Connection:
    """One server the user added. ``credential`` is a reference (``keyring:...``/``file:...``), never a key."""

    name: str
    url: str
    credential: str | None = None
    ca_file: str | None = None
    n_ctx: int | None = None
    parallel: int | None = None  # requests at once; None: as the server reports, else 1

    def endpoint(self, model_id: str, n_ctx: int | None = None) -> Endpoint:
        """The spec that loads ``model_id`` from this server."""
        return Endpoint(url=self.url, model_id=model_id, credential=self.credential, n_ctx=n_ctx or self.n_ctx,
                        ca_file=self.ca_file, parallel=self.parallel)


@dataclass(frozen=True)
class CheckResult:
    """What a check learned: the server's kind, its models, and the context size where it says."""

    kind: str
    model_ids: tuple[str, ...]
    n_ctx: int | None
    slots: int | None = None  # replies the server runs at once, where it says


# ---- checking what the user typed ---------------------------------------------------------
def normalize_url(url: str) -> str:
    """``url`` without trailing slashes; ConnectionProblem unless it is ``http(s)://host[:port]/...``."""
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectionProblem(f"{url.strip()!r} is not a server address; it should look like "
                                "http://host:8080/v1")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConnectionProblem(f"{url.strip()!r} has a port that is not a number") from None
    if parts.username or parts.password:
        raise ConnectionProblem("put the API key in its own field, not in the address")
    if parts.query or parts.fragment:
        raise ConnectionProblem(f"{url.strip()!r} should be a base address without '?' or '#'")
    return text


def is_loopback(url: str) -> bool:
    """Whether ``url`` points at this computer (127.0.0.0/8, ::1, localhost)."""
    host = (urlsplit(url.strip()).hostname or "").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def key_sent_in_clear(url: str, has_key: bool) -> bool:
    """A key over plain http to another machine travels unencrypted: the UI warns."""
    return has_key and url.strip().lower().startswith("http://") and not is_loopback(url)


def validate(name: str, url: str, ca_file: str | None, n_ctx: int | None,
             parallel: int | None = None) -> tuple[str, str]:
    """The cleaned name and URL; ConnectionProblem with one line for what is wrong."""
    clean = name.strip()
    if not clean:
        raise ConnectionProblem("give the connection a name")
    if "/" in clean or len(clean) > MAX_NAME or not clean.isprintable():
        raise ConnectionProblem(f"a connection name is up to {MAX_NAME} printable characters, without '/'")
    address = normalize_url(url)
    if ca_file:
        if not address.lower().startswith("https://"):
            raise ConnectionProblem("a CA file only applies to https:// addresses")
        if not Path(ca_file).is_file():
            raise ConnectionProblem(f"the CA file {ca_file} does not exist")
    if n_ctx is not None and not 256 <= n_ctx <= 1_048_576:
        raise ConnectionProblem("the context size must be between 256 and 1,048,576 tokens")
    if parallel is not None and not 1 <= parallel <= MAX_PARALLEL:
        raise ConnectionProblem(f"requests at once must be between 1 and {MAX_PARALLEL}")
    return clean, address


# ---- the store ----------------------------------------------------------------------------
def _from_json(entry: Mapping[str, Any]) -> Connection | None:
    name, url = entry.get("name"), entry.get("url")
    if not isinstance(name, str) or not isinstance(url, str):
        return None
    credential, ca_file = entry.get("credential"), entry.get("ca_file")
    return Connection(name=name, url=url,
                      credential=credential if isinstance(credential, str) else None,
                      ca_file=ca_file if isinstance(ca_file, str) else None,
                      n_ctx=_count(entry.get("n_ctx")), parallel=_count(entry.get("parallel")))


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


class ConnectionStore:
    """The connections file: read on each call (it is tiny), written atomically."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.config_dir() / FILE_NAME

    def all(self) -> list[Connection]:
        """Every saved connection, in the order added; a broken file raises ConnectionProblem."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise ConnectionProblem(f"cannot read {self.path}: {type(exc).__name__}") from None
        try:
            data = json.loads(text)
        except ValueError:
            raise ConnectionProblem(f"{self.path} is not valid JSON; fix or delete it") from None
        entries = data.get("connections") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise ConnectionProblem(f"{self.path} holds no list of connections; fix or delete it")
        found = [_from_json(e) for e in entries if isinstance(e, Mapping)]
        return [c for c in found if c is not None]

    def get(self, name: str) -> Connection | None:
        return next((c for c in self.all() if c.name == name), None)

    def _write(self, connections: list[Connection]) -> None:
        data = {"connections": [{k: v for k, v in asdict(c).items() if v is not None} for c in connections]}
        write_atomic(self.path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def add(self, name: str, url: str, *, api_key: str | None = None, ca_file: str | None = None,
            n_ctx: int | None = None, parallel: int | None = None, keep_key: bool = False) -> Connection:
        """Save a connection (replacing one of the same name); the key goes to :func:`credentials.store`.

        ``keep_key``: with no new key, an edited connection keeps the key it had (else it is deleted).
        """
        clean, address = validate(name, url, ca_file, n_ctx, parallel)
        existing = self.get(clean)
        if api_key:
            credential: str | None = credentials.store(clean, api_key)
        else:
            credential = existing.credential if keep_key and existing is not None else None
        if existing is not None and existing.credential not in (None, credential):
            credentials.delete(existing.credential)  # the old key must not linger
        connection = Connection(clean, address, credential, ca_file or None, n_ctx, parallel)
        connections = self.all()
        if existing is None:
            connections.append(connection)
        else:  # edited in place: the list keeps its order
            connections = [connection if c.name == clean else c for c in connections]
        self._write(connections)
        return connection

    def remove(self, name: str) -> None:
        """Forget a connection and delete its stored key."""
        connections = self.all()
        gone = [c for c in connections if c.name == name]
        self._write([c for c in connections if c.name != name])
        for connection in gone:
            credentials.delete(connection.credential)


# ---- checking a server --------------------------------------------------------------------
def _ids(data: Any) -> list[str]:
    entries = data.get("data") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        return []
    return [str(e["id"]) for e in entries if isinstance(e, Mapping) and isinstance(e.get("id"), str)]


def _ollama_names(data: Any) -> list[str]:
    models = data.get("models") if isinstance(data, Mapping) else None
    if not isinstance(models, list):
        return []
    return [str(m["name"]) for m in models if isinstance(m, Mapping) and isinstance(m.get("name"), str)]


def check(connection: Connection, timeouts: Timeouts = CHECK_TIMEOUTS) -> CheckResult:
    """Reachable, key accepted, models listed (``/v1/models``, else Ollama's ``/api/tags``).

    Raises EngineError or CredentialError (RuntimeErrors) with one line; the key never appears in it.
    """
    key = credentials.resolve(connection.credential)
    try:
        conn = ServerConnection(connection.url, api_key=key, timeouts=timeouts, verify=connection.ca_file or True)
    except (OSError, ValueError) as exc:  # an unreadable or malformed CA file
        reason = exc.reason if isinstance(exc, ssl.SSLError) else None
        raise EngineError(f"The CA file {connection.ca_file} cannot be used: "
                          f"{reason or type(exc).__name__}.") from None
    try:
        url = conn.url("/models")
        answer = conn.call("GET", "/models")
        if not answer.ok:
            raise http_failure(answer, url, model_id="", n_ctx=0)
        ids = _ids(answer.data)
        if not ids:
            ids = _ollama_names(conn.probe("GET", "/api/tags", root=True))
        if not ids:
            if not isinstance(answer.data, Mapping):
                raise EngineError(f"{url} did not answer like an OpenAI-compatible server (no model list).")
            return CheckResult("OpenAI-compatible server", (), None)
        try:
            info = discover(conn, ids[0])
        except EngineError as exc:  # the list came, the details did not: still usable
            log.info("server details unavailable: %s", exc)
            return CheckResult("OpenAI-compatible server", tuple(ids), None)
        return CheckResult(info.kind, tuple(ids), info.n_ctx, info.slots)
    finally:
        conn.close()


# ---- the chosen remote model --------------------------------------------------------------
def chosen(settings: Settings) -> tuple[str, str] | None:
    """(connection name, model id) of the chosen remote model, or None when a local model is chosen."""
    value = settings.get_str(REMOTE_SETTING)
    name, _, model_id = value.partition("/")
    return (name, model_id) if name and model_id else None


def choose_remote(settings: Settings, name: str, model_id: str) -> None:
    """Make ``model_id`` on connection ``name`` the model to use (and forget the local choice)."""
    settings.update({REMOTE_SETTING: f"{name}/{model_id}", "model_path": ""})


def clear_remote_on_local_choice(settings: Settings) -> Callable[[], None]:
    """Subscribe so that choosing a model file (anywhere: Models tab, File › Open) clears the remote choice.

    Returns the unsubscribe function.
    """
    def on_change(key: str, value: object) -> None:
        if key == "model_path" and value and settings.get_str(REMOTE_SETTING):
            settings.set(REMOTE_SETTING, "")

    return settings.subscribe(on_change)


class RemoteModelMissing(ModelNotFound):
    """The chosen remote model's connection is gone (or the setting is malformed); one line."""


def chosen_endpoint(settings: Settings, store: ConnectionStore | None = None,
                    n_ctx: int | None = None) -> Endpoint | None:
    """The Endpoint of the chosen remote model; None when a local model is chosen."""
    value = settings.get_str(REMOTE_SETTING)
    if not value:
        return None
    pick = chosen(settings)
    if pick is None:
        raise RemoteModelMissing(f"the server model setting {value!r} should be '<connection>/<model id>'; "
                                 "choose the model again in the Models tab")
    name, model_id = pick
    try:
        connection = (store or ConnectionStore()).get(name)
    except ConnectionProblem as exc:
        raise RemoteModelMissing(str(exc)) from None
    if connection is None:
        raise RemoteModelMissing(f"the server connection {name!r} no longer exists; "
                                 "choose a model in the Models tab")
    return connection.endpoint(model_id, n_ctx)
