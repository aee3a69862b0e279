"""When to draft: only while drafting makes this reply faster on this machine.

Verifying a draft costs more than decoding one token (more positions through the model,
more logits), by a factor that depends on the model, the backend and the cores. Rather
than guess a threshold, the reply measures both: the tokens per second of steps that
verified a draft, and of plain one-token steps. When drafting is slower it pauses, for a
stretch that doubles each time it fails again, so a reply with nothing to copy pays for a
handful of probes and a copy-heavy stretch later in the reply is still found.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MIN_SPEC_STEPS = 4  # verified drafts measured before judging
MIN_PLAIN_STEPS = 3  # plain steps measured before judging
FIRST_PAUSE = 32  # tokens without drafting after drafting first failed to pay; doubles each time
MAX_PAUSE = 1024
PROBE_EVERY = 48  # with no plain step measured, every this many tokens one step is plain
MAX_DRAFT = 12
MIN_DRAFT = 2


@dataclass
class _Rate:
    tokens: int = 0
    seconds: float = 0.0
    steps: int = 0

    def add(self, tokens: int, seconds: float) -> None:
        self.tokens += tokens
        self.seconds += seconds
        self.steps += 1

    @property
    def value(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Policy:
    """Per-reply decisions: draft now or not, and how many tokens. ``adaptive=False`` always drafts."""

    adaptive: bool = True
    draft_size: int = 4
    drafted: int = 0
    accepted: int = 0
    _spec: _Rate = field(default_factory=_Rate)
    _plain: _Rate = field(default_factory=_Rate)
    _paused_until: int = 0
    _pause: int = FIRST_PAUSE
    _since_plain: int = 0

    def wants_draft(self, produced: int) -> bool:
        """Whether the step after ``produced`` reply tokens should try a draft."""
        if not self.adaptive:
            return True
        if produced < self._paused_until:
            return False
        # with too few plain steps measured, one is taken now and then: it is what drafting must beat
        return not (self._plain.steps < MIN_PLAIN_STEPS and self._since_plain >= PROBE_EVERY)

    def limit(self, room: int) -> int:
        """How many tokens to draft, with ``room`` tokens left before the length or context limit."""
        return max(0, min(self.draft_size, room))

    def plain_step(self, seconds: float) -> None:
        self._plain.add(1, seconds)
        self._since_plain = 0

    def draft_step(self, produced: int, drafted: int, accepted: int, seconds: float) -> None:
        """Record a verified draft: it produced ``accepted + 1`` tokens in ``seconds``."""
        self.drafted += drafted
        self.accepted += accepted
        self._spec.add(accepted + 1, seconds)
        self._since_plain += accepted + 1
        if accepted == drafted:
            self.draft_size = min(MAX_DRAFT, self.draft_size + 2)
        else:
            self.draft_size = max(MIN_DRAFT, accepted + 1)
        if not self.adaptive or self._spec.steps < MIN_SPEC_STEPS or self._plain.steps < MIN_PLAIN_STEPS:
            return
        if self._spec.value < self._plain.value:
            self._paused_until = produced + self._pause
            self._pause = min(MAX_PAUSE, self._pause * 2)
            self._spec = _Rate()  # judge the next stretch on its own figures
        else:
            self._pause = FIRST_PAUSE

    @property
    def acceptance(self) -> float | None:
        return self.accepted / self.drafted if self.drafted else None
