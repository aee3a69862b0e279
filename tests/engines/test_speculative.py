"""Speculative decoding: drafting, the acceptance rule, the on/off policy, and the real engine's output."""

from __future__ import annotations

import ctypes
import random
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import llama_cpp
import pytest

from app.engines.contract import EngineError, GenerationParams, LocalModel, Speculation
from app.engines.llama.engine import LlamaEngine
from app.engines.llama.speculative.draft_model import DraftModelError, check_vocabulary
from app.engines.llama.speculative.lookup import PromptLookup
from app.engines.llama.speculative.policy import FIRST_PAUSE, MAX_DRAFT, MIN_PLAIN_STEPS, MIN_SPEC_STEPS, Policy
from app.engines.llama.speculative.verify import SEQ, DecodeFailed, Verifier


# ---- prompt lookup --------------------------------------------------------------------
def test_lookup_drafts_what_followed_the_longest_match() -> None:
    lookup = PromptLookup([1, 2, 3, 4, 5, 6, 9, 2, 3, 4, 7, 8])
    lookup.extend([1, 2, 3, 4])  # "1 2 3 4" occurred once, followed by 5 6; "2 3 4" last preceded 7 8
    assert lookup.draft(2) == [5, 6]
    assert lookup.draft(10) == [5, 6, 9, 2, 3, 4, 7, 8, 1, 2]


def test_lookup_prefers_the_latest_occurrence_and_never_matches_its_own_end() -> None:
    lookup = PromptLookup([7, 8, 9, 1, 7, 8, 9, 2])
    assert lookup.draft(3) == []  # "8 9 2" never occurred before the end
    lookup.extend([7, 8, 9])
    assert lookup.draft(1) == [2]  # the later "7 8 9" was followed by 2, the earlier by 1


def test_lookup_needs_three_tokens_of_context() -> None:
    lookup = PromptLookup([5, 6, 1, 5, 6, 2])
    lookup.extend([5, 6])
    assert lookup.draft(4) == []  # two matching tokens ("of the") draft nothing


# ---- the acceptance rule --------------------------------------------------------------
class FakeLlama:
    """Just enough of llama.cpp for the verifier: a decode that records, a sampler that follows a script."""

    llama_token = llama_cpp.llama_token
    llama_pos = llama_cpp.llama_pos
    llama_seq_id = llama_cpp.llama_seq_id
    llama_batch = llama_cpp.llama_batch

    def __init__(self, draw: Any, eog: frozenset[int] = frozenset(), rc: int = 0) -> None:
        self.draw = draw  # (batch index, tokens in the batch) -> the sampler's token
        self.eog = eog
        self.rc = rc
        self.removed: list[tuple[int, int]] = []
        self.batch: list[tuple[int, int, int]] = []

    def llama_decode(self, _ctx: Any, batch: Any) -> int:
        self.batch = [(batch.token[i], batch.pos[i], batch.seq_id[i][0]) for i in range(batch.n_tokens)]
        assert all(batch.logits[i] for i in range(batch.n_tokens))
        return self.rc

    def llama_sampler_sample(self, _sampler: Any, _ctx: Any, idx: int) -> int:
        return int(self.draw(idx, [t for t, _, _ in self.batch]))

    def llama_vocab_is_eog(self, _vocab: Any, token: int) -> bool:
        return token in self.eog

    def llama_get_memory(self, _ctx: Any) -> str:
        return "memory"

    def llama_memory_seq_rm(self, _mem: Any, seq: int, start: int, end: int) -> bool:
        self.removed.append((seq, start))
        assert end == -1
        return True


def test_verifier_keeps_the_agreeing_prefix_and_the_models_own_next_token() -> None:
    answers = {0: 11, 1: 12, 2: 99}  # the model agrees with 11 and 12, then wants 99 instead of 13
    ll = FakeLlama(lambda idx, _batch: answers[idx])
    verifier = Verifier(ll, None, None, capacity=8)
    accepted, following = verifier.run("sampler", 40, 10, [11, 12, 13, 14])
    assert (accepted, following) == ([11, 12], 99)
    assert ll.batch == [(10, 40, SEQ), (11, 41, SEQ), (12, 42, SEQ), (13, 43, SEQ), (14, 44, SEQ)]
    assert ll.removed == [(SEQ, 43)]  # 13 and 14 leave the cache; 10, 11, 12 stay


