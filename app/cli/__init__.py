"""The ``kestrel`` command line: one module per command, assembled by :mod:`app.cli.main`.

Shared pieces: :mod:`app.cli.errors` (the one-line error, exit statuses, Ctrl+C) and
:mod:`app.cli.engine` (settings -> model spec -> engine, the one place tests swap in a fake).
"""
