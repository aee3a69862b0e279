"""Qt-free core: files, formats, arithmetic and storage that the UI and CLI share."""
