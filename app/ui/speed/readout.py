"""A compact, status-bar friendly readout of generation speed.

The figures come from :mod:`app.chat.stats_text` so the readout, the line under each
message and the CLI never disagree. The widget only formats and paints: it owns no timers
and does no work between updates, so an idle app stays idle.
"""

from __future__ import annotations

import collections
import time
from enum import Enum

from PySide6.QtCore import QPointF, QSize, Qt, Slot
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QWidget

from app.base.settings import QT_TRANSLATE_NOOP
from app.base.speed import format_rate
from app.base.units import format_seconds
from app.chat.stats_text import details_tooltip, live_line, summary_line
from app.engines.contract import GenerationStats, LiveStats, LoadedModel

__all__ = ["ReadoutState", "Sparkline", "SpeedReadout"]

#: The readout's own words (translated where shown). Without a model it shows nothing: the
#: status bar's model label alone says "No model".
IDLE_TEXT = QT_TRANSLATE_NOOP("SpeedReadout", "Ready")
STARTED_TEXT = QT_TRANSLATE_NOOP("SpeedReadout", "Reading prompt…")
#: The widest text the readout label normally shows; its width is reserved up front so
#: the status bar never shifts as figures change length.
_WIDEST_TEXT = "999.9 tok/s · TTFT 9.99 s · prompt 9,999 tok/s · 99,999 cached · ctx 99,999/99,999"


class ReadoutState(Enum):
    """What the figures label shows, so callers decide by state and never by its (translatable) words."""

    IDLE = "idle"  # nothing running, no figures
    WAITING = "waiting"  # a request started; the prompt is being read, no reply figures yet
    DECODING = "decoding"  # live reply figures
    FINAL = "final"  # the last reply's final figures


class Sparkline(QWidget):
    """Tokens/s over the last minute as a tiny line, scaled to the peak in view.

    Samples carry their own time so tests can pass explicit ``t`` values; the right edge
    is the newest sample, so the line stands still while nothing is generated.
    """

    WINDOW_S = 60.0
    SIZE = QSize(90, 22)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._samples: collections.deque[tuple[float, float]] = collections.deque()
        self._newest = float("-inf")
        self.setFixedSize(self.SIZE)
        self.setToolTip("Reply speed over the last minute")

    def add(self, value: float, t: float | None = None) -> None:
        """Record one speed sample (``t`` defaults to ``time.monotonic()``) and repaint later."""
        now = time.monotonic() if t is None else t
        if now < self._newest - self.WINDOW_S:
            return  # a late sample already outside the window
        self._samples.append((now, max(0.0, float(value))))
        self._newest = max(self._newest, now)
        while self._samples and self._samples[0][0] < self._newest - self.WINDOW_S:
            self._samples.popleft()
        self.update()

    def clear(self) -> None:
        """Forget every sample."""
        self._samples.clear()
        self._newest = float("-inf")
        self.update()

    def samples(self) -> list[tuple[float, float]]:
        """The ``(time, value)`` samples inside the window, oldest first."""
        return list(self._samples)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        """Draw a faint baseline and the polyline; colours come from the palette (themes)."""
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            palette = self.palette()
            w, h = self.width(), self.height()
            top, bottom = 2.0, h - 2.0

            base = QColor(palette.color(QPalette.ColorRole.WindowText))
            base.setAlphaF(0.25)
            painter.setPen(QPen(base, 1.0))
            painter.drawLine(QPointF(0.5, bottom + 0.5), QPointF(w - 0.5, bottom + 0.5))

            if not self._samples:
                return
            newest = self._newest
            peak = max(v for _, v in self._samples)
            if peak <= 0:
                return
            left = newest - self.WINDOW_S

            def point(t: float, v: float) -> QPointF:
                x = (t - left) / self.WINDOW_S * (w - 2) + 1
                y = bottom - v / peak * (bottom - top)
                return QPointF(x, y)

            points = [point(t, v) for t, v in self._samples]
            pen = QPen(palette.color(QPalette.ColorRole.Highlight), 1.5)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            painter.setPen(pen)
            if len(points) == 1:
                painter.drawPoint(points[0])
            else:
                painter.drawPolyline(QPolygonF(points))
        finally:
            painter.end()


