"""The first argument that makes the frozen bundle's executable one of its own child processes.

Kept here, apart from the children's modules, so the ``kestrel`` entry point can recognise
them without importing the engine (which the desktop app loads only when it needs it).
"""

ENGINE_CHILD_FLAG = "_engine-child"
QUANTIZE_CHILD_FLAG = "_quantize-child"
