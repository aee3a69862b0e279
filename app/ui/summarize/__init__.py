"""The Summarize tab: whole-document summaries with clickable sources."""

from app.ui.summarize.panel import SummarizePanel

__all__ = ["SummarizePanel"]
