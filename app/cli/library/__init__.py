"""The commands about the model library: list it (``models``), download, quantize, compare variants."""
