"""Speculative decoding in the engine's own loop: draft a few tokens cheaply, verify them in one decode.

``lookup`` drafts from n-grams already in the prompt and the reply (prompt-lookup decoding),
``draft_model`` from a smaller GGUF with the same vocabulary, ``verify`` checks a draft against
the model, and ``policy`` keeps drafting on only while it pays on this machine.
"""
