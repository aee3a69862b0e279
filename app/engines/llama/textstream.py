"""Turning a stream of token bytes into clean text deltas.

Token pieces are bytes: a Chinese character is often split over two or three tokens,
so decoding piece by piece would print garbage. An incremental UTF-8 decoder holds
incomplete sequences back; a stop-string buffer holds back text that might be the
start of a stop string, so the user never sees half of "\\nUser:".
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence


class Utf8Stream:
    """Bytes in, complete characters out; each token costs O(piece), never O(reply)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, piece: bytes) -> str:
        return self._decoder.decode(piece)

    def flush(self) -> str:
        """Whatever is left at the end (an unfinished sequence becomes U+FFFD)."""
        return self._decoder.decode(b"", final=True)


class StopBuffer:
    """Emits text as soon as it cannot be part of a stop string."""

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._pending = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """Add text; return what is safe to show. Sets ``stopped`` when a stop string appears."""
        if self.stopped:
            return ""
        if not self._stops:
            return text
        self._pending += text
        cut = min((i for i in (self._pending.find(s) for s in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            out = self._pending[:cut]
            self._pending = ""
            self.stopped = True
            return out
        hold = self._held_suffix_length()
        out = self._pending[: len(self._pending) - hold]
        self._pending = self._pending[len(self._pending) - hold :]
        return out

    def flush(self) -> str:
        """At the end of generation, held text was not a stop string after all."""
        out, self._pending = ("" if self.stopped else self._pending), ""
        return out

    def _held_suffix_length(self) -> int:
        best = 0
        for stop in self._stops:
            for n in range(min(len(stop) - 1, len(self._pending)), best, -1):
                if self._pending.endswith(stop[:n]):
                    best = n
                    break
        return best


class LeadingSpaceTrimmer:
    """Drops whitespace before the first visible character of a reply.

    The plain prompt ends with "Assistant:", so SentencePiece models start the reply
    with a space token; nobody wants to see it.
    """

    def __init__(self) -> None:
        self._started = False

    def feed(self, text: str) -> str:
        if self._started:
            return text
        stripped = text.lstrip()
        if stripped:
            self._started = True
        return stripped
