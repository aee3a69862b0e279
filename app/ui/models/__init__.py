"""The Models tab (issue 6): library, quantization picker, download, quantize, A/B compare, GPU."""

from app.ui.models.panel import ModelsPanel

__all__ = ["ModelsPanel"]
