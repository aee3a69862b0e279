"""A small two-panel bar chart (decode tokens/s, KL divergence) drawn with QPainter: no extra deps."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

_BAR = QColor("#1a73e8")
_BEST = QColor("#1e8e3e")
_KL = QColor("#e37400")
KL_GOOD = 0.05  # as app.models.compare.KL_GOOD: below it, differences are hard to notice


@dataclass(frozen=True)
class Bar:
    label: str
    decode_tps: float | None
    kl: float | None
    recommended: bool = False


class BarChart(QWidget):
    """Decode speed (higher is better) beside KL divergence (lower is better), one bar per variant."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareChart")
        self.bars: list[Bar] = []
        self.setMinimumHeight(150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(480, 170)

    def set_bars(self, bars: list[Bar]) -> None:
        self.bars = list(bars)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if not self.bars:
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.tr("Run a comparison to see the chart."))
            return
        rect = QRectF(self.rect()).adjusted(8, 4, -8, -4)
        half = (rect.width() - 16) / 2
        self._panel(painter, QRectF(rect.left(), rect.top(), half, rect.height()),
                    self.tr("Decode speed (tokens/s, higher is better)"),
                    [b.decode_tps for b in self.bars], "{:.1f}", _BAR)
        self._panel(painter, QRectF(rect.left() + half + 16, rect.top(), half, rect.height()),
                    self.tr("KL divergence vs. the most precise (lower is better)"),
                    [b.kl for b in self.bars], "{:.3f}", _KL, threshold=KL_GOOD)

    def _panel(self, painter: QPainter, rect: QRectF, title: str, values: list[float | None], fmt: str,
               color: QColor, threshold: float | None = None) -> None:
        text_color = self.palette().color(QPalette.ColorRole.WindowText)
        metrics = painter.fontMetrics()
        line = metrics.height()
        bold = QFont(painter.font())
        bold.setBold(True)
        painter.save()
        painter.setFont(bold)
        painter.setPen(text_color)
        painter.drawText(QRectF(rect.left(), rect.top(), rect.width(), line), Qt.AlignmentFlag.AlignLeft,
                         metrics.elidedText(title, Qt.TextElideMode.ElideRight, int(rect.width())))
        painter.restore()
        plot = QRectF(rect.left(), rect.top() + line + 4, rect.width(), rect.height() - 2 * line - 10)
        top = max((v for v in values if v is not None), default=0.0)
        if threshold is not None:
            top = max(top, threshold * 1.25)  # tiny divergences stay small next to the threshold
        top = top or 1.0
        n = len(values)
        slot = plot.width() / max(n, 1)
        width = min(56.0, slot * 0.6)
        axis = QColor(text_color)
        axis.setAlpha(90)
        painter.setPen(axis)
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())
        if threshold is not None:
            y = plot.bottom() - (plot.height() - line - 2) * threshold / top
            painter.save()
            pen = painter.pen()
            pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.drawText(QRectF(plot.left(), y - line - 1, plot.width(), line), Qt.AlignmentFlag.AlignRight,
                             self.tr("%1: hard to notice below").replace("%1", f"{threshold:g}"))
            painter.restore()
        for i, (bar, value) in enumerate(zip(self.bars, values, strict=True)):
            x = plot.left() + i * slot + (slot - width) / 2
            label_rect = QRectF(plot.left() + i * slot, plot.bottom() + 2, slot, line)
            painter.setPen(text_color)
            label = ("★ " if bar.recommended else "") + bar.label
            painter.drawText(label_rect, Qt.AlignmentFlag.AlignCenter,
                             metrics.elidedText(label, Qt.TextElideMode.ElideRight, int(slot)))
            if value is None:
                painter.drawText(QRectF(x - 10, plot.bottom() - line - 2, width + 20, line),
                                 Qt.AlignmentFlag.AlignCenter, "n/a")
                continue
            height = max(1.0, (plot.height() - line - 2) * value / top)
            bar_rect = QRectF(x, plot.bottom() - height, width, height)
            painter.fillRect(bar_rect, _BEST if bar.recommended and color == _BAR else color)
            painter.drawText(QRectF(x - 20, bar_rect.top() - line - 1, width + 40, line),
                             Qt.AlignmentFlag.AlignCenter, fmt.format(value))
