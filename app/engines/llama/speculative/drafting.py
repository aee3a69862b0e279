"""One reply's speculative decoding: its drafter, its policy and its verifier, driven step by step."""

from __future__ import annotations

import time
from typing import Any, Protocol

from app.engines.contract import Speculation
from app.engines.llama.speculative.draft_model import DraftModel
from app.engines.llama.speculative.lookup import PromptLookup
from app.engines.llama.speculative.policy import MAX_DRAFT, Policy
from app.engines.llama.speculative.verify import Verifier


class Drafter(Protocol):
    """Proposes the tokens likely to come next, from the history it has been told."""

    def extend(self, tokens: list[int]) -> None: ...

    def draft(self, limit: int) -> list[int]: ...


class Speculator:
    """Called once per decode step with the token to evaluate next; drafts when that pays."""

    def __init__(self, ll: Any, ctx: Any, vocab: Any, sampler: Any, drafter: Drafter, *, adaptive: bool) -> None:
        self.policy = Policy(adaptive=adaptive)
        self._drafter = drafter
        self._sampler = sampler
        self._verifier = Verifier(ll, ctx, vocab, MAX_DRAFT + 1)

    def step(self, position: int, pending: int, produced: int, room: int) -> list[int] | None:
        """Evaluate ``pending`` at ``position`` with a draft; the tokens that follow it, the last one not evaluated.

        None: no draft this step (nothing to propose, or drafting does not pay now); the caller
        evaluates ``pending`` alone and reports the time with :meth:`plain`. Raises
        :class:`~app.engines.llama.speculative.verify.DecodeFailed`.
        """
        self._drafter.extend([pending])
        if room < 1 or not self.policy.wants_draft(produced):
            return None
        started = time.perf_counter()
        draft = self._drafter.draft(self.policy.limit(room))
        if not draft:
            return None
        accepted, following = self._verifier.run(self._sampler, position, pending, draft)
        self._drafter.extend(accepted)
        self.policy.draft_step(produced, len(draft), len(accepted), time.perf_counter() - started)
        return [*accepted, following]

    def plain(self, seconds: float) -> None:
        """A step without a draft took ``seconds`` (its rate is what drafting must beat)."""
        self.policy.plain_step(seconds)


def speculator(ll: Any, ctx: Any, vocab: Any, sampler: Any, mode: Speculation, draft_model: DraftModel | None,
               history: list[int]) -> Speculator | None:
    """A reply's speculative decoding, or None when it is off ("draft" without a draft model is off too)."""
    if mode == "off" or (mode == "draft" and draft_model is None):
        return None
    drafter: Drafter = PromptLookup(history)
    if draft_model is not None and mode != "ngram":
        drafter = draft_model.start(history)
    return Speculator(ll, ctx, vocab, sampler, drafter, adaptive=mode == "auto")


def draft_counts(spec: Speculator | None) -> tuple[int | None, int | None]:
    """(drafted, accepted) tokens for the figures; unknown when drafting did not run."""
    if spec is None:
        return None, None
    return spec.policy.drafted, spec.policy.accepted
