"""Text to tokens and tokens to text with a model's vocabulary (llama.cpp's tokenizer calls)."""

from __future__ import annotations

import ctypes
from typing import Any

from app.engines.contract import EngineError


def tokenize(ll: Any, vocab: Any, text: str, *, add_special: bool = True, parse_special: bool = False) -> list[int]:
    """The tokens of ``text``; the buffer grows once when llama.cpp says it is too small."""
    data = text.encode("utf-8")
    capacity = len(data) + 8
    buf = (ll.llama_token * capacity)()
    n = ll.llama_tokenize(vocab, data, len(data), buf, capacity, add_special, parse_special)
    if n < 0:
        capacity = -n
        buf = (ll.llama_token * capacity)()
        n = ll.llama_tokenize(vocab, data, len(data), buf, capacity, add_special, parse_special)
    if n < 0:
        raise EngineError("the text could not be tokenized")
    return list(buf[:n])


class Pieces:
    """Each token's bytes, through one reusable buffer (a reply asks for one per token)."""

    def __init__(self, ll: Any, vocab: Any) -> None:
        self._ll, self._vocab = ll, vocab
        self._buf = ctypes.create_string_buffer(256)

    def bytes_of(self, token: int, special: bool = False) -> bytes:
        n = self._ll.llama_token_to_piece(self._vocab, token, self._buf, len(self._buf), 0, special)
        if n < 0:
            self._buf = ctypes.create_string_buffer(-n)
            n = self._ll.llama_token_to_piece(self._vocab, token, self._buf, len(self._buf), 0, special)
        return self._buf.raw[:n]

    def text_of(self, token: int, special: bool = False) -> str:
        """The token's text ('' for a negative id: a vocabulary without that special token)."""
        if token < 0:
            return ""
        return self.bytes_of(token, special).decode("utf-8", errors="replace")
