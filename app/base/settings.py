"""User settings, declared once.

Every setting Kestrel knows is a :class:`Setting` in :data:`SETTINGS`: its type, default,
limits, description, and the title and tab it has in the settings dialog, which is built
from this tuple. The CLI and the file loader read the same tuple, so a new setting needs
exactly one new entry. Values live in a small JSON file. Only values that differ from
their defaults are written, so a later release can improve a default for everyone who
never changed it. A broken file must never stop the app from starting: it is moved
aside and the defaults are used, with a line in :attr:`Settings.problems` for the UI.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from app.base import paths
from app.base.atomic import replace_with_retry, write_atomic
from app.base.translatable import QT_TRANSLATE_NOOP

log = logging.getLogger(__name__)

__all__ = ["QT_TRANSLATE_NOOP", "SETTINGS", "SETTINGS_BY_KEY", "TAB_OTHER", "Setting", "SettingError", "Settings"]


# The dialog's tabs, in the order their first setting is declared; "Other" comes last.
TAB_MODEL = QT_TRANSLATE_NOOP("SettingsDialog", "Model")
TAB_GENERATION = QT_TRANSLATE_NOOP("SettingsDialog", "Generation")
TAB_CHAT = QT_TRANSLATE_NOOP("SettingsDialog", "Chat")
TAB_INTERFACE = QT_TRANSLATE_NOOP("SettingsDialog", "Interface")
TAB_API = QT_TRANSLATE_NOOP("SettingsDialog", "API server")
TAB_OTHER = QT_TRANSLATE_NOOP("SettingsDialog", "Other")


class SettingError(ValueError):
    """A value that a setting does not accept; the message is one readable line."""


def _describe(value: object) -> str:
    """Short repr for error messages, so a huge pasted string cannot flood the UI."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Setting:
    """One user-tunable value: its type, default, limits, and how the dialog shows it.

    ``title``, ``tab`` and the ``choice_titles`` are English, marked for translation; a
    setting declared without them still appears, titled after its key on the "Other" tab.
    """

    key: str
    type: type
    default: object
    description: str
    choices: tuple[object, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    multiple_of: int | None = None
    title: str = field(default="", kw_only=True)
    tab: str = field(default=TAB_OTHER, kw_only=True)
    choice_titles: Mapping[object, str] = field(default_factory=dict, kw_only=True, hash=False)

    @property
    def label(self) -> str:
        """The declared title, or one made from the key ('some_key' -> 'Some key')."""
        return self.title or self.key.replace("_", " ").capitalize()

    def validate(self, value: object) -> object:
        """Return ``value`` coerced to this setting's type, or raise :class:`SettingError`.

        JSON has one number type, so an integral float such as ``4096.0`` is accepted for
        an int setting. ``bool`` is a subclass of ``int`` in Python but never a number here:
        ``True`` for a context size is a bug, not a request for one token.
        """
        coerced = self._coerce(value)
        if self.choices is not None and coerced not in self.choices:
            allowed = ", ".join(str(c) for c in self.choices)
            raise SettingError(f"{self.key} must be one of {allowed} (got {_describe(value)})")
        if isinstance(coerced, (int, float)) and not isinstance(coerced, bool):
            if self.minimum is not None and coerced < self.minimum:
                raise SettingError(
                    f"{self.key} must be at least {_num(self.minimum)} (got {_num(coerced)})"
                )
            if self.maximum is not None and coerced > self.maximum:
                raise SettingError(
                    f"{self.key} must be at most {_num(self.maximum)} (got {_num(coerced)})"
                )
            if self.multiple_of is not None and int(coerced) % self.multiple_of != 0:
                raise SettingError(
                    f"{self.key} must be a multiple of {self.multiple_of} (got {_num(coerced)})"
                )
        return coerced

    def _coerce(self, value: object) -> object:
        """Check the type, allowing only the lossless conversions JSON makes necessary."""
        name = self.type.__name__
        if self.type is bool:
            if isinstance(value, bool):
                return value
        elif self.type is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, float) and math.isfinite(value):
                raise SettingError(f"{self.key} must be a whole number (got {_describe(value)})")
        elif self.type is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if not math.isfinite(value):
                    raise SettingError(f"{self.key} must be a finite number (got {value})")
                return float(value)
        elif self.type is str:
            if isinstance(value, str):
                return value
        elif isinstance(value, self.type):
            return value
        got = type(value).__name__
        raise SettingError(f"{self.key} must be of type {name} (got {got} {_describe(value)})")


