"""A marker for user-visible text in Qt-free modules, so Qt's lupdate can collect it."""


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:  # noqa: N802 - the name Qt's lupdate collects
    """Mark ``text`` for translation and return it unchanged; the UI translates it when it shows it.

    Qt's own marker would make these modules depend on Qt. lupdate reads the call by name,
    so text written this way lands in the .ts files (``packaging/update_translations.sh``
    lists the modules that use it among its sources).
    """
    return text
