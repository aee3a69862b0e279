"""A fake engine in a real child process whose load aborts like a llama.cpp assert, by file name.

Isolation tests need a model that kills the engine's process. Loading a file whose name
starts with ``crash`` makes the child print ``ASSERT_LINE`` and abort; any other file loads
the fake engine with ``options``.
"""

from __future__ import annotations

import threading
from typing import Any

from app.engines.contract import LoadedModel, LoadProgress, LocalModel, ModelSpec
from app.engines.process.engine import ProcessEngine

ASSERT_LINE = "/src/llama-model.cpp:512: GGML_ASSERT(n_layer_all > 0 && n_layer_all <= LLAMA_MAX_LAYERS) failed"
ASSERT_REASON = "GGML_ASSERT(n_layer_all > 0 && n_layer_all <= LLAMA_MAX_LAYERS) failed (llama-model.cpp:512)"


class CrashOnName(ProcessEngine):
    def __init__(self, **options: Any) -> None:
        super().__init__("fake", options)
        self._normal = dict(options)

    def load(self, spec: ModelSpec, on_progress: LoadProgress | None = None,
             cancel: threading.Event | None = None) -> LoadedModel:
        crash = isinstance(spec, LocalModel) and spec.path.name.startswith("crash")
        self._options = {"abort_on_load": ASSERT_LINE} if crash else self._normal
        return super().load(spec, on_progress, cancel)
