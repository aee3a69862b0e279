"""ask: a question answered from a whole document, every part read, every answer with its source."""
