"""The chat panel: conversations, streaming replies, input and context budget."""
