"""Qt-free engine layer: the only code that talks to llama.cpp."""
