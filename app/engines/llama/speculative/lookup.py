"""Prompt-lookup drafting: the text that followed the latest earlier occurrence of the last few tokens.

Copy-heavy replies (a summary that quotes, a rewrite with small edits, a code file repeated
with one change) continue text that is already in the prompt; proposing that continuation
costs a dictionary lookup per token. Longer n-grams are tried first: they are rarer, so
their continuation is more likely the one being copied.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_NGRAM = 4
MIN_NGRAM = 3  # one or two tokens ("the", "of the") match everywhere and draft mostly noise


class PromptLookup:
    """An index from each n-gram of the history to the position after its latest occurrence."""

    def __init__(self, history: Sequence[int], *, max_ngram: int = MAX_NGRAM, min_ngram: int = MIN_NGRAM) -> None:
        self._tokens: list[int] = []
        self._index: dict[tuple[int, ...], int] = {}
        self._sizes = range(max_ngram, min_ngram - 1, -1)
        self.extend(history)

    def extend(self, tokens: Sequence[int]) -> None:
        """Add tokens to the history (the prompt, then each token of the reply)."""
        for token in tokens:
            end = len(self._tokens)  # the n-grams ending here are followed by ``token``
            for n in self._sizes:
                if end >= n:
                    self._index[tuple(self._tokens[end - n : end])] = end
            self._tokens.append(token)

    def draft(self, limit: int) -> list[int]:
        """Up to ``limit`` tokens that followed the longest n-gram the history ends with, or []."""
        tokens = self._tokens
        for n in self._sizes:
            if len(tokens) <= n:
                continue
            start = self._index.get(tuple(tokens[-n:]))
            if start is not None:
                return tokens[start : start + limit]
        return []
