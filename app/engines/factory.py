"""The one place that decides which engine runs a model spec.

The window's worker, every CLI command and the benchmarks get their engine here;
tests pass their own :data:`~app.engines.contract.EngineFactory` (usually one that
returns a :class:`~app.engines.fake.FakeEngine`) wherever a factory is taken. Each engine's
module is imported when the first engine of its kind is made: the window appears without
waiting for the process engine's and the HTTP client's imports (a fifth of its start).
"""

from __future__ import annotations

from app.base.credentials import resolve
from app.engines.contract import Endpoint, Engine, EngineError, LocalModel, ModelSpec


def make_engine(spec: ModelSpec) -> Engine:
    """A fresh engine able to load ``spec``."""
    if isinstance(spec, LocalModel):
        from app.engines.process.engine import ProcessEngine  # noqa: PLC0415 - see the module's docstring

        # llama.cpp runs in a child process: a native assert or crash there cannot end the app
        return ProcessEngine()
    if isinstance(spec, Endpoint):
        from app.engines.remote.engine import RemoteEngine  # noqa: PLC0415 - see the module's docstring

        # the key is looked up at load time from the reference the spec carries, never stored in the spec
        return RemoteEngine(resolve_key=resolve, verify=spec.ca_file or True)
    raise EngineError(f"Unknown kind of model: {spec!r}")


def same_kind(a: ModelSpec, b: ModelSpec) -> bool:
    """True when one engine can load both specs (an engine is reused across loads of its kind)."""
    return type(a) is type(b)
