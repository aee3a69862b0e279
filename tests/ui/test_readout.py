"""The speed readout: label texts after real stats, and the sparkline's one-minute window."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from app.chat.stats_text import details_tooltip
from app.engines.contract import GenerationStats, LiveStats, LoadedModel, LocalModel
from app.ui.speed import ReadoutState, Sparkline, SpeedReadout

FINAL = "42.3 tok/s · TTFT 85 ms · prompt 310 tok/s · 1,900 cached · ctx 2,345/4,096"


def loaded(backend: str = "CUDA", gpu_layers: int | None = 28, n_layers: int | None = 28) -> LoadedModel:
    return LoadedModel(
        spec=LocalModel(path=Path("/models/qwen.gguf")), name="Qwen2.5 7B Instruct", quant="Q4_K_M",
        n_ctx=4096, n_ctx_train=32768, backend=backend, gpu_layers=gpu_layers,
        n_layers=n_layers, chat_format="gguf-template", load_s=1.25,
    )


def stats(**changes: object) -> GenerationStats:
    values: dict[str, object] = {
        "prompt_tokens": 3000, "cached_tokens": 1900, "evaluated_tokens": 1100, "completion_tokens": 128,
        "ttft_s": 0.085, "prefill_s": 3.55, "prefill_tps": 310.0, "decode_s": 3.0, "decode_tps": 42.3,
        "total_s": 3.1, "stop_reason": "eos", "n_ctx": 4096, "context_used": 2345, "backend": "CUDA",
        "gpu_layers": 28, "model": "Qwen2.5 7B Instruct",
    }
    values.update(changes)
    return GenerationStats(**values)  # type: ignore[arg-type]


def decode(tokens: int, tps: float) -> LiveStats:
    return LiveStats("decode", 3000, 1100, 1100, tokens, 1.0, tps)


def make_readout(qtbot: QtBot) -> SpeedReadout:
    readout = SpeedReadout()
    qtbot.addWidget(readout)
    return readout


def label(readout: SpeedReadout, name: str) -> QLabel:
    found = readout.findChild(QLabel, name)
    assert found is not None, name
    return found


# ---- Sparkline ---------------------------------------------------------------------


def test_sparkline_counts_samples_and_has_a_small_fixed_size(qtbot: QtBot) -> None:
    line = Sparkline()
    qtbot.addWidget(line)
    assert line.size() == QSize(90, 22)
    assert line.minimumSize() == line.maximumSize()
    for i in range(5):
        line.add(10.0 + i, t=100.0 + i)
    assert line.samples() == [(100.0 + i, 10.0 + i) for i in range(5)]
    line.clear()
    assert line.samples() == []


def test_sparkline_keeps_only_the_last_minute(qtbot: QtBot) -> None:
    line = Sparkline()
    qtbot.addWidget(line)
    line.add(5.0, t=0.0)
    line.add(6.0, t=1.0)
    line.add(7.0, t=30.0)
    assert len(line.samples()) == 3
    line.add(8.0, t=61.0)  # 0.0 is now more than 60 s old; 1.0 is exactly 60 s old
    assert line.samples() == [(1.0, 6.0), (30.0, 7.0), (61.0, 8.0)]
    line.add(9.0, t=200.0)
    assert line.samples() == [(200.0, 9.0)]
    line.add(1.0, t=100.0)  # late and already outside the window: ignored
    assert line.samples() == [(200.0, 9.0)]


def test_sparkline_clamps_negative_values(qtbot: QtBot) -> None:
    line = Sparkline()
    qtbot.addWidget(line)
    line.add(-3.0, t=1.0)
    assert line.samples() == [(1.0, 0.0)]


def _count_color(image: QImage, color: QColor) -> int:
    return sum(
        1
        for y in range(image.height())
        for x in range(image.width())
        if image.pixelColor(x, y).rgb() == color.rgb()
    )


def test_sparkline_paints_the_line_in_the_highlight_color(qtbot: QtBot) -> None:
    line = Sparkline()
    qtbot.addWidget(line)
    highlight = QColor("#ff0000")
    palette = line.palette()
    palette.setColor(QPalette.ColorRole.Highlight, highlight)
    line.setPalette(palette)
    empty = line.grab().toImage()
    assert _count_color(empty, highlight) == 0
    for i in range(30):
        line.add(20.0 + (i % 5), t=float(i))
    drawn = line.grab().toImage()
    assert _count_color(drawn, highlight) > 20


# ---- SpeedReadout ----------------------------------------------------------------


def test_idle_readout_says_nothing_until_a_model_is_there(qtbot: QtBot) -> None:
    readout = make_readout(qtbot)
    assert label(readout, "readoutLabel").text() == ""  # the model label alone says "No model"
    assert label(readout, "backendLabel").text() == ""
    readout.on_model_loaded(loaded(backend="CPU", gpu_layers=0))
    assert label(readout, "readoutLabel").text() == "Ready"
    readout.on_model_unloaded()
    assert label(readout, "readoutLabel").text() == "" and label(readout, "backendLabel").text() == ""


def test_model_loaded_on_gpu(qtbot: QtBot) -> None:
    readout = make_readout(qtbot)
    readout.on_model_loaded(loaded())
    backend = label(readout, "backendLabel")
    assert backend.text() == "CUDA · 28/28 layers"
    tip = backend.toolTip().splitlines()
    assert "GPU layers: 28 of 28" in tip
    assert "Model: Qwen2.5 7B Instruct" in tip
    assert "Quantization: Q4_K_M" in tip
    assert "Context: 4,096 tokens (trained on 32,768)" in tip


def test_model_loaded_on_cpu_and_all_layers(qtbot: QtBot) -> None:
    readout = make_readout(qtbot)
    readout.on_model_loaded(loaded(backend="CPU", gpu_layers=0))
    assert label(readout, "backendLabel").text() == "CPU"
    readout.on_model_loaded(loaded(backend="Metal", gpu_layers=-1, n_layers=26))
    assert label(readout, "backendLabel").text() == "Metal · 26/26 layers"
    readout.on_model_loaded(loaded(backend="CUDA", gpu_layers=10, n_layers=32))
    assert label(readout, "backendLabel").text() == "CUDA · 10/32 layers"
    assert "GPU layers: 10 of 32" in label(readout, "backendLabel").toolTip()
    readout.on_model_unloaded()
    assert label(readout, "backendLabel").text() == ""


def test_model_whose_layers_are_unknown(qtbot: QtBot) -> None:
    """A server does not say where its layers run: show its kind, invent no counts."""
    readout = make_readout(qtbot)
    readout.on_model_loaded(loaded(backend="OpenAI API", gpu_layers=None, n_layers=None))
    assert label(readout, "backendLabel").text() == "OpenAI API"
    assert "GPU layers" not in label(readout, "backendLabel").toolTip()


def test_a_whole_reply(qtbot: QtBot) -> None:
    readout = make_readout(qtbot)
    text = label(readout, "readoutLabel")
    assert readout.state is ReadoutState.IDLE
    readout.on_started()
    assert text.text() == "Reading prompt…" and readout.state is ReadoutState.WAITING

    readout.on_progress(LiveStats("prefill", 3000, 1200, 3000, 0, 0.5, None))
    assert text.text() == "Reading prompt 1,200 / 3,000 tokens" and readout.state is ReadoutState.WAITING
    assert readout.sparkline.samples() == []  # prefill has no decode speed

    readout.on_progress(decode(57, 42.3))
    assert text.text() == "42.3 tok/s · 57 tokens" and readout.state is ReadoutState.DECODING
    readout.on_progress(decode(70, 40.0))
    assert [v for _, v in readout.sparkline.samples()] == [42.3, 40.0]

    final = stats()
    readout.on_stats(final)
    assert text.text() == FINAL and readout.state is ReadoutState.FINAL
    readout.on_finished()  # final figures stay
    assert text.text() == FINAL
    assert text.toolTip() == details_tooltip(final.to_dict())
    assert "Stopped: end of text" in text.toolTip()
    assert len(readout.sparkline.samples()) == 2  # live samples already plotted this reply

    readout.on_cleared()
    assert text.text() == "Ready" and readout.state is ReadoutState.IDLE
    assert text.toolTip() == ""


def test_a_request_that_ends_before_any_figure_leaves_the_readout_idle(qtbot: QtBot) -> None:
    readout = make_readout(qtbot)
    readout.on_started()
    readout.on_progress(LiveStats("prefill", 3000, 1200, 3000, 0, 0.5, None))
    readout.on_finished()
    assert readout.state is ReadoutState.IDLE and readout.text() == "Ready"


def test_started_keeps_sparkline_history(qtbot: QtBot) -> None:
    readout = make_readout(qtbot)
    readout.on_started()
    readout.on_progress(decode(10, 30.0))
    readout.on_stats(stats())
    readout.on_started()
    assert [v for _, v in readout.sparkline.samples()] == [30.0]


def test_fast_reply_without_live_samples_is_still_plotted(qtbot: QtBot) -> None:
    readout = make_readout(qtbot)
    readout.on_started()
    readout.on_stats(stats(decode_tps=88.0))
    assert [v for _, v in readout.sparkline.samples()] == [88.0]
    readout.on_started()
    readout.on_stats(stats(decode_tps=0.0, completion_tokens=1))
    assert len(readout.sparkline.samples()) == 1  # no speed, nothing to plot
    readout.on_started()
    readout.on_stats(stats(decode_tps=None, decode_s=None, completion_tokens=1))
    assert len(readout.sparkline.samples()) == 1  # unknown speed, nothing to plot


def test_interrupted_stats_show_words(qtbot: QtBot) -> None:
    readout = make_readout(qtbot)
    readout.on_stats(stats(stop_reason="cancelled"))
    assert label(readout, "readoutLabel").text() == FINAL
    assert "Stopped: stopped by you" in label(readout, "readoutLabel").toolTip()


# The offscreen platform warns when a top-level window is shown; that says nothing about us.
@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_label_width_does_not_jump(qtbot: QtBot) -> None:
    readout = make_readout(qtbot)
    text = label(readout, "readoutLabel")
    assert text.minimumWidth() >= text.fontMetrics().horizontalAdvance(FINAL)
    readout.resize(readout.sizeHint())
    readout.show()
    qtbot.waitExposed(readout)
    layout = readout.layout()
    assert layout is not None
    widths = []
    for feed in (
        readout.on_started,
        lambda: readout.on_progress(LiveStats("prefill", 30000, 12000, 30000, 0, 0.5, 0.0)),
        lambda: readout.on_progress(decode(1234, 1234.5)),
        lambda: readout.on_stats(stats()),
        readout.on_cleared,
    ):
        feed()
        layout.activate()
        widths.append((text.width(), readout.sizeHint().width()))
    assert len(set(widths)) == 1, widths
