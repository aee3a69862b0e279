"""The speed readout: live and final tokens/s for the status bar."""

from app.ui.speed.readout import Sparkline, SpeedReadout

__all__ = ["Sparkline", "SpeedReadout"]
