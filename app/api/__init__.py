"""The local OpenAI-compatible server: Kestrel's engine for editors, scripts and other tools (Qt-free)."""

DEFAULT_PORT = 8321