def test_a_fully_accepted_draft_also_gives_the_token_after_it() -> None:
    ll = FakeLlama(lambda idx, batch: batch[idx + 1] if idx + 1 < len(batch) else 77)
    accepted, following = Verifier(ll, None, None, capacity=8).run("s", 0, 1, [2, 3])
    assert (accepted, following) == ([2, 3], 77)
    assert ll.removed == [(SEQ, 3)]


def test_an_end_of_text_token_is_never_accepted_into_the_cache() -> None:
    ll = FakeLlama(lambda idx, batch: batch[idx + 1], eog=frozenset({2}))
    accepted, following = Verifier(ll, None, None, capacity=8).run("s", 5, 1, [2, 3])
    assert (accepted, following) == ([], 2)
    assert ll.removed == [(SEQ, 6)]


def test_a_failed_decode_leaves_the_cache_as_it_was() -> None:
    ll = FakeLlama(lambda idx, batch: 0, rc=1)
    with pytest.raises(DecodeFailed):
        Verifier(ll, None, None, capacity=4).run("s", 9, 1, [2])
    assert ll.removed == [(SEQ, 9)]


def test_sampled_replies_follow_the_models_distribution() -> None:
    """The drafted token is kept with the model's probability for it; otherwise the rest is drawn as the model would."""
    probabilities = {5: 0.5, 6: 0.3, 7: 0.2}
    rng = random.Random(1)

    def draw(_idx: int, _batch: list[int]) -> int:
        return rng.choices(list(probabilities), weights=list(probabilities.values()))[0]

    ll = FakeLlama(draw)
    verifier = Verifier(ll, None, None, capacity=4)
    first = Counter()
    for _ in range(20000):
        accepted, following = verifier.run("s", 0, 1, [7])  # always draft the least likely token
        first[(accepted or [following])[0]] += 1
    for token, p in probabilities.items():
        assert first[token] / 20000 == pytest.approx(p, abs=0.015)


# ---- when to draft -------------------------------------------------------------------
def _measure(policy: Policy, plain_s: float, draft_s: float, accepted: int, produced: int = 0) -> None:
    for _ in range(MIN_PLAIN_STEPS):
        policy.plain_step(plain_s)
    for _ in range(MIN_SPEC_STEPS):
        policy.draft_step(produced, 4, accepted, draft_s)


def test_drafting_pauses_when_it_is_slower_than_plain_steps_and_comes_back() -> None:
    policy = Policy()
    _measure(policy, plain_s=0.010, draft_s=0.015, accepted=0, produced=100)  # 1 token per 15 ms < 1 per 10 ms
    assert not policy.wants_draft(100) and not policy.wants_draft(100 + FIRST_PAUSE - 1)
    assert policy.wants_draft(100 + FIRST_PAUSE)
    _measure(policy, plain_s=0.010, draft_s=0.015, accepted=0, produced=200)
    assert not policy.wants_draft(200 + FIRST_PAUSE)  # the second pause is twice as long
    assert policy.wants_draft(200 + 2 * FIRST_PAUSE)


def test_drafting_stays_on_while_it_pays() -> None:
    policy = Policy()
    _measure(policy, plain_s=0.010, draft_s=0.015, accepted=3)  # 4 tokens per 15 ms
    assert policy.wants_draft(10) and policy.acceptance == 0.75


def test_forced_drafting_never_pauses_and_the_draft_grows_while_accepted() -> None:
    policy = Policy(adaptive=False)
    _measure(policy, plain_s=0.001, draft_s=1.0, accepted=0)
    assert policy.wants_draft(0)
    for _ in range(10):
        policy.draft_step(0, policy.draft_size, policy.draft_size, 0.01)
    assert policy.draft_size == MAX_DRAFT
    policy.draft_step(0, MAX_DRAFT, 1, 0.01)
    assert policy.draft_size == 2