class SpeedReadout(QWidget):
    """[sparkline] [live or final figures] [backend], one row for the status bar.

    Slots take plain values (not the worker's request ids) so the main window decides
    which request's figures are shown.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sparkline = Sparkline(self)

        self.label = QLabel("", self)  # no model yet: nothing to read out
        self.label.setObjectName("readoutLabel")
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance(_WIDEST_TEXT) + 4)
        self.label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

        self.backend_label = QLabel("", self)
        self.backend_label.setObjectName("backendLabel")
        self.backend_label.setTextFormat(Qt.TextFormat.PlainText)
        self.backend_label.setMinimumWidth(
            self.backend_label.fontMetrics().horizontalAdvance("Vulkan · 999/999 layers") + 4
        )
        self.backend_label.setAlignment(
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.sparkline, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.backend_label, 0)
        self._decode_sampled = False
        self.state = ReadoutState.IDLE

    def text(self) -> str:
        """What the figures label shows now (for tests and accessibility)."""
        return self.label.text()

    def backend_text(self) -> str:
        return self.backend_label.text()

    @Slot(object)
    def on_model_loaded(self, loaded: LoadedModel) -> None:
        """Show where the model runs: 'CPU' or 'CUDA · 28/28 layers'."""
        n_layers = max(0, loaded.n_layers or 0)
        gpu = loaded.gpu_layers
        if gpu is not None and (gpu < 0 or (n_layers and gpu > n_layers)):
            gpu = n_layers
        if gpu is None:
            text = loaded.backend  # a server, or an engine that does not say
        elif gpu == 0 or loaded.backend.upper() == "CPU":
            text = "CPU"
        elif n_layers:
            text = f"{loaded.backend} · {gpu}/{n_layers} layers"
        else:
            text = f"{loaded.backend} · {gpu} layers"
        self.backend_label.setText(text)
        if self.state is ReadoutState.IDLE and not self.label.text():
            self.label.setText(self.tr(IDLE_TEXT))  # a model is there: ready for a request

        lines = [f"Model: {loaded.name}"]
        if loaded.quant:
            lines.append(f"Quantization: {loaded.quant}")
        ctx = f"Context: {loaded.n_ctx:,} tokens"
        if loaded.n_ctx_train:
            ctx += f" (trained on {loaded.n_ctx_train:,})"
        lines.append(ctx)
        lines.append(f"Backend: {loaded.backend}")
        if gpu is not None and n_layers:
            lines.append(f"GPU layers: {gpu} of {n_layers}")
        elif gpu is not None:
            lines.append(f"GPU layers: {gpu}")
        if loaded.load_s > 0:
            lines.append(f"Loaded in {format_seconds(loaded.load_s)}")
        self.backend_label.setToolTip("\n".join(lines))

    @Slot()
    def on_model_unloaded(self) -> None:
        """No model: nothing to show (the model label says so) rather than the last backend or "Ready"."""
        self.backend_label.setText("")
        self.backend_label.setToolTip("")
        self._decode_sampled = False
        self.state = ReadoutState.IDLE
        self.label.setText("")
        self.label.setToolTip("")

    @Slot()
    def on_started(self) -> None:
        """A reply was requested; the sparkline keeps its last minute of history."""
        self._decode_sampled = False
        self.state = ReadoutState.WAITING
        self.label.setText(self.tr(STARTED_TEXT))
        self.label.setToolTip("")

    @Slot(object)
    def on_progress(self, live: LiveStats) -> None:
        """Live figures; decode speed also goes onto the sparkline."""
        self.label.setText(live_line(live))
        self.state = ReadoutState.DECODING if live.phase == "decode" else ReadoutState.WAITING
        if live.phase == "decode" and live.decode_tps is not None and live.decode_tps > 0:
            self.sparkline.add(live.decode_tps)
            self._decode_sampled = True

    @Slot(object)
    def on_stats(self, stats: GenerationStats) -> None:
        """Final figures for the reply, with every detail in the tooltip."""
        data = stats.to_dict()
        self.state = ReadoutState.FINAL
        self.label.setText(summary_line(data) or self.tr(IDLE_TEXT))
        tooltip = details_tooltip(data)
        self.label.setToolTip(tooltip)
        speed = stats.decode_tps if stats.decode_tps is not None and stats.decode_tps > 0 else None
        self.sparkline.setToolTip(
            "Reply speed over the last minute" + (f"\nLast reply: {format_rate(speed)}" if speed else "")
        )
        # A reply faster than one progress interval sent no decode sample: plot its
        # final speed so the sparkline does not miss it.
        if not self._decode_sampled and speed:
            self.sparkline.add(speed)
        self._decode_sampled = False

    @Slot()
    def on_finished(self) -> None:
        """The request ended. One that ended before its final figures (an error, a token
        count, a stop while reading the prompt) must not leave the readout waiting or
        showing a live rate as if the reply still ran."""
        if self.state in (ReadoutState.WAITING, ReadoutState.DECODING):
            self.on_cleared()

    @Slot()
    def on_cleared(self) -> None:
        """Back to idle (new chat, model unloaded)."""
        self._decode_sampled = False
        self.state = ReadoutState.IDLE
        self.label.setText(self.tr(IDLE_TEXT))
        self.label.setToolTip("")
