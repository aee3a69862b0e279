"""The speed readout: live and final tokens/s for the status bar."""

from app.ui.speed.readout import ReadoutState, Sparkline, SpeedReadout

__all__ = ["ReadoutState", "Sparkline", "SpeedReadout"]
