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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.engines.contract import ChatMessage

PLAIN_STOPS: tuple[str, ...] = ("\nUser:", "\nUSER:", "\nAssistant:")


@dataclass(frozen=True)
class FormattedPrompt:
    """Prompt text plus how to tokenize it and where to stop."""

    text: str
    parse_special: bool  # template prompts contain special tokens written as text
    stops: tuple[str, ...]


class TemplateError(ValueError):
    """The model's chat template could not render these messages."""


class ChatFormatter:
    """Formats messages with the model's template, or the plain fallback."""

    def __init__(self, template: str | None, bos_token: str = "", eos_token: str = "") -> None:
        self._bos = bos_token
        self._eos = eos_token
        self._template: Any = None
        if template:
            from jinja2 import TemplateError as JinjaError  # noqa: PLC0415
            from jinja2.sandbox import ImmutableSandboxedEnvironment  # noqa: PLC0415

            env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
            env.globals["raise_exception"] = _raise
            env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
            try:
                self._template = env.from_string(template)
            except JinjaError:
                self._template = None  # an unparsable template: plain format, said below

    @property
    def name(self) -> str:
        """Which format is in use, for the UI and the CLI."""
        return "gguf-template" if self._template is not None else "plain"

    def format(self, messages: Sequence[ChatMessage]) -> FormattedPrompt:
        if self._template is None:
            return FormattedPrompt(_plain(messages), parse_special=False, stops=PLAIN_STOPS)
        rendered = self._render(messages)
        return FormattedPrompt(rendered, parse_special=True, stops=())

    def _render(self, messages: Sequence[ChatMessage]) -> str:
        from jinja2 import TemplateError as JinjaError  # noqa: PLC0415

        attempts = [list(messages), _merge_system(messages)]
        last_error: Exception | None = None
        for attempt in attempts:
            try:
                return str(
                    self._template.render(
                        messages=[{"role": m.role, "content": m.content} for m in attempt],
                        add_generation_prompt=True,
                        bos_token=self._bos,
                        eos_token=self._eos,
                    )
                )
            except (JinjaError, TemplateError) as exc:  # e.g. "system role not supported"
                last_error = exc
        raise TemplateError(f"the model's chat template refused these messages: {last_error}")


def _raise(message: str) -> None:
    raise TemplateError(message)


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
