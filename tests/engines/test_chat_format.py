"""Chat templates: real ones render exactly as before; hostile ones fail fast with one line."""

from __future__ import annotations

import signal
import sys
import threading
import time

import pytest

from app.engines.contract import ChatMessage
from app.engines.llama.chat_format import PLAIN_STOPS, ChatFormatter, TemplateError

MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "hi")]
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
GEMMA3 = r"""{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- set role = "model" if message['role'] == 'assistant' else message['role'] -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {{- message['content'] | trim }}
    {{- '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
"""
# A template without a system role (as Mistral's): the system prompt is folded into the first turn.
NO_SYSTEM = (
    "{{ bos_token }}{% for m in messages %}{% if m.role == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% if m.role == 'user' %}[INST] {{ m.content }} [/INST]{% else %}{{ m.content }}{{ eos_token }}{% endif %}"
    "{% endfor %}"
)
PREFIX = "this model's chat template failed: "


def test_plain_format_without_a_template() -> None:
    prompt = ChatFormatter(None).format(MESSAGES)
    assert prompt.text == "Be brief.\n\nUser: hi\nAssistant:"
    assert (prompt.parse_special, prompt.stops) == (False, PLAIN_STOPS)


def test_chatml_renders_exactly() -> None:
    formatter = ChatFormatter(CHATML)
    prompt = formatter.format([*MESSAGES, ChatMessage("assistant", "Hello."), ChatMessage("user", "More?")])
    assert formatter.name == "gguf-template" and prompt.parse_special and prompt.stops == ()
    assert prompt.text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
        "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nMore?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_gemma_style_template_renders_exactly() -> None:
    prompt = ChatFormatter(GEMMA3, bos_token="<bos>").format(
        [*MESSAGES, ChatMessage("assistant", "Hello. "), ChatMessage("user", "More?")])
    assert prompt.text == (
        "<bos><start_of_turn>user\nBe brief.\n\nhi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n"
        "<start_of_turn>user\nMore?<end_of_turn>\n<start_of_turn>model\n"
    )


def test_template_without_system_role_gets_it_folded_in() -> None:
    prompt = ChatFormatter(NO_SYSTEM, bos_token="<s>", eos_token="</s>").format(MESSAGES)
    assert prompt.text == "<s>[INST] Be brief.\n\nhi [/INST]"


def test_everyday_template_features_still_work() -> None:
    template = ("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}"
                "{{ ns.n }}|{{ '%s-%03d' % ('a', 7) }}|{{ '{}:{:>4}'.format('b', 'c') }}|{{ 'ab' * 3 }}|"
                "{{ 2 ** 10 }}|{{ 'x'|center(5) }}|{{ 'a b'|replace(' ', '_') }}|{{ messages|map(attribute='role')"
                "|join(',') }}|{{ 'u' ~ 'v' }}|{{ messages[-1].content.upper().ljust(4, '.') }}")
    assert ChatFormatter(template).format(MESSAGES).text == "2|a-007|b:   c|ababab|1024|  x  |a_b|system,user|uv|HI.."


def test_unparsable_template_falls_back_to_plain() -> None:
    formatter = ChatFormatter("{% for %}")
    assert formatter.name == "plain" and formatter.format(MESSAGES).stops == PLAIN_STOPS


