"""Translating text and whole documents, segment by segment, with any Engine.

Why segments: a model keeps quality on a paragraph, not on fifty pages, and a
structure (Markdown, DOCX, HTML) survives only if the model never sees the markup
it could break. Each segment is one request:

    Translate the text from English to French. Reply with the translation only.
    Use these fixed translations:            <- only glossary terms in this segment
    - "Kestrel": keep as is

    <segment>

The fixed instruction comes first so the engine's KV prefix reuse skips it on every
request after the first. Replies are cleaned (echoed instructions, "Translation:"
labels, wrapping quotes) and cut when they run on past the source's line count or a
generous length (small models loop). The first request puts the instruction in a
system message; an empty reply is retried with the instruction and the text in one
user message, then in the first form again with sampling. Identical segments are
translated once. Cancelling keeps every finished segment; the rest stays in the source language.
An engine that decodes several sequences at once gets the segments' first requests as one
batch (``app.translate.batched``): the same requests, the same replies, sooner.

A base model (no chat template, like the starter model) does not follow instructions; it
gets each segment in completion style instead, sent without chat wrapping
(``app.engines.completion``), and continues it with the translation:

    English: <segment>
    French:
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field

from app.base.languages import UNDETERMINED, Language, detect_language, get_language
from app.engines.completion import is_base_model, stream_completion
from app.engines.contract import BatchEngine, BatchPrompt, ChatMessage, Engine, EngineError, GenerationParams
from app.translate.batched import FirstReplies, FirstRequest
from app.translate.formats import (
    SUPPORTED_SUFFIXES,
    DocumentError,
    SourceDocument,
    document_from_text,
    load_document,
    parse_document,
)
from app.translate.glossary import Glossary
from app.translate.reply import Reply, split_sentences

__all__ = [
    "SUPPORTED_SUFFIXES", "DocumentError", "SegmentDone", "SegmentText", "SourceDocument", "TranslateOptions",
    "TranslationResult", "TranslationStarted", "TranslationWarning", "build_messages", "completion_request",
    "document_from_text", "load_document", "parse_document", "prompt_segment", "split_sentences", "translate_document",
]

INSTRUCTION_START = "Translate the text "
MIN_CONFIDENCE = 0.5  # below this, auto-detection says nothing rather than something wrong


@dataclass(frozen=True)
class TranslateOptions:
    """Sampling and size limits; greedy decoding suits translation best."""

    temperature: float = 0.0
    retries: int = 2
    max_piece_tokens: int = 768  # longer segments are split at sentence boundaries
    seed: int = 1234


@dataclass(frozen=True)
class TranslationWarning:
    """Something the user should check in one segment (0-based index)."""

    segment: int
    kind: str  # "glossary", "markup", "empty", "untranslated"
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"segment": self.segment, "kind": self.kind, "message": self.message}


@dataclass(frozen=True)
class TranslationStarted:
    """First report: how many segments, and the languages (the source possibly detected)."""

    total: int
    source_lang: str | None
    target_lang: str
    detected: bool


@dataclass(frozen=True)
class SegmentText:
    """The cleaned translation of segment ``index`` so far, while it streams."""

    index: int
    total: int
    text: str


@dataclass(frozen=True)
class SegmentDone:
    """Segment ``index`` is finished (``translated`` False: cancelled or no reply)."""

    index: int
    total: int
    text: str
    translated: bool
    cached: bool
    eta_s: float | None
    elapsed_s: float
    warnings: tuple[TranslationWarning, ...] = ()


@dataclass
class TranslationResult:
    """What a run produced; untranslated segments render as their source."""

    document: SourceDocument
    translations: list[str | None]
    source_lang: str | None
    target_lang: str
    detected: bool
    seconds: float
    cancelled: bool = False
    error: str | None = None
    warnings: list[TranslationWarning] = field(default_factory=list)
    #: the source is already in the target language: nothing was sent to the model
    same_language: bool = False

    @property
    def segments(self) -> int:
        return len(self.document.segments)

    @property
    def segments_translated(self) -> int:
        return sum(t is not None for t in self.translations)

    def render(self) -> bytes:
        """The translated file (same format as the source)."""
        return self.document.render(self.translations)

    def text(self) -> str:
        """The translation as text: the whole document for TXT/Markdown, the segments otherwise."""
        return self.document.render_text(self.translations)


#: How sure language detection must be, and how many letters it needs, before a reply
#: counts as still in the source language.
UNTRANSLATED_CONFIDENCE = 0.8
UNTRANSLATED_MIN_LETTERS = 20


def came_back_untranslated(translation: str, source: Language, target: Language) -> bool:
    """Whether a reply is clearly still in the source language (a small model sometimes copies its input)."""
    if sum(ch.isalpha() for ch in translation) < UNTRANSLATED_MIN_LETTERS:
        return False  # too little to tell: a name, a number, a word
    code, confidence = detect_language(translation)
    return code == source.code and code != target.code and confidence >= UNTRANSLATED_CONFIDENCE


def _instruction(source: Language | None, target: Language, markdown: bool) -> str:
    where = f"from {source.name} to {target.name}" if source else f"to {target.name}"
    line = f"{INSTRUCTION_START}{where}. Reply with the translation only."
    if markdown:
        line += " Keep Markdown formatting, inline code and links unchanged."
    return line


def build_messages(instruction: str, glossary_lines: str, text: str, attempt: int = 0) -> list[ChatMessage]:
    """The request for one segment: instruction (and glossary) as the system message, the text
    as the user's; the first retry puts both in one user message (base models echo less
    with the first form, some templates have no system role)."""
    header = instruction + (f"\n{glossary_lines}" if glossary_lines else "")
    if attempt == 1:
        return [ChatMessage("user", f"{header}\n\n{text}")]
    return [ChatMessage("system", header), ChatMessage("user", text)]


def completion_request(source: Language | None, target: Language, text: str) -> str:
    """A base model's request: the segment labelled with its language, then the target's label.

    A glossary is left out: a base model cannot follow a list of rules (missing terms are
    still reported).
    """
    return f"{source.name if source else 'Text'}: {text}\n{target.name}:"


_COMPLETION = re.compile(r"[^\n:]{1,40}: (.*)\n[^\n:]{1,40}:", re.S)


def prompt_segment(messages: Sequence[ChatMessage]) -> str:
    """The segment text inside a request built by :func:`build_messages` or :func:`completion_request`
    (identity engines use it)."""
    content = next((m.content for m in reversed(messages) if m.role == "user"), "")
    if content.startswith(INSTRUCTION_START) and "\n\n" in content:
        return content.split("\n\n", 1)[1]
    completion = _COMPLETION.fullmatch(content)
    if completion is not None and not any(m.role == "system" for m in messages):
        return completion.group(1)
    return content


class _Runner:
    """One translation run: engine, languages, glossary, limits and the report callback."""

    def __init__(self, engine: Engine, document: SourceDocument, *, source: Language | None, target: Language,
                 glossary: Glossary, stop: threading.Event, report: Callable[[object], None],
                 options: TranslateOptions) -> None:
        self.engine, self.document, self.target = engine, document, target
        self.glossary, self.stop, self.report, self.options = glossary, stop, report, options
        self.source = source
        self.instruction = _instruction(source, target, document.kind == "markdown")
        loaded = engine.loaded
        self.base = is_base_model(loaded)  # prompted in completion style (see the module docstring)
        self.n_ctx = loaded.n_ctx if loaded is not None else 4096
        self.overhead = engine.count_tokens([ChatMessage("user", "")])
        header_tokens = engine.count_tokens([ChatMessage("user", self.instruction)])
        self.piece_limit = max(24, min(options.max_piece_tokens, (self.n_ctx - header_tokens - 64) // 3))
        self.batch: FirstReplies | None = None

    def tokens(self, text: str) -> int:
        if len(text.encode("utf-8")) < self.piece_limit:
            return len(text.encode("utf-8"))  # an upper bound: never more tokens than bytes
        return max(1, self.engine.count_tokens([ChatMessage("user", text)]) - self.overhead)

    def pieces(self, text: str) -> list[str]:
        """Pieces that fit the context, cut at sentence ends (words or characters as a last resort)."""
        if self.tokens(text) <= self.piece_limit:
            return [text]
        out: list[str] = []
        current, current_tokens = "", 0
        for sentence in split_sentences(text):
            n = self.tokens(sentence)
            if n > self.piece_limit:
                words = re.findall(r"\S+\s*", sentence) if " " in sentence.strip() else list(sentence)
                step = max(1, len(words) * self.piece_limit // n)
                chunks = ["".join(words[i:i + step]) for i in range(0, len(words), step)]
            else:
                chunks = [sentence]
            for chunk in chunks:
                n = self.tokens(chunk)
                if current and current_tokens + n > self.piece_limit:
                    out.append(current)
                    current, current_tokens = "", 0
                current += chunk
                current_tokens += n
        if current:
            out.append(current)
        return out

    def segment(self, index: int, text: str, first_attempt: int = 0) -> str | None:
        """Translate one segment, piece by piece; None if stopped before it was complete."""
        done: list[str] = []
        for piece in self.pieces(text):
            core = piece.strip()
            trail = piece[len(piece.rstrip()):]
            prefix = "".join(done)
            result = self.piece(index, core, prefix, first_attempt) if core else ""
            if result is None:
                return None
            done.append((result or core) + trail)
            if not result:
                return ""  # the model gave nothing: reported as not translated
        return "".join(done).strip()

    def request(self, text: str, attempt: int) -> FirstRequest:
        """What attempt ``attempt`` sends for ``text`` (a chat request, or a base model's completion text),
        and the reply reader it is read with; ``segment`` is left -1 for the caller."""
        glossary_lines = self.glossary.prompt(text)
        header = self.instruction + (f"\n{glossary_lines}" if glossary_lines else "")
        source_tokens = max(1, self.engine.count_tokens([ChatMessage("user", text)]) - self.overhead)
        messages = build_messages(self.instruction, glossary_lines, text, attempt)
        prompt_tokens = self.engine.count_tokens(messages)
        room = self.n_ctx - prompt_tokens - 2
        params = GenerationParams(
            max_tokens=max(8, min(room, 2 * source_tokens + 32)),
            temperature=self.options.temperature if attempt < 2 else 0.8,
            seed=self.options.seed, repeat_penalty=1.0 if attempt < 2 else 1.1,
            save_state=False,  # each segment is asked once: its state is never continued
        )
        prompt: BatchPrompt = completion_request(self.source, self.target, text) if self.base else messages
        return FirstRequest(-1, prompt, params, Reply(text, self.instruction, header, self.target))

    def piece(self, index: int, text: str, shown: str, first_attempt: int = 0) -> str | None:
        for attempt in range(first_attempt, self.options.retries + 1):
            if self.base and attempt == 1:
                continue  # the second form is a chat form: a base model gets the one request, then sampling
            request = self.request(text, attempt)
            reply, params = request.reply, request.params
            stream = (stream_completion(self.engine, request.prompt, params, self.stop)
                      if isinstance(request.prompt, str) else self.engine.stream(request.prompt, params, self.stop))
            try:
                for delta in stream:
                    stop_now = reply.feed(delta)
                    self.report(SegmentText(index, len(self.document.segments), shown + reply.partial))
                    if stop_now:
                        break
            finally:
                if isinstance(stream, Generator):
                    stream.close()  # ends the engine's request now, not when the generator is collected
            stats = self.engine.last_stats
            if self.stop.is_set() or (stats is not None and stats.stop_reason == "cancelled" and not reply.overflow):
                return None
            result = reply.text()
            if result:
                return result
        return ""

    # ---- several segments at once ----------------------------------------------------
    def plan_batch(self, segments: list[tuple[int, str]]) -> None:
        """Send these segments' first requests as one batch (an engine that decodes several at once).

        Only segments sent in one request: longer ones are cut into pieces, each request showing
        the pieces before it, so they go one request at a time.
        """
        engine = self.engine
        single = [(index, text.strip()) for index, text in segments if text.strip() and len(self.pieces(text)) == 1]
        if not isinstance(engine, BatchEngine) or len(single) < 2:
            return
        total = len(self.document.segments)
        requests = [FirstRequest(index, r.prompt, r.params, r.reply)
                    for index, text in single for r in [self.request(text, 0)]]
        self.batch = FirstReplies(engine, requests, self.stop,
                                  lambda index, text: self.report(SegmentText(index, total, text)))

    def translate(self, index: int, text: str) -> str | None:
        """Segment ``index``: its batched first reply when it has one, else (and after an empty one) one
        request at a time, once the batch is done."""
        batch = self.batch
        if batch is None:
            return self.segment(index, text)
        if index in batch:
            first = batch.take(index)
            if first is None or first:
                return first
            batch.finish()
            return self.segment(index, text, first_attempt=1)
        batch.finish()
        return self.segment(index, text)

    def close(self) -> None:
        if self.batch is not None:
            self.batch.close()


def _language(code: str) -> Language:
    try:
        return get_language(code)
    except KeyError:
        raise ValueError(f"unknown language code {code!r}") from None


def translate_document(
    engine: Engine,
    source: SourceDocument | str,
    target_lang: str,
    source_lang: str | None = None,
    glossary: Glossary | None = None,
    stop: threading.Event | None = None,
    report: Callable[[object], None] | None = None,
    options: TranslateOptions | None = None,
    cache: dict[tuple[str, str, str, str], str] | None = None,
) -> TranslationResult:
    """Translate every segment of ``source`` (a document or plain text) into ``target_lang``.

    ``source_lang`` None or "auto" detects it. Reports TranslationStarted, then SegmentText
    while a segment streams and SegmentDone after each. ``cache`` may be shared between runs.
    """
    started = time.perf_counter()
    document = document_from_text(source) if isinstance(source, str) else source
    target = _language(target_lang)
    detected = source_lang in (None, "", "auto")
    src: Language | None = None
    if detected:
        code, confidence = detect_language("\n".join(document.segments))
        if code != UNDETERMINED and confidence >= MIN_CONFIDENCE:
            src = get_language(code)
    else:
        src = _language(str(source_lang))
    stop = stop or threading.Event()
    emit = report or (lambda _payload: None)
    glossary = glossary or Glossary()
    cache = {} if cache is None else cache
    segments = document.segments
    total = len(segments)
    result = TranslationResult(document, [None] * total, src.code if src else None, target.code, detected, 0.0)
    emit(TranslationStarted(total, result.source_lang, target.code, detected))
    if src is not None and src.code == target.code:  # minutes of work that change nothing: say so instead
        result.same_language = True
        result.seconds = time.perf_counter() - started
        return result
    runner = _Runner(engine, document, source=src, target=target, glossary=glossary, stop=stop, report=emit,
                     options=options or TranslateOptions())
    remaining = [0] * (total + 1)
    for i in range(total - 1, -1, -1):
        remaining[i] = remaining[i + 1] + len(segments[i])
    if isinstance(engine, BatchEngine) and engine.batch_width > 1:
        runner.plan_batch(_first_requests(segments, cache, glossary, result.source_lang or "", target.code))
    model_chars, model_seconds = 0, 0.0
    for index, text in enumerate(segments):
        if stop.is_set():
            result.cancelled = True
            break
        key = (result.source_lang or "", target.code, glossary.prompt(text), text)
        cached = key in cache
        t0 = time.perf_counter()
        if cached:
            translation: str | None = cache[key]
        else:
            try:
                translation = runner.translate(index, text)
            except EngineError as exc:
                result.error = str(exc)
                break
            if translation is None:
                result.cancelled = True
                break
            model_chars += len(text)
            model_seconds += time.perf_counter() - t0
        warnings: list[TranslationWarning] = []
        if translation:
            translation, markup_ok = document.fix(index, translation)
            if not markup_ok:
                warnings.append(TranslationWarning(index, "markup", "inline code or links changed; check them"))
            for entry in glossary.missing(text, translation):
                how = "kept as is" if entry.keep or not entry.translation else f"translated as “{entry.translation}”"
                warnings.append(TranslationWarning(index, "glossary", f"“{entry.term}” should be {how}"))
            if src is not None and came_back_untranslated(translation, src, target):
                warnings.append(TranslationWarning(index, "untranslated", f"this part came back in {src.name}, "
                                                   f"not {target.name}; the source is kept"))
                translation = ""  # not counted as translated, and not cached
            else:
                if not cached:
                    cache[key] = translation
                result.translations[index] = translation
        else:
            warnings.append(TranslationWarning(index, "empty", "the model gave no translation; the source is kept"))
        result.warnings.extend(warnings)
        eta = model_seconds / model_chars * remaining[index + 1] if model_chars else None
        emit(SegmentDone(index, total, translation or text, bool(translation), cached, eta,
                         time.perf_counter() - started, tuple(warnings)))
    runner.close()
    result.seconds = time.perf_counter() - started
    return result


def _first_requests(segments: Sequence[str], cache: dict[tuple[str, str, str, str], str], glossary: Glossary,
                    source: str, target: str) -> list[tuple[int, str]]:
    """The segments a run will ask the model for: not cached, and each text once (a repeat is read from the
    cache by then)."""
    seen = set(cache)
    out: list[tuple[int, str]] = []
    for index, text in enumerate(segments):
        key = (source, target, glossary.prompt(text), text)
        if key not in seen:
            seen.add(key)
            out.append((index, text))
    return out
