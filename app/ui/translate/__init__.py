"""The Translate tab: side-by-side translation of text and whole documents, offline."""

from app.ui.translate.panel import TranslatePanel

__all__ = ["TranslatePanel"]