HOSTILE: dict[str, tuple[str, str]] = {
    "recursive macro": ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "recursion too deep"),
    "division by zero": ("{{ messages|length / 0 }}", "ZeroDivisionError: division by zero"),
    "type error": ("{{ messages + 1 }}", "TypeError: can only concatenate list"),
    "huge range": ("{% for i in range(10**20) %}x{% endfor %}", "OverflowError"),
    "range over the sandbox limit": ("{% for i in range(10**6) %}x{% endfor %}", "OverflowError: Range too big"),
    "a * 10**9": ("{{ 'a' * 10**9 }}", "it builds a value of length 1,000,000,000, over the 65,536 allowed"),
    "list * 10**8": ("{{ ([1] * 10**8)|length }}", "a value of length 100,000,000"),
    "10 ** (10 ** 10)": ("{{ 10 ** (10 ** 10) }}", "a number with more than 65,536 bits"),
    "2 ** 10**8": ("{{ 2 ** 100000000 }}", "a number with more than 65,536 bits"),
    "raise_exception": ("{{ raise_exception('Only user and assistant roles are supported!') }}",
                        "Only user and assistant roles are supported!"),
    "undefined": ("{{ tools.name }}", "UndefinedError: 'tools' is undefined"),
    "center filter": ("{{ 'a'|center(1000000000) }}", "it asks for a value of size 1,000,000,000"),
    "ljust method": ("{{ 'a'.ljust(10**9) }}", "size 1,000,000,000"),
    "% width": ("{{ '%0999999999d' % 1 }}", "size 999,999,999"),
    "% width from the arguments": ("{{ '%*d' % (999999999, 1) }}", "size 999,999,999"),
    "format width": ("{{ '{:0999999999}'.format(1) }}", "size 999,999,999"),
    "nested format width": ("{{ '{:{}}'.format('a', 999999999) }}", "size 999,999,999"),
    "format filter width": ("{{ '%0999999999d'|format(1) }}", "size 999,999,999"),
    "replace blow-up": ("{{ ('a' * 1000)|replace('', 'b' * 1000) }}", "a value of length 1,002,000"),
    "batch padding": ("{{ messages|batch(10**9, 'x')|list }}", "size 1,000,000,000"),
    "namespace doubling": ("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
                           "{% endfor %}{{ ns.s|length }}", "a value of length 131,072"),
    "set doubling": ("{% set s = 'ab' %}" + "{% set s = s ~ s %}" * 40 + "{{ s|length }}", "of length 131,072"),
    "macro doubling": ("{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('ab') }}", "of length 131,072"),
    "lipsum is gone": ("{{ lipsum(10**6) }}", "UndefinedError: 'lipsum' is undefined"),
    "nested loops with output": ("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
                                 "the rendered prompt is over 65,536 characters, far beyond the context"),
    "captured loops": ("{% set x %}{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"
                       "{% endset %}{{ x|length }}", "it ran for more than 0.5 s"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_template_fails_fast_with_one_line(name: str) -> None:
    template, reason = HOSTILE[name]
    start = time.perf_counter()
    formatter = ChatFormatter(template)  # compiling must not fold a huge constant either
    with pytest.raises(TemplateError) as err:
        formatter.format(MESSAGES, max_chars=65536, deadline_s=0.5)
    elapsed = time.perf_counter() - start
    message = str(err.value)
    assert message.startswith(PREFIX) and reason in message, message
    assert "\n" not in message and len(message) < 300
    assert elapsed < 5, f"{name} took {elapsed:.1f} s"


@pytest.mark.skipif(sys.platform == "win32", reason="no SIGALRM")
def test_loops_that_write_nothing_stop_at_the_default_deadline() -> None:
    """Only the interval timer can stop these (no output chunk to check the clock at)."""
    formatter = ChatFormatter("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
    start = time.perf_counter()
    with pytest.raises(TemplateError, match=r"^this model's chat template failed: it ran for more than 2 s$"):
        formatter.format(MESSAGES)
    assert 1.5 < time.perf_counter() - start < 5


@pytest.mark.skipif(sys.platform == "win32", reason="no SIGALRM")
def test_the_previous_alarm_handler_and_timer_come_back() -> None:
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(1))
    old_timer = signal.setitimer(signal.ITIMER_REAL, 30.0)
    try:
        handler = signal.getsignal(signal.SIGALRM)
        with pytest.raises(TemplateError, match=r"ran for more than 0\.2 s"):
            ChatFormatter("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}").format(
                MESSAGES, deadline_s=0.2)
        ChatFormatter(CHATML).format(MESSAGES)  # a normal render leaves them alone too
        assert signal.getsignal(signal.SIGALRM) is handler
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 25 < remaining < 30 and not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if old_timer[0] > 0:
            signal.setitimer(signal.ITIMER_REAL, *old_timer)


def test_off_the_main_thread_the_deadline_is_checked_between_chunks() -> None:
    formatter = ChatFormatter("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}")
    errors: list[str] = []

    def render() -> None:
        try:
            formatter.format(MESSAGES, deadline_s=0.3)  # default max_chars: the clock stops it first
        except TemplateError as exc:
            errors.append(str(exc))

    worker = threading.Thread(target=render)
    start = time.perf_counter()
    worker.start()
    worker.join(10)
    assert not worker.is_alive() and time.perf_counter() - start < 5
    assert errors == [f"{PREFIX}it ran for more than 0.3 s"]


def test_long_reasons_are_cut_to_one_short_line() -> None:
    with pytest.raises(TemplateError) as err:
        ChatFormatter("{{ raise_exception('x\\n' * 400) }}").format(MESSAGES)
    assert "\n" not in str(err.value) and len(str(err.value)) <= len(PREFIX) + 200
