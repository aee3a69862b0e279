"""Turning a list of messages into the prompt text a model expects.

A GGUF that carries a chat template gets exactly that template (rendered with a
sandboxed Jinja2). A model without one (the bundled starter model is a base model)
gets Kestrel's documented plain format, never llama-cpp-python's silent llama-2
default:

    {system prompt}

    User: {message}
    Assistant: {reply}
    User: {message}
    Assistant:

Generation stops at "\\nUser:" or "\\nAssistant:" so a base model does not go on to
write further turns of the conversation itself.

A chat template is code from the model file, so rendering is bounded, and every failure
becomes one TemplateError line: the sandbox refuses ``*``, ``**``, ``+``, ``%``, ``~``,
padding methods and filters, namespace values and call arguments that would build a value
beyond the output bound before computing it (a single C-level ``'a' * 10**9`` cannot be
interrupted); the output stops growing at ``max_chars``; and a deadline is checked between
output chunks and, on the main thread where SIGALRM exists, by an interval timer, so loops
that write nothing stop too. In the engine's child process the parent's kill is the last resort.
"""

from __future__ import annotations

import contextvars
import math
import re
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Sequence, Sized
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import TemplateError as JinjaError
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import Concat
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

from app.engines.contract import ChatMessage

PLAIN_STOPS: tuple[str, ...] = ("\nUser:", "\nUSER:", "\nAssistant:")
DEFAULT_MAX_CHARS = 1 << 23     # 8 Mi characters, when the caller gives no bound of its own
DEFAULT_DEADLINE_S = 2.0
MAX_INT_BITS = 1 << 16          # ~20,000 decimal digits: far beyond any template's arithmetic
_REASON_CHARS = 200
# str methods and filters whose numeric arguments say how big a result to build
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_SIZED_FILTERS = ("center", "indent", "batch", "slice", "wordwrap", "format", "replace", "truncate")
# widths and precisions in %-formats and in {}-format specs; a nested {} width comes from the arguments
_PERCENT_WIDTHS = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\d+|\*)?(?:\.(\d+|\*))?")
_BRACE_SPECS = re.compile(r"\{[^{}]*:([^{}]*)(\{)?")
_DIGITS = re.compile(r"\d+")
_limit: contextvars.ContextVar[int] = contextvars.ContextVar("chat_template_limit", default=DEFAULT_MAX_CHARS)


@dataclass(frozen=True)
class FormattedPrompt:
    """Prompt text plus how to tokenize it and where to stop."""

    text: str
    parse_special: bool  # template prompts contain special tokens written as text
    stops: tuple[str, ...]


class TemplateError(ValueError):
    """The model's chat template could not render these messages."""


class _Refused(Exception):
    """A value the sandbox refuses to build; its text is the reason."""


class _Raised(Exception):
    """The template refused these messages itself (e.g. "system role not supported")."""


class _Timeout(BaseException):
    """The rendering deadline passed (from the SIGALRM handler); a BaseException, so that no
    ``except Exception`` inside Jinja swallows it."""


def _too_big(size: int) -> _Refused:
    return _Refused(f"it builds a value of length {size:,}, over the {_limit.get():,} allowed")


def _check_sized(*values: object) -> None:
    """Refuse strings, lists and mappings longer than the bound."""
    limit = _limit.get()
    for value in values:
        if isinstance(value, Sized) and not isinstance(value, range) and len(value) > limit:
            raise _too_big(len(value))


def _check_numbers(*values: object) -> None:
    """Refuse numbers that, as a width or a count, would build more than the bound."""
    limit = _limit.get()
    for value in values:
        if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) > limit:
            raise _Refused(f"it asks for a value of size {value:,}, over the {limit:,} allowed")


def _check_format(fmt: object, args: Sequence[object]) -> None:
    """Widths and precisions of a format string ('%0999999999d', '{:999999999}'), and the
    arguments when the string takes a width from them ('%*d', '{:{}}')."""
    if not isinstance(fmt, str):
        return
    from_args = False
    for match in _PERCENT_WIDTHS.finditer(fmt):
        from_args |= "*" in match.group(0)
        _check_numbers(*(_number(d) for d in match.groups() if d and d != "*"))
    for match in _BRACE_SPECS.finditer(fmt):
        from_args |= match.group(2) is not None
        _check_numbers(*(_number(d) for d in _DIGITS.findall(match.group(1))))
    if from_args:
        _check_numbers(*args)


def _number(digits: str) -> float:
    return int(digits) if len(digits) < 30 else math.inf


def _check_replace(text: object, old: object, new: object) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        hits = text.count(old) if old else len(text) + 1
        _check_sized_count(len(text) + hits * len(new))


