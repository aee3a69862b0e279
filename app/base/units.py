"""Sizes and durations in words, one way everywhere (CLI, Models tab, panels, readout)."""

from __future__ import annotations


def format_bytes(n: float, approximate: bool = False) -> str:
    """``512 B``, ``45.1 MiB``, ``1.23 GiB``; ``~`` in front for an estimate."""
    value = float(n)
    text = f"{value:.0f} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024:
            break
        value /= 1024
        if abs(value) < 10:
            text = f"{value:.2f} {unit}"
        elif abs(value) < 100:
            text = f"{value:.1f} {unit}"
        else:
            text = f"{value:.0f} {unit}"
    return ("~" if approximate else "") + text


def format_duration(seconds: float) -> str:
    """A wait or an estimate: ``8 s``, ``2 min 05 s``, ``1 h 12 min``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def format_seconds(seconds: float) -> str:
    """A measured time, with precision for short ones: ``85 ms``, ``1.25 s``, ``2 min 05 s``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"