def _num(value: float) -> str:
    """Format a limit without a pointless '.0' (256, not 256.0)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


SETTINGS: tuple[Setting, ...] = (
    Setting("model_path", str, "",
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Model file to load. Leave empty to use the starter model."),
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Model file"), tab=TAB_MODEL),
    Setting("remote_model", str, "",
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "A model on a server, chosen in the Models tab: the connection's name, '/', then the "
                              "model id. While set, it is used instead of the model file; empty: the model file is "
                              "used."),
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Model on a server"), tab=TAB_MODEL),
    Setting("n_ctx", int, 4096,
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Context size in tokens: how much of the conversation the model sees at once. Larger "
                              "values use more memory."),
            minimum=256, maximum=131072, multiple_of=256,
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Context size (tokens)"), tab=TAB_MODEL),
    Setting("n_threads", int, 0,
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "CPU threads used for generation. 0 chooses automatically."),
            minimum=0, maximum=256,
            title=QT_TRANSLATE_NOOP("SettingsDialog", "CPU threads (0 = automatic)"), tab=TAB_MODEL),
    Setting("n_gpu_layers", int, -1,
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Model layers to run on the GPU. -1 (automatic) offloads as many as fit in free GPU "
                              "memory; 0 uses only the CPU; a number sets it by hand."),
            minimum=-1, maximum=999,
            title=QT_TRANSLATE_NOOP("SettingsDialog", "GPU layers (-1 = automatic)"), tab=TAB_MODEL),
    Setting("flash_attn", str, "auto",
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Flash attention: faster and lighter on memory where supported. 'auto' lets Kestrel "
                              "decide."),
            choices=("auto", "on", "off"),
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Flash attention"), tab=TAB_MODEL,
            choice_titles={"auto": QT_TRANSLATE_NOOP("SettingsDialog", "Automatic"),
                           "on": QT_TRANSLATE_NOOP("SettingsDialog", "On"),
                           "off": QT_TRANSLATE_NOOP("SettingsDialog", "Off")}),
    Setting("speculative", str, "auto",
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Speculative decoding: guess the next few tokens (from text already in the prompt, or "
                              "with the draft model) and check them in one step. 'Automatic' keeps it on only while "
                              "it makes the reply faster on this machine; the reply is the same either way."),
            choices=("auto", "off"),
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Speculative decoding"), tab=TAB_MODEL,
            choice_titles={"auto": QT_TRANSLATE_NOOP("SettingsDialog", "Automatic"),
                           "off": QT_TRANSLATE_NOOP("SettingsDialog", "Off")}),
    Setting("draft_model", str, "",
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "A smaller GGUF model with the same vocabulary as the model (for example the 1B "
                              "model of the same family), loaded beside it to draft tokens. Empty: drafts come "
                              "from the text alone."),
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Draft model file"), tab=TAB_MODEL),
    Setting("temperature", float, 0.7,
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Randomness of replies. Lower is more focused and repeatable, higher is more varied."),
            minimum=0.0, maximum=2.0,
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Temperature"), tab=TAB_GENERATION),
    Setting("top_k", int, 40,
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Choose each word only from this many most likely candidates. 0 turns this off."),
            minimum=0, maximum=1000,
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Top-k"), tab=TAB_GENERATION),
    Setting("top_p", float, 0.95,
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Choose each word only from the most likely candidates that together reach this "
                              "probability. 1 turns this off."),
            minimum=0.0, maximum=1.0,
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Top-p"), tab=TAB_GENERATION),
    Setting("min_p", float, 0.05,
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Ignore candidates much less likely than the best one. 0 turns this off."),
            minimum=0.0, maximum=1.0,
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Min-p"), tab=TAB_GENERATION),
    Setting("repeat_penalty", float, 1.0,
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Discourage repeating recent words. 1 turns this off; higher values repeat less."),
            minimum=0.5, maximum=2.0,
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Repeat penalty"), tab=TAB_GENERATION),
    Setting("max_tokens", int, 1024,
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Longest reply, in tokens."),
            minimum=1, maximum=32768,
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Longest reply (tokens)"), tab=TAB_GENERATION),
    Setting("seed", int, -1,
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Random seed: the same seed and settings give the same reply. -1 picks a new one each "
                              "time."),
            minimum=-1, maximum=2**31 - 1,
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Seed (-1 = random)"), tab=TAB_GENERATION),
    Setting("system_prompt", str,
            "You are Kestrel, a helpful assistant running on the user's own computer.",

            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Instructions given to the model at the start of every new conversation."),
            title=QT_TRANSLATE_NOOP("SettingsDialog", "System prompt"), tab=TAB_CHAT),
    Setting("context_overflow", str, "drop_oldest",
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "When a conversation no longer fits in the context: drop the oldest messages, or refuse"
                              " and suggest a new chat."),
            choices=("drop_oldest", "refuse"),
            title=QT_TRANSLATE_NOOP("SettingsDialog", "When the chat is too long"), tab=TAB_CHAT,
            choice_titles={"drop_oldest": QT_TRANSLATE_NOOP("SettingsDialog", "Drop the oldest turns (and say so)"),
                           "refuse": QT_TRANSLATE_NOOP("SettingsDialog", "Refuse to send")}),
    Setting("ui_language", str, "auto",
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Language of the interface. 'auto' follows the system language."),
            choices=("auto", "en", "zh_CN"),
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Interface language"), tab=TAB_INTERFACE,
            choice_titles={"auto": QT_TRANSLATE_NOOP("SettingsDialog", "System language"),
                           "en": QT_TRANSLATE_NOOP("SettingsDialog", "English"),
                           "zh_CN": "简体中文"}),  # each language in its own words, never translated
    Setting("theme", str, "system",
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Light or dark colours. 'System' follows the desktop's choice."),
            choices=("system", "light", "dark"),
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Theme"), tab=TAB_INTERFACE,
            choice_titles={"system": QT_TRANSLATE_NOOP("SettingsDialog", "System"),
                           "light": QT_TRANSLATE_NOOP("SettingsDialog", "Light"),
                           "dark": QT_TRANSLATE_NOOP("SettingsDialog", "Dark")}),
    Setting("show_speed_details", bool, True,

            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Show tokens per second and timing details under each reply."),
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Show speed details"), tab=TAB_INTERFACE),
    Setting("kv_state_budget_mb", int, 2048,
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Disk space for saved conversation states, so a chat you return to (or continue after a"
                              " restart) answers without reading its history again. The least recently used go first;"
                              " 0 turns saving off."),
            minimum=0, maximum=1048576,
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Saved conversation states (MB)"), tab=TAB_MODEL),
    Setting("parallel_sequences", int, 0,
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Parts of a document (summary parts, paragraphs to translate) worked on at once: sooner"
                              " done, and each takes memory while it runs. 0: automatic; 1: one at a time."),
            minimum=0, maximum=16,
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Document parts at once (0 = automatic)"), tab=TAB_MODEL),
    Setting("api_server", bool, False,
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Serve the loaded model to other programs through an OpenAI-compatible API while "
                              "Kestrel runs. Every request needs the API key."),
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Serve the API"), tab=TAB_API),
    Setting("api_port", int, 8321,
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Port of the API server."),
            minimum=1024, maximum=65535,
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Port"), tab=TAB_API),
    Setting("api_network", bool, False,
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Let other machines on the network reach the API, not only this computer. Anyone with "
                              "the key can then use your model."),
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Reachable from other machines"), tab=TAB_API),
    Setting("api_origins", str, "",
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Web pages allowed to call the API from a browser (CORS), separated by spaces, e.g. "
                              "http://localhost:3000. Empty: none."),
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Allowed web pages"), tab=TAB_API),
    Setting("api_allow_load", bool, False,
            QT_TRANSLATE_NOOP("SettingsDialog",
                              "Let a request that names another model of the library load it (the window then uses "
                              "that model too)."),
            title=QT_TRANSLATE_NOOP("SettingsDialog", "Requests may load other models"), tab=TAB_API),
)

SETTINGS_BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}


def _declared(key: str) -> Setting:
    """Look up a declaration; an undeclared key is a programming error, hence KeyError."""
    try:
        return SETTINGS_BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown setting {key!r}") from None


class Settings:
    """Settings stored as JSON in one file.

    Unknown keys in the file are dropped (with a line in :attr:`problems`), so a typo or
    a setting removed in a later release cannot linger. Writes go through
    :func:`~app.base.atomic.write_atomic`, so a crash mid-save leaves the old or the new file.
    """

    def __init__(self, path: Path) -> None:
        """Load ``path`` if it exists; never raise for a bad file, record a problem instead."""
        self.path = Path(path)
        self.problems: list[str] = []
        self._values: dict[str, object] = {s.key: s.default for s in SETTINGS}
        self._subscribers: list[Callable[[str, object], None]] = []
        self._lock = threading.RLock()
        self._load()

    @classmethod
    def default_path(cls) -> Path:
        """The per-user settings file (under ``KESTREL_HOME`` when that is set)."""
        return paths.config_dir() / "settings.json"

    @classmethod
    def load_default(cls) -> Settings:
        """Open the per-user settings file."""
        return cls(cls.default_path())

    # ---- reading -------------------------------------------------------------------

    def get(self, key: str) -> object:
        """Current value of a declared setting; KeyError for an undeclared one."""
        _declared(key)
        with self._lock:
            return self._values[key]

    def __getitem__(self, key: str) -> object:
        return self.get(key)

    def as_dict(self) -> dict[str, object]:
        """A copy of every current value, in declaration order."""
        with self._lock:
            return {s.key: self._values[s.key] for s in SETTINGS}

    def _typed(self, key: str, kind: type) -> object:
        setting = _declared(key)
        if setting.type is not kind:
            raise TypeError(f"setting {key!r} is a {setting.type.__name__}, not {kind.__name__}")
        return self.get(key)

    def get_int(self, key: str) -> int:
        """Typed accessor so callers need no casts under mypy; TypeError on a type mismatch."""
        value = self._typed(key, int)
        assert isinstance(value, int)
        return value

    def get_float(self, key: str) -> float:
        """Typed accessor for float settings."""
        value = self._typed(key, float)
        assert isinstance(value, float)
        return value

    def get_str(self, key: str) -> str:
        """Typed accessor for str settings."""
        value = self._typed(key, str)
        assert isinstance(value, str)
        return value

    def get_bool(self, key: str) -> bool:
        """Typed accessor for bool settings."""
        value = self._typed(key, bool)
        assert isinstance(value, bool)
        return value

    # ---- writing -------------------------------------------------------------------

    def set(self, key: str, value: object) -> None:
        """Validate, save, then notify subscribers if the value actually changed."""
        self.update({key: value})

    def update(self, values: dict[str, object]) -> None:
        """Change several settings at once: all are validated before any is applied.

        If one value is invalid (or the save fails) nothing changes, on disk or in memory.
        """
        coerced = {key: _declared(key).validate(value) for key, value in values.items()}
        with self._lock:
            new_values = dict(self._values)
            new_values.update(coerced)
            self._save(new_values)
            changed = [(k, v) for k, v in coerced.items() if self._values[k] != v]
            self._values = new_values
        for key, value in changed:
            self._notify(key, value)

    def reset(self, key: str) -> None:
        """Return one setting to its default (which also removes it from the file)."""
        self.set(key, _declared(key).default)

    def subscribe(self, callback: Callable[[str, object], None]) -> Callable[[], None]:
        """Call ``callback(key, new_value)`` after each change; returns an unsubscribe function."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _notify(self, key: str, value: object) -> None:
        """Tell every subscriber; one failing subscriber must not silence the others."""
        with self._lock:
            callbacks = list(self._subscribers)
        for callback in callbacks:
            try:
                callback(key, value)
            except Exception:
                log.exception("settings subscriber failed for %s", key)

    # ---- the file ------------------------------------------------------------------

    def _load(self) -> None:
        """Read the file, keeping every valid value and explaining everything dropped."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            self.problems.append(f"Could not read settings file {self.path}: {exc}. Using defaults.")
            return
        except UnicodeDecodeError:
            self._set_aside("it is not valid UTF-8 text")
            return
        try:
            data = json.loads(text)
        except ValueError as exc:
            self._set_aside(f"it is not valid JSON ({exc})")
            return
        if not isinstance(data, dict):
            self._set_aside("it does not contain a JSON object")
            return
        for key, raw in data.items():
            setting = SETTINGS_BY_KEY.get(key)
            if setting is None:
                self.problems.append(f"Ignored unknown setting {key!r} in {self.path.name}.")
                continue
            try:
                self._values[key] = setting.validate(raw)
            except SettingError as exc:
                self.problems.append(
                    f"Invalid value for {key} in {self.path.name}: {exc}. "
                    f"Using the default ({setting.default!r})."
                )

    def _set_aside(self, why: str) -> None:
        """Move a corrupt file out of the way so it is kept for inspection, not overwritten."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        try:
            replace_with_retry(self.path, target)
            where = f"it was moved to {target.name}"
        except OSError as exc:
            where = f"it could not be moved aside ({exc})"
        self.problems.append(
            f"Settings file {self.path.name} was unreadable because {why}; {where}. "
            "Using defaults."
        )

    def _save(self, values: dict[str, object]) -> None:
        """Write the non-default values atomically: a crash leaves the old file or the new one."""
        overrides = {s.key: values[s.key] for s in SETTINGS if values[s.key] != s.default}
        write_atomic(self.path, json.dumps(overrides, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