def _check_sized_count(size: int) -> None:
    if size > _limit.get():
        raise _too_big(size)


def _check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``*``, ``**``, ``+`` and ``%`` whose result would be too big, before computing it."""
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "**" and ints and right > 0 and abs(left) > 1:
        if right * (abs(left).bit_length() - 1) > MAX_INT_BITS:
            raise _Refused(f"it computes a number with more than {MAX_INT_BITS:,} bits")
    elif operator == "*":
        if ints and abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
            raise _Refused(f"it computes a number with more than {MAX_INT_BITS:,} bits")
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(times, int):
                _check_sized_count(len(seq) * max(times, 0))
    elif operator == "+" and isinstance(left, Sized) and isinstance(right, Sized):
        _check_sized_count(len(left) + len(right))
    elif operator == "%" and isinstance(left, str):
        _check_format(left, right if isinstance(right, tuple) else (right,))


def _bounded_filter(func: Callable[..., Any], name: str) -> Callable[..., Any]:
    """Wrap a filter so its size arguments are checked first (keeps Jinja's pass_* marker)."""

    skip = 1 if "jinja_pass_arg" in func.__dict__ else 0  # the context, eval context or environment

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        value, rest = args[skip] if len(args) > skip else None, args[skip + 1:]
        _check_sized(value, *rest, *kwargs.values())
        if name == "format":
            _check_format(value, rest)
        elif name == "replace" and len(rest) >= 2:
            _check_replace(value, rest[0], rest[1])
        elif name != "truncate":  # truncate only shortens
            _check_numbers(*rest, *kwargs.values())
        return func(*args, **kwargs)

    wrapper.__dict__.update(func.__dict__)  # jinja_pass_arg
    wrapper.__name__ = wrapper.__qualname__ = func.__name__
    return wrapper


class _BoundedNamespace(Namespace):
    """``namespace()`` whose attributes cannot grow past the bound ({% set ns.s = ns.s ~ ns.s %})."""

    def __setitem__(self, name: str, value: Any) -> None:
        _check_sized(value)
        super().__setitem__(name, value)


class _BoundedCodeGenerator(CodeGenerator):
    """Routes ``~`` concatenation through ``environment.bounded`` (Jinja offers no hook for it)."""

    def visit_Concat(self, node: Concat, frame: Frame) -> None:  # noqa: N802 - Jinja's visitor name
        self.write("environment.bounded(")
        super().visit_Concat(node, frame)
        self.write(")")


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox plus size bounds on everything that can build a big value."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(trim_blocks=True, lstrip_blocks=True)
        self.globals.pop("lipsum", None)  # builds whole paragraphs in one call; no chat template needs it
        self.globals["namespace"] = _BoundedNamespace
        self.globals["raise_exception"] = _raise
        self.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        for name in _SIZED_FILTERS:
            self.filters[name] = _bounded_filter(self.filters[name], name)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _check_sized(*args, *kwargs.values())
        if isinstance(__obj, types.BuiltinMethodType) and isinstance(__obj.__self__, str):
            if __obj.__name__ in _PADDING_METHODS:
                _check_numbers(*args, *kwargs.values())
            elif __obj.__name__ == "replace" and len(args) >= 2:
                _check_replace(__obj.__self__, args[0], args[1])
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            _check_format(fmt, [*args, *kwargs.values()])
            return wrapped(*args, **kwargs)

        return checked

    def bounded(self, text: str) -> str:
        _check_sized(text)
        return text


class ChatFormatter:
    """Formats messages with the model's template, or the plain fallback."""

    def __init__(self, template: str | None, bos_token: str = "", eos_token: str = "") -> None:
        self._bos = bos_token
        self._eos = eos_token
        self._template: Any = None
        if template:
            try:
                self._template = _BoundedEnvironment().from_string(template)
            except Exception:  # noqa: BLE001 - unparsable (or absurdly nested) templates: plain format, said below
                self._template = None

    @property
    def name(self) -> str:
        """Which format is in use, for the UI and the CLI."""
        return "gguf-template" if self._template is not None else "plain"

    def format(self, messages: Sequence[ChatMessage], *, max_chars: int = DEFAULT_MAX_CHARS,
               deadline_s: float = DEFAULT_DEADLINE_S) -> FormattedPrompt:
        """The prompt for ``messages``; TemplateError (one line) when the model's template fails.

        ``max_chars`` bounds the rendered text (and every value the template builds on the
        way); ``deadline_s`` bounds the rendering time. Both only apply to a model's template.
        """
        if self._template is None:
            return FormattedPrompt(_plain(messages), parse_special=False, stops=PLAIN_STOPS)
        rendered = self._render(messages, max_chars, deadline_s)
        return FormattedPrompt(rendered, parse_special=True, stops=())

    def _render(self, messages: Sequence[ChatMessage], max_chars: int, deadline_s: float) -> str:
        deadline = time.monotonic() + deadline_s
        token = _limit.set(max_chars)
        try:
            with _Alarm(deadline_s) as armed:
                text = self._attempts(messages, max_chars, deadline)
                armed.clear()  # from here on a late SIGALRM does nothing
            return text
        except _Timeout:
            raise _failed(f"it ran for more than {deadline_s:g} s") from None
        finally:
            _limit.reset(token)

    def _attempts(self, messages: Sequence[ChatMessage], max_chars: int, deadline: float) -> str:
        """The messages as given, then with the system prompt folded in (templates without a system role)."""
        refusal: Exception | None = None
        for attempt in (list(messages), _merge_system(messages)):
            try:
                return self._generate(attempt, max_chars, deadline)
            except (_Raised, JinjaError) as exc:  # the template refused these messages: try the other form
                refusal = exc
            except RecursionError:
                raise _failed("it calls itself without end (recursion too deep)") from None
            except MemoryError:
                raise _failed("it needs more memory than there is") from None
            except _Refused as exc:
                raise _failed(str(exc)) from None
            except TemplateError:
                raise
            except Exception as exc:  # noqa: BLE001 - anything a template can raise becomes one line
                raise _failed(f"{type(exc).__name__}: {exc}") from None
        raise _failed(str(refusal) if isinstance(refusal, _Raised) else f"{type(refusal).__name__}: {refusal}")

    def _generate(self, messages: list[ChatMessage], max_chars: int, deadline: float) -> str:
        parts: list[str] = []
        size = 0
        for chunk in self._template.generate(
            messages=[{"role": m.role, "content": m.content} for m in messages],
            add_generation_prompt=True,
            bos_token=self._bos,
            eos_token=self._eos,
        ):
            parts.append(chunk)
            size += len(chunk)
            if size > max_chars:
                raise _failed(f"the rendered prompt is over {max_chars:,} characters, far beyond the context")
            if time.monotonic() > deadline:
                raise _Timeout
        return "".join(parts)


def _failed(reason: str) -> TemplateError:
    text = " ".join(reason.split())
    if len(text) > _REASON_CHARS:
        text = text[:_REASON_CHARS - 1] + "…"
    return TemplateError(f"this model's chat template failed: {text or 'no reason given'}")


class _Armed:
    """Whether the SIGALRM handler may still raise (cleared before the timer is taken down)."""

    def __init__(self) -> None:
        self.on = True

    def clear(self) -> None:
        self.on = False


class _Alarm:
    """An ITIMER_REAL deadline on the main thread (SIGALRM platforms); elsewhere a no-op.

    Whatever handler and timer were set before (pytest-timeout uses SIGALRM too) come back
    afterwards, the old timer shortened by the time spent here.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.armed = _Armed()
        self.active = False
        self.previous: Any = None
        self.old_timer = (0.0, 0.0)
        self.started = 0.0

    def __enter__(self) -> _Armed:
        if sys.platform == "win32" or threading.current_thread() is not threading.main_thread():
            return self.armed
        armed = self.armed

        def on_alarm(_signum: int, _frame: types.FrameType | None) -> None:
            if armed.on:
                armed.clear()
                raise _Timeout

        self.previous = signal.signal(signal.SIGALRM, on_alarm)
        self.started = time.monotonic()
        self.old_timer = signal.setitimer(signal.ITIMER_REAL, max(self.seconds, 1e-3))
        self.active = True
        return armed

    def __exit__(self, *_exc: object) -> None:
        if sys.platform == "win32" or not self.active:
            return
        self.armed.clear()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.previous)
        delay, interval = self.old_timer
        if delay > 0:  # give the earlier timer back, less the time we took (due now: fire at once)
            signal.setitimer(signal.ITIMER_REAL, max(delay - (time.monotonic() - self.started), 1e-6), interval)


def _raise(message: str) -> None:
    raise _Raised(message)


def _merge_system(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """Fold a system prompt into the first user turn, for templates without a system role."""
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    rest = [m for m in messages if m.role != "system"]
    if system and rest and rest[0].role == "user":
        rest[0] = ChatMessage("user", f"{system}\n\n{rest[0].content}")
    return rest


def _plain(messages: Sequence[ChatMessage]) -> str:
    parts: list[str] = []
    for message in messages:
        if message.role == "system":
            if message.content.strip():
                parts.append(message.content.strip() + "\n\n")
        elif message.role == "user":
            parts.append(f"User: {message.content}\n")
        else:
            parts.append(f"Assistant: {message.content}\n")
    parts.append("Assistant:")
    return "".join(parts)
