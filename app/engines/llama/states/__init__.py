"""Conversation KV states saved on disk: the store (files, keys, budget) and the llama.cpp reads and writes."""
