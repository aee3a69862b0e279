"""The words of every request a question about a document makes, for chat models and base models.

Chat (instruct) models get an instruction, the text between ``<<<``/``>>>`` and the question
last; a part that does not hold the answer is to be answered with exactly :data:`NOT_HERE`.
Base models (no chat template: the starter model) do not follow instructions, so they get
completion-style text instead, sent without any chat wrapping
(``app.engines.completion``): three worked examples (one answered, two
:data:`BASE_NOT_HERE`) and then the part, the question and "Answer:". The fixed
text comes first in every request, so the engine's KV prefix reuse skips it on every part
after the first.
"""

from __future__ import annotations

NOT_HERE = "NOT_IN_THIS_PART"
ANSWER_TOKENS = 320  # a whole-document answer, and the combined answer of the parts
MAP_TOKENS = 96  # one part's answer: short, decoding is ~5-10x slower than reading
BASE_STOPS = ("\nText:", "\nQuestion:", "\nNotes:")  # a base model starting the next example

_LANG = "Answer in the language of the question."
#: A base model cannot follow "reply with exactly ...": it learns the habit from worked examples,
#: and copies plain words back more reliably than a code (a small probe with the starter model).
BASE_NOT_HERE = "Not in this text."
_EXAMPLES = ("Text: The bakery opens at seven and sells rye bread and cakes.\n"
             "Question: Who founded the company?\n"
             f"Answer: {BASE_NOT_HERE}\n\n"
             "Text: The company was founded in 1921 by Ada Lind, a chemist from Oslo.\n"
             "Question: Who founded the company?\n"
             "Answer: Ada Lind founded it in 1921.\n\n"
             "Text: Trains leave the station every hour. The last one is at midnight.\n"
             "Question: What colour is the bridge?\n"
             f"Answer: {BASE_NOT_HERE}\n\n")


def single_prompt(text: str, question: str, base: bool) -> str:
    """The whole document, then the question: a second question re-reads only the tail."""
    if base:
        return f"{text}\n\nQuestion: {question}\nAnswer:"
    return (f"Read the document below, then answer the question after it using only the document. "
            f"If the document does not say, answer that it does not. {_LANG}\n\n<<<\n{text}\n>>>\n\n"
            f"Question: {question}\nAnswer:")


def map_prompt(text: str, question: str, base: bool) -> str:
    """One part of the document and the question; a part without the answer says :data:`NOT_HERE`."""
    if base:
        return f"{_EXAMPLES}Text: {text}\nQuestion: {question}\nAnswer:"
    return (f"Below is one part of a longer document. Answer the question after it using only this part, "
            f"in one to three sentences. {_LANG} If this part does not contain the answer, reply with exactly "
            f"{NOT_HERE} and nothing else.\n\n<<<\n{text}\n>>>\n\nQuestion: {question}\n"
            f"Answer from this part (or {NOT_HERE}):")


def combine_prompt(notes: list[tuple[str, str]], question: str, base: bool) -> str:
    """Answers found in several parts (``(source label, answer)``, in document order) made into one."""
    if base:
        lines = "\n".join(f"- {answer}" for _label, answer in notes)
        return f"Notes:\n{lines}\n\nQuestion: {question}\nAnswer combining the notes:"
    lines = "\n".join(f"- ({label}) {answer}" for label, answer in notes)
    return (f"Below are answers to one question, each found in a different part of a document, in document "
            f"order. Combine them into one answer to the question; keep every fact, drop repetition. {_LANG}"
            f"\n\n<<<\n{lines}\n>>>\n\nQuestion: {question}\nCombined answer:")
