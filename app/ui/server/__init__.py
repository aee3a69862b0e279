"""The Server tab: Kestrel's engine as a local OpenAI-compatible API, switched on from the window."""
