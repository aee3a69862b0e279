"""The start-up notice about a settings file that could not be used as it was."""

from __future__ import annotations

from pathlib import Path

from app.base.settings import Settings
from app.ui.settings import problems_notice

HEADING = "Kestrel could not use all of your saved settings; it uses the defaults instead:"


def test_a_good_or_missing_file_says_nothing(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "settings.json")
    assert problems_notice(settings) is None
    settings.set("top_k", 5)
    assert problems_notice(Settings(tmp_path / "settings.json")) is None


def test_a_corrupt_file_moved_aside_is_reported_with_where_it_went(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{ not json", encoding="utf-8")
    settings = Settings(path)
    notice = problems_notice(settings)
    assert notice is not None
    heading, *lines = notice.splitlines()
    aside = next(p.name for p in tmp_path.iterdir() if p.name.startswith("settings.json.corrupt-"))
    assert heading == HEADING and lines == settings.problems and aside in lines[0]


def test_each_dropped_value_is_a_line(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"n_ctx": 1000, "colour": "blue", "top_k": 3}', encoding="utf-8")
    notice = problems_notice(Settings(path))
    assert notice is not None
    lines = notice.splitlines()
    assert len(lines) == 3 and "n_ctx" in lines[1] and "'colour'" in lines[2]


def test_the_heading_is_translated(zh: Settings, tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b"\xff\xfe")
    notice = problems_notice(Settings(path))
    assert notice is not None and notice.splitlines()[0] == "Kestrel 无法使用你保存的部分设置，已改用默认值："
