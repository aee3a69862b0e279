"""``kestrel quantize``: an input that is not a regular file is named for what it is, never opened."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def quantize(source: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """A separate process, so that a regression blocking on a pipe fails by timeout, not hangs."""
    code = "import sys\nfrom app.cli.main import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, "quantize", str(source), "--to", "Q4_K_M"],
                          capture_output=True, text=True, env={**os.environ, "KESTREL_HOME": str(home)},
                          timeout=30, cwd=ROOT)


def test_a_missing_model_folder_and_pipe_each_get_their_own_line(tmp_path: Path, kestrel_home: Path) -> None:
    folder = tmp_path / "model.gguf"
    folder.mkdir()
    cases = [(tmp_path / "none.gguf", f"kestrel: error: model file not found: {tmp_path / 'none.gguf'}\n"),
             (folder, "kestrel: error: model.gguf: this is a folder, not a model file\n")]
    if hasattr(os, "mkfifo"):
        pipe = tmp_path / "pipe.gguf"
        os.mkfifo(pipe)
        cases.append((pipe, "kestrel: error: pipe.gguf: this is a named pipe, not a model file; "
                            "Kestrel reads only regular files\n"))
    for source, line in cases:
        result = quantize(source, kestrel_home)
        assert (result.returncode, result.stdout, result.stderr) == (1, "", line)


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="a POSIX device")
def test_a_device_is_refused(kestrel_home: Path) -> None:
    result = quantize(Path("/dev/null"), kestrel_home)
    assert result.returncode == 1 and "this is a character device, not a model file" in result.stderr
