"""Settings: one declaration, strict validation, safe persistence, change notifications."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.base import atomic
from app.base.settings import SETTINGS, SETTINGS_BY_KEY, TAB_OTHER, Setting, SettingError, Settings

EXPECTED_KEYS = [
    "model_path", "remote_model", "n_ctx", "n_threads", "n_gpu_layers", "flash_attn", "speculative", "draft_model",
    "temperature", "top_k",
    "top_p", "min_p", "repeat_penalty", "max_tokens", "seed", "system_prompt",
    "context_overflow", "ui_language", "theme", "show_speed_details", "kv_state_budget_mb", "parallel_sequences",
    "api_server", "api_port",
    "api_network", "api_origins", "api_allow_load",
]


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_declaration_is_complete_and_defaults_are_valid() -> None:
    assert [s.key for s in SETTINGS] == EXPECTED_KEYS
    assert set(SETTINGS_BY_KEY) == set(EXPECTED_KEYS)
    for setting in SETTINGS:
        assert setting.validate(setting.default) == setting.default
        assert type(setting.default) is setting.type
        assert setting.description.strip()
        assert setting.title.strip() and setting.label == setting.title  # the dialog shows it as declared
        assert setting.tab != TAB_OTHER, f"{setting.key}: declare the tab it belongs on"
        if setting.choice_titles:
            assert setting.choices is not None and set(setting.choice_titles) == set(setting.choices)


def test_a_setting_declared_without_title_or_tab_still_has_both() -> None:
    extra = Setting("beta_feature", bool, False, "Try the new thing.")
    assert (extra.label, extra.tab, dict(extra.choice_titles)) == ("Beta feature", "Other", {})
    assert hash(extra) == hash(Setting("beta_feature", bool, False, "Try the new thing."))


def test_defaults(tmp_path: Path) -> None:
    s = Settings(tmp_path / "settings.json")
    assert s.problems == []
    assert s.get("n_ctx") == 4096
    assert s["temperature"] == 0.7
    assert s.get("model_path") == ""
    assert s.get("seed") == -1
    assert s.get("flash_attn") == "auto"
    assert s.get("show_speed_details") is True
    assert s.get_str("system_prompt").startswith("You are Kestrel")
    assert list(s.as_dict()) == EXPECTED_KEYS
    assert not (tmp_path / "settings.json").exists()  # loading alone writes nothing


def test_typed_accessors(tmp_path: Path) -> None:
    s = Settings(tmp_path / "settings.json")
    assert s.get_int("n_ctx") == 4096
    assert s.get_float("top_p") == 0.95
    assert s.get_str("ui_language") == "auto"
    assert s.get_bool("show_speed_details") is True
    with pytest.raises(TypeError):
        s.get_int("temperature")
    with pytest.raises(KeyError):
        s.get_int("nope")


def test_unknown_key_raises(tmp_path: Path) -> None:
    s = Settings(tmp_path / "settings.json")
    with pytest.raises(KeyError):
        s.get("no_such_setting")
    with pytest.raises(KeyError):
        s["no_such_setting"]
    with pytest.raises(KeyError):
        s.set("no_such_setting", 1)


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("n_ctx", "4096", "must be of type int"),            # wrong type
        ("model_path", 3, "must be of type str"),             # str must be str
        ("temperature", "hot", "must be of type float"),
        ("show_speed_details", 1, "must be of type bool"),    # int is not a bool
        ("n_ctx", True, "must be of type int"),               # bool is not an int
        ("temperature", False, "must be of type float"),      # nor a float
        ("n_ctx", 4096.5, "whole number"),
        ("n_ctx", 128, "at least 256"),                       # out of range, low
        ("n_ctx", 262144, "at most 131072"),                  # out of range, high
        ("temperature", 2.5, "at most 2"),
        ("seed", -2, "at least -1"),
        ("n_ctx", 1000, "multiple of 256"),                   # not a multiple
        ("flash_attn", "yes", "must be one of auto, on, off"),  # bad choice
        ("ui_language", "fr", "must be one of"),
        ("top_p", float("nan"), "finite"),
    ],
)
def test_validation_errors(key: str, value: object, fragment: str) -> None:
    with pytest.raises(SettingError) as info:
        SETTINGS_BY_KEY[key].validate(value)
    message = str(info.value)
    assert fragment in message
    assert key in message
    assert "\n" not in message


def test_validation_coercions() -> None:
    n_ctx = SETTINGS_BY_KEY["n_ctx"].validate(4096.0)
    assert n_ctx == 4096 and type(n_ctx) is int
    temperature = SETTINGS_BY_KEY["temperature"].validate(1)
    assert temperature == 1.0 and type(temperature) is float
    assert SETTINGS_BY_KEY["seed"].validate(2**31 - 1) == 2**31 - 1
    assert SETTINGS_BY_KEY["n_gpu_layers"].validate(-1) == -1
    assert issubclass(SettingError, ValueError)


def test_set_rejects_invalid_value_and_keeps_old(tmp_path: Path) -> None:
    s = Settings(tmp_path / "settings.json")
    with pytest.raises(SettingError):
        s.set("n_ctx", 1000)
    assert s.get("n_ctx") == 4096
    assert not (tmp_path / "settings.json").exists()


def test_persistence_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "settings.json"
    s = Settings(path)
    s.set("n_ctx", 8192)
    s.set("temperature", 1.25)
    s.set("system_prompt", "你好, be brief")
    s.set("show_speed_details", False)
    s.set("flash_attn", "on")
    again = Settings(path)
    assert again.problems == []
    assert again.as_dict() == s.as_dict()
    assert again.get("system_prompt") == "你好, be brief"
    # Only values that differ from their defaults are stored.
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert set(stored) == {"n_ctx", "temperature", "system_prompt", "show_speed_details",
                           "flash_attn"}


def test_reset_restores_default_and_removes_from_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    s = Settings(path)
    s.set("top_k", 7)
    s.reset("top_k")
    assert s.get("top_k") == 40
    assert "top_k" not in json.loads(path.read_text(encoding="utf-8"))
    assert Settings(path).get("top_k") == 40


def test_json_float_for_int_in_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"n_ctx": 8192.0}', encoding="utf-8")
    s = Settings(path)
    assert s.problems == []
    assert s.get("n_ctx") == 8192 and type(s.get("n_ctx")) is int


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2, 3]", b"\xff\xfe\x00garbage", b""])
def test_corrupt_file_is_set_aside(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(content)
    s = Settings(path)
    assert s.as_dict() == {x.key: x.default for x in SETTINGS}
    assert len(s.problems) == 1
    assert "settings.json" in s.problems[0]
    assert not path.exists()
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("settings.json.corrupt-")]
    assert len(aside) == 1
    assert aside[0].read_bytes() == content  # kept for inspection, not overwritten
    assert aside[0].name in s.problems[0]
    # The app carries on: saving works and produces a good file.
    s.set("top_k", 10)
    assert Settings(path).get("top_k") == 10


def test_second_corrupt_file_gets_its_own_name(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{", encoding="utf-8")
    Settings(path)
    path.write_text("{{", encoding="utf-8")
    Settings(path)
    aside = sorted(p.name for p in tmp_path.iterdir() if ".corrupt-" in p.name)
    assert len(aside) == 2


def test_invalid_single_value_falls_back(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"n_ctx": 1000, "temperature": 1.5, "ui_language": "xx",
                                "mystery": 1}), encoding="utf-8")
    s = Settings(path)
    assert s.get("n_ctx") == 4096
    assert s.get("ui_language") == "auto"
    assert s.get("temperature") == 1.5  # the good value survives
    assert len(s.problems) == 3
    joined = "\n".join(s.problems)
    assert "n_ctx" in joined and "multiple of 256" in joined
    assert "ui_language" in joined
    assert "mystery" in joined
    assert path.exists()  # a file with one bad value is not set aside
    # The next save drops the bad and unknown entries.
    s.set("top_k", 5)
    assert json.loads(path.read_text(encoding="utf-8")) == {"temperature": 1.5, "top_k": 5}


def test_subscribe_notifies_only_on_change(tmp_path: Path) -> None:
    s = Settings(tmp_path / "settings.json")
    seen: list[tuple[str, object]] = []
    unsubscribe = s.subscribe(lambda key, value: seen.append((key, value)))
    s.set("temperature", 0.7)  # unchanged
    assert seen == []
    s.set("temperature", 0.2)
    s.set("temperature", 0.2)  # unchanged again
    s.set("n_ctx", 2048.0)
    assert seen == [("temperature", 0.2), ("n_ctx", 2048)]
    unsubscribe()
    unsubscribe()  # harmless twice
    s.set("temperature", 0.3)
    assert seen == [("temperature", 0.2), ("n_ctx", 2048)]


def test_failing_subscriber_does_not_block_others(tmp_path: Path) -> None:
    s = Settings(tmp_path / "settings.json")
    seen: list[str] = []

    def broken(key: str, value: object) -> None:
        raise RuntimeError("boom")

    s.subscribe(broken)
    s.subscribe(lambda key, value: seen.append(key))
    s.set("top_k", 1)
    assert seen == ["top_k"]
    assert Settings(tmp_path / "settings.json").get("top_k") == 1


def test_atomic_save_leaves_no_temp_files(tmp_path: Path) -> None:
    s = Settings(tmp_path / "settings.json")
    for value in range(1, 20):
        s.set("top_k", value)
    s.update({"top_p": 0.5, "min_p": 0.1})
    assert _files(tmp_path) == ["settings.json"]


def test_failed_save_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "settings.json"
    s = Settings(path)
    s.set("top_k", 3)
    seen: list[str] = []
    s.subscribe(lambda key, value: seen.append(key))

    def fail(source: object, target: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic, "replace_with_retry", fail)
    with pytest.raises(OSError):
        s.set("top_k", 4)
    monkeypatch.undo()
    assert s.get("top_k") == 3
    assert seen == []
    assert _files(tmp_path) == ["settings.json"]  # the temp file was cleaned up
    assert Settings(path).get("top_k") == 3


def test_update_is_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    s = Settings(path)
    seen: list[tuple[str, object]] = []
    s.subscribe(lambda key, value: seen.append((key, value)))
    with pytest.raises(SettingError):
        s.update({"temperature": 0.1, "top_k": 20, "n_ctx": 1000})
    assert s.get("temperature") == 0.7
    assert s.get("top_k") == 40
    assert seen == []
    assert not path.exists()
    with pytest.raises(KeyError):
        s.update({"temperature": 0.1, "bogus": 1})
    assert s.get("temperature") == 0.7

    s.update({"temperature": 0.1, "top_k": 40, "n_ctx": 2048})
    assert seen == [("temperature", 0.1), ("n_ctx", 2048)]  # top_k did not change
    assert Settings(path).as_dict() == s.as_dict()


def test_default_path_honours_kestrel_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KESTREL_HOME", str(tmp_path))
    assert Settings.default_path() == tmp_path / "config" / "settings.json"
    s = Settings.load_default()
    s.set("top_k", 9)
    assert (tmp_path / "config" / "settings.json").exists()


def test_custom_setting_type_check() -> None:
    flag = Setting("flag", bool, False, "A flag.")
    assert flag.validate(True) is True
    with pytest.raises(SettingError):
        flag.validate("true")
