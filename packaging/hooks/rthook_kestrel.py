"""Runtime hook: runs inside the frozen Kestrel before app code.

On Linux the PyInstaller bootloader points LD_LIBRARY_PATH at the bundle so its own
libraries win. The dynamic linker reads that variable once, at process start, so putting
the user's value back here changes nothing for Kestrel itself, while programs Kestrel
starts (xdg-open, a browser opening a link) no longer load the bundle's libstdc++ or Qt.
Kestrel's own children (the quantizer) are started through the bootloader, which sets it again.
"""

import os
import sys

os.environ.setdefault("GGML_NO_BACKTRACE", "1")  # a native abort must not start gdb

if sys.platform.startswith("linux"):
    _orig = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if _orig is not None:
        os.environ["LD_LIBRARY_PATH"] = _orig
    else:
        os.environ.pop("LD_LIBRARY_PATH", None)
