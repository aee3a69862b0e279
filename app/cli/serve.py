"""``kestrel serve``: the engine as an OpenAI-compatible server on this machine, without a window.

It runs the same engine worker and API server as the app's Server panel (a Qt event loop
without a display), loads the model, prints the address and where the key is kept, and
serves until Ctrl+C or SIGTERM, then shuts down cleanly with status 0.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.api import DEFAULT_PORT
from app.api.catalog import ModelCatalog
from app.base.settings import Settings
from app.cli import engine as cli_engine
from app.cli.errors import EXIT_OK, CliError
from app.engines.contract import LoadedModel, ModelSpec
from app.models.params import generation_params, load_spec, local_model
from app.models.selection import ModelNotFound
from app.models.starter import StarterModelMissing

if TYPE_CHECKING:
    from app.api.keys import ServerKey
    from app.ui.engine.controller import EngineController


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``serve`` on the ``kestrel`` parser's subcommands."""
    parser = commands.add_parser("serve", help="serve a model over an OpenAI-compatible API on this machine")
    parser.add_argument("--model", help="a GGUF file or the id of a model in the library "
                        "(default: the model chosen in settings)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; "
                        "anything else is reachable from other machines)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port (default {DEFAULT_PORT}; 0: any free one)")
    parser.add_argument("--api-key-env", metavar="VAR",
                        help="take the API key clients must send from this environment variable "
                        "(default: a key made at first start and kept in the system keyring)")
    parser.add_argument("--show-key", action="store_true", help="print the API key")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="let web pages from ORIGIN (e.g. http://localhost:3000) call the API; repeatable")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="also answer requests addressed to the host name NAME; repeatable")
    parser.add_argument("--allow-load", action="store_true",
                        help="let a request naming another library model load it")
    parser.add_argument("--max-queue", type=int, default=16, help="requests that may wait (default 16; more: 429)")
    parser.add_argument("--n-ctx", type=int, help="context size in tokens (rounded up to 256)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: automatic)")
    parser.add_argument("--gpu-layers", type=int, help="layers to offload to the GPU (-1: all)")
    parser.set_defaults(run=run)
    return parser


def model_spec(settings: Settings, args: argparse.Namespace, catalog: ModelCatalog) -> ModelSpec:
    """``--model`` as a file or a library id, else the settings' model (or the starter model)."""
    model: str | None = args.model
    overrides: dict[str, Any] = {"n_ctx": args.n_ctx, "n_threads": args.threads, "n_gpu_layers": args.gpu_layers}
    if model is not None and not Path(model).expanduser().exists():
        path = catalog.paths().get(model)
        if path is not None:
            return local_model(settings, path, **overrides)
    try:
        return load_spec(settings, model, **overrides)
    except (ModelNotFound, StarterModelMissing) as exc:
        raise CliError(str(exc)) from exc


def _check(args: argparse.Namespace) -> None:
    if not 0 <= args.port <= 65535:
        raise CliError("--port must be between 0 and 65535")
    if args.max_queue < 1:
        raise CliError("--max-queue must be at least 1")
    for name, value, low in (("--n-ctx", args.n_ctx, 256),):
        if value is not None and value < low:
            raise CliError(f"{name} must be at least {low}")
    for origin in args.allow_origin:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise CliError(f"--allow-origin takes an origin such as http://localhost:3000, not {origin!r}")


def _key(args: argparse.Namespace) -> ServerKey:
    from app.api.keys import ApiKeyError, env_key, server_key  # noqa: PLC0415

    try:
        return env_key(args.api_key_env) if args.api_key_env else server_key()
    except ApiKeyError as exc:
        raise CliError(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM, then stop everything; CliError for what the user must fix.

    The port is taken before the model loads, so a busy port is reported at once; requests
    that arrive while the model loads are answered 503.
    """
    _check(args)
    settings = Settings.load_default()
    catalog = ModelCatalog()
    spec = model_spec(settings, args, catalog)
    key = _key(args)
    # Qt and the web stack load only for this command (uvicorn alone costs ~0.1 s at every start)
    from app.api.errors import ApiError  # noqa: PLC0415
    from app.api.server import ApiServer  # noqa: PLC0415

    try:
        from PySide6.QtCore import QCoreApplication, QTimer  # noqa: PLC0415

        from app.ui.engine.controller import EngineController  # noqa: PLC0415
        from app.ui.engine.gate import QtGate  # noqa: PLC0415
    except ImportError as exc:
        raise CliError(f"the server cannot start: {exc}") from exc

    qt_app = QCoreApplication.instance() or QCoreApplication([sys.argv[0] if sys.argv else "kestrel"])
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stopping.set()
        QCoreApplication.exit(0)  # leaves every running event loop, the load's wait included

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    def check_stop() -> None:  # also catches a signal that came just before the loop started
        if stopping.is_set():
            QCoreApplication.exit(0)

    pulse = QTimer()  # Python runs signal handlers only between its own bytecodes: wake it up
    pulse.timeout.connect(check_stop)
    pulse.start(100)
    controller = EngineController(cli_engine.new_engine)
    gate = QtGate(controller, catalog.spec if args.allow_load else None)
    server = ApiServer(gate, host=args.host, port=args.port, api_key=key.key, cors_origins=args.allow_origin,
                       allowed_hosts=args.allow_host, allow_load=args.allow_load, max_queue=args.max_queue,
                       defaults=generation_params(settings), catalog=catalog)
    try:
        try:
            server.start()
        except ApiError as exc:
            raise CliError(str(exc)) from exc
        loaded = _load(controller, spec, stopping)
        if loaded is None:
            return EXIT_OK  # stopped while loading
        print(f"Kestrel serves {catalog.id_of(loaded)} at {server.address}", flush=True)
        if args.api_key_env:
            print(f"API key: taken from {key.where}", flush=True)
        else:
            print(f"API key: {key.key if args.show_key else f'kept in {key.where} (--show-key prints it)'}",
                  flush=True)
        if server.exposure_warning:
            print(f"kestrel: warning: {server.exposure_warning}", file=sys.stderr, flush=True)
        print("Press Ctrl+C to stop.", flush=True)
        if not stopping.is_set():
            qt_app.exec()
        return EXIT_OK
    finally:
        pulse.stop()
        server.stop()
        gate.close()
        controller.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _load(controller: EngineController, spec: ModelSpec, stopping: threading.Event) -> LoadedModel | None:
    """Load ``spec`` on the engine worker, running Qt's loop meanwhile; None when stopped first."""
    from PySide6.QtCore import QEventLoop  # noqa: PLC0415

    outcome: dict[str, Any] = {}
    waiting = QEventLoop()

    def on_loaded(loaded: LoadedModel) -> None:
        outcome["loaded"] = loaded
        waiting.quit()

    def on_load_failed(message: str) -> None:
        outcome["error"] = message
        waiting.quit()

    controller.loaded.connect(on_loaded)
    controller.load_failed.connect(on_load_failed)
    try:
        controller.load(spec)
        if not outcome and not stopping.is_set():
            waiting.exec()
    finally:
        controller.loaded.disconnect(on_loaded)
        controller.load_failed.disconnect(on_load_failed)
    if stopping.is_set():
        return None
    if "loaded" not in outcome:
        raise CliError(str(outcome.get("error", "the model did not load")))
    loaded: LoadedModel = outcome["loaded"]
    return loaded
