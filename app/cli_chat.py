"""``kestrel chat``: one prompt, or a file of turns, through the real engine."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from app.cli import EXIT_INTERRUPTED, CliError, install_sigint
from app.core.models import resolve_model_path
from app.core.settings import Settings
from app.llm.engine import LlamaEngine
from app.llm.types import ChatMessage, EngineError, GenerationParams, LoadParams


def read_turns(path: Path) -> tuple[str | None, list[str]]:
    """Accepts ["hi", ...], [{"role": "user", "content": "hi"}, ...] or {"system": ..., "turns": [...]}."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CliError(f"turns file not found: {path}") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CliError(f"turns file {path} is not valid JSON: {exc}") from exc
    system = None
    if isinstance(raw, dict):
        system = raw.get("system")
        raw = raw.get("turns")
    if not isinstance(raw, list) or not raw:
        raise CliError(f"turns file {path} must hold a non-empty JSON list of user turns")
    turns: list[str] = []
    for item in raw:
        if isinstance(item, str):
            turns.append(item)
        elif isinstance(item, dict) and isinstance(item.get("content"), str):
            if item.get("role", "user") == "user":
                turns.append(item["content"])
        else:
            raise CliError(f"turns file {path}: each turn must be a string or {{'content': ...}}")
    if not turns:
        raise CliError(f"turns file {path} has no user turns")
    return (system if isinstance(system, str) else None), turns


def run_chat(args: argparse.Namespace) -> int:
    settings = Settings.load_default()
    if args.turns is not None:
        if args.prompt:
            raise CliError("give either PROMPT or --turns, not both")
        file_system, turns = read_turns(args.turns)
    else:
        prompt = args.prompt if args.prompt is not None else sys.stdin.read()
        if not prompt.strip():
            raise CliError("the prompt is empty (pass PROMPT or pipe text on stdin)")
        file_system, turns = None, [prompt]
    system = args.system if args.system is not None else (file_system or settings.get_str("system_prompt"))

    for name, value, low in (("--max-tokens", args.max_tokens, 1), ("--n-ctx", args.n_ctx, 256)):
        if value is not None and value < low:
            raise CliError(f"{name} must be at least {low}")
    if args.temperature is not None and not 0 <= args.temperature <= 5:
        raise CliError("--temperature must be between 0 and 5")

    model_path = resolve_model_path(args.model, settings)
    engine = LlamaEngine()
    try:
        engine.load(LoadParams(
            model_path=model_path,
            n_ctx=args.n_ctx or settings.get_int("n_ctx"),
            n_threads=args.threads or settings.get_int("n_threads") or None,
            n_gpu_layers=args.gpu_layers if args.gpu_layers is not None else settings.get_int("n_gpu_layers"),
            flash_attn={"auto": None, "on": True, "off": False}[settings.get_str("flash_attn")],
        ))
    except EngineError as exc:
        raise CliError(str(exc)) from exc

    params = GenerationParams(
        max_tokens=args.max_tokens or settings.get_int("max_tokens"),
        temperature=args.temperature if args.temperature is not None else settings.get_float("temperature"),
        top_k=settings.get_int("top_k"),
        top_p=settings.get_float("top_p"),
        min_p=settings.get_float("min_p"),
        repeat_penalty=settings.get_float("repeat_penalty"),
        seed=args.seed if args.seed is not None else (settings.get_int("seed") if settings.get_int("seed") >= 0 else None),
    )
    stop = threading.Event()
    install_sigint(stop)
    history: list[ChatMessage] = [ChatMessage("system", system)] if system and system.strip() else []
    try:
        for turn in turns:
            history.append(ChatMessage("user", turn))
            reply = _one_turn(engine, history, params, stop)
            history.append(ChatMessage("assistant", reply))
            stats = engine.last_stats
            assert stats is not None
            if args.json:
                print(json.dumps(_json_line(stats.to_dict(), engine, reply), ensure_ascii=False), flush=True)
            if stats.stop_reason == "cancelled":
                return EXIT_INTERRUPTED
    except EngineError as exc:
        raise CliError(str(exc)) from exc
    finally:
        engine.unload()
    return 0


def _one_turn(engine: LlamaEngine, history: list[ChatMessage], params: GenerationParams,
              stop: threading.Event) -> str:
    parts: list[str] = []
    for delta in engine.stream(history, params, stop=stop):
        parts.append(delta)
        sys.stdout.write(delta)
        sys.stdout.flush()
    sys.stdout.write("\n")
    sys.stdout.flush()
    return "".join(parts)


def _json_line(stats: dict[str, Any], engine: LlamaEngine, reply: str) -> dict[str, Any]:
    loaded = engine.loaded
    assert loaded is not None
    keys = ("prompt_tokens", "cached_tokens", "evaluated_tokens", "completion_tokens", "ttft_s",
            "prefill_tps", "decode_tps", "prefill_s", "decode_s", "total_s", "stop_reason", "n_ctx",
            "context_used", "backend", "gpu_layers", "model")
    line = {k: stats[k] for k in keys}
    line.update(model_path=str(loaded.path), quant=loaded.quant, chat_format=loaded.chat_format, text=reply)
    return line
