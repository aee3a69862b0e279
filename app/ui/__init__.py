"""The PySide6 desktop interface; everything Qt lives under this package."""
