"""Entry script of the frozen Kestrel: the same commands as the installed ``kestrel``.

No arguments open the desktop app; ``chat``, ``models``, ``quantize``, ``compare`` work as on
the command line; ``_quantize-child`` and ``_engine-child`` are the quantizer's and the engine's own child
processes (see app.cli.main.main).
"""

import multiprocessing
import sys

from app.cli.main import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # llama_cpp imports multiprocessing; keep stray children harmless
    sys.exit(main())
