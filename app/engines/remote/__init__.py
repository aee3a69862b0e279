"""The remote engine: a model on a server that speaks the OpenAI API (llama-server, vLLM, Ollama, ...).

``client`` is the HTTP side (errors in words), ``watch`` makes a stop or a timeout close a
stream at once, ``sse`` reads the streamed chunks, ``stats`` turns chunk arrival times and the
server's own figures into honest, labelled statistics, ``discovery`` finds what the server is,
its models, context size and tokenizer, and ``engine`` puts them together.
"""