# ---- vocabulary check -----------------------------------------------------------------
def _vocab_ll(sizes: dict[str, int], spelled: dict[str, bytes]) -> Any:
    def to_piece(vocab: str, token: int, buf: Any, size: int, _lstrip: int, _special: bool) -> int:
        text = spelled[vocab] + str(token).encode()
        ctypes.memmove(buf, text, len(text))
        return len(text)

    return SimpleNamespace(llama_vocab_n_tokens=lambda v: sizes[v], llama_vocab_bos=lambda v: 1,
                           llama_vocab_eos=lambda v: 2, llama_token_to_piece=to_piece)


def test_a_draft_model_with_another_vocabulary_is_refused() -> None:
    check_vocabulary(_vocab_ll({"a": 1000, "b": 1000}, {"a": b"t", "b": b"t"}), "a", "b", "same.gguf")
    with pytest.raises(DraftModelError, match="1,200 tokens"):
        check_vocabulary(_vocab_ll({"a": 1000, "b": 1200}, {"a": b"t", "b": b"t"}), "a", "b", "big.gguf")
    with pytest.raises(DraftModelError, match="spells its tokens differently"):
        check_vocabulary(_vocab_ll({"a": 1000, "b": 1000}, {"a": b"t", "b": b"u"}), "a", "b", "other.gguf")


# ---- the real engine ------------------------------------------------------------------
QUOTES = ("The council met on Tuesday to discuss the new river park. The mayor said the park would open next "
          "spring, with walking paths along both banks and a small harbour for rowing boats. Residents asked about "
          "parking, and the planning office promised two hundred new spaces near the old mill. ") * 2 + \
         "\nQuotes from the article, word for word:\n\"The mayor said"


def _reply(engine: LlamaEngine, mode: Speculation, max_tokens: int = 60) -> tuple[str, Any]:
    params = GenerationParams(max_tokens=max_tokens, temperature=0.0, speculative=mode, save_state=False)
    text = "".join(engine.stream_tokens(engine.tokenize(QUOTES), params))
    return text, engine.last_stats


@pytest.mark.real_model
def test_prompt_lookup_gives_the_greedy_reply_of_plain_decoding(real_engine: LlamaEngine) -> None:
    plain, plain_stats = _reply(real_engine, "off")
    drafted, stats = _reply(real_engine, "ngram")
    assert drafted == plain and plain.strip()
    assert plain_stats.drafted_tokens is None and plain_stats.accepted_tokens is None
    assert stats.drafted_tokens >= stats.accepted_tokens > 10  # the reply copies the article
    assert stats.completion_tokens == plain_stats.completion_tokens
    assert stats.context_used == plain_stats.context_used  # drafted tokens past the reply left the cache


@pytest.mark.real_model
def test_a_draft_model_drafts_through_the_same_loop(starter_model: Path) -> None:
    engine = LlamaEngine()
    engine.load(LocalModel(path=starter_model, n_ctx=1024, n_gpu_layers=0, state_budget_mb=0,
                           draft_model=starter_model))  # the model drafting for itself agrees with itself
    try:
        plain, _ = _reply(engine, "off", 40)
        drafted, stats = _reply(engine, "draft", 40)
        assert drafted == plain
        assert stats.drafted_tokens and stats.accepted_tokens >= 0.9 * stats.drafted_tokens
    finally:
        engine.unload()


@pytest.mark.real_model
def test_an_unusable_draft_model_fails_the_load_with_a_reason(starter_model: Path, tmp_path: Path) -> None:
    broken = tmp_path / "draft.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    engine = LlamaEngine()
    with pytest.raises(EngineError, match="draft model cannot be used"):
        engine.load(LocalModel(path=starter_model, n_ctx=512, n_gpu_layers=0, state_budget_mb=0, draft_model=broken))
    assert engine.loaded is None
