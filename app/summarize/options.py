"""What the user asks of a summary: its format (preset) and language."""

from __future__ import annotations

from dataclasses import dataclass

PRESETS = ("tldr", "bullets", "detailed")
LANGS = ("auto", "en", "zh")


@dataclass(frozen=True)
class SummaryOptions:
    """The preset and language, and the map settings that cached chunk summaries are keyed by."""

    preset: str = "bullets"
    lang: str = "auto"
    map_max_tokens: int = 96
    temperature: float = 0.2
    seed: int = 1234

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r} (choose {', '.join(PRESETS)})")
        if self.lang not in LANGS:
            raise ValueError(f"unknown language {self.lang!r} (choose {', '.join(LANGS)})")
