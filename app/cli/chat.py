"""``kestrel chat``: one prompt, or a file of turns, streamed to stdout."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from app.base.settings import Settings
from app.cli.engine import add_endpoint_arguments, add_speculative_argument, model_name, open_engine, speculation
from app.cli.errors import EXIT_INTERRUPTED, EXIT_OK, CliError, install_sigint
from app.engines.contract import ChatMessage, Engine, EngineError, GenerationParams, GenerationStats, LoadedModel
from app.models.params import generation_params

# The figures of the ``--json`` line, in this order; a figure nobody measured is null.
JSON_FIGURES = ("prompt_tokens", "cached_tokens", "evaluated_tokens", "completion_tokens", "ttft_s",
                "prefill_tps", "decode_tps", "prefill_s", "decode_s", "total_s", "stop_reason", "n_ctx",
                "context_used", "backend", "gpu_layers", "model", "sources", "restored_tokens", "drafted_tokens",
                "accepted_tokens")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``chat`` on the ``kestrel`` parser's subcommands."""
    parser = commands.add_parser("chat", help="chat with a model; the answer streams to stdout")
    parser.add_argument("prompt", nargs="?", help="the message (read from stdin when omitted)")
    parser.add_argument("--model", help="GGUF file (default: the model chosen in settings), "
                        "or with --endpoint the id of a model on that server")
    add_endpoint_arguments(parser)
    parser.add_argument("--system", help="system prompt (default: from settings)")
    parser.add_argument("--max-tokens", type=int, help="longest reply in tokens")
    parser.add_argument("--temperature", type=float, help="0 for greedy decoding")
    parser.add_argument("--seed", type=int, help="random seed for reproducible sampling")
    parser.add_argument("--n-ctx", type=int, help="context size in tokens (rounded up to 256)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: automatic)")
    parser.add_argument("--gpu-layers", type=int, help="layers to offload to the GPU (-1: all)")
    parser.add_argument("--turns", type=Path, metavar="FILE.json",
                        help="play a JSON list of user turns as one conversation")
    add_speculative_argument(parser)
    parser.add_argument("--json", action="store_true",
                        help="after each answer print one JSON line with its speed figures (drafted and accepted "
                             "tokens included)")
    parser.set_defaults(run=run)
    return parser


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


def run(args: argparse.Namespace) -> int:
    """Check the options, load the model, play every turn; CliError for anything the user must fix."""
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
    mode, draft = speculation(args.speculative)
    params = generation_params(settings, max_tokens=args.max_tokens, temperature=args.temperature, seed=args.seed,
                               speculative=mode)

    with open_engine(settings, args.model, n_ctx=args.n_ctx, n_threads=args.threads,
                     n_gpu_layers=args.gpu_layers, endpoint=args.endpoint,
                     api_key_env=args.api_key_env, draft_model=draft) as (engine, loaded):
        stop = threading.Event()
        restore_sigint = install_sigint(stop)
        history = [ChatMessage("system", system)] if system and system.strip() else []
        try:
            for turn in turns:
                history.append(ChatMessage("user", turn))
                reply = _one_turn(engine, history, params, stop)
                history.append(ChatMessage("assistant", reply))
                stats = engine.last_stats
                assert stats is not None, "an engine sets last_stats when a reply ends"
                if args.json:
                    print(json.dumps(json_line(stats, loaded, reply), ensure_ascii=False), flush=True)
                if stats.stop_reason == "cancelled":
                    return EXIT_INTERRUPTED
        except EngineError as exc:
            raise CliError(str(exc)) from exc
        finally:
            restore_sigint()
    return EXIT_OK


def _one_turn(engine: Engine, history: list[ChatMessage], params: GenerationParams, stop: threading.Event) -> str:
    parts: list[str] = []
    for delta in engine.stream(history, params, stop=stop):
        parts.append(delta)
        sys.stdout.write(delta)
        sys.stdout.flush()
    sys.stdout.write("\n")
    sys.stdout.flush()
    return "".join(parts)


def json_line(stats: GenerationStats, loaded: LoadedModel, reply: str) -> dict[str, Any]:
    """The ``--json`` line for one reply: its figures, where each was measured, the model and the text."""
    figures = stats.to_dict()
    line = {key: figures[key] for key in JSON_FIGURES}
    line.update(model_path=model_name(loaded), quant=loaded.quant, chat_format=loaded.chat_format, text=reply)
    return line
