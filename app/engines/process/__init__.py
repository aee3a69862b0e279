"""The engine in a child process: native crashes end the child, never the app."""
